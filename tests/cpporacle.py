"""An independent oracle for C++ go-to-definition across libraries (no crossnav code): universal-ctags
for where a library defines a name, regexes for where another repo uses it qualified by the
library's namespace (`fmt::format_int`, `fmt::detail::vformat_to`).

ctags does not expand macros either, so definitions inside `FMT_BEGIN_NAMESPACE` come without a
namespace scope: a qualified use `ns::name` expects any ctags definition of `name` that is not a
member (no class/struct/union scope). Functions and types count; prototypes only where the name has
no definition with a body.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from coracle import blank_comments

_DEF_KINDS = {"class", "struct", "union", "enum", "function", "typedef", "alias"}
_MEMBER_SCOPES = ("class:", "struct:", "union:", "enum:")


@dataclass(frozen=True)
class Use:
    path: str     # repo-relative
    line: int     # 0-based
    col: int      # 0-based, of the name
    name: str
    inner: tuple = ()   # namespaces between the library's and the name (`detail` in `fmt::detail::x`)


def definitions(repo: Path, language: str = "C++") -> dict[str, set[tuple[str, int]]]:
    """name -> {(repo-relative path, 0-based line)} of its non-member definitions."""
    if shutil.which("ctags") is None:
        raise RuntimeError("universal-ctags is not installed (apt-get install universal-ctags)")
    out = subprocess.run(["ctags", "-R", "-n", f"--languages={language}", "--kinds-C++=+p", "--fields=+Ks",
                          "-f", "-", "."], cwd=repo, capture_output=True, text=True, check=True).stdout
    bodies: dict[str, set] = defaultdict(set)
    protos: dict[str, set] = defaultdict(set)
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or line.startswith("!_"):
            continue
        name, path, lineno, kind = parts[0], parts[1], parts[2], parts[3]
        if any(p.startswith(_MEMBER_SCOPES) for p in parts[4:]):
            continue
        where = (path[2:] if path.startswith("./") else path, int(lineno.rstrip(';"')) - 1)
        if kind in _DEF_KINDS:
            bodies[name].add(where)
        elif kind == "prototype":
            protos[name].add(where)
    return {n: bodies.get(n) or protos[n] for n in set(bodies) | set(protos)}


def qualified_uses(repo: Path, namespace: str, glob: str = "**/*.h") -> list[Use]:
    """`namespace::name` and `namespace::inner::name` in the repo's code (comments and strings
    blanked), at the last name of the path; not in preprocessor lines (macro bodies included: the
    index reads them as text, not code)."""
    pat = re.compile(rf"(?<![\w:]){re.escape(namespace)}::((?:\w+::)*?)(\w+)\b(?!\s*::)")
    uses = []
    for f in sorted(repo.glob(glob)):
        text = blank_comments(f.read_text(encoding="utf-8", errors="replace"))
        directive = False   # inside a preprocessor line, continuations (`\`) included: a macro body
        for i, line in enumerate(text.split("\n")):
            directive = directive or line.lstrip().startswith("#")
            if directive:
                directive = line.rstrip().endswith("\\")
                continue
            for m in pat.finditer(line):
                uses.append(Use(str(f.relative_to(repo)), i, m.start(2), m.group(2), tuple(filter(None, m.group(1).split("::")))))
    return uses


def namespaces(repo: Path, glob: str = "**/*.h") -> set[str]:
    """Every name the library's text opens as a namespace (`namespace detail {`, also inside the
    `#define`s of namespace macros, which ctags does not read)."""
    pat = re.compile(r"\bnamespace\s+(\w+)\s*\{")
    return {m.group(1) for f in repo.glob(glob) for m in pat.finditer(f.read_text(encoding="utf-8", errors="replace"))}
