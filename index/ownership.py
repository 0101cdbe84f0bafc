"""Who owns a path: CODEOWNERS, OWNERS, Backstage catalog-info, innersource.json.

Pure functions over a checkout.  The indexer calls `read_ownership` once per
repo and stores the JSON-serialisable result in the repo row; the language
server answers hovers with `owners_for` from that stored dict, without disk
access.  Broken metadata never raises: problems become readable warnings.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

CODEOWNERS_LOCATIONS = (
    ".github/CODEOWNERS",  # GitHub's own search order: .github/, root, docs/
    "CODEOWNERS",
    "docs/CODEOWNERS",
    ".gitlab/CODEOWNERS",
    ".bitbucket/CODEOWNERS",
)
CATALOG_FILES = ("catalog-info.yaml", "catalog-info.yml")
INNERSOURCE_FILE = "innersource.json"
CONTRIBUTING_DIRS = ("", ".github", "docs")
CONTRIBUTING_NAMES = ("CONTRIBUTING.md", "CONTRIBUTING.rst", "CONTRIBUTING.txt", "CONTRIBUTING")
SKIP_DIRS = {"node_modules", "__pycache__"}
MAX_DEPTH = 40  # deeper than any sane source tree; guards against pathological checkouts
INNERSOURCE_OWNER_KEYS = ("owner", "owners", "maintainers", "maintainer", "contacts", "contact")


# --------------------------------------------------------------------------- remotes and links


def web_url_from_remote(remote: str | None) -> str | None:
    """Turn a git remote into the https base of the repo's web UI (None for local remotes)."""
    if not remote or not remote.strip():
        return None
    remote = remote.strip()
    scheme, port, via_ssh = "https", None, True
    if "://" in remote:
        parts = urlsplit(remote)
        if parts.scheme.lower() == "file" or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
        host = f"[{host}]" if ":" in host else host  # IPv6 literal
        try:
            port = parts.port
        except ValueError:
            port = None
        via_ssh = "ssh" in parts.scheme.lower()  # ssh, git+ssh, ssh+git
        if parts.scheme.lower() in ("http", "https"):
            scheme = parts.scheme.lower()  # an http-only internal server stays http
            if port:
                host = f"{host}:{port}"  # web servers keep their port; ssh ports are dropped
    else:
        m = re.match(r"^(?:[^@/\s]+@)?(?P<host>[^:/@\\\s]+):(?P<path>[^\\]+)$", remote)
        if not m or len(m["host"]) == 1:  # no host, or a Windows drive letter ("C:/src/repo")
            return None
        host, path = m["host"].lower(), m["path"]
    if host.startswith("github.com-"):  # ssh-config alias such as github.com-work
        host = "github.com"
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    segs = [s for s in path.split("/") if s]
    if not segs:
        return None

    # Bitbucket Server / Data Center: ssh on 7999 or https under /scm/ map to /projects/KEY/repos/slug.
    if host != "bitbucket.org" and "gitlab" not in host and "github" not in host:
        if len(segs) >= 3 and segs[-3] == "scm" and not via_ssh:
            return _bitbucket_server(f"{scheme}://{'/'.join([host] + segs[:-3])}", segs[-2], segs[-1])
        if len(segs) == 2 and via_ssh and (port == 7999 or "bitbucket" in host):
            return _bitbucket_server(f"https://{host}", segs[0], segs[1])
    return f"{scheme}://{host}/{'/'.join(segs)}"


def _bitbucket_server(base: str, project: str, repo: str) -> str:
    if project.startswith("~"):  # personal repository
        return f"{base}/users/{project[1:]}/repos/{repo}"
    return f"{base}/projects/{project}/repos/{repo}"


def _host_kind(web_url: str) -> str:
    parts = urlsplit(web_url)
    host = (parts.hostname or "").lower()
    if re.search(r"/(?:projects|users)/[^/]+/repos/[^/]+/?$", parts.path):
        return "bitbucket-server"
    if host == "bitbucket.org":
        return "bitbucket"
    if "github" in host:
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if any(k in host for k in ("gitea", "forgejo", "codeberg")):
        return "gitea"
    return "github"  # GitHub's /blob/ shape is what most generic forges accept


