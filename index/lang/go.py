"""Go: packages named by import path, definitions, and references resolved file-locally.

A Go package is a directory; its module (qualified name) is its import path:
`go:github.com/spf13/cobra`, members `go:github.com/spf13/cobra.Command`, methods and fields
`go:github.com/spf13/cobra.Command.Execute`. project() works out the import path of every
directory from go.mod files (and go.work, vendor/, replace directives); without a go.mod, from a
`// import "..."` comment, a GOPATH-style location, the git remote, or the folder name.

extract() is one tree-sitter parse, one query over the tree and a walk over the top-level
declarations. References get targets that resolve.py can follow across repos: `pkg.Name` on an
imported package, unqualified package-level names, and `x.Member` where x's type is visible in
the file (a receiver, a typed parameter or variable, `&pkg.T{}`, `pkg.New()`: the resolver's
value-type rule finds the result type of New). The standard library yields no references.
"""
from __future__ import annotations

import os
import re
import subprocess
from bisect import bisect_right

import tree_sitter_go
from tree_sitter import Language, Parser, Query, QueryCursor

from . import FileFacts, Unit

NAME = "go"
EXTENSIONS = (".go",)
SEARCH_NAMES = ("go", "golang")
PREFIX = "go:"
FENCE = "go"

GO_LANGUAGE = Language(tree_sitter_go.language())

PREDECLARED = frozenset("""
any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string
uint uint8 uint16 uint32 uint64 uintptr true false iota nil append cap clear close complex copy delete imag
len make max min new panic print println real recover _
""".split())
_PREDECLARED_B = frozenset(n.encode() for n in PREDECLARED)

# ---------------------------------------------------------------------------- project


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] in "\"`" and s[-1] == s[0]:
        return s[1:-1]
    return s


def _directives(text: str, keyword: str) -> list[str]:
    """The lines of `keyword x` and `keyword ( x \\n y )` blocks in a go.mod/go.work file."""
    out = []
    text = _strip_comments(text)
    for m in re.finditer(rf"(?m)^\s*{keyword}\s*\(([^)]*)\)", text):
        out.extend(ln.strip() for ln in m.group(1).splitlines() if ln.strip())
    for m in re.finditer(rf"(?m)^\s*{keyword}\s+([^(\s][^\n]*)$", text):
        out.append(m.group(1).strip())
    return out


def parse_gomod(text: str) -> dict:
    """module path, required module paths, and replace directives (old -> (new, is_local_dir))."""
    mods = _directives(text, "module")
    module = _unquote(mods[0].split()[0]) if mods else None
    requires = [_unquote(r.split()[0]) for r in _directives(text, "require") if r.split()]
    replaces = {}
    for r in _directives(text, "replace"):
        old, arrow, new = r.partition("=>")
        if not arrow or not old.split() or not new.split():
            continue
        new_path = _unquote(new.split()[0])
        replaces[_unquote(old.split()[0])] = (new_path, new_path.startswith((".", "/")))
    return {"module": module, "requires": requires, "replaces": replaces}


