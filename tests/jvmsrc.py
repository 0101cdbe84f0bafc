"""Real Java/Kotlin code for tests/test_lang_jvm.py, and an oracle for where a cross-repo use is defined.

The code: react-native's Android sources (ReactAndroid/src/main/java: Java and Kotlin) and React
Native libraries whose android/ folders import them, each an unmodified npm tarball in its own git
repo (tests/npmsrc.py). Maven Central is not reachable here; npm ships these sources as published.

The oracle knows nothing of crossnav: it places a class by the JVM source layout (the file
`com/x/Foo.java` or `com/x/Foo.kt` under a source root declares `Foo`, found by a regex on its
declaration line) and a member `Foo.bar` by a declaration regex inside Foo's file. Uses are the
occurrences of a single-type-imported name (and `Name.member`) in the importing file's code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from npmsrc import npm_repo

# react-native and libraries of the same season (late 2024) whose Android code imports it.
REACT_NATIVE = ("react-native", "0.76.9")
LIBRARIES = (
    ("react-native-screens", "4.4.0"),
    ("@react-native-async-storage/async-storage", "2.1.0"),
    ("react-native-webview", "13.12.5"),
    ("react-native-svg", "15.10.1"),
    ("react-native-gesture-handler", "2.21.2"),
    ("@react-native-community/netinfo", "11.4.1"),
    ("react-native-safe-area-context", "4.14.1"),
)
RN_SOURCE_ROOT = "ReactAndroid/src/main/java"
EXTS = (".java", ".kt")

_IMPORT = re.compile(r"^\s*import\s+(com\.facebook\.react(?:\.\w+)*)\.([A-Z]\w*)\s*;?\s*$")
_COMMENT = re.compile(r"//.*$")
_STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def all_repos() -> dict[str, Path]:
    """{repo name: path} for react-native and the libraries (downloaded and cached on first use)."""
    out = {"react-native": npm_repo(*REACT_NATIVE)}
    for name, version in LIBRARIES:
        repo = npm_repo(name, version)
        out[repo.name] = repo
    return out


@dataclass
class Case:
    file: Path
    line: int               # 0-based
    col: int                # code points
    name: str
    expected: set = field(default_factory=set)   # {(Path, 0-based line)}
    member: bool = False


def _decl_line(path: Path, name: str) -> int | None:
    pat = re.compile(rf"^(?!\s*(?://|\*|/\*)).*\b(?:class|interface|enum|object|record|@interface)\s+{name}\b")
    for i, ln in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n")):
        if pat.search(ln):
            return i
    return None


def _member_lines(path: Path, member: str) -> set[int]:
    """Declaration lines of `member` in a class file: Kotlin fun/val/var, Java methods and fields."""
    kt = path.suffix == ".kt"
    if kt:
        pat = re.compile(rf"^(?!\s*(?://|\*|/\*)).*\b(?:fun|val|var)\s+(?:<[^>]*>\s*)?(?:[\w.<>?*]+\.)?{member}\b")
    else:
        pat = re.compile(rf"^\s*(?:@\w+\s+)*(?:(?:public|protected|private|static|final|abstract|synchronized|native|"
                         rf"default|transient|volatile)\s+)*(?:<[^>]*>\s*)?(?!(?:return|new|else|throw|case)\b)"
                         rf"\w[\w.<>\[\]?, ]*\s+{member}\s*(?:\(|=|;)")
    return {i for i, ln in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n")) if pat.search(ln)}


class Layout:
    """Where react-native declares a class: `com.x.Foo` -> (file, line), by the source layout."""

    def __init__(self, rn: Path):
        self.root = rn / RN_SOURCE_ROOT
        self._cache: dict = {}

    def place(self, fqn: str):
        if fqn not in self._cache:
            found = None
            rel = fqn.replace(".", "/")
            for ext in EXTS:
                f = self.root / (rel + ext)
                if f.is_file():
                    line = _decl_line(f, fqn.rsplit(".", 1)[1])
                    if line is not None:
                        found = (f, line)
                        break
            self._cache[fqn] = found
        return self._cache[fqn]


def cross_repo_cases(library: Path, layout: Layout) -> tuple[list[Case], list[str]]:
    """Uses in `library` of classes (and `Class.member`s) react-native declares: the expected
    definition of each. Returns (cases, imports the layout could not place)."""
    cases, unplaced = [], []
    for f in sorted(p for ext in EXTS for p in library.rglob("*" + ext) if ".git" not in p.parts):
        lines = f.read_text(encoding="utf-8", errors="replace").split("\n")
        imported = {}
        body_start = 0
        for i, ln in enumerate(lines):
            m = _IMPORT.match(ln)
            if m:
                fqn = f"{m.group(1)}.{m.group(2)}"
                where = layout.place(fqn)
                if where is None:
                    unplaced.append(f"{f.name}: {fqn}")
                else:
                    imported[m.group(2)] = where
                body_start = i + 1
        if not imported:
            continue
        names = re.compile(r"(?<![\w.$])(" + "|".join(map(re.escape, imported)) + r")\b(?:\.([a-z]\w*))?")
        code_lines = _code_lines(lines, body_start)
        for i, code in code_lines:
            for m in names.finditer(code):
                cls_file, cls_line = imported[m.group(1)]
                cases.append(Case(f, i, m.start(1), m.group(1), {(cls_file, cls_line)}))
                member = m.group(2)
                if member and not code[m.end():].lstrip().startswith(("<",)):
                    lines_ = _member_lines(cls_file, member)
                    if lines_:
                        cases.append(Case(f, i, m.start(2), member, {(cls_file, ln) for ln in lines_}, True))
        cases.extend(_receiver_cases(f, code_lines, imported))
    return cases, unplaced


def _code_lines(lines, start):
    """(index, code) of lines after the imports, comments and string contents blanked."""
    out, in_block = [], False
    for i in range(start, len(lines)):
        raw = lines[i]
        s = raw.strip()
        if in_block:
            if "*/" in s:
                in_block = False
            continue
        if s.startswith("/*"):
            in_block = "*/" not in s
            continue
        if s.startswith(("*", "//", "import ", "package ")):
            continue
        out.append((i, _STRING.sub(lambda m: " " * len(m.group(0)), _COMMENT.sub("", raw))))
    return out


def _receiver_cases(f: Path, code_lines, imported) -> list[Case]:
    """`x.member` where x is declared once in the file with an imported react-native type
    (`Name x` in Java, `x: Name` in Kotlin) and Name's own file declares member."""
    kt = f.suffix == ".kt"
    alt = "|".join(map(re.escape, imported))
    decl = re.compile(rf"\b(\w+)\s*:\s*({alt})\b(?![.<?])" if kt else rf"(?<![\w.])({alt})\s+(\w+)\s*[;=,)]")
    typed: dict = {}
    for _, code in code_lines:
        for m in decl.finditer(code):
            var, typ = (m.group(1), m.group(2)) if kt else (m.group(2), m.group(1))
            typed.setdefault(var, set()).add(typ)
    typed = {v: t.pop() for v, t in typed.items() if len(t) == 1 and v[:1].islower()}
    if not typed:
        return []
    use = re.compile(r"(?<![\w.$])(" + "|".join(map(re.escape, typed)) + r")(?:\?|!!)?\.([a-z]\w*)\b")
    out = []
    for i, code in code_lines:
        for m in use.finditer(code):
            cls_file, _ = imported[typed[m.group(1)]]
            lines_ = _member_lines(cls_file, m.group(2))
            if lines_:
                out.append(Case(f, i, m.start(2), m.group(2), {(cls_file, ln) for ln in lines_}, True))
    return out