def blob_url(web_url: str | None, ref: str, path: str, line: int | None = None, end_line: int | None = None) -> str | None:
    """Link to `path` (optionally a 1-based line, or lines line..end_line) at `ref`, in the URL shape
    of the hosting forge."""
    if not web_url:
        return None
    web = web_url.rstrip("/")
    p = quote(path.lstrip("/"), safe="/")
    r = quote(ref, safe="/")
    has_line = bool(line) and line > 0
    end = end_line if has_line and end_line and end_line > line else None
    template = _url_template(web)
    if template:
        return template.format(web_url=web, ref=r, path=p, line=line if has_line else "",
                               end_line=end or (line if has_line else ""))
    kind = _host_kind(web)
    if kind == "gitlab":
        return f"{web}/-/blob/{r}/{p}" + (f"#L{line}" + (f"-{end}" if end else "") if has_line else "")
    if kind == "bitbucket":
        return f"{web}/src/{r}/{p}" + (f"#lines-{line}" + (f":{end}" if end else "") if has_line else "")
    if kind == "bitbucket-server":
        return f"{web}/browse/{p}?at={quote(ref, safe='')}" + (f"#{line}" + (f"-{end}" if end else "") if has_line else "")
    if kind == "gitea":
        # Gitea resolves /src/commit/ for shas and HEAD; branch names need /src/branch/.
        where = "commit" if ref == "HEAD" or re.fullmatch(r"[0-9a-fA-F]{7,64}", ref) else "branch"
        return f"{web}/src/{where}/{r}/{p}" + (f"#L{line}" + (f"-L{end}" if end else "") if has_line else "")
    return f"{web}/blob/{r}/{p}" + (f"#L{line}" + (f"-L{end}" if end else "") if has_line else "")


def _url_template(web: str) -> str | None:
    """A company's own code host: `CROSSNAV_URL_TEMPLATE` (optionally `HOST=TEMPLATE;HOST=TEMPLATE` to
    apply per host) with {web_url} {ref} {path} {line} {end_line}, e.g.
    `code.corp.example={web_url}/files/{ref}/{path}?line={line}`. Known forges need none."""
    spec = os.environ.get("CROSSNAV_URL_TEMPLATE", "").strip()
    if not spec:
        return None
    if "{" in spec.split("=", 1)[0] or "=" not in spec.split("{", 1)[0]:
        return spec  # one template for every host
    host = urlsplit(web).hostname or ""
    for part in spec.split(";"):
        name, _, template = part.partition("=")
        if name.strip() and name.strip().lower() == host.lower():
            return template.strip()
    return None


# --------------------------------------------------------------------------- gitignore-style patterns


