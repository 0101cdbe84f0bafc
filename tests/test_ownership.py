"""Tests for crossnav.index.ownership: CODEOWNERS/OWNERS/catalog/innersource parsing and lookup."""

import json
import time
from pathlib import Path

import pytest

from crossnav.index.ownership import (
    blob_url,
    owners_for,
    read_ownership,
    web_url_from_remote,
)


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def owners(tmp_path: Path, path: str):
    hit = owners_for(read_ownership(tmp_path), path)
    return None if hit is None else hit["owners"]


# --------------------------------------------------------------------------- remote URLs


@pytest.mark.parametrize(
    "remote, web",
    [
        ("git@github.com:acme/payments.git", "https://github.com/acme/payments"),
        ("https://github.com/acme/payments.git", "https://github.com/acme/payments"),
        ("https://github.com/acme/payments/", "https://github.com/acme/payments"),
        ("ssh://git@github.com/acme/payments.git", "https://github.com/acme/payments"),
        ("git@github.com-work:acme/payments.git", "https://github.com/acme/payments"),
        ("git@gitlab.com:acme/platform/billing/api.git", "https://gitlab.com/acme/platform/billing/api"),
        ("https://gitlab.acme.io/group/sub/repo.git", "https://gitlab.acme.io/group/sub/repo"),
        ("git@bitbucket.org:acme/repo.git", "https://bitbucket.org/acme/repo"),
        ("https://jane@bitbucket.org/acme/repo.git", "https://bitbucket.org/acme/repo"),
        ("ssh://git@git.acme.io:7999/PROJ/repo.git", "https://git.acme.io/projects/PROJ/repos/repo"),
        ("ssh://git@bitbucket.acme.io:7999/~jane/dotfiles.git", "https://bitbucket.acme.io/users/jane/repos/dotfiles"),
        ("https://bitbucket.acme.io/scm/PROJ/repo.git", "https://bitbucket.acme.io/projects/PROJ/repos/repo"),
        ("git@gitea.acme.io:org/repo.git", "https://gitea.acme.io/org/repo"),
        ("ssh://git@gitea.acme.io:2222/org/repo.git", "https://gitea.acme.io/org/repo"),
        ("https://user:s3cret@forge.acme.io/org/repo.git", "https://forge.acme.io/org/repo"),
        ("https://oauth2:tok@gitlab.acme.io:8443/a/b.git", "https://gitlab.acme.io:8443/a/b"),
    ],
)
def test_web_url_from_remote(remote, web):
    assert web_url_from_remote(remote) == web


@pytest.mark.parametrize(
    "remote",
    [None, "", "/srv/git/repo.git", "../other", "./repo", "file:///srv/git/repo.git", "C:/src/repo", "C:\\src\\repo", "~/repo"],
)
def test_local_remotes_have_no_web_url(remote):
    assert web_url_from_remote(remote) is None


def test_credentials_never_leak():
    assert "s3cret" not in web_url_from_remote("https://bob:s3cret@github.com/acme/x.git")


@pytest.mark.parametrize(
    "web, ref, line, url",
    [
        ("https://github.com/acme/x", "abc123", 12, "https://github.com/acme/x/blob/abc123/src/a.py#L12"),
        ("https://gitlab.com/g/sub/x", "main", 3, "https://gitlab.com/g/sub/x/-/blob/main/src/a.py#L3"),
        ("https://gitlab.acme.io/g/x", "main", None, "https://gitlab.acme.io/g/x/-/blob/main/src/a.py"),
        ("https://bitbucket.org/acme/x", "main", 7, "https://bitbucket.org/acme/x/src/main/src/a.py#lines-7"),
        ("https://git.acme.io/projects/P/repos/x", "deadbeef", 9,
         "https://git.acme.io/projects/P/repos/x/browse/src/a.py?at=deadbeef#9"),
        ("https://codeberg.org/acme/x", "deadbeef12", 4, "https://codeberg.org/acme/x/src/commit/deadbeef12/src/a.py#L4"),
        ("https://gitea.acme.io/acme/x", "main", 4, "https://gitea.acme.io/acme/x/src/branch/main/src/a.py#L4"),
        ("https://forge.acme.io/acme/x", "v1", 2, "https://forge.acme.io/acme/x/blob/v1/src/a.py#L2"),
    ],
)
def test_blob_url_shapes(web, ref, line, url):
    assert blob_url(web, ref, "src/a.py", line) == url


