"""An independent oracle for C go-to-definition (regexes over the sources, no crossnav code): where a
library defines a name, and where another repo's code uses it.

Definition rules, in the order a C programmer would look (default configuration, no prefix macros):
  1. a function *with a body*: a line at column 0 naming `name(`, whose matching `)` is followed by
     `{` (or K&R parameter declarations, then `{`);
  2. a type: `typedef ... name;`, `} name;` closing a typedef, `struct/union/enum name {`;
  3. a macro: `#define name`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "else", "do", "case", "defined"}
_FUNC_HEAD = re.compile(r"^(?![#\s])[A-Za-z_][\w \t\*]*?\b([A-Za-z_]\w*)[ \t]*\(", re.M)
_KR_DECLS = re.compile(r"^(\s*[A-Za-z_][\w \t\*\[\],]*;)*\s*$")
_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)", re.M)
_TYPEDEF = re.compile(r"\btypedef\b[^;{}()]*?\b([A-Za-z_]\w*)[ \t]*;")
_TYPEDEF_FN = re.compile(r"\btypedef\b[^;{}]*?\(\s*\*\s*([A-Za-z_]\w*)\s*\)")
_TYPEDEF_CLOSE = re.compile(r"^\}[ \t]*([A-Za-z_]\w*)[ \t]*;", re.M)
_TAG = re.compile(r"^[ \t]*(?:typedef[ \t]+)?(?:struct|union|enum)[ \t]+([A-Za-z_]\w*)[ \t]*\{", re.M)
_COMMENT_OR_STRING = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)


def blank_comments(text: str) -> str:
    """Comments and string literals replaced by spaces (line breaks kept): positions stay valid."""
    return _COMMENT_OR_STRING.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos)


def _matching(text: str, i: int) -> int:
    depth = 0
    for j in range(i, min(len(text), i + 20000)):
        c = text[j]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


@dataclass
class Definitions:
    functions: dict      # name -> {(path, line)}
    types: dict
    macros: dict

    def expected(self, name: str) -> set:
        for table in (self.functions, self.types, self.macros):
            if name in table:
                return table[name]
        return set()

    def names(self) -> set:
        return set(self.functions) | set(self.types) | set(self.macros)


def definitions(root: Path, skip=("contrib/", "examples/", "test/", "tests/", "projects/", "scripts/")) -> Definitions:
    funcs: dict = {}
    types: dict = {}
    macros: dict = {}
    for f in sorted(root.rglob("*")):
        rel = f.relative_to(root).as_posix()
        if f.suffix not in (".c", ".h") or not f.is_file() or rel.startswith(skip):
            continue
        text = blank_comments(f.read_text(encoding="utf-8", errors="replace"))
        for m in _DEFINE.finditer(text):
            macros.setdefault(m.group(1), set()).add((rel, _line(text, m.start(1))))
        for rx in (_TYPEDEF, _TYPEDEF_FN, _TYPEDEF_CLOSE, _TAG):
            for m in rx.finditer(text):
                types.setdefault(m.group(1), set()).add((rel, _line(text, m.start(1))))
        if f.suffix != ".c":
            continue
        for m in _FUNC_HEAD.finditer(text):
            name = m.group(1)
            if name in _KEYWORDS:
                continue
            close = _matching(text, m.end() - 1)
            if close < 0:
                continue
            brace = text.find("{", close)
            semi_ok = brace >= 0 and (text[close + 1:brace].strip() == "" or _KR_DECLS.match(text[close + 1:brace]))
            if semi_ok:
                funcs.setdefault(name, set()).add((rel, _line(text, m.start(1))))
    return Definitions(funcs, types, macros)


@dataclass
class Use:
    path: str
    line: int
    col: int      # code points (the sources are ASCII)
    name: str


def uses(root: Path, names: set, files_glob: str = "*.c") -> list[Use]:
    """Occurrences of `names` in the code (not comments, strings or preprocessor lines) of the files
    matching `files_glob` directly under `root`."""
    out = []
    rx = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    for f in sorted(root.glob(files_glob)):
        text = blank_comments(f.read_text(encoding="utf-8", errors="replace"))
        for i, line in enumerate(text.split("\n")):
            if line.lstrip().startswith("#"):
                continue
            for m in rx.finditer(line):
                before = line[:m.start()].rstrip()
                if before.endswith(("->", ".")):
                    continue          # a struct member of the same name
                out.append(Use(f.relative_to(root).as_posix(), i, m.start(), m.group(1)))
    return out


C_KEYWORDS = {"auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
              "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
              "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
              "volatile", "while", "far", "near", "defined"}


def public_names(root: Path, headers: list[str], defs: Definitions) -> set:
    """Names the library defines that its public headers mention (what an includer can use)."""
    seen = set()
    for h in headers:
        seen |= set(re.findall(r"[A-Za-z_]\w*", blank_comments((root / h).read_text(encoding="utf-8", errors="replace"))))
    return (seen & defs.names()) - C_KEYWORDS