def _glob_segment(seg: str) -> str:
    out, i = [], 0
    while i < len(seg):
        c = seg[i]
        if c == "\\" and i + 1 < len(seg):
            out.append(re.escape(seg[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (j := seg.find("]", i + 2)) != -1:
            body = seg[i + 1 : j]
            neg = body[0] in "!^"
            body = "".join(ch if ch == "-" else re.escape(ch) for ch in (body[1:] if neg else body))
            out.append(f"[^/{body}]" if neg else f"[{body}]")
            i = j + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=16384)
def _compile(pattern: str) -> re.Pattern[str]:
    """Compile one CODEOWNERS/gitignore pattern to a regex over repo-relative posix paths.

    Cached because owners_for runs per hover and per file over the same few rules.
    """
    dir_only = pattern.endswith("/")
    p = pattern.rstrip("/")
    anchored = p.startswith("/") or "/" in p.lstrip("/")  # a slash anywhere but the end anchors
    p = p.lstrip("/")
    if not p:
        raise ValueError("empty pattern")
    segs = p.split("/")
    rx = [] if anchored else ["(?:.*/)?"]  # a bare name matches at any depth
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg == "**":
            rx.append(".*" if last else "(?:.*/)?")
        else:
            rx.append(_glob_segment(seg) + ("" if last else "/"))
    if dir_only:
        rx.append("/.*")  # a directory: everything under it
    elif segs[-1] not in ("*", "**"):
        rx.append("(?:/.*)?")  # `docs` also covers docs/...; `docs/*` stays direct children only
    return re.compile("".join(rx))


def _matches(pattern: str, path: str) -> bool:
    try:
        return _compile(pattern).fullmatch(path) is not None
    except (re.error, ValueError):
        return False


# --------------------------------------------------------------------------- small helpers


def _read_text(root: Path, rel: str, warnings: list[str]) -> str | None:
    try:
        return (root / rel).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        warnings.append(f"{rel}: not UTF-8 text (byte {e.start})")
    except OSError as e:
        warnings.append(f"{rel}: cannot read ({e.strerror or e})")
    return None


def _yaml_docs(text: str, rel: str, warnings: list[str]) -> list[tuple[yaml.Node | None, object]] | None:
    """All YAML documents as (node, data); nodes give line numbers for the answer."""
    loader = yaml.SafeLoader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            docs.append((node, loader.construct_document(node) if node is not None else None))
        return docs
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" (line {mark.line + 1})" if mark else ""
        warnings.append(f"{rel}: not valid YAML{where}: {e.problem or e.context}")
    except Exception as e:  # e.g. ValueError from an impossible date
        warnings.append(f"{rel}: not valid YAML: {e}")
    finally:
        loader.dispose()
    return None


def _node_line(node: object, *keys: str) -> int | None:
    """1-based line of the last key in the path `keys` inside a composed YAML mapping."""
    key_node = None
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        key_node, node = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), (None, None))
    return key_node.start_mark.line + 1 if key_node is not None else None


def _str(value: object) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _str_list(value: object) -> list[str]:
    if isinstance(value, (str, int, float)):
        value = [value]
    return [str(v) for v in value if isinstance(v, (str, int, float))] if isinstance(value, list) else []


def _dedup(items) -> list:
    return list(dict.fromkeys(items))


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


# --------------------------------------------------------------------------- CODEOWNERS

