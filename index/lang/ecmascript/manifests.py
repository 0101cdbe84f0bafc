"""What package.json and tsconfig.json files say about a repo, for TypeScript and JavaScript:
which npm packages it holds, where each package's entry points really are (built `dist/` paths
mapped back to their sources), and tsconfig `paths` aliases. Runs once per repo per run; the
result is a plain dict (picklable) read by module_of() and the extractor.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

TS_EXTS = (".ts", ".tsx", ".mts", ".cts")
JS_EXTS = (".js", ".jsx", ".mjs", ".cjs")
DTS_EXTS = (".d.ts", ".d.mts", ".d.cts")
# in the order a bundler/tsc looks for `./x`
RESOLVE_EXTS = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
SOURCE_DIRS = ("src", "lib", "source")
SKIP_DIRS = {"node_modules", ".git", "bower_components", ".yarn", ".pnpm-store"}
# conditional-exports keys, most useful first (types point at declarations, import at ESM)
_CONDITIONS = ("types", "typings", "import", "module", "default", "require", "node", "browser")


def strip_ext(path: str) -> str:
    """`src/a.d.ts` -> `src/a`, `lib/b.js` -> `lib/b`; other suffixes are kept."""
    for ext in DTS_EXTS:
        if path.endswith(ext):
            return path[: -len(ext)]
    base, ext = os.path.splitext(path)
    return base if ext in TS_EXTS or ext in JS_EXTS else path


def norm(path: str) -> str:
    """Repo-relative, '/'-separated, no `./`; '' for the root; may start with '..' when outside."""
    p = os.path.normpath(path).replace(os.sep, "/")
    return "" if p == "." else p


def join(d: str, rel: str) -> str:
    return norm(f"{d}/{rel}" if d else rel)


# ------------------------------------------------------------------------------------ files on disk

class Files:
    """Existence checks against the work tree, one directory listing per directory."""

    def __init__(self, root: str):
        self.root = root
        self._dirs: dict[str, frozenset | None] = {}

    def listing(self, d: str):
        got = self._dirs.get(d, False)
        if got is False:
            try:
                got = frozenset(os.listdir(os.path.join(self.root, d) if d else self.root))
            except OSError:
                got = None
            if len(self._dirs) > 20000:
                self._dirs.clear()
            self._dirs[d] = got
        return got

    def is_file(self, rel: str) -> bool:
        if not rel or rel.startswith(".."):
            return False
        d, _, name = rel.rpartition("/")
        names = self.listing(d)
        return names is not None and name in names and self.listing(rel) is None

    def is_dir(self, rel: str) -> bool:
        return not rel.startswith("..") and self.listing(rel) is not None

    def resolve(self, rel: str, exts=RESOLVE_EXTS) -> str | None:
        """The file an import of `rel` (no extension, or a .js one standing for .ts) means."""
        if self.is_file(rel):
            base, ext = os.path.splitext(rel)
            if ext in JS_EXTS:   # TypeScript's ESM style: `./x.js` written for x.ts
                for e in (".ts", ".tsx", ".mts", ".cts", ".d.ts"):
                    if self.is_file(base + e):
                        return base + e
            return rel
        base, ext = os.path.splitext(rel)
        if ext in JS_EXTS:
            for e in (".ts", ".tsx", ".mts", ".cts", ".d.ts"):
                if self.is_file(base + e):
                    return base + e
        for e in exts:
            if self.is_file(rel + e):
                return rel + e
        if self.is_dir(rel):
            for e in exts:
                if self.is_file(f"{rel}/index{e}"):
                    return f"{rel}/index{e}"
        return None


_CACHE: dict[str, Files] = {}


def files_for(root: str) -> Files:
    f = _CACHE.get(root)
    if f is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
        f = _CACHE[root] = Files(root)
    return f


# ------------------------------------------------------------------------------------ JSON with comments

_JSONC = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/|,(\s*[}\]])', re.S)


def read_json(path: str, comments: bool = False):
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return json.loads(text)
    except ValueError:
        if not comments:
            return None
    for _ in range(2):   # comments first; then commas that only a comment separated from `}`
        text = _JSONC.sub(lambda m: m.group(1) or m.group(2) or "", text)
    try:
        return json.loads(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------ the repo's manifests

def _manifest_paths(root: str, paths) -> list[str]:
    """Repo-relative package.json / tsconfig.json / jsconfig.json paths (git's view, else next to sources)."""
    out = None
    try:
        r = subprocess.run(["git", "-C", root, "ls-files", "-z", "-c", "-o", "--exclude-standard", "--",
                            "*package.json", "*tsconfig.json", "*jsconfig.json"], capture_output=True, timeout=60)
        if r.returncode == 0:
            out = [p for p in r.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.TimeoutExpired):
        out = None
    if out is None:
        dirs = set()
        for p in paths:
            d = p.rpartition("/")[0]
            while d not in dirs:
                dirs.add(d)
                if not d:
                    break
                d = d.rpartition("/")[0]
        out = [f"{d}/{n}" if d else n for d in dirs for n in ("package.json", "tsconfig.json", "jsconfig.json")
               if os.path.isfile(os.path.join(root, d, n))]
    keep = []
    for p in out:
        parts = p.split("/")
        if parts[-1] in ("package.json", "tsconfig.json", "jsconfig.json") and not SKIP_DIRS.intersection(parts[:-1]):
            keep.append(p)
    return sorted(set(keep))


def package_of(project: dict, path: str) -> tuple[str, str | None]:
    """(package dir, package name) of the nearest package.json with a name above `path`."""
    pkgs = project.get("pkgs") or {}
    d = path.rpartition("/")[0]
    while True:
        name = pkgs.get(d)
        if name is not None:
            return d, name
        if not d:
            return "", None
        d = d.rpartition("/")[0]


def module_name(project: dict, path: str) -> str:
    """js:<package>/<path in package without extension>; files in no package: js:<repo>/<path>."""
    d, name = package_of(project, path)
    stem = strip_ext(path[len(d) + 1:] if d else path)
    if name is None:
        repo = project.get("repo")
        return f"js:{repo}/{stem}" if repo else f"js:{stem}"
    return f"js:{name}/{stem}"


def _leaves(value, out: list) -> list:
    """Target paths of an `exports` value, most useful condition first."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, out)
    elif isinstance(value, dict):
        keys = sorted(value, key=lambda k: _CONDITIONS.index(k) if k in _CONDITIONS else len(_CONDITIONS))
        for k in keys:
            _leaves(value[k], out)
    return out


def _source_for(files: Files, d: str, leaf: str) -> str | None:
    """The TypeScript source a built entry (`dist/index.d.ts`, `build/esm/index.js`) was made from."""
    rel = join(d, leaf)
    if rel.startswith(".."):
        return None
    if rel.endswith(TS_EXTS) and not rel.endswith(DTS_EXTS) and files.is_file(rel):
        return rel
    stem = strip_ext(rel[len(d) + 1:] if d else rel)
    parts = [p for p in stem.split("/") if p]
    if not parts:
        return None
    ts = (".ts", ".tsx", ".mts", ".cts")
    for k in range(0, len(parts)):
        rest = "/".join(parts[k:])
        for src in SOURCE_DIRS:
            if k == 0 and parts[0] == src:
                continue
            cand = join(d, f"{src}/{rest}")
            found = files.resolve(cand, ts)
            if found and not found.endswith(DTS_EXTS):
                return found
    return None


def _entry(files: Files, d: str, leaves: list) -> str | None:
    """Where an entry point's code lives: its TypeScript source if there is one, else the file itself."""
    for leaf in leaves:
        s = _source_for(files, d, leaf)
        if s:
            return s
    for leaf in leaves:
        rel = join(d, leaf)
        if not rel.startswith(".."):
            found = files.resolve(rel)
            if found:
                return found
    return None


BUILD_DIRS = frozenset({"dist", "build", "out", "esm", "cjs", "umd", "es", "bundle"})


def _built(rel: str) -> bool:
    """A package-relative path in a bundler's output folder (`dist/cjs/redux.cjs`)."""
    return rel.split("/", 1)[0] in BUILD_DIRS


def _index_source(files: Files, d: str) -> str | None:
    """`src/index.ts` (or lib/, source/) of a package whose root entry maps to no source by its
    name: bundlers name their output after the package (redux's `dist/redux.d.ts`,
    `dist/cjs/redux.cjs`), built from the source folder's index."""
    for src in SOURCE_DIRS:
        found = files.resolve(join(d, f"{src}/index"), (".ts", ".tsx", ".mts", ".cts"))
        if found and not found.endswith(DTS_EXTS):
            return found
    return None


def _wild_source(files: Files, d: str, leaf: str) -> str | None:
    """`./dist/utils/*.js` -> the package-relative source folder the `*` ranges over (`src/utils/`)."""
    pre, _, suf = leaf.partition("*")
    pdir = join(d, pre.rpartition("/")[0] or ".")
    if pdir.startswith(".."):
        return None
    parts = [p for p in (pdir[len(d) + 1:] if d else pdir).split("/") if p]
    here = "/".join(parts) + "/" if parts else ""
    if suf.endswith(TS_EXTS) and not suf.endswith(DTS_EXTS):
        return here
    for k in range(1, len(parts) + 1):
        rest = "/".join(parts[k:])
        for src in SOURCE_DIRS:
            cand = join(d, f"{src}/{rest}" if rest else src)
            if files.is_dir(cand):
                return (cand[len(d) + 1:] if d else cand) + "/"
    return here if files.is_dir(pdir) else None


def _package(files: Files, d: str, data: dict, proj: dict) -> None:
    """Entry points of one package: `entries[module] = [alias...]`, `wild`, `main`."""
    name = data["name"]
    exports = data.get("exports")
    subpaths: dict[str, object] = {}
    if isinstance(exports, (str, list)):
        subpaths["."] = exports
    elif isinstance(exports, dict):
        if exports and all(isinstance(k, str) and k.startswith(".") for k in exports):
            subpaths = dict(exports)
        elif exports:
            subpaths["."] = exports
    if "." not in subpaths:
        legacy = [data[k] for k in ("types", "typings", "module", "main") if isinstance(data.get(k), str)]
        subpaths["."] = legacy + ["index"]
    for key, value in subpaths.items():
        if not isinstance(key, str) or key == "./package.json" or key.endswith("/") or value is None:
            continue
        leaves = [x for x in _leaves(value, []) if isinstance(x, str) and not x.endswith(".json")]
        if not leaves:
            continue
        sub = key[2:] if key.startswith("./") else ("" if key == "." else key.lstrip("./"))
        alias = f"js:{name}/{strip_ext(sub)}" if sub else f"js:{name}"
        if "*" in key:
            star = [x for x in leaves if x.count("*") == 1]
            if not star or key.count("*") != 1:
                continue
            kpre, _, ksuf = sub.partition("*")
            src = _wild_source(files, d, star[0])
            if src is not None:   # extract() aliases js:<name>/<kpre><rest><ksuf> to each file under src
                proj["wild"].setdefault(d, []).append((kpre, "" if ksuf in TS_EXTS + JS_EXTS + DTS_EXTS else strip_ext(ksuf), src))
            continue
        path = _entry(files, d, leaves)
        if sub == "" and (path is None or path.endswith(DTS_EXTS) or _built(path[len(d) + 1:] if d else path)):
            path = _index_source(files, d) or path
        if path is None:
            continue
        mod = module_name(proj, path)
        if mod != alias:
            proj["entries"].setdefault(mod, [])
            if alias not in proj["entries"][mod]:
                proj["entries"][mod].append(alias)
        if sub == "":
            proj["main"][d] = mod


def _tsconfig(root: str, rel: str, depth: int = 0) -> dict:
    """compilerOptions baseUrl/paths of a tsconfig, following relative `extends` (paths repo-relative)."""
    data = read_json(os.path.join(root, rel), comments=True)
    if not isinstance(data, dict) or depth > 4:
        return {}
    d = rel.rpartition("/")[0]
    out: dict = {}
    ext = data.get("extends")
    for e in ([ext] if isinstance(ext, str) else ext if isinstance(ext, list) else []):
        if isinstance(e, str) and e.startswith("."):
            target = join(d, e if e.endswith(".json") else e + ".json")
            if not target.startswith(".."):
                out.update(_tsconfig(root, target, depth + 1))
    opts = data.get("compilerOptions")
    if isinstance(opts, dict):
        if isinstance(opts.get("baseUrl"), str):
            out["base"] = join(d, opts["baseUrl"])
        if isinstance(opts.get("paths"), dict):
            base = out.get("base", d) if isinstance(opts.get("baseUrl"), str) else d
            out["paths"] = [(pat, [join(base, t) for t in targets if isinstance(t, str)])
                            for pat, targets in opts["paths"].items() if isinstance(targets, list)]
            if "base" not in out:
                out["paths_base"] = d
    return out


def project(root: str, paths) -> dict:
    """Every package.json (monorepos included) and tsconfig/jsconfig of a repo."""
    files = Files(root)
    proj: dict = {"repo": os.path.basename(os.path.realpath(root)), "pkgs": {}, "packages": [],
                  "entries": {}, "wild": {}, "main": {}, "tsconfig": {}}
    manifests = _manifest_paths(root, paths)
    datas = {}
    for rel in manifests:
        d, _, base = rel.rpartition("/")
        if base == "package.json":
            data = read_json(os.path.join(root, rel))
            if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"].strip():
                proj["pkgs"][d] = data["name"].strip()
                datas[d] = data
                proj["packages"].append((f"js:{data['name'].strip()}", d, "package.json"))
        elif d not in proj["tsconfig"] or base == "tsconfig.json":
            cfg = _tsconfig(root, rel)
            if cfg.get("paths") or cfg.get("base"):
                proj["tsconfig"][d] = cfg
    for d, data in datas.items():
        _package(files, d, data, proj)
    proj["packages"].sort()
    return proj


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """The file's module qualname, and whether it is its package's main entry."""
    mod = module_name(project, path)
    d, name = package_of(project, path)
    return mod, name is not None and (project.get("main") or {}).get(d) == mod