def test_blob_url_quotes_and_handles_missing_web():
    assert blob_url(None, "main", "a.py") is None
    assert blob_url("https://github.com/a/b/", "main", "dir/my file#1.py") == "https://github.com/a/b/blob/main/dir/my%20file%231.py"
    assert blob_url("https://git.acme.io/projects/P/repos/x", "refs/heads/main", "a.py").endswith("?at=refs%2Fheads%2Fmain")


# --------------------------------------------------------------------------- CODEOWNERS location and syntax


def test_codeowners_location_order(tmp_path):
    write(tmp_path, "CODEOWNERS", "* @root\n")
    write(tmp_path, "docs/CODEOWNERS", "* @docs\n")
    write(tmp_path, ".gitlab/CODEOWNERS", "* @gitlab\n")
    assert owners(tmp_path, "a.py") == ["@root"]
    write(tmp_path, ".github/CODEOWNERS", "* @github\n")
    result = read_ownership(tmp_path)
    assert result["codeowners"]["path"] == ".github/CODEOWNERS"
    assert owners_for(result, "a.py")["owners"] == ["@github"]


def test_codeowners_in_bitbucket_dir(tmp_path):
    write(tmp_path, ".bitbucket/CODEOWNERS", "*.py dev@acme.com\n")
    hit = owners_for(read_ownership(tmp_path), "x/y.py")
    assert hit["owners"] == ["dev@acme.com"] and hit["source"] == ".bitbucket/CODEOWNERS"


def test_comments_escapes_and_owner_kinds(tmp_path):
    write(
        tmp_path,
        ".github/CODEOWNERS",
        "# comment line\n"
        "\n"
        "\\#notes.md @hash  # trailing comment\n"
        "my\\ file.txt @space jane@acme.com @acme/team-a\n",
    )
    result = read_ownership(tmp_path)
    assert [r["line"] for r in result["codeowners"]["rules"]] == [3, 4]
    assert owners_for(result, "#notes.md")["owners"] == ["@hash"]
    assert owners_for(result, "my file.txt")["owners"] == ["@space", "jane@acme.com", "@acme/team-a"]
    assert owners_for(result, "my") is None
    assert result["warnings"] == []


def test_invalid_owner_is_warned_and_dropped(tmp_path):
    write(tmp_path, "CODEOWNERS", "*.py @good not-an-owner\n")
    result = read_ownership(tmp_path)
    assert owners_for(result, "a.py")["owners"] == ["@good"]
    assert any("CODEOWNERS line 1" in w and "not-an-owner" in w for w in result["warnings"])


def test_last_matching_rule_wins(tmp_path):
    write(tmp_path, "CODEOWNERS", "* @everyone\n/payments/ @payments\n*.md @writers\n")
    result = read_ownership(tmp_path)
    assert owners_for(result, "payments/api.py")["owners"] == ["@payments"]
    hit = owners_for(result, "payments/README.md")
    assert hit["owners"] == ["@writers"]
    assert hit["line"] == 3 and hit["rule"] == "*.md @writers" and hit["section"] is None
    assert owners_for(result, "setup.py")["owners"] == ["@everyone"]


def test_pattern_without_owners_unowns(tmp_path):
    write(tmp_path, ".github/CODEOWNERS", "* @everyone\n/generated/\n")
    write(tmp_path, "OWNERS", "fallback@acme.com\n")
    result = read_ownership(tmp_path)
    hit = owners_for(result, "generated/x.py")
    assert hit["owners"] == [] and hit["line"] == 2  # explicit un-own; no fallback to OWNERS
    assert owners_for(result, "src/x.py")["owners"] == ["@everyone"]


