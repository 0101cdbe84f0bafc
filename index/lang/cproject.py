"""What a C/C++ repo's build files say: include roots (`include/`, the repo root, CMake
`include_directories`/`target_include_directories`, Makefile `-I` flags), pkg-config names, whether it
is C++ only, and its decorator macros (index/lang/cmacros.py). Shared by c.py and cpp.py and computed
once per repo and process."""
from __future__ import annotations

import os
import re

from . import cmacros

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", ".tox", "__pycache__", "build", "_build", "out"}
HEADERS = (".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".h++", ".tcc")
C_SOURCES = (".c",)
CPP_SOURCES = (".cc", ".cpp", ".cxx", ".c++")
MAX_SCAN_BYTES = 64 << 20          # reading every header of a huge repo for #defines costs this much at most
MAX_FILE = 2 << 20

_CMAKE_INC = re.compile(r"\b(?:target_)?include_directories\s*\(([^)]*)\)", re.I)
_CMAKE_SKIP = {"PUBLIC", "PRIVATE", "INTERFACE", "SYSTEM", "BEFORE", "AFTER", "AFTER", "BUILD_INTERFACE"}
_MAKE_INC = re.compile(r"(?<![\w-])-I\s*([^\s$()'\"\\]+)")
_cache: dict = {}


def project(root: str, paths: list[str]) -> dict:
    """{"repo", "include_roots" (deepest first, "" last), "packages", "cpp_only", "macros"}.
    packages: ("c:<repo>", "include" or "", "include") and one ("c:<name>", dir, "pkg-config") per
    other `.pc` file."""
    try:
        st = os.stat(os.path.join(root, ".git"))
        key = (root, st.st_mtime_ns)
    except OSError:
        key = (root, None)
    hit = _cache.get(key)
    if hit is None:
        hit = _cache[key] = _project(root)
        if len(_cache) > 32:
            _cache.pop(next(iter(_cache)))
    return hit


def _walk(root: str):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        yield ("" if rel == "." else rel), filenames


def _project(root: str) -> dict:
    repo = os.path.basename(os.path.normpath(root))
    headers: list[str] = []
    has_c = has_cpp = False
    build_files: list[str] = []
    pcs: list[str] = []
    include_dirs: set[str] = set()
    for rel, files in _walk(root):
        base = rel.rsplit("/", 1)[-1]
        for f in files:
            path = f"{rel}/{f}" if rel else f
            low = f.lower()
            if low.endswith(HEADERS):
                headers.append(path)
                if base == "include":
                    include_dirs.add(rel)
            elif low.endswith(C_SOURCES):
                has_c = True
            elif low.endswith(CPP_SOURCES):
                has_cpp = True
            elif f in ("CMakeLists.txt", "Makefile", "Makefile.am", "GNUmakefile", "meson.build") or low.endswith(".mk"):
                build_files.append(path)
            elif low.endswith((".pc", ".pc.in", ".pc.cmakein")):
                pcs.append(path)
    roots = set(include_dirs)
    for bf in build_files:
        roots |= _build_includes(root, bf)
    roots = {r for r in roots if r and os.path.isdir(os.path.join(root, r))}
    include_roots = sorted(roots, key=lambda r: (-r.count("/"), r)) + [""]
    main = "include" if "include" in roots else ""
    packages = [(f"c:{repo}", main, "include")]   # one row per package name (the table's key)
    for pc in pcs:
        name = os.path.basename(pc).split(".pc")[0]
        if name and f"c:{name}" != f"c:{repo}":
            packages.append((f"c:{name}", os.path.dirname(pc), "pkg-config"))
    bodies: dict = {}
    identity: dict = {}
    budget = MAX_SCAN_BYTES
    for path in headers:
        if budget <= 0:
            break
        try:
            with open(os.path.join(root, path), "rb") as fh:
                data = fh.read(MAX_FILE)
        except OSError:
            continue
        budget -= len(data)
        cmacros.scan_defines(data, bodies, identity)
    return {"repo": repo, "include_roots": include_roots, "packages": packages,
            "cpp_only": has_cpp and not has_c, "macros": cmacros.repo_decorators(bodies, identity)}


def _build_includes(root: str, build_file: str) -> set[str]:
    """Repo-relative directories a CMakeLists.txt or Makefile adds to the include path."""
    here = os.path.dirname(build_file)
    try:
        with open(os.path.join(root, build_file), encoding="utf-8", errors="replace") as fh:
            text = fh.read(1 << 20)
    except OSError:
        return set()
    found = []
    if build_file.endswith("CMakeLists.txt") or build_file.endswith(".cmake"):
        for m in _CMAKE_INC.finditer(text):
            for tok in m.group(1).split():
                tok = tok.strip('"')
                if tok in _CMAKE_SKIP or not tok or tok.startswith("$<") and not tok.startswith("$<BUILD_INTERFACE:"):
                    continue
                tok = tok.removeprefix("$<BUILD_INTERFACE:").rstrip(">")
                for var in ("${CMAKE_CURRENT_SOURCE_DIR}", "${PROJECT_SOURCE_DIR}", "${CMAKE_SOURCE_DIR}",
                            "${CMAKE_CURRENT_LIST_DIR}"):
                    if tok.startswith(var):
                        tok = tok[len(var):].lstrip("/") or "."
                        if var in ("${PROJECT_SOURCE_DIR}", "${CMAKE_SOURCE_DIR}"):
                            found.append(("", tok))
                            tok = None
                        break
                if tok and "$" not in tok:
                    found.append((here, tok))
    else:
        for m in _MAKE_INC.finditer(text):
            if m.group(1).rstrip("/") != ".":      # the directory make runs in, not a header root
                found.append((here, m.group(1)))
    out = set()
    for base, tok in found:
        if os.path.isabs(tok):
            continue
        rel = os.path.normpath(os.path.join(base, tok)).replace(os.sep, "/")
        if rel == ".":
            rel = ""
        if not rel.startswith(".."):
            out.add(rel)
    return out