_SECTION = re.compile(r"^(\^)?\[([^\]]+)\](?:\[(\d+)\])?(?:\s+(.*))?$")
_OWNER = re.compile(r"^(?:@@?[\w.\-]+(?:/[\w.\-]+)*|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def _tokens(line: str) -> list[str]:
    """Split on unescaped whitespace, dropping an unescaped `#...` comment; escapes stay for the matcher."""
    tokens, cur, i = [], "", 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur += line[i : i + 2]
            i += 2
            continue
        if c.isspace():
            if cur:
                tokens.append(cur)
            cur = ""
        elif c == "#" and not cur:
            break
        else:
            cur += c
        i += 1
    return tokens + [cur] if cur else tokens


def _valid_owners(tokens: list[str], where: str, warnings: list[str]) -> list[str]:
    bad = [t for t in tokens if not _OWNER.match(t)]
    if bad:
        warnings.append(f"{where}: ignoring invalid owner(s) {', '.join(bad)} (expected @user, @org/team or an email)")
    return [t for t in tokens if _OWNER.match(t)]


def _parse_codeowners(text: str, rel: str, warnings: list[str]) -> dict:
    rules, sections, by_name = [], [], {}
    current = None  # rules before any [Section] header belong to no section
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{rel} line {n}"
        if m := _SECTION.match(line):
            name = m[2].strip()
            defaults = _valid_owners(_tokens(m[4] or ""), where, warnings)
            key = name.lower()  # GitLab merges sections that share a name, case-insensitively
            if key not in by_name:
                by_name[key] = {"name": name, "line": n, "optional": bool(m[1]),
                                "approvals": int(m[3]) if m[3] else None, "owners": defaults}
                sections.append(by_name[key])
            elif defaults:
                by_name[key]["owners"] = defaults
            current = by_name[key]
            continue
        tokens = _tokens(line)
        if not tokens:
            continue
        pattern, *owner_tokens = tokens
        owners = _valid_owners(owner_tokens, where, warnings)
        if owner_tokens and not owners:
            continue  # every owner was unusable: skip the line rather than silently un-own
        if pattern.startswith("!"):
            warnings.append(f"{where}: negated pattern {pattern!r} is not supported, skipped")
            continue
        try:
            _compile(pattern)
        except (re.error, ValueError) as e:
            warnings.append(f"{where}: bad pattern {pattern!r} ({e}), skipped")
            continue
        if not owners and current is not None:
            owners = list(current["owners"])  # GitLab section default owners
        rules.append({"line": n, "pattern": pattern, "owners": owners,
                      "section": current["name"] if current else None})
    return {"path": rel, "rules": rules, "sections": sections}


def _rule_text(rule: dict) -> str:
    return " ".join([rule["pattern"], *rule.get("owners", [])])


def _codeowners_for(co: dict, path: str) -> dict | None:
    rules = co.get("rules", [])
    sections = list(dict.fromkeys(r.get("section") for r in rules))  # in file order
    found: dict[str | None, dict] = {}
    for rule in reversed(rules):  # backwards: the first hit per section is its last match
        if rule.get("section") not in found and _matches(rule["pattern"], path):
            found[rule.get("section")] = rule
            if len(found) == len(sections):
                break
    if not found:
        return None
    winners = {s: found[s] for s in sections if s in found}
    last = list(winners.values())[-1]
    named = [s for s in winners if s is not None]
    return {
        "owners": _dedup(o for r in winners.values() for o in r.get("owners", [])),
        "source": co.get("path"),
        "line": last["line"],
        "rule": _rule_text(last),
        "section": ", ".join(named) or None,
        "rules": [{"rule": _rule_text(r), "line": r["line"], "section": r.get("section"),
                   "owners": r.get("owners", [])} for r in winners.values()],
    }


# --------------------------------------------------------------------------- OWNERS files


def _parse_owners(text: str, rel: str, warnings: list[str]) -> dict | None:
    if re.search(r"^(?:approvers|reviewers|filters|options)\s*:", text, re.M):
        return _parse_yaml_owners(text, rel, warnings)
    entry = {"path": rel, "owners": [], "no_parent": False, "line": None, "per_file": []}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if " ".join(line.split()) == "set noparent":
            entry["no_parent"] = True
        elif line.startswith("per-file "):
            globs, sep, directive = line[len("per-file "):].partition("=")
            if not sep:
                warnings.append(f"{rel} line {n}: per-file without '=', skipped")
                continue
            directive = " ".join(directive.split())
            entry["per_file"].append({
                "line": n, "text": line,
                "patterns": [g.strip() for g in globs.split(",") if g.strip()],
                "owners": [] if directive == "set noparent" else [o.strip() for o in directive.split(",") if o.strip()],
                "no_parent": directive == "set noparent",
            })
        elif len(line.split()) == 1:  # an email, username, `*` or a file://path include (kept, not followed)
            entry["owners"].append(line)
            entry["line"] = entry["line"] or n
        else:
            warnings.append(f"{rel} line {n}: unrecognised OWNERS line {line!r}, skipped")
    entry["line"] = entry["line"] or 1
    return entry


def _parse_yaml_owners(text: str, rel: str, warnings: list[str]) -> dict | None:
    """Kubernetes/Prow OWNERS: approvers own; `filters` are per-path-regex approver sets."""
    docs = _yaml_docs(text, rel, warnings)
    if docs is None:
        return None
    node, data = docs[0] if docs else (None, None)
    if not isinstance(data, dict):
        warnings.append(f"{rel}: YAML OWNERS is not a mapping, skipped")
        return None
    per_file = []
    for regex, sub in _mapping(data.get("filters")).items():
        try:
            re.compile(str(regex))
        except re.error as e:
            warnings.append(f"{rel}: bad filter regex {regex!r} ({e}), skipped")
            continue
        sub = _mapping(sub)
        per_file.append({"line": _node_line(node, "filters", str(regex)) or 1, "text": f"filters: {regex}",
                         "regex": str(regex), "owners": _str_list(sub.get("approvers")), "no_parent": False})
    return {
        "path": rel,
        "owners": _str_list(data.get("approvers")),
        "reviewers": _str_list(data.get("reviewers")),
        "labels": _str_list(data.get("labels")),
        "no_parent": bool(_mapping(data.get("options")).get("no_parent_owners")),
        "line": _node_line(node, "approvers") or 1,
        "per_file": per_file,
    }


def _scan_owners_files(root: Path, warnings: list[str]) -> dict[str, dict]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        if rel_dir.count("/") >= MAX_DEPTH:
            dirnames[:] = []
        else:
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS]
        if "OWNERS" in filenames:
            rel = f"{rel_dir}/OWNERS" if rel_dir else "OWNERS"
            text = _read_text(root, rel, warnings)
            entry = _parse_owners(text, rel, warnings) if text is not None else None
            if entry:
                found[rel_dir] = entry
    return found