# --------------------------------------------------------------------------- gitignore-style matching


def match_table(tmp_path, pattern, paths):
    write(tmp_path, "CODEOWNERS", f"{pattern} @o\n")
    result = read_ownership(tmp_path)
    return {p: owners_for(result, p) is not None for p in paths}


def test_bare_name_matches_at_any_depth(tmp_path):
    assert match_table(tmp_path, "docs", ["docs/a.md", "src/docs/b.md", "docs", "mydocs/a.md", "docsx"]) == {
        "docs/a.md": True, "src/docs/b.md": True, "docs": True, "mydocs/a.md": False, "docsx": False,
    }


def test_star_extension_any_depth(tmp_path):
    assert match_table(tmp_path, "*.js", ["a.js", "x/y/z.js", "a.jsx", "js"]) == {
        "a.js": True, "x/y/z.js": True, "a.jsx": False, "js": False,
    }


def test_leading_slash_anchors(tmp_path):
    assert match_table(tmp_path, "/build", ["build/out.o", "build", "src/build/out.o"]) == {
        "build/out.o": True, "build": True, "src/build/out.o": False,
    }


def test_middle_slash_anchors(tmp_path):
    assert match_table(tmp_path, "src/gen", ["src/gen/a.py", "lib/src/gen/a.py"]) == {
        "src/gen/a.py": True, "lib/src/gen/a.py": False,
    }


def test_trailing_slash_is_directory_only(tmp_path):
    assert match_table(tmp_path, "apps/", ["apps/a.py", "x/apps/b/c.py", "apps", "x/apps"]) == {
        "apps/a.py": True, "x/apps/b/c.py": True, "apps": False, "x/apps": False,
    }


def test_dir_star_matches_direct_children_only(tmp_path):
    assert match_table(tmp_path, "docs/*", ["docs/a.md", "docs/sub/b.md", "other/docs/a.md"]) == {
        "docs/a.md": True, "docs/sub/b.md": False, "other/docs/a.md": False,
    }


def test_double_star_forms(tmp_path):
    assert match_table(tmp_path, "**/logs", ["logs/a", "build/logs/a", "deep/ly/nested/logs/x/y"]) == {
        "logs/a": True, "build/logs/a": True, "deep/ly/nested/logs/x/y": True,
    }
    assert match_table(tmp_path, "/a/**/b.txt", ["a/b.txt", "a/x/b.txt", "a/x/y/b.txt", "z/a/b.txt"]) == {
        "a/b.txt": True, "a/x/b.txt": True, "a/x/y/b.txt": True, "z/a/b.txt": False,
    }
    assert match_table(tmp_path, "/payments/**", ["payments/a.py", "payments/x/y.py", "payments"]) == {
        "payments/a.py": True, "payments/x/y.py": True, "payments": False,
    }


def test_question_mark_and_char_class(tmp_path):
    assert match_table(tmp_path, "file?.txt", ["file1.txt", "file12.txt", "file/.txt"]) == {
        "file1.txt": True, "file12.txt": False, "file/.txt": False,
    }
    assert match_table(tmp_path, "[Tt]ests/", ["Tests/a.py", "tests/a.py", "Xests/a.py"]) == {
        "Tests/a.py": True, "tests/a.py": True, "Xests/a.py": False,
    }
    assert match_table(tmp_path, "v[!0-9].txt", ["va.txt", "v1.txt"]) == {"va.txt": True, "v1.txt": False}


def test_regex_metacharacters_are_literal(tmp_path):
    assert match_table(tmp_path, "a+b(c).py", ["a+b(c).py", "aab(c).py"]) == {"a+b(c).py": True, "aab(c).py": False}


# --------------------------------------------------------------------------- GitLab sections


