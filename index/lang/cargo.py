"""Rust crates in a repo from their Cargo.toml files, and the module path of every `.rs` file.

A crate is named by `[lib] name` or `[package] name` (`-` becomes `_`); its library root is
`src/lib.rs` (or `[lib] path`), and a file's module follows the file system from the root's folder:
`src/a/b.rs` and `src/a/b/mod.rs` are `crate.a.b`. `#[path = "x.rs"] mod m;` declarations move a
file (and, for a `mod.rs`, its folder) to `parent.m`. Integration tests, examples, benches and
binaries are crates of their own (`rust:serde_json/tests/debug`). Debian's `librust-*-dev` trees
(`usr/share/cargo/registry/<crate>-<version>/`) are ordinary crate folders. Manifests that do not
parse still give a name (a line scan, then the folder name), so odd files never stop indexing.
"""
from __future__ import annotations

import glob
import os
import posixpath
import re

try:
    import tomllib
except ImportError:  # Python 3.10: the line scan below is enough for names
    tomllib = None

STD_CRATES = ("std", "core", "alloc", "proc_macro", "test")
_DEP_TABLES = ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies", "build_dependencies")
_PATH_MOD = re.compile(rb'#\[\s*path\s*=\s*"([^"]+)"\s*\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;')
_VERSION_SUFFIX = re.compile(r"-\d+(\.\d+)*([-+].*)?$")
_TARGET_DIRS = ("tests", "examples", "benches")


def crate_ident(name: str) -> str:
    return name.replace("-", "_")


def _read_toml(path: str) -> dict | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if tomllib is not None:
        try:
            return tomllib.loads(data.decode("utf-8", "replace"))
        except (tomllib.TOMLDecodeError, ValueError):
            pass
    return _scan_toml(data.decode("utf-8", "replace"))


def _scan_toml(text: str) -> dict:
    """Just enough of a broken manifest: `name`/`path`/`edition` keys of [package] and [lib], and dependency names."""
    out: dict = {}
    section = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[] ")
            continue
        key, eq, value = line.partition("=")
        if not eq or section is None:
            continue
        key, value = key.strip(), value.strip().strip('"\'')
        if section in ("package", "lib") and key in ("name", "path", "edition"):
            out.setdefault(section, {})[key] = value
        elif section.split(".")[-1] in _DEP_TABLES or section in _DEP_TABLES:
            out.setdefault("dependencies", {})[key.split(".")[0]] = {}
        elif section.startswith(_DEP_TABLES) and section.count(".") == 1:
            out.setdefault("dependencies", {})[section.split(".", 1)[1]] = {}
    return out


def _deps(data: dict) -> set:
    """Extern crate names a manifest makes available (renames included)."""
    names = set()
    tables = [data] + [t for t in (data.get("target") or {}).values() if isinstance(t, dict)]
    for t in tables:
        for key in _DEP_TABLES:
            deps = t.get(key)
            if isinstance(deps, dict):
                names.update(crate_ident(k) for k in deps)
    return names


def _crate(root: str, rel_dir: str, data: dict, workspace: dict | None) -> dict | None:
    """One crate record from a parsed manifest; None for a virtual (workspace-only) manifest."""
    pkg = data.get("package") or data.get("project")
    lib = data.get("lib") if isinstance(data.get("lib"), dict) else {}
    if not isinstance(pkg, dict) and not lib:
        return None
    pkg = pkg if isinstance(pkg, dict) else {}
    name = lib.get("name") if isinstance(lib.get("name"), str) else pkg.get("name")
    if not isinstance(name, str) or not name:
        name = _VERSION_SUFFIX.sub("", posixpath.basename(rel_dir) or posixpath.basename(root))
    edition = pkg.get("edition")
    if isinstance(edition, dict) and edition.get("workspace"):   # `edition.workspace = true`
        wp = ((workspace or {}).get("workspace") or {}).get("package") or {}
        edition = wp.get("edition")
    if not isinstance(edition, str):
        edition = "2015"   # Cargo's default when a manifest names none
    lib_path = lib.get("path") if isinstance(lib.get("path"), str) else "src/lib.rs"
    lib_path = posixpath.normpath(lib_path.replace("\\", "/"))
    has_lib = os.path.isfile(os.path.join(root, rel_dir, lib_path)) or bool(lib.get("path"))
    return {"dir": rel_dir, "name": crate_ident(name), "edition": edition, "lib": lib_path if has_lib else None,
            "src": posixpath.dirname(lib_path), "deps": sorted(_deps(data) | set(STD_CRATES))}