def _per_file_matches(pf: dict, rel: str) -> bool:
    if "regex" in pf:
        try:
            return re.search(pf["regex"], rel) is not None
        except re.error:
            return False
    base = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel if "/" in g else base, g) for g in pf.get("patterns", []))


def _owners_files_for(files: dict, path: str) -> dict | None:
    parts = path.split("/")
    chain = []  # (entry, owners, deciding per-file rule or None), nearest first
    for depth in range(len(parts) - 1, -1, -1):
        d = "/".join(parts[:depth])
        entry = files.get(d)
        if not entry:
            continue
        rel = path[len(d) + 1:] if d else path
        hits = [pf for pf in entry.get("per_file", []) if _per_file_matches(pf, rel)]
        exclusive = any(pf.get("no_parent") for pf in hits)  # per-file `set noparent`: only per-file owners
        owners = [o for pf in hits for o in pf.get("owners", [])] + ([] if exclusive else entry.get("owners", []))
        if owners:
            chain.append((entry, owners, next((pf for pf in hits if pf.get("owners")), None)))
        if exclusive or entry.get("no_parent"):
            break
    if not chain:
        return None
    entry, _, pf = chain[0]
    inherited = [e["path"] for e, _, _ in chain[1:]]
    if pf:
        rule = pf.get("text")
    elif inherited:
        rule = f"{entry['path']}, inheriting {', '.join(inherited)}"
    else:
        rule = entry["path"] + (" (set noparent)" if entry.get("no_parent") else "")
    return {
        "owners": _dedup(o for _, owners, _ in chain for o in owners),
        "source": entry["path"],
        "line": pf["line"] if pf else entry.get("line"),
        "rule": rule,
        "section": None,
        "inherited_from": inherited,
    }


# --------------------------------------------------------------------------- catalog, innersource, contributing


def _read_catalog(root: Path, warnings: list[str]) -> dict | None:
    rel = next((f for f in CATALOG_FILES if (root / f).is_file()), None)
    if rel is None or (text := _read_text(root, rel, warnings)) is None:
        return None
    docs = _yaml_docs(text, rel, warnings)
    if docs is None:
        return None
    entities = [(node, d) for node, d in docs if isinstance(d, dict)]
    pick = next((e for e in entities if str(e[1].get("kind", "")).lower() == "component"), None) \
        or next((e for e in entities if _mapping(e[1].get("spec")).get("owner")), None)
    if pick is None:
        warnings.append(f"{rel}: no Component entity and no spec.owner found")
        return None
    node, entity = pick
    meta, spec = _mapping(entity.get("metadata")), _mapping(entity.get("spec"))
    links = meta.get("links") if isinstance(meta.get("links"), list) else []
    return {
        "path": rel,
        "kind": _str(entity.get("kind")),
        "name": _str(meta.get("name")),
        "title": _str(meta.get("title")),
        "owner": _str(spec.get("owner")),
        "lifecycle": _str(spec.get("lifecycle")),
        "type": _str(spec.get("type")),
        "system": _str(spec.get("system")),
        "description": _str(meta.get("description")),
        "links": [{"title": _str(l.get("title")), "url": _str(l.get("url"))}
                  for l in links if isinstance(l, dict) and l.get("url")],
        "line": _node_line(node, "spec", "owner"),
    }