GITLAB = """\
* @everyone

[Backend] @backend-leads
/api/
/api/public/ @api-team

^[Docs][2] @tech-writers
*.md

[Security]
/api/auth/ @security
"""


def test_gitlab_sections_parse(tmp_path):
    write(tmp_path, ".gitlab/CODEOWNERS", GITLAB)
    co = read_ownership(tmp_path)["codeowners"]
    sections = {s["name"]: s for s in co["sections"]}
    assert sections["Docs"]["optional"] is True and sections["Docs"]["approvals"] == 2
    assert sections["Backend"]["optional"] is False and sections["Backend"]["owners"] == ["@backend-leads"]
    rules = {r["pattern"]: r for r in co["rules"]}
    assert rules["/api/"]["owners"] == ["@backend-leads"]  # section default owners
    assert rules["*.md"]["section"] == "Docs"
    assert rules["*"]["section"] is None


def test_gitlab_sections_union(tmp_path):
    write(tmp_path, ".gitlab/CODEOWNERS", GITLAB)
    result = read_ownership(tmp_path)
    hit = owners_for(result, "api/auth/README.md")
    assert hit["owners"] == ["@everyone", "@backend-leads", "@tech-writers", "@security"]
    assert hit["section"] == "Backend, Docs, Security"
    assert hit["line"] == 11 and hit["rule"] == "/api/auth/ @security"
    assert [(r["section"], r["line"]) for r in hit["rules"]] == [(None, 1), ("Backend", 4), ("Docs", 8), ("Security", 11)]
    # within a section the last match still wins
    assert owners_for(result, "api/public/x.py")["owners"] == ["@everyone", "@api-team"]
    assert owners_for(result, "lib/x.py")["section"] is None


def test_gitlab_same_named_sections_merge(tmp_path):
    write(tmp_path, "CODEOWNERS", "[Team]\n*.py @a\n[Other]\n*.go @x\n[team]\n/lib/ @b\n")
    hit = owners_for(read_ownership(tmp_path), "lib/x.py")
    assert hit["owners"] == ["@b"] and hit["section"] == "Team"


def test_bracket_pattern_is_not_a_section(tmp_path):
    write(tmp_path, "CODEOWNERS", "[abc].py @o\n")
    result = read_ownership(tmp_path)
    assert result["codeowners"]["sections"] == []
    assert owners_for(result, "b.py")["owners"] == ["@o"]


# --------------------------------------------------------------------------- OWNERS files


def test_owners_inheritance_nearest_first(tmp_path):
    write(tmp_path, "OWNERS", "# root owners\nroot@acme.com\n")
    write(tmp_path, "payments/OWNERS", "alice@acme.com\nbob\n")
    result = read_ownership(tmp_path)
    assert set(result["owners_files"]) == {"", "payments"}
    assert result["owners_files"]["payments"]["line"] == 1
    hit = owners_for(result, "payments/core/ledger.py")
    assert hit["owners"] == ["alice@acme.com", "bob", "root@acme.com"]
    assert hit["source"] == "payments/OWNERS" and hit["inherited_from"] == ["OWNERS"]
    assert owners_for(result, "README.md")["owners"] == ["root@acme.com"]


def test_owners_set_noparent(tmp_path):
    write(tmp_path, "OWNERS", "root@acme.com\n")
    write(tmp_path, "secure/OWNERS", "set noparent\nsec@acme.com\n")
    result = read_ownership(tmp_path)
    assert result["owners_files"]["secure"]["no_parent"] is True
    hit = owners_for(result, "secure/keys.py")
    assert hit["owners"] == ["sec@acme.com"] and hit["line"] == 2


def test_owners_file_without_owners_is_skipped(tmp_path):
    write(tmp_path, "OWNERS", "root@acme.com\n")
    write(tmp_path, "a/OWNERS", "# nobody yet\n")
    hit = owners_for(read_ownership(tmp_path), "a/b.py")
    assert hit["owners"] == ["root@acme.com"] and hit["source"] == "OWNERS"