def project(root: str, paths: list[str]) -> dict:
    """Crates of the repo: every Cargo.toml above a `.rs` file, plus workspace members."""
    manifests: dict[str, dict | None] = {}
    seen_dirs: dict[str, str | None] = {}

    def manifest_dir(d: str) -> str | None:
        """The nearest folder at or above `d` (repo-relative) holding a Cargo.toml with a crate."""
        chain = []
        found = None
        while True:
            if d in seen_dirs:
                found = seen_dirs[d]
                break
            chain.append(d)
            if os.path.isfile(os.path.join(root, d, "Cargo.toml")):
                if d not in manifests:
                    manifests[d] = _read_toml(os.path.join(root, d, "Cargo.toml"))
                if manifests[d] is not None and (manifests[d].get("package") or manifests[d].get("lib")):
                    found = d
                    break
            if not d:
                break
            d = posixpath.dirname(d)
        for c in chain:
            seen_dirs[c] = found
        return found

    for p in paths:
        manifest_dir(posixpath.dirname(p))
    if "" not in manifests and os.path.isfile(os.path.join(root, "Cargo.toml")):   # a workspace root
        manifests[""] = _read_toml(os.path.join(root, "Cargo.toml"))
    # workspace members declared by globs, even when a member has no file in `paths`
    for d, data in list(manifests.items()):
        ws = (data or {}).get("workspace")
        members = ws.get("members") if isinstance(ws, dict) else None
        for pattern in members if isinstance(members, list) else ():
            if not isinstance(pattern, str):
                continue
            for m in glob.glob(os.path.join(root, d, pattern)):
                rel = os.path.relpath(m, root).replace(os.sep, "/")
                if os.path.isfile(os.path.join(m, "Cargo.toml")) and rel not in manifests:
                    manifests[rel] = _read_toml(os.path.join(m, "Cargo.toml"))
    crates = []
    for d, data in sorted(manifests.items()):
        if not data:
            continue
        ws = _workspace_of(root, d, manifests)
        c = _crate(root, d, data, ws)
        if c is not None:
            crates.append(c)
    if not crates or any(manifest_dir(posixpath.dirname(p)) is None for p in paths):
        base = _VERSION_SUFFIX.sub("", os.path.basename(os.path.normpath(root))) or "crate"
        has_src = any(p.startswith("src/") for p in paths)
        crates.append({"dir": "", "name": crate_ident(base), "edition": "2018", "fallback": True,
                       "lib": "src/lib.rs" if has_src else None, "src": "src" if has_src else "",
                       "deps": list(STD_CRATES)})
    crates.sort(key=lambda c: (-len(c["dir"]), c.get("fallback", False)))
    proj = {"crates": crates, "files": {}, "dirs": {}}
    proj["files"], proj["dirs"] = _path_overrides(root, paths, proj)
    proj["packages"] = sorted({(f"rust:{c['name']}", c["dir"], "Cargo.toml") for c in crates if not c.get("fallback")})
    return proj


def _workspace_of(root: str, d: str, manifests: dict) -> dict | None:
    """The manifest of the workspace above crate folder `d` (for `edition.workspace = true`)."""
    while d:
        d = posixpath.dirname(d)
        if d not in manifests:
            f = os.path.join(root, d, "Cargo.toml")
            manifests[d] = _read_toml(f) if os.path.isfile(f) else None
        data = manifests.get(d)
        if data and isinstance(data.get("workspace"), dict):
            return data
    return None