def _remote_import_path(root: str) -> str | None:
    """`git@github.com:spf13/viper.git` / `https://github.com/spf13/viper` -> github.com/spf13/viper."""
    try:
        out = subprocess.run(["git", "-C", root, "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    url = out.stdout.strip()
    if out.returncode != 0 or not url:
        return None
    m = re.match(r"^(?:[a-z+]+://)?(?:[^@/]+@)?([^/:]+)(?::\d+)?[:/](.+?)(?:\.git)?/?$", url)
    if not m or "." not in m.group(1):
        return None
    return f"{m.group(1)}/{m.group(2)}"


_IMPORT_COMMENT = re.compile(r'(?m)^package\s+\w+\s*(?://\s*import\s+"([^"]+)"|/\*\s*import\s+"([^"]+)"\s*\*/)')


def _gopath_import_path(path: str) -> str | None:
    """`.../src/github.com/x/y` (a GOPATH or Debian gocode tree) -> github.com/x/y."""
    parts = path.replace(os.sep, "/").split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "src" and i + 1 < len(parts) and "." in parts[i + 1]:
            return "/".join(parts[i + 1:])
    return None


def _fallback_root(root: str, paths: list[str]) -> tuple[str, str]:
    """The import path of a repo without go.mod, and where it came from."""
    for path in sorted(paths, key=lambda p: (p.count("/"), p)):
        if path.endswith("_test.go") or "/vendor/" in f"/{path}" or "testdata/" in path:
            continue
        head = (_read(os.path.join(root, path)) or "")[:8192]
        m = _IMPORT_COMMENT.search(head)
        if m:
            ip = m.group(1) or m.group(2)
            d = os.path.dirname(path)
            if not d:
                return ip, "import-comment"
            if ip.endswith("/" + d):
                return ip[: -len(d) - 1], "import-comment"
    gp = _gopath_import_path(os.path.abspath(root))
    if gp:
        return gp, "gopath"
    rp = _remote_import_path(root)
    if rp:
        return rp, "git-remote"
    return os.path.basename(os.path.abspath(root)), "folder"


def project(root: str, paths: list[str]) -> dict:
    """Module roots (directory -> module path) from every go.mod next to or above a Go file, go.work,
    replace directives and required modules; the fallback import path when there is no go.mod; the
    canonical file of each package directory (its `is_package` entry)."""
    dirs = {os.path.dirname(p) for p in paths}
    candidates = set()
    for d in dirs:
        if "vendor" in d.split("/"):
            continue
        while True:
            candidates.add(d)
            if not d:
                break
            d = os.path.dirname(d)
    work = _read(os.path.join(root, "go.work"))
    if work:
        for u in _directives(work, "use"):
            candidates.add(os.path.normpath(_unquote(u.split()[0])).replace(os.sep, "/").strip("./") if u.split() else "")
    modroots: dict[str, str] = {}
    requires: set[str] = set()
    replaces: dict[str, str] = {}
    local_replaces: dict[str, str] = {}
    for d in sorted(candidates):
        text = _read(os.path.join(root, d, "go.mod"))
        if text is None:
            continue
        info = parse_gomod(text)
        if not info["module"]:
            continue
        modroots[d] = info["module"]
        requires.update(info["requires"])
        for old, (new, local) in info["replaces"].items():
            if local:
                local_replaces[old] = os.path.normpath(os.path.join(d, new)).replace(os.sep, "/")
            else:
                replaces[old] = new
    # a local replacement pointing at a module of this repo names that module's path
    for old, target in local_replaces.items():
        if target in modroots and modroots[target] != old:
            replaces[old] = modroots[target]
    vendored = set()
    try:
        with open(os.path.join(root, "vendor", "modules.txt"), encoding="utf-8", errors="replace") as f:
            for ln in f:
                if ln.startswith("# "):
                    vendored.add(ln.split()[1])
    except OSError:
        pass
    fallback, source = (None, None)
    if "" not in modroots:
        fallback, source = _fallback_root(root, paths)
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        by_dir.setdefault(os.path.dirname(p), []).append(os.path.basename(p))
    canonical = {d: _canonical_file(d, sorted(files)) for d, files in sorted(by_dir.items())}
    packages = [(PREFIX + m, d, "go.mod") for d, m in sorted(modroots.items())]
    if fallback and (not modroots or any(_modroot_of(modroots, d) is None for d in dirs if "vendor" not in d.split("/"))):
        packages.append((PREFIX + fallback, "", source))
    return {"modroots": modroots, "requires": sorted(requires | vendored), "replaces": replaces,
            "fallback": fallback, "canonical": canonical, "packages": packages}


def _canonical_file(d: str, files: list[str]) -> str | None:
    """The file that carries a package's definition: doc.go, <dir>.go, else the first non-test file."""
    base = os.path.basename(d)
    for want in ("doc.go", f"{base}.go"):
        if want in files:
            return want
    plain = [f for f in files if not f.endswith("_test.go")]
    return (plain or files or [None])[0]


def _modroot_of(modroots: dict, d: str):
    """(module root dir, module path) of the deepest go.mod above directory d, or None."""
    cur = d
    while True:
        if cur in modroots:
            return cur, modroots[cur]
        if not cur:
            return None
        cur = os.path.dirname(cur)


def import_path_of_dir(project: dict, d: str) -> str:
    """The import path of a repo-relative directory."""
    parts = d.split("/") if d else []
    if "vendor" in parts:
        i = len(parts) - 1 - parts[::-1].index("vendor")
        if i + 1 < len(parts):
            return "/".join(parts[i + 1:])
    found = _modroot_of(project.get("modroots") or {}, d)
    if found is not None:
        root, mod = found
        rel = d[len(root):].lstrip("/") if root else d
        if mod in ("std",):   # the Go distribution's own tree: `fmt`, not `std/fmt`
            return rel or mod
        return f"{mod}/{rel}" if rel else mod
    gp = _gopath_import_path(d) if "src/" in d else None
    if gp:
        return gp
    fb = project.get("fallback")
    if fb:
        return f"{fb}/{d}" if d else fb
    return d or "main"


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """`go:` + the import path of the file's directory; the package's canonical file is its entry."""
    d = os.path.dirname(path)
    base = os.path.basename(path)
    canonical = (project.get("canonical") or {}).get(d)
    if canonical is None:
        is_pkg = base in ("doc.go", f"{os.path.basename(d)}.go") if d else base == "doc.go"
    else:
        is_pkg = base == canonical
    if not project:
        return PREFIX + (d or "main"), is_pkg
    return PREFIX + import_path_of_dir(project, d), is_pkg


# ---------------------------------------------------------------------------- extraction

_QUERY_SRC = """
(identifier) @id
(type_identifier) @tid
(qualified_type) @qt
(selector_expression field: (field_identifier) @field)
(keyed_element key: (literal_element (identifier) @key))
(parameter_declaration) @param
(variadic_parameter_declaration) @param
(short_var_declaration) @short
(var_spec) @var
(const_spec) @var
(range_clause) @range
(type_switch_statement alias: (expression_list) @tswitch)
(receive_statement left: (expression_list) @recv)
(type_parameter_declaration) @tparam
(type_spec name: (type_identifier) @ltype)
(type_alias name: (type_identifier) @ltype)
(method_declaration receiver: (parameter_list (parameter_declaration type: [
   (generic_type type_arguments: (type_arguments (type_elem (type_identifier) @rtparam)))
   (pointer_type (generic_type type_arguments: (type_arguments (type_elem (type_identifier) @rtparam))))])))
"""
_QUERY = Query(GO_LANGUAGE, _QUERY_SRC)

_FUNC_SCOPES = frozenset({"function_declaration", "method_declaration", "func_literal", "function_type",
                          "method_elem", "type_spec", "type_alias"})
_BLOCKISH = frozenset({"statement_list", "block", "if_statement", "for_statement", "expression_switch_statement",
                       "type_switch_statement", "select_statement", "expression_case", "type_case",
                       "default_case", "communication_case", "source_file", "func_literal"})
_HEADER_STMTS = frozenset({"if_statement", "for_statement", "expression_switch_statement", "type_switch_statement"})
_SEQUENCE_TYPES = frozenset({"slice_type", "array_type", "implicit_length_array_type"})


class _Std(str):
    """A value of a standard-library type: no references are stored for it."""


STD = _Std("std")


class _Pkg(str):
    """An identifier that names an imported package (the string is its import path)."""


class _Extractor:
    def __init__(self, src: bytes, unit: Unit):
        self.src = src
        self.lines = None
        self.all_ascii = src.isascii()
        self._ascii_rows: dict = {}
        self.module = unit.module
        self.unit = unit
        self.project = unit.project or {}
        self.facts = FileFacts()
        self.imports: dict[bytes, str | None] = {}   # local package name -> import path (None: stdlib)
        self.guesses: dict[bytes, str | None] = {}   # names an unaliased import may go by
        self.locals: dict[bytes, list] = {}            # name -> [[visible_from, scope_start, scope_end, value-thunk]] by visible_from
        self.local_keys: dict[str, list] = {}        # name -> the visible_from column of locals[name], for bisect
        self.skip: set = set()                       # start bytes of identifiers that are declarations
        self.memo: dict = {}
        self.std_quals: set = set()  # this file's definitions whose value is of a standard-library type
        self.typed: list = []       # (def index, result type node): a function's value type
        self.pending: list = []     # ("type"|"value"|"base"|"alias", def index or qualname, node)
        own = self.project.get("modroots") or {}
        self.std_free = any(m in ("std", "cmd") for m in own.values())

    # ---- positions ---------------------------------------------------------------------
    def col(self, row: int, bcol: int) -> int:
        if self.all_ascii:
            return bcol
        if self.lines is None:
            self.lines = self.src.split(b"\n")
        ok = self._ascii_rows.get(row)
        if ok is None:
            line = self.lines[row] if row < len(self.lines) else b""
            ok = self._ascii_rows[row] = line.isascii()
        if ok:
            return bcol
        return len(self.lines[row][:bcol].decode("utf-8", "replace"))

    def ref(self, node, target, kind, name=None):
        r, c = node.start_point
        text = node.text.decode("utf-8", "replace") if name is None else name
        if self.all_ascii:
            self.facts.refs.append((r, c, c + len(node.text), text, target, kind))
        else:
            col = self.col(r, c)
            er, ec = node.end_point
            self.facts.refs.append((r, col, self.col(er, ec) if er == r else col + len(text), text, target, kind))

    def add_def(self, qual, name_node, kind, container, node, signature, doc, typ=None):
        name = name_node.text.decode("utf-8", "replace")
        r, c = name_node.start_point
        sr, sc = node.start_point
        er, ec = node.end_point
        col = self.col(r, c)
        self.facts.defs.append((qual, name, kind, container, sr, self.col(sr, sc), er, self.col(er, ec),
                                r, col, col + len(name), signature, doc, typ if isinstance(typ, str) and not isinstance(typ, _Std) else None))

    # ---- imports -------------------------------------------------------------------------
    def is_std(self, path: str) -> bool:
        if self.std_free:
            return False
        first = path.split("/", 1)[0]
        if "." in first:
            return False
        for mod in (self.project.get("modroots") or {}).values():
            if path == mod or path.startswith(mod + "/"):
                return False
        if self.project.get("fallback") and (path == self.project["fallback"] or path.startswith(self.project["fallback"] + "/")):
            return False
        return not any(path == m or path.startswith(m + "/") for m in self.project.get("requires") or ())

    def rewrite(self, path: str) -> str:
        """Apply go.mod replace directives (module path -> replacement module path)."""
        reps = self.project.get("replaces")
        if reps:
            for old, new in reps.items():
                if path == old or path.startswith(old + "/"):
                    return new + path[len(old):]
        return path

    def module_of_import(self, path: str) -> str:
        """The module (as in the packages table) an import path belongs to."""
        best = None
        for m in self.project.get("requires") or ():
            if (path == m or path.startswith(m + "/")) and (best is None or len(m) > len(best)):
                best = m
        if best is None:
            for m in (self.project.get("modroots") or {}).values():
                if (path == m or path.startswith(m + "/")) and (best is None or len(m) > len(best)):
                    best = m
        if best is None:
            parts = path.split("/")
            n = 3 if parts[0] in ("github.com", "gitlab.com", "bitbucket.org", "golang.org", "go.googlesource.com") else 2 if parts[0] == "gopkg.in" else len(parts)
            best = "/".join(parts[:n])
        return PREFIX + best

    def v_import_spec(self, spec):
        path_node = spec.child_by_field_name("path")
        if path_node is None:
            return
        raw = path_node.text.decode("utf-8", "replace")
        path = _unquote(raw)
        if not path:
            return
        name_node = spec.child_by_field_name("name")
        alias = name_node.type if name_node is not None else None
        if alias == "blank_identifier":
            return
        std = self.is_std(path)
        if not std:
            path = self.rewrite(path)
            self.facts.imports.add(self.module_of_import(path))
        value = None if std else path
        if alias == "dot":
            if not std:
                self.facts.aliases.append((self.module, PREFIX + path, 1, spec.start_point[0]))
            return
        if not std:
            inner = path_node.named_children[0] if path_node.named_child_count else path_node
            self.ref(inner, PREFIX + path, "import", path.rsplit("/", 1)[-1])
        if name_node is not None:
            self.imports[name_node.text] = value
            if not std:
                self.ref(name_node, PREFIX + path, "alias")
        else:
            for g in _package_name_guesses(path):
                self.guesses.setdefault(g.encode(), value)

    def package_of(self, name: bytes):
        """Import path (a _Pkg), STD, or None when the identifier `name` names no imported package."""
        if name in self.imports:
            v = self.imports[name]
        elif name in self.guesses:
            v = self.guesses[name]
        else:
            return None
        return STD if v is None else _Pkg(v)

    # ---- locals ------------------------------------------------------------------------
    def local(self, name: bytes, pos: int):
        """The innermost local declaration of `name` visible at byte `pos`, or None."""
        entries = self.locals.get(name)
        if not entries:
            return None
        i = bisect_right(self.local_keys[name], pos) - 1
        while i >= 0:
            e = entries[i]
            if e[1] <= pos < e[2]:
                return e
            i -= 1
        return None

    def declare(self, ident, visible_from, scope, value):
        """value: a thunk () -> target, or None."""
        self.skip.add(ident.start_byte)
        name = ident.text
        if name == b"_":
            return
        self.locals.setdefault(name, []).append([visible_from, scope.start_byte, scope.end_byte, value])

    def _local_value(self, entry):
        v = entry[3]
        if v is None:
            return None
        if isinstance(v, tuple):
            return v[0]
        entry[3] = None
        out = v()
        entry[3] = (out,)
        return out

    @staticmethod
    def func_scope(node):
        cur = node.parent
        while cur is not None and cur.type not in _FUNC_SCOPES:
            cur = cur.parent
        return cur

    @staticmethod
    def stmt_scope(stmt):
        """The region a statement's declarations are visible in (Go: to the end of the block)."""
        cur = stmt.parent
        while cur is not None and cur.type not in _BLOCKISH:
            cur = cur.parent
        return cur

    def collect_locals(self, caps):
        for p in caps.get("param", ()):
            scope = self.func_scope(p)
            if scope is None:
                continue
            tnode = p.child_by_field_name("type")
            thunk = (lambda t=tnode: self.type_target(t)) if tnode is not None else None
            for ident in p.children_by_field_name("name"):
                self.declare(ident, scope.start_byte, scope, thunk)
        for tp in caps.get("tparam", ()):
            scope = self.func_scope(tp)
            if scope is None:
                continue
            for ident in tp.children_by_field_name("name"):
                self.declare(ident, scope.start_byte, scope, None)
        for ident in caps.get("rtparam", ()):
            scope = self.func_scope(ident)
            if scope is not None:
                self.declare(ident, scope.start_byte, scope, None)
        for sv in caps.get("short", ()):
            left = sv.child_by_field_name("left")
            right = sv.child_by_field_name("right")
            if left is None:
                continue
            scope = self.stmt_scope(sv)
            if scope is None:
                continue
            lhs = left.named_children
            rhs = right.named_children if right is not None else []
            for i, ident in enumerate(lhs):
                if ident.type != "identifier":
                    continue
                thunk = None
                if len(rhs) == len(lhs):
                    thunk = (lambda e=rhs[i]: self.value(e))
                elif i == 0 and len(rhs) == 1:
                    thunk = (lambda e=rhs[0]: self.first_value(e))
                self.declare(ident, sv.end_byte, scope, thunk)
        for vs in caps.get("var", ()):
            names = vs.children_by_field_name("name")
            if not names or names[0].start_byte in self.skip:
                continue   # package level: a definition
            decl = vs.parent if vs.parent.type != "var_spec_list" else vs.parent.parent
            scope = self.stmt_scope(decl)
            if scope is None:
                continue
            tnode = vs.child_by_field_name("type")
            vals = vs.child_by_field_name("value")
            vlist = vals.named_children if vals is not None else []
            for i, ident in enumerate(names):
                if tnode is not None:
                    thunk = (lambda t=tnode: self.type_target(t))
                elif len(vlist) == len(names):
                    thunk = (lambda e=vlist[i]: self.value(e))
                elif i == 0 and len(vlist) == 1:
                    thunk = (lambda e=vlist[0]: self.first_value(e))
                else:
                    thunk = None
                self.declare(ident, vs.end_byte, scope, thunk)
        for rc in caps.get("range", ()):
            left = rc.child_by_field_name("left")
            if left is None or rc.parent is None:
                continue
            for ident in left.named_children:
                if ident.type == "identifier":
                    self.declare(ident, ident.end_byte, rc.parent, None)
        for lst in caps.get("tswitch", ()):
            for ident in lst.named_children:
                if ident.type == "identifier":
                    self.declare(ident, ident.end_byte, lst.parent, None)
        for lst in caps.get("recv", ()):
            stmt = lst.parent
            case = stmt.parent if stmt is not None else None
            if case is not None and case.type == "communication_case" and b":=" in stmt.text:
                for ident in lst.named_children:
                    if ident.type == "identifier":
                        self.declare(ident, ident.end_byte, case, None)
        for ident in caps.get("ltype", ()):
            if ident.start_byte in self.skip:
                continue   # package level
            spec = ident.parent
            decl = spec.parent if spec is not None else None
            scope = self.stmt_scope(decl) if decl is not None else None
            if scope is not None:
                self.declare(ident, ident.start_byte, scope, None)
        for name, entries in self.locals.items():
            entries.sort(key=lambda e: e[0])
            self.local_keys[name] = [e[0] for e in entries]

    # ---- values --------------------------------------------------------------------------
    def type_target(self, node):
        """The named type a type expression denotes (`*pkg.T` -> go:path.T), STD, or None."""
        while node is not None:
            t = node.type
            if t == "type_identifier":
                name = node.text
                if self.local(name, node.start_byte) is not None:
                    return None
                if name in _PREDECLARED_B:
                    return STD
                return f"{self.module}.{name.decode('utf-8', 'replace')}"
            if t == "qualified_type":
                pkg = node.child_by_field_name("package")
                name = node.child_by_field_name("name")
                if pkg is None or name is None:
                    return None
                p = self.package_of(pkg.text)
                if p is None:
                    return None
                if isinstance(p, _Std):
                    return STD
                return f"{PREFIX}{p}.{name.text.decode('utf-8', 'replace')}"
            if t in ("pointer_type", "parenthesized_type", "type_elem"):
                node = node.named_children[0] if node.named_child_count else None
            elif t == "generic_type":
                node = node.child_by_field_name("type")
            else:
                return None
        return None

    def first_value(self, node):
        """The value of the first result of a call (`x, err := pkg.New()`)."""
        return self.value(node)

    def value(self, node):
        """A file-local target for the value of an expression, _Pkg, STD or None."""
        key = node.id
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = None
        v = self._value(node)
        self.memo[key] = v
        return v

    def _value(self, node):
        t = node.type
        if t == "identifier":
            name = node.text
            loc = self.local(name, node.start_byte)
            if loc is not None:
                return self._local_value(loc)
            p = self.package_of(name)
            if p is not None:
                return p
            if name in _PREDECLARED_B:
                return None
            q = f"{self.module}.{name.decode('utf-8', 'replace')}"
            return STD if q in self.std_quals else q
        if t == "selector_expression":
            op = node.child_by_field_name("operand")
            field = node.child_by_field_name("field")
            if op is None or field is None:
                return None
            o = self.value(op)
            if o is None:
                return None
            if isinstance(o, _Std):
                return STD
            name = field.text.decode("utf-8", "replace")
            if isinstance(o, _Pkg):
                q = f"{PREFIX}{o}.{name}"
            else:
                q = f"{o}.{name}"
            return STD if q in self.std_quals else q
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is None:
                return None
            if fn.type == "identifier":
                name = fn.text
                if name == b"new":
                    args = node.child_by_field_name("arguments")
                    if args is not None and args.named_child_count:
                        return self.type_target(args.named_children[0])
                    return None
                if name in _PREDECLARED_B and self.local(name, fn.start_byte) is None:
                    return None
            f = self.value(fn)
            if f is None or isinstance(f, _Pkg):
                return None
            if isinstance(f, _Std) or f in self.std_quals:
                return STD
            return f + "()"
        if t == "composite_literal":
            return self.type_target(node.child_by_field_name("type"))
        if t == "unary_expression":
            op = node.child_by_field_name("operator")
            operand = node.child_by_field_name("operand")
            if operand is None or (op is not None and op.text == b"<-"):
                return None
            if op is not None and op.text not in (b"&", b"*"):
                return None
            return self.value(operand)
        if t == "parenthesized_expression":
            return self.value(node.named_children[0]) if node.named_child_count else None
        if t == "type_assertion_expression":
            return self.type_target(node.child_by_field_name("type"))
        if t == "type_conversion_expression":
            return self.type_target(node.child_by_field_name("type"))
        if t in ("pointer_type", "qualified_type", "type_identifier", "generic_type"):
            return self.type_target(node)
        return None

    # ---- declarations --------------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.facts.errors = _count_errors(root) if root.has_error else 0
        children = root.children
        for ch in children:
            if ch.type == "import_declaration":
                for spec in _import_specs(ch):
                    self.v_import_spec(spec)
        for i, ch in enumerate(children):
            t = ch.type
            if t == "package_clause":
                self.v_package(ch, children, i)
            elif t == "function_declaration":
                self.v_function(ch, children, i)
            elif t == "method_declaration":
                self.v_method(ch, children, i)
            elif t == "type_declaration":
                self.v_type_decl(ch, children, i)
            elif t in ("var_declaration", "const_declaration"):
                self.v_value_decl(ch, children, i)
        caps = QueryCursor(_QUERY).captures(root)
        self.collect_locals(caps)
        self.pending_types()
        self.uses(caps)
        return self.facts

    def v_package(self, node, siblings, i):
        ident = node.named_children[0] if node.named_child_count else None
        if ident is None:
            return
        name = ident.text.decode("utf-8", "replace")
        if name.endswith("_test") and not self.module.endswith("_test"):
            self.module = self.module + "_test"   # an external test package: its own namespace
            return
        if self.unit.is_package:
            r, c = ident.start_point
            col = self.col(r, c)
            self.facts.defs.append((self.module, name, "package", None, 0, 0, _last_row(node), 0,
                        r, col, col + len(name), f"package {name}", _doc_before(siblings, i), None))

    def header(self, node, body_field="body"):
        body = node.child_by_field_name(body_field) if body_field else None
        end = body.start_byte if body is not None else node.end_byte
        text = self.src[node.start_byte:end].decode("utf-8", "replace")
        first = text.split("\n", 1)[0] if body is None else text
        return " ".join(first.split()) or None

    def v_function(self, node, siblings, i):
        name = node.child_by_field_name("name")
        if name is None:
            return
        self.skip.add(name.start_byte)
        qual = f"{self.module}.{name.text.decode('utf-8', 'replace')}"
        result = node.child_by_field_name("result")
        self.add_def(qual, name, "function", self.module, node, self.header(node), _doc_before(siblings, i))
        if result is not None:
            self.typed.append((len(self.facts.defs) - 1, _result_type(result)))

    def receiver_type(self, node):
        recv = node.child_by_field_name("receiver")
        if recv is None:
            return None
        for p in recv.named_children:
            if p.type == "parameter_declaration":
                t = p.child_by_field_name("type")
                while t is not None and t.type in ("pointer_type", "generic_type", "parenthesized_type"):
                    t = t.child_by_field_name("type") if t.type == "generic_type" else (t.named_children[0] if t.named_child_count else None)
                if t is not None and t.type == "type_identifier":
                    return t.text.decode("utf-8", "replace")
        return None

    def v_method(self, node, siblings, i):
        name = node.child_by_field_name("name")
        rt = self.receiver_type(node)
        if name is None or rt is None:
            return
        self.skip.add(name.start_byte)
        container = f"{self.module}.{rt}"
        qual = f"{container}.{name.text.decode('utf-8', 'replace')}"
        result = node.child_by_field_name("result")
        self.add_def(qual, name, "method", container, node, self.header(node), _doc_before(siblings, i))
        if result is not None:
            self.typed.append((len(self.facts.defs) - 1, _result_type(result)))

    def v_type_decl(self, node, siblings, i):
        group_doc = _doc_before(siblings, i)
        specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
        kids = node.children
        for spec in specs:
            doc = _doc_before(kids, kids.index(spec)) if len(specs) > 1 else None
            self.v_type_spec(spec, node, doc or group_doc, len(specs) > 1)

    def v_type_spec(self, spec, decl, doc, grouped):
        name = spec.child_by_field_name("name")
        tnode = spec.child_by_field_name("type")
        if name is None:
            return
        self.skip.add(name.start_byte)
        tname = name.text.decode("utf-8", "replace")
        qual = f"{self.module}.{tname}"
        tt = tnode.type if tnode is not None else None
        kind = "struct" if tt == "struct_type" else "interface" if tt == "interface_type" else "type"
        outer = spec if grouped else decl
        body_field = None
        if tt in ("struct_type", "interface_type"):
            sig_end = tnode.named_children[0].start_byte if tt == "struct_type" and tnode.named_child_count else tnode.end_byte
            text = self.src[outer.start_byte:sig_end].decode("utf-8", "replace")
            if tt == "interface_type":
                text = self.src[outer.start_byte:tnode.start_byte].decode("utf-8", "replace") + "interface"
            sig = " ".join(text.split())
        else:
            sig = self.header(outer, body_field)
        if grouped and not sig.startswith("type "):
            sig = "type " + sig
        self.add_def(qual, name, kind, self.module, spec, sig, doc)
        if spec.type == "type_alias":
            self.pending.append(("alias", qual, tnode))
            return
        if tt == "struct_type":
            self.v_struct(tnode, qual)
        elif tt == "interface_type":
            self.v_interface(tnode, qual)
        elif tt in ("type_identifier", "qualified_type", "generic_type"):
            # `type ContextDiff UnifiedDiff` has UnifiedDiff's fields (not its methods, which valid code
            # then never calls on it): a base makes `d.Eol` resolve
            self.pending.append(("base", qual, tnode))

    def v_struct(self, st, qual):
        fdl = next((c for c in st.named_children if c.type == "field_declaration_list"), None)
        if fdl is None:
            return
        kids = fdl.children
        for j, fd in enumerate(kids):
            if fd.type != "field_declaration":
                continue
            names = fd.children_by_field_name("name")
            tnode = fd.child_by_field_name("type")
            doc = _doc_before(kids, j) or _trailing_comment(kids, j)
            sig = " ".join(self.src[fd.start_byte:(tnode.end_byte if tnode is not None else fd.end_byte)].decode("utf-8", "replace").split())
            if tnode is not None and tnode.type == "struct_type" and names:
                sig = " ".join(n.text.decode("utf-8", "replace") for n in names) + " struct"
            if names:
                for n in names:
                    self.skip.add(n.start_byte)
                    fq = f"{qual}.{n.text.decode('utf-8', 'replace')}"
                    self.add_def(fq, n, "field", qual, fd, sig, doc)
                    self.pending.append(("type", len(self.facts.defs) - 1, tnode))
                    if tnode is not None and tnode.type == "struct_type":
                        self.v_struct(tnode, fq)
            elif tnode is not None:
                # embedding: a field named after the type, and a base whose methods are promoted
                base = tnode
                while base.type in ("pointer_type", "generic_type"):
                    nxt = base.child_by_field_name("type") if base.type == "generic_type" else (base.named_children[0] if base.named_child_count else None)
                    if nxt is None:
                        break
                    base = nxt
                name_node = base.child_by_field_name("name") if base.type == "qualified_type" else base
                if name_node is None or name_node.type != "type_identifier":
                    continue
                fq = f"{qual}.{name_node.text.decode('utf-8', 'replace')}"
                self.add_def(fq, name_node, "field", qual, fd, sig, doc)
                self.pending.append(("type", len(self.facts.defs) - 1, tnode))
                self.pending.append(("base", qual, tnode))

    def v_interface(self, it, qual):
        kids = it.children
        for j, el in enumerate(kids):
            if el.type == "method_elem":
                name = el.child_by_field_name("name")
                if name is None:
                    continue
                self.skip.add(name.start_byte)
                doc = _doc_before(kids, j) or _trailing_comment(kids, j)
                self.add_def(f"{qual}.{name.text.decode('utf-8', 'replace')}", name, "method", qual, el,
                             " ".join(el.text.decode("utf-8", "replace").split()), doc)
                result = el.child_by_field_name("result")
                if result is not None:
                    self.typed.append((len(self.facts.defs) - 1, _result_type(result)))
            elif el.type == "type_elem" and el.named_child_count == 1:
                inner = el.named_children[0]
                if inner.type in ("type_identifier", "qualified_type", "generic_type"):
                    self.pending.append(("base", qual, inner))

    def v_value_decl(self, node, siblings, i):
        kind = "variable" if node.type == "var_declaration" else "constant"
        keyword = "var" if kind == "variable" else "const"
        group_doc = _doc_before(siblings, i)
        container = node
        if node.named_child_count == 1 and node.named_children[0].type == "var_spec_list":
            container = node.named_children[0]
        kids = container.children
        specs = [(j, c) for j, c in enumerate(kids) if c.type in ("var_spec", "const_spec")]
        grouped = len(specs) > 1 or container is not node or any(c.type == "(" for c in node.children)
        last_type = None
        for j, spec in specs:
            names = spec.children_by_field_name("name")
            tnode = spec.child_by_field_name("type")
            vals = spec.child_by_field_name("value")
            if kind == "constant":
                if tnode is not None or vals is not None:
                    last_type = tnode
                elif last_type is not None:
                    tnode = last_type
            doc = (_doc_before(kids, j) or _trailing_comment(kids, j) or group_doc) if grouped else group_doc
            first_line = spec.text.decode("utf-8", "replace").split("\n", 1)[0]
            sig = f"{keyword} {' '.join(first_line.split())}"
            vlist = vals.named_children if vals is not None else []
            for k, n in enumerate(names):
                self.skip.add(n.start_byte)
                nm = n.text.decode("utf-8", "replace")
                if nm == "_":
                    continue
                self.add_def(f"{self.module}.{nm}", n, kind, self.module, spec, sig, doc)
                idx = len(self.facts.defs) - 1
                if tnode is not None:
                    self.pending.append(("type", idx, tnode))
                elif len(vlist) == len(names):
                    self.pending.append(("value", idx, vlist[k]))
                elif k == 0 and len(vlist) == 1:
                    self.pending.append(("value", idx, vlist[0]))

    def pending_types(self):
        """Value types of definitions, now that every local and import is known."""
        defs = self.facts.defs
        std = self.std_quals
        for idx, tnode in self.typed:
            t = self.type_target(tnode) if tnode is not None else None
            if isinstance(t, _Std):
                std.add(defs[idx][0])
            elif isinstance(t, str):
                defs[idx] = defs[idx][:13] + (t,)
        for what, a, node in self.pending:
            if node is None:
                continue
            if what == "type" or what == "value":
                t = self.type_target(node) if what == "type" else self.value(node)
                if isinstance(t, _Std):
                    std.add(defs[a][0])
                elif isinstance(t, str) and not isinstance(t, _Pkg):
                    defs[a] = defs[a][:13] + (t,)
            elif what == "base":
                t = self.type_target(node)
                if isinstance(t, str) and not isinstance(t, _Std):
                    self.facts.bases.append((a, t))
            elif what == "alias":
                t = self.type_target(node)
                if isinstance(t, str) and not isinstance(t, _Std):
                    self.facts.aliases.append((a, t, 0, node.start_point[0]))

    # ---- references ----------------------------------------------------------------------
    def uses(self, caps):
        skip = self.skip
        for q in caps.get("qt", ()):
            pkg = q.child_by_field_name("package")
            name = q.child_by_field_name("name")
            if pkg is None or name is None:
                continue
            skip.add(name.start_byte)
            p = self.package_of(pkg.text)
            if p is None or isinstance(p, _Std):
                continue
            self.ref(pkg, PREFIX + p, "name")
            self.ref(name, f"{PREFIX}{p}.{name.text.decode('utf-8', 'replace')}", "type")
        for key in caps.get("key", ()):
            self.v_key(key)
        module = self.module
        local, package_of, predeclared = self.local, self.package_of, _PREDECLARED_B
        locals_ = self.locals
        fast = self.all_ascii            # columns are bytes: build the tuples here (the hot loop)
        append = self.facts.refs.append
        for kind, nodes in (("name", caps.get("id", ())), ("type", caps.get("tid", ()))):
            for node in nodes:
                sb = node.start_byte
                if sb in skip:
                    continue
                name = node.text
                if name in predeclared or (name in locals_ and local(name, sb) is not None):
                    continue
                if kind == "name":
                    p = package_of(name)
                    if p is not None and _is_operand(node):
                        if not isinstance(p, _Std):
                            self.ref(node, PREFIX + p, "name")
                        continue
                text = name.decode("utf-8", "replace")
                if fast:
                    r, c = node.start_point
                    append((r, c, c + len(name), text, f"{module}.{text}", kind))
                else:
                    self.ref(node, f"{module}.{text}", kind, text)
        for field in caps.get("field", ()):
            op = field.prev_named_sibling
            if op is None:
                continue
            o = self.value(op)
            if isinstance(o, _Std):
                continue
            name = field.text.decode("utf-8", "replace")
            if o is None:
                self.ref(field, None, "attr", name)
            elif isinstance(o, _Pkg):
                self.ref(field, f"{PREFIX}{o}.{name}", "name", name)
            else:
                self.ref(field, f"{o}.{name}", "attr", name)

    def v_key(self, key):
        """A key in a composite literal: a struct field name (a reference to the field), unless the
        literal is a map, slice or array (then the key is an ordinary expression)."""
        elem = key.parent                   # literal_element
        keyed = elem.parent if elem is not None else None
        lv = keyed.parent if keyed is not None else None
        tnode = self.literal_type(lv)
        if tnode is None:
            self.skip.add(key.start_byte)
            return
        if tnode.type in _SEQUENCE_TYPES or tnode.type == "map_type":
            return
        self.skip.add(key.start_byte)
        t = self.type_target(tnode)
        if t is None or isinstance(t, _Std):
            return
        self.ref(key, f"{t}.{key.text.decode('utf-8', 'replace')}", "attr")

    def literal_type(self, lv, depth=0):
        """The type node a literal_value is a value of (elided types of nested literals followed)."""
        if lv is None or depth > 8:
            return None
        parent = lv.parent
        if parent is None:
            return None
        if parent.type == "composite_literal":
            return parent.child_by_field_name("type")
        if parent.type != "literal_element":
            return None
        holder = parent.parent
        if holder is None:
            return None
        is_key = False
        if holder.type == "keyed_element":
            is_key = holder.named_children[0] == parent if holder.named_child_count else False
            holder = holder.parent
        if holder is None or holder.type != "literal_value":
            return None
        outer = self.literal_type(holder, depth + 1)
        if outer is None:
            return None
        if outer.type in _SEQUENCE_TYPES:
            return outer.child_by_field_name("element")
        if outer.type == "map_type":
            return outer.child_by_field_name("key" if is_key else "value")
        return None


def _is_operand(node) -> bool:
    p = node.parent
    return p is not None and p.type == "selector_expression" and p.named_children[0] == node


def _import_specs(decl):
    for ch in decl.named_children:
        if ch.type == "import_spec":
            yield ch
        elif ch.type == "import_spec_list":
            for s in ch.named_children:
                if s.type == "import_spec":
                    yield s


def _package_name_guesses(path: str) -> list[str]:
    """Names an unaliased import is likely to go by in code (the real one is in the imported
    package's clause, which a file-local extractor cannot read): `gopkg.in/yaml.v3` -> yaml,
    `github.com/pelletier/go-toml/v2` -> toml, `github.com/x/go-md2man/v2/md2man` -> md2man."""
    parts = path.split("/")
    last = parts[-1]
    if re.fullmatch(r"v\d+", last) and len(parts) > 1:
        last = parts[-2]
    out = [last]
    base = re.sub(r"\.v\d+$", "", last)
    for cand in (base, re.sub(r"^go-", "", base), re.sub(r"[-.]go$", "", base), re.sub(r"^go-|[-.]go$", "", base)):
        cand2 = cand.replace("-", "").replace(".", "")
        for c in (cand, cand2, cand.replace("-", "_")):
            if c and c not in out and re.fullmatch(r"[A-Za-z_]\w*", c):
                out.append(c)
    return out


def _result_type(result):
    """The type node of a function's (first) result."""
    if result.type == "parameter_list":
        for p in result.named_children:
            if p.type == "parameter_declaration":
                return p.child_by_field_name("type")
        return None
    return result


def _last_row(node) -> int:
    cur = node
    while cur.parent is not None:
        cur = cur.parent
    return cur.end_point[0]


def _comment_text(raw: str) -> list[str]:
    if raw.startswith("//"):
        return [raw[2:]]
    body = raw[2:-2] if raw.endswith("*/") else raw[2:]
    return [ln.strip().lstrip("*") for ln in body.splitlines()]


_DIRECTIVE = re.compile(r"^(go:|line |nolint|export |extern |\+build)")


def _clean(lines: list[str]) -> str | None:
    para = []
    for ln in lines:
        if _DIRECTIVE.match(ln):
            continue
        s = ln.strip()
        if not s:
            if para:
                break
            continue
        para.append(s)
    text = " ".join(para)
    return text[:500] or None


def _doc_before(siblings, i) -> str | None:
    """The comment block directly above siblings[i] (no blank line between), first paragraph."""
    node = siblings[i]
    row = node.start_point[0]
    block = []
    j = i - 1
    while j >= 0:
        c = siblings[j]
        if c.type != "comment" or c.end_point[0] != row - 1:
            break
        prev = siblings[j - 1] if j > 0 else None
        if prev is not None and prev.end_point[0] == c.start_point[0]:
            break   # a trailing comment of the line before
        block.append(c)
        row = c.start_point[0]
        j -= 1
    if not block:
        return None
    lines = []
    for c in reversed(block):
        lines.extend(_comment_text(c.text.decode("utf-8", "replace")))
    return _clean(lines)


def _trailing_comment(siblings, i) -> str | None:
    """A `// comment` on the same line after siblings[i] (struct fields, grouped constants)."""
    node = siblings[i]
    if i + 1 < len(siblings):
        c = siblings[i + 1]
        if c.type == "comment" and c.start_point[0] == node.end_point[0]:
            return _clean(_comment_text(c.text.decode("utf-8", "replace")))
    return None


def _count_errors(node) -> int:
    n = 0
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == "ERROR" or cur.is_missing:
            n += 1
        elif cur.has_error:
            stack.extend(cur.children)
    return n


_parser = None


def parse(src: bytes):
    global _parser
    if _parser is None:
        _parser = Parser(GO_LANGUAGE)
    return _parser.parse(src)


def extract(src: bytes, unit: Unit) -> FileFacts:
    """Every fact of one Go source file (UTF-8 bytes)."""
    return _Extractor(src, unit).run(parse(src))