def test_owners_per_file_and_file_include(tmp_path):
    write(tmp_path, "OWNERS", "root@acme.com\n")
    write(tmp_path, "ui/OWNERS", "ui@acme.com\nfile://build/OWNERS\nper-file *.gn,BUILD=gn@acme.com\n"
                                 "per-file *.css=set noparent\nper-file *.css=css@acme.com\n")
    result = read_ownership(tmp_path)
    hit = owners_for(result, "ui/x/BUILD.gn")
    assert hit["owners"] == ["gn@acme.com", "ui@acme.com", "file://build/OWNERS", "root@acme.com"]
    assert hit["line"] == 3 and hit["rule"] == "per-file *.gn,BUILD=gn@acme.com"
    assert owners_for(result, "ui/x/main.cc")["owners"] == ["ui@acme.com", "file://build/OWNERS", "root@acme.com"]
    assert owners_for(result, "ui/style.css")["owners"] == ["css@acme.com"]  # per-file noparent


def test_yaml_owners(tmp_path):
    write(tmp_path, "OWNERS", "approvers:\n- root-approver\n")
    write(tmp_path, "pkg/OWNERS", "# k8s style\nreviewers:\n- rev1\napprovers:\n- appr1\n- appr2\nlabels:\n- sig/node\n")
    write(tmp_path, "vendor/OWNERS", "options:\n  no_parent_owners: true\napprovers:\n- vend\n")
    result = read_ownership(tmp_path)
    pkg = result["owners_files"]["pkg"]
    assert pkg["owners"] == ["appr1", "appr2"] and pkg["reviewers"] == ["rev1"] and pkg["labels"] == ["sig/node"]
    hit = owners_for(result, "pkg/x.go")
    assert hit["owners"] == ["appr1", "appr2", "root-approver"] and hit["line"] == 4
    assert owners_for(result, "vendor/lib/y.go")["owners"] == ["vend"]


def test_yaml_owners_filters(tmp_path):
    write(tmp_path, "OWNERS", 'filters:\n  ".*":\n    approvers:\n    - all\n  "\\\\.go$":\n    approvers:\n    - gophers\n')
    result = read_ownership(tmp_path)
    assert owners_for(result, "cmd/main.go")["owners"] == ["all", "gophers"]
    assert owners_for(result, "README.md")["owners"] == ["all"]


def test_broken_yaml_owners_warns(tmp_path):
    write(tmp_path, "OWNERS", "approvers: [unclosed\n")
    result = read_ownership(tmp_path)
    assert result["owners_files"] == {}
    assert any(w.startswith("OWNERS: not valid YAML (line") for w in result["warnings"])


def test_owners_scan_skips_hidden_and_node_modules(tmp_path):
    write(tmp_path, "node_modules/pkg/OWNERS", "npm@x.com\n")
    write(tmp_path, ".hidden/OWNERS", "hidden@x.com\n")
    write(tmp_path, "src/OWNERS", "src@x.com\n")
    assert set(read_ownership(tmp_path)["owners_files"]) == {"src"}


def test_owners_scan_is_fast(tmp_path):
    # 1,000 directories / 4,000 files keeps setup cheap; a 20k-file tree scans in tens of ms.
    for d in range(500):
        sub = tmp_path / f"pkg{d}" / "inner"
        sub.mkdir(parents=True)
        for f in range(8):
            (sub / f"f{f}.py").touch()
    write(tmp_path, "pkg7/OWNERS", "seven@x.com\n")
    start = time.perf_counter()
    result = read_ownership(tmp_path)
    assert time.perf_counter() - start < 0.5
    assert owners_for(result, "pkg7/inner/f1.py")["owners"] == ["seven@x.com"]


# --------------------------------------------------------------------------- precedence