def crate_of(proj: dict, path: str) -> dict | None:
    """The crate record holding a repo-relative path (the deepest crate folder)."""
    for c in proj.get("crates", ()):
        d = c["dir"]
        if not d or path.startswith(d + "/"):
            return c
    return None


def _default_module(c: dict | None, path: str) -> tuple[str, bool]:
    if c is None:
        stem = posixpath.basename(path)[:-3] if path.endswith(".rs") else posixpath.basename(path)
        return f"rust:{crate_ident(stem)}", True
    rel = path[len(c["dir"]) + 1:] if c["dir"] else path
    crate = f"rust:{c['name']}"
    if c["lib"] and rel == c["lib"]:
        return crate, True
    src = c["src"]
    parts = rel[:-3].split("/") if rel.endswith(".rs") else rel.split("/")
    if rel == "build.rs":
        return f"{crate}/build", True
    if src and rel.startswith(src + "/"):
        inner = parts[len(src.split("/")):]
        if inner == ["main"]:
            return (f"{crate}/main" if c["lib"] else crate), True
        if inner[:1] == ["bin"] and len(inner) >= 2:
            return f"{crate}/bin/{inner[1]}", True
    elif not src:
        inner = parts
    else:
        # tests/x.rs, examples/x.rs, benches/x.rs: crates of their own; anything else by its path
        if len(parts) >= 2 and parts[0] in _TARGET_DIRS:
            if parts[-1] in ("main", "mod") and len(parts) >= 3:
                parts = parts[:-1]
            return f"{crate}/{parts[0]}/{'/'.join(parts[1:])}", True
        return f"{crate}/{'/'.join(parts)}", True
    is_pkg = inner[-1] in ("mod", "lib")
    if is_pkg:
        inner = inner[:-1]
    return ".".join([crate] + inner), is_pkg


def _path_overrides(root: str, paths: list[str], proj: dict) -> tuple[dict, dict]:
    """`#[path = "..."] mod m;` in a crate's source folder: the target file (and its folder when
    it is a mod.rs) becomes module `parent.m`. Only files whose text mentions `#[path` are read."""
    files: dict[str, str] = {}
    dirs: dict[str, str] = {}
    found = []
    for p in paths:
        try:
            with open(os.path.join(root, p), "rb") as f:
                data = f.read()
        except OSError:
            continue
        if b"#[path" in data or b"# [path" in data:
            found.append((p.count("/"), p, data))
    for _, p, data in sorted(found):
        c = crate_of(proj, p)
        if c is None:
            continue
        src_dir = posixpath.join(c["dir"], c["src"]) if c["src"] else c["dir"]
        in_src = not src_dir or p.startswith(src_dir + "/")
        module = module_of({"crates": proj["crates"], "files": files, "dirs": dirs}, p)[0]
        for m in _PATH_MOD.finditer(data):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(p), m.group(1).decode("utf-8", "replace")))
            if not in_src and src_dir and target.startswith(src_dir + "/"):
                continue   # tests/ including library files by path: the library's own names stay
            if in_src and src_dir and not target.startswith(src_dir + "/"):
                continue
            files[target] = f"{module}.{m.group(2).decode()}"
            if posixpath.basename(target) == "mod.rs":
                dirs[posixpath.dirname(target)] = files[target]
    return files, dirs


def module_of(proj: dict, path: str) -> tuple[str, bool]:
    files = proj.get("files") or {}
    if path in files:
        return files[path], path.endswith(("/mod.rs", "/lib.rs", "/main.rs"))
    dirs = proj.get("dirs")
    if dirs:
        d = posixpath.dirname(path)
        rest: list[str] = []
        while d:
            if d in dirs:
                parts = posixpath.basename(path)[:-3]
                inner = rest[::-1] + ([] if parts == "mod" else [parts])
                return ".".join([dirs[d]] + inner), parts == "mod"
            rest.append(posixpath.basename(d))
            d = posixpath.dirname(d)
    return _default_module(crate_of(proj, path), path)
