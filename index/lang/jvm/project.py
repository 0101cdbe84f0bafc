"""Where a Java/Kotlin repo keeps its code and what it calls itself: the build file (Maven
`pom.xml`, Gradle `build.gradle(.kts)` and settings), the source roots, the top package of each
root, and the package of one file (its `package` line, else its folder under a source root).
The same for both languages: `project()` and `module_of()` of java.py and kotlin.py."""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from . import PREFIX

SOURCE_DIRS = ("java", "kotlin")
JVM_EXTENSIONS = (".java", ".kt", ".kts")
_PACKAGE_RE = re.compile(rb"^\s*package\s+([A-Za-z_][\w.]*)", re.M)
_GRADLE_GROUP = re.compile(r"""^\s*group\s*=?\s*["']([^"']+)["']""", re.M)
_GRADLE_NAME = re.compile(r"""rootProject\.name\s*=\s*["']([^"']+)["']""")


def _source_root(path: str) -> str | None:
    """The source root a path lies under: `app/src/main/java` for `app/src/main/java/a/B.java`."""
    parts = path.split("/")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in SOURCE_DIRS and i >= 2 and parts[i - 2] == "src":
            return "/".join(parts[:i + 1])
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in SOURCE_DIRS and (i == 0 or parts[i - 1] in ("src", "main", "test")):
            return "/".join(parts[:i + 1])
    return None


def _read_head(root: str, path: str, size: int = 8192) -> bytes:
    try:
        with open(os.path.join(root, path), "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def declared_package(src: bytes) -> str | None:
    """The `package a.b` of a Java/Kotlin source (the first one, as a regex over the head)."""
    for m in _PACKAGE_RE.finditer(src[:8192]):
        line_start = src.rfind(b"\n", 0, m.start(1)) + 1
        if b"//" in src[line_start:m.start(1)] or b"*" in src[line_start:m.start(1)]:
            continue
        return m.group(1).decode("ascii", "replace").rstrip(".")
    return None


def _build_info(root: str) -> tuple[str | None, str | None, str | None]:
    """(build file, group, artifact) from pom.xml or Gradle build files at the repo root."""
    pom = os.path.join(root, "pom.xml")
    if os.path.isfile(pom):
        try:
            tree = ET.parse(pom)
            ns = {"m": tree.getroot().tag[1:].split("}")[0]} if tree.getroot().tag.startswith("{") else {}
            find = (lambda p: tree.getroot().findtext("m:" + p.replace("/", "/m:"), namespaces=ns)) if ns \
                else (lambda p: tree.getroot().findtext(p))
            group = find("groupId") or find("parent/groupId")
            return "pom.xml", (group or "").strip() or None, (find("artifactId") or "").strip() or None
        except (ET.ParseError, OSError):
            return "pom.xml", None, None
    for name in ("build.gradle", "build.gradle.kts"):
        f = os.path.join(root, name)
        if os.path.isfile(f):
            try:
                text = open(f, encoding="utf-8", errors="replace").read()
            except OSError:
                text = ""
            m = _GRADLE_GROUP.search(text)
            artifact = None
            for s in ("settings.gradle", "settings.gradle.kts"):
                try:
                    n = _GRADLE_NAME.search(open(os.path.join(root, s), encoding="utf-8", errors="replace").read())
                except OSError:
                    continue
                if n:
                    artifact = n.group(1)
            return "build.gradle", m.group(1) if m else None, artifact
    return None, None, None


def _common(prefixes: list[list[str]]) -> list[str]:
    if not prefixes:
        return []
    out = prefixes[0]
    for p in prefixes[1:]:
        n = 0
        while n < len(out) and n < len(p) and out[n] == p[n]:
            n += 1
        out = out[:n]
    return out


def project(root: str, paths: list[str]) -> dict:
    """Build file identity, source roots and the top package of each root (shared by Java and Kotlin).

    A source root is `.../src/<set>/java|kotlin`; files elsewhere get a root from their package
    declaration (the folder above the package path), read from at most 200 files' heads."""
    jvm = [p for p in paths if p.endswith(JVM_EXTENSIONS)]
    build, group, artifact = _build_info(root)
    roots: dict[str, list[list[str]]] = {}
    loose = []
    for p in jvm:
        r = _source_root(p)
        if r is None:
            loose.append(p)
        else:
            roots.setdefault(r, []).append(p[len(r) + 1:].split("/")[:-1])
    for p in loose[:200]:
        pkg = declared_package(_read_head(root, p))
        d = p.split("/")[:-1]
        parts = pkg.split(".") if pkg else []
        if parts and d[len(d) - len(parts):] == parts:
            r = "/".join(d[:len(d) - len(parts)])
            roots.setdefault(r, []).append(parts)
    packages = []
    for r, dirs in sorted(roots.items()):
        top = _common([d for d in dirs if d])
        name = ".".join(top) if top else group
        if name:
            packages.append((PREFIX + name, r, build or "package"))
    if not packages and group:
        packages.append((PREFIX + group, "", build))
    return {"root": root, "roots": sorted(roots, key=len, reverse=True), "build": build,
            "group": group, "artifact": artifact, "packages": packages}


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """`jvm:<package>` from the file's `package` declaration, else the folder under its source root."""
    pkg = declared_package(_read_head(project.get("root", ""), path)) if project.get("root") else None
    if pkg is None:
        d = path.rsplit("/", 1)[0] if "/" in path else ""
        for r in project.get("roots", ()):
            if d == r or d.startswith(r + "/"):
                pkg = d[len(r) + 1:].replace("/", ".")
                break
        else:
            pkg = ""
    return PREFIX + pkg, False