def test_precedence_codeowners_then_owners_then_catalog_then_innersource(tmp_path):
    write(tmp_path, "innersource.json", json.dumps({"title": "Pay", "owner": "inner-team"}))
    assert owners(tmp_path, "a.py") == ["inner-team"]
    write(tmp_path, "catalog-info.yaml", "kind: Component\nmetadata:\n  name: pay\nspec:\n  owner: group:payments\n")
    hit = owners_for(read_ownership(tmp_path), "a.py")
    assert hit["owners"] == ["group:payments"] and hit["source"] == "catalog-info.yaml" and hit["line"] == 5
    write(tmp_path, "lib/OWNERS", "lib@acme.com\n")
    assert owners(tmp_path, "lib/a.py") == ["lib@acme.com"]
    assert owners(tmp_path, "a.py") == ["group:payments"]
    write(tmp_path, "CODEOWNERS", "/lib/ @lib-team\n")
    assert owners(tmp_path, "lib/a.py") == ["@lib-team"]
    assert owners(tmp_path, "other/a.py") == ["group:payments"]  # no CODEOWNERS match falls through


def test_nothing_known_returns_none(tmp_path):
    result = read_ownership(tmp_path)
    assert result == {"codeowners": None, "owners_files": {}, "catalog": None, "innersource": None,
                      "contributing": None, "warnings": []}
    assert owners_for(result, "a.py") is None


# --------------------------------------------------------------------------- catalog-info.yaml


def test_catalog_multi_document_takes_component(tmp_path):
    write(tmp_path, "catalog-info.yml", """\
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: payments}
spec: {owner: group:platform}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments-api
  description: Takes money
  links:
    - title: Runbook
      url: https://wiki/runbook
    - title: no url
spec:
  type: service
  lifecycle: production
  owner: group:payments
  system: payments
""")
    cat = read_ownership(tmp_path)["catalog"]
    assert cat["path"] == "catalog-info.yml"
    assert (cat["name"], cat["owner"], cat["lifecycle"], cat["system"]) == (
        "payments-api", "group:payments", "production", "payments")
    assert cat["description"] == "Takes money"
    assert cat["links"] == [{"title": "Runbook", "url": "https://wiki/runbook"}]
    assert cat["line"] == 18


def test_catalog_without_component_uses_first_owned_entity(tmp_path):
    write(tmp_path, "catalog-info.yaml", "kind: Location\nspec: {targets: []}\n---\nkind: API\nspec:\n  owner: team-a\n")
    assert read_ownership(tmp_path)["catalog"]["owner"] == "team-a"


def test_broken_catalog_yaml_warns(tmp_path):
    write(tmp_path, "catalog-info.yaml", "kind: Component\nmetadata:\n  name: [oops\nspec:\n  owner: x\n")
    result = read_ownership(tmp_path)
    assert result["catalog"] is None
    assert len(result["warnings"]) == 1
    assert result["warnings"][0].startswith("catalog-info.yaml: not valid YAML (line ")


def test_catalog_bad_timestamp_does_not_raise(tmp_path):
    write(tmp_path, "catalog-info.yaml", "kind: Component\nmetadata:\n  created: 2020-13-45\n")
    result = read_ownership(tmp_path)
    assert result["catalog"] is None and result["warnings"]


# --------------------------------------------------------------------------- innersource.json


def test_innersource_keeps_free_form_fields(tmp_path):
    data = {"title": "Pay", "description": "d", "maintainers": [{"login": "alice"}, "bob"],
            "url": "https://x", "_InnerSourceMetadata": {"skills": ["python"]}}
    write(tmp_path, "innersource.json", json.dumps(data))
    result = read_ownership(tmp_path)
    assert result["innersource"] == {**data, "path": "innersource.json"}
    hit = owners_for(result, "x.py")
    assert hit["owners"] == ["alice", "bob"] and hit["source"] == "innersource.json"