def _read_innersource(root: Path, warnings: list[str]) -> dict | None:
    if not (root / INNERSOURCE_FILE).is_file():
        return None
    text = _read_text(root, INNERSOURCE_FILE, warnings)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        warnings.append(f"{INNERSOURCE_FILE}: not valid JSON (line {e.lineno}): {e.msg}")
        return None
    if not isinstance(data, dict):
        warnings.append(f"{INNERSOURCE_FILE}: expected a JSON object, got {type(data).__name__}")
        return None
    return {**data, "path": INNERSOURCE_FILE}  # free-form: keep everything the file says


def _people(value: object) -> list[str]:
    """Owner-ish values from free-form JSON: strings, lists, or {login|name|email} objects."""
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [p for v in value for p in _people(v)]
    if isinstance(value, dict):
        return next(([str(value[k])] for k in ("login", "name", "email", "username", "team") if value.get(k)), [])
    return []


def _find_contributing(root: Path, web_url: str | None, ref: str | None) -> dict | None:
    for d in CONTRIBUTING_DIRS:
        try:
            names = {e.name.upper(): e.name for e in os.scandir(root / d) if e.is_file()}
        except OSError:
            continue
        for want in CONTRIBUTING_NAMES:  # GitHub matches the file name case-insensitively
            if (name := names.get(want.upper())):
                rel = f"{d}/{name}" if d else name
                url = blob_url(web_url, ref or "HEAD", rel) if web_url else (root / rel).resolve().as_uri()
                return {"path": rel, "url": url}
    return None


# --------------------------------------------------------------------------- public entry points


def read_ownership(repo_root: Path, web_url: str | None = None, ref: str | None = None) -> dict:
    """Collect every ownership source of a checkout into one JSON-serialisable dict."""
    root = Path(repo_root)
    warnings: list[str] = []
    result = {"codeowners": None, "owners_files": {}, "catalog": None, "innersource": None,
              "contributing": None, "warnings": warnings}
    if not root.is_dir():
        warnings.append(f"{root}: not a directory")
        return result

    def guarded(key, fn):  # last line of defence: one bad source must not cost the others
        try:
            result[key] = fn()
        except Exception as e:
            warnings.append(f"{key}: unexpected error ({type(e).__name__}: {e})")

    def codeowners():
        rel = next((p for p in CODEOWNERS_LOCATIONS if (root / p).is_file()), None)
        text = _read_text(root, rel, warnings) if rel else None
        return _parse_codeowners(text, rel, warnings) if text is not None else None

    guarded("codeowners", codeowners)
    guarded("owners_files", lambda: _scan_owners_files(root, warnings))
    guarded("catalog", lambda: _read_catalog(root, warnings))
    guarded("innersource", lambda: _read_innersource(root, warnings))
    guarded("contributing", lambda: _find_contributing(root, web_url, ref))
    return result


def owners_for(ownership: dict, path: str) -> dict | None:
    """Who owns `path` and which rule says so: CODEOWNERS, then OWNERS, then catalog, then innersource."""
    path = path.replace("\\", "/").lstrip("/")
    while path.startswith("./"):
        path = path[2:]
    if ownership.get("codeowners") and (hit := _codeowners_for(ownership["codeowners"], path)):
        return hit
    if ownership.get("owners_files") and (hit := _owners_files_for(ownership["owners_files"], path)):
        return hit
    catalog = ownership.get("catalog") or {}
    if catalog.get("owner"):
        return {"owners": [catalog["owner"]], "source": catalog.get("path"), "line": catalog.get("line"),
                "rule": f"spec.owner: {catalog['owner']}", "section": None}
    inner = ownership.get("innersource") or {}
    for key in INNERSOURCE_OWNER_KEYS:
        if people := _dedup(_people(inner.get(key))):
            return {"owners": people, "source": inner.get("path"), "line": None,
                    "rule": f"{key}: {', '.join(people)}", "section": None}
    return None