def test_broken_innersource_json_warns(tmp_path):
    write(tmp_path, "innersource.json", '{\n  "title": "x",\n  oops\n}')
    result = read_ownership(tmp_path)
    assert result["innersource"] is None
    assert result["warnings"] == [result["warnings"][0]]
    assert result["warnings"][0].startswith("innersource.json: not valid JSON (line 3)")


# --------------------------------------------------------------------------- CONTRIBUTING


def test_contributing_order_and_urls(tmp_path):
    write(tmp_path, "docs/CONTRIBUTING.md", "docs")
    write(tmp_path, ".github/contributing.rst", "gh")
    result = read_ownership(tmp_path, web_url="https://gitlab.com/g/x", ref="abc")
    assert result["contributing"] == {"path": ".github/contributing.rst",
                                      "url": "https://gitlab.com/g/x/-/blob/abc/.github/contributing.rst"}
    write(tmp_path, "CONTRIBUTING", "root")
    assert read_ownership(tmp_path, web_url="https://github.com/a/b")["contributing"]["url"] == \
        "https://github.com/a/b/blob/HEAD/CONTRIBUTING"
    local = read_ownership(tmp_path)["contributing"]
    assert local["url"] == (tmp_path / "CONTRIBUTING").resolve().as_uri()
    assert local["url"].startswith("file://")


# --------------------------------------------------------------------------- robustness


def test_undecodable_files_warn_not_raise(tmp_path):
    write(tmp_path, "CODEOWNERS", b"* @a\n\xff\xfe bad\n")
    write(tmp_path, "src/OWNERS", b"\xff\n")
    result = read_ownership(tmp_path)
    assert result["codeowners"] is None
    assert any(w.startswith("CODEOWNERS: not UTF-8") for w in result["warnings"])
    assert any(w.startswith("src/OWNERS: not UTF-8") for w in result["warnings"])


def test_unreadable_file_warns(tmp_path, monkeypatch):
    write(tmp_path, "innersource.json", "{}")
    real = Path.read_bytes

    def deny(self):
        if self.name == "innersource.json":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    result = read_ownership(tmp_path)
    assert result["innersource"] is None
    assert result["warnings"] == ["innersource.json: cannot read (Permission denied)"]


def test_result_is_json_roundtrippable(tmp_path):
    write(tmp_path, ".github/CODEOWNERS", "[S] @d\n*.py\n")
    write(tmp_path, "a/OWNERS", "x@y.com\nper-file *.py=p@y.com\n")
    write(tmp_path, "catalog-info.yaml", "kind: Component\nmetadata: {name: 7, description: 2020-01-01}\nspec: {owner: t}\n")
    result = read_ownership(tmp_path, web_url="https://github.com/a/b", ref="main")
    stored = json.loads(json.dumps(result))
    assert stored == result
    assert owners_for(stored, "a/b.py")["owners"] == ["@d"]
    assert stored["catalog"]["name"] == "7" and stored["catalog"]["description"] == "2020-01-01"


def test_missing_repo_root_warns(tmp_path):
    result = read_ownership(tmp_path / "nope")
    assert result["codeowners"] is None and result["warnings"]


def test_url_template_for_a_company_code_host(monkeypatch):
    web = "https://code.corp.example/payments"
    monkeypatch.setenv("CROSSNAV_URL_TEMPLATE", "code.corp.example={web_url}/files/{ref}/{path}?lines={line}-{end_line}")
    assert blob_url(web, "abc123", "src/a b.py", 7, 9) == "https://code.corp.example/payments/files/abc123/src/a%20b.py?lines=7-9"
    # other hosts keep their own shapes
    assert blob_url("https://github.com/acme/x", "main", "a.py", 3) == "https://github.com/acme/x/blob/main/a.py#L3"
    monkeypatch.setenv("CROSSNAV_URL_TEMPLATE", "{web_url}/view/{path}@{ref}#{line}")
    assert blob_url("https://github.com/acme/x", "main", "a.py", 3) == "https://github.com/acme/x/view/a.py@main#3"
