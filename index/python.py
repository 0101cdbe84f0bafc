"""Python facts from one file: definitions, references resolved by static import analysis, aliases.

This runs in worker processes on every indexed file, so it is one tree-sitter parse plus one
walk over the tree, and it never imports or executes the code. Resolution here is file-local:
a use of `h11.Data` is stored with the target `h11.Data`; whether that is an alias of
`h11._events.Data` is decided later, across all repos, by `resolve.py`.

Positions are 0-based lines and columns in Unicode code points (see docs/architecture.md).
"""
from __future__ import annotations

import builtins
import configparser
import os
import tomllib
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path

import tree_sitter_python
from tree_sitter import Language

from .lang import FileFacts, Unit
from .lang.source import count_errors, parser

PY_LANGUAGE = Language(tree_sitter_python.language())
BUILTINS = frozenset(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__path__",
                                       "__package__", "__loader__", "__builtins__", "__debug__"}
_COMPREHENSIONS = {"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"}
_PATTERNS = {"pattern_list", "tuple_pattern", "list_pattern", "tuple", "list"}
_PLUS1 = (1).__add__
LOCAL = None  # binding marker: a function-local name, never stored as a reference


# The language interface (index/lang/__init__.py). Python's qualified names carry no prefix.
NAME = "python"
EXTENSIONS = (".py", ".pyi")
SEARCH_NAMES = ("python", "py")
PREFIX = ""
FENCE = "python"


class _Scope:
    __slots__ = ("kind", "qual", "parent", "bindings", "globals", "stars", "self_name", "is_method", "types", "memo",
                 "flow", "history")

    def __init__(self, kind, qual, parent):
        self.kind, self.qual, self.parent = kind, qual, parent
        self.bindings: dict = {}
        self.globals: set = set()
        self.stars: list = []
        self.self_name = None
        self.is_method = False
        self.types: dict = {}    # function locals: name -> (scope, node, mode) evaluated lazily
        self.memo: dict = {}     # name -> lookup() result (lookups run after the walk: bindings are final)
        # names whose meaning depends on where they are read (lookup_at): in a class body, name -> byte
        # where the body first binds it (end of that statement); in a function, a local given several
        # values, name -> [(byte where each takes effect, typed)] (`history`: every typed local's list)
        self.flow: dict = {}
        self.history: dict = {}


class _Inst(str):
    """A local whose value is known (`self` -> the class, `conn = pool.get()` -> `pool.get()`):
    attribute chains on it resolve through that value; the local itself is never stored."""


def module_name_for(relpath: str) -> tuple[str, bool]:
    """`pkg/sub/mod.py` -> ('pkg.sub.mod', False); `pkg/__init__.py` -> ('pkg', True)."""
    parts = relpath[:-3].split("/") if relpath.endswith(".py") else relpath.rsplit(".", 1)[0].split("/")
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


# Node kinds and fields as integers: `node.kind_id` and `child_by_field_id` cost a third of
# `node.type` (a new str each time) and `child_by_field_name`. A kind name may have several ids.
def _kinds(*names):
    return frozenset(i for i in range(PY_LANGUAGE.node_kind_count)
                     if PY_LANGUAGE.node_kind_is_named(i) and PY_LANGUAGE.node_kind_for_id(i) in names)


def _field(name):
    fid = PY_LANGUAGE.field_id_for_name(name)
    assert fid is not None, name
    return fid


(F_NAME, F_BODY, F_SUPERCLASSES, F_PARAMETERS, F_RETURN_TYPE, F_LEFT, F_RIGHT, F_TYPE, F_VALUE, F_ALIAS,
 F_MODULE_NAME, F_OBJECT, F_ATTRIBUTE, F_FUNCTION, F_ARGUMENTS) = map(_field, (
    "name", "body", "superclasses", "parameters", "return_type", "left", "right", "type", "value", "alias",
    "module_name", "object", "attribute", "function", "arguments"))
K_IDENT = _kinds("identifier")
K_ATTRIBUTE = _kinds("attribute")
K_IDENT_OR_ATTR = K_IDENT | K_ATTRIBUTE
K_KWARG = _kinds("keyword_argument")
K_INTERPOLATION = _kinds("interpolation")
K_COMMENT = _kinds("comment")
K_EXTRA = _kinds("comment", "ERROR") | {65535}
K_EXPR_STMT = _kinds("expression_statement")
K_STRING = _kinds("string")
K_DECORATOR = _kinds("decorator")
K_FUNCTION = _kinds("function_definition")
K_PAREN_AWAIT = _kinds("await", "parenthesized_expression")
K_CALL = _kinds("call")

_IDENT, _SKIP, _STRING = object(), object(), object()   # walk markers (see _Extractor.walk)


class _Extractor:
    def __init__(self, src: bytes, module: str, is_package: bool):
        self.src = src
        self.lines = src.split(b"\n")
        # byte offset of each line start: (row, byte column) of a node from its start_byte by
        # bisection, cheaper than building a Point for `node.start_point`
        self.starts = list(accumulate(map(_PLUS1, map(len, self.lines)), initial=0))
        self.all_ascii = src.isascii()
        self._ascii = {}
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.facts = FileFacts()
        self.uses: list = []   # (scope, kind, payload)
        self.seen_attr_defs: set = set()
        self.overloads: list = []           # indexes into facts.defs of @overload stubs
        self.typed: list = []               # (def index, scope, node, mode) to give a value type
        self.attr_def_index: dict = {}
        self._evaluating: set = set()
        self.import_aliases: dict = {}      # module-level name -> index into facts.aliases

    # ---- positions -------------------------------------------------------------------
    def col(self, row: int, bcol: int) -> int:
        if self.all_ascii:
            return bcol
        ok = self._ascii.get(row)
        if ok is None:
            line = self.lines[row] if row < len(self.lines) else b""
            ok = self._ascii[row] = line.isascii()
        if ok:
            return bcol
        return len(self.lines[row][:bcol].decode("utf-8", "replace"))

    def point(self, b: int) -> tuple[int, int]:
        """(row, code point column) of a byte offset."""
        r = bisect_right(self.starts, b) - 1
        return r, self.col(r, b - self.starts[r])

    def ident(self, node):
        """(name, line, col, end_col) of an identifier node."""
        sb = node.start_byte
        eb = node.end_byte
        starts = self.starts
        r = bisect_right(starts, sb) - 1
        c = sb - starts[r]
        if self.all_ascii:
            return self.src[sb:eb].decode("ascii"), r, c, c + eb - sb
        name = self.src[sb:eb].decode("utf-8", "replace")
        col = self.col(r, c)
        return name, r, col, col + len(name)

    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # ---- definitions -------------------------------------------------------------------
    def add_def(self, qual, name_node, kind, container, node, signature=None, doc=None, typed=None):
        """Record a definition; `typed` = (scope, node, mode) whose value type is worked out at the end."""
        name, r, c, ec = self.ident(name_node)
        sr, sc = self.point(node.start_byte)
        er, ecol = self.point(node.end_byte)
        if typed is not None:
            self.typed.append((len(self.facts.defs),) + typed)
        self.facts.defs.append((qual, name, kind, container, sr, sc, er, ecol, r, c, ec, signature, doc, None))

    def docstring(self, body):
        if body is None:
            return None
        child = body.named_child(0) if body.named_child_count else None
        while child is not None and child.kind_id in K_COMMENT:
            child = child.next_named_sibling
        if child is not None and child.kind_id in K_EXPR_STMT and child.named_child_count:
            first = child.named_child(0)
            if first.kind_id in K_STRING:
                return _clean_doc(self.text(first))
        return None

    def header(self, node, body):
        end = body.start_byte if body is not None else node.end_byte
        text = self.src[node.start_byte:end].decode("utf-8", "replace")
        return " ".join(text.split()).rstrip(":").strip() + ":" if text.strip() else None

    # ---- walk --------------------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.facts.errors = count_errors(root)
        mod = _Scope("module", self.module, None)
        self.mod_scope = mod
        name = self.module.rpartition(".")[2] or self.module
        self.facts.defs.append((self.module, name, "module", self.package or None, 0, 0, root.end_point[0], 0,
                                0, 0, 0, None, self.docstring(root), None))
        self.block(root, mod)
        defs = self.facts.defs
        for i, scope, node, mode in self.typed:
            t = self.value_of(scope, node, mode)
            if t:
                defs[i] = defs[i][:13] + (t,)
        self.resolve_uses()
        self.facts.aliases = [a for a in self.facts.aliases if a is not None]
        if self.overloads:
            defs = self.facts.defs
            drop = set(self.overloads)
            implemented = {d[0] for i, d in enumerate(defs) if i not in drop}
            # an overload's parameters share the implementation's qualnames: keep the implementation's
            self.facts.defs = [d for i, d in enumerate(defs)
                               if not (i in drop and d[0] in implemented)]
        return self.facts

    def block(self, node, scope):
        self.walk(node.named_children, scope)

    def visit(self, node, scope):
        h = _DISPATCH.get(node.kind_id)
        if h is _IDENT:
            self.uses.append((scope, "name", node))
        elif h is None:
            children = node.named_children
            if children:
                self.walk(children, scope)
        elif h is _SKIP:
            pass
        elif h is _STRING:
            if self.src.find(b"{", node.start_byte, node.end_byte) >= 0:
                for ch in node.named_children:
                    if ch.kind_id in K_INTERPOLATION:
                        self.block(ch, scope)
        else:
            h(self, node, scope)

    def walk(self, nodes, scope):
        """Visit nodes (in document order) and everything under them, in document order:
        identifiers become uses, handlers take their node's subtree, other nodes are looked into.
        One loop with an explicit stack: no Python call per plain node."""
        handlers = _DISPATCH
        uses = self.uses
        stack = nodes
        stack.reverse()
        pop = stack.pop
        push = stack.extend
        while stack:
            n = pop()
            h = handlers.get(n.kind_id)
            if h is None:
                children = n.named_children
                if children:
                    children.reverse()
                    push(children)
            elif h is _IDENT:
                uses.append((scope, "name", n))
            elif h is _SKIP:
                pass
            elif h is _STRING:
                # an f-string's `{...}` parts: an interpolation starts with `{`
                if self.src.find(b"{", n.start_byte, n.end_byte) >= 0:
                    for ch in n.named_children:
                        if ch.kind_id in K_INTERPOLATION:
                            self.block(ch, scope)
            else:
                h(self, n, scope)

    # imports ---------------------------------------------------------------------------
    def bind(self, scope, name, target, node=None):
        if scope.kind == "function":
            if isinstance(target, tuple):
                target = target[1]
            scope.bindings[name] = target if isinstance(target, str) and target else LOCAL
            return
        if node is not None and scope.kind == "class":
            scope.flow.setdefault(name, node.end_byte)
        prev = scope.bindings.get(name)
        if isinstance(prev, tuple) and prev[0] == "import" and not (isinstance(target, tuple) and target[0] == "import"):
            return  # try/except ImportError fallbacks: keep the import as the meaning
        scope.bindings[name] = target

    def shadow_import(self, scope, name, stmt) -> None:
        """A module-level definition of an imported name replaces the import (`__version__ =
        __version__`), unless it is an `except ImportError:` fallback, where the import stays the
        meaning (and the resolver prefers the alias over the fallback definition)."""
        if scope.kind != "module" or not isinstance(scope.bindings.get(name), tuple) or _in_except(stmt):
            return
        del scope.bindings[name]
        i = self.import_aliases.pop(name, None)
        if i is not None:
            self.facts.aliases[i] = None

    def dotted_refs(self, dotted, prefix=""):
        """Refs for each component of a dotted module name; returns the full dotted text."""
        full = prefix
        for part in dotted.named_children:
            if part.kind_id not in K_IDENT:
                continue
            name, r, c, ec = self.ident(part)
            full = f"{full}.{name}" if full else name
            self.facts.refs.append((r, c, ec, name, full, "import"))
        return full

    def v_import(self, node, scope):
        for child in node.named_children:
            if child.type == "dotted_name":
                full = self.dotted_refs(child)
                top = full.split(".")[0]
                self.facts.imports.add(top)
                self.bind(scope, top, ("import", top))
                if scope.kind == "module":
                    self.facts.aliases.append((f"{self.module}.{top}", top, 0, self.point(node.start_byte)[0]))
            elif child.type == "aliased_import":
                full = self.dotted_refs(child.child_by_field_id(F_NAME))
                self.facts.imports.add(full.split(".")[0])
                alias = child.child_by_field_id(F_ALIAS)
                name, r, c, ec = self.ident(alias)
                self.facts.refs.append((r, c, ec, name, full, "alias"))
                self.bind(scope, name, ("import", full))
                if scope.kind == "module":
                    self.import_aliases[name] = len(self.facts.aliases)
                    self.facts.aliases.append((f"{self.module}.{name}", full, 0, self.point(node.start_byte)[0]))

    def v_import_from(self, node, scope):
        mod_node = node.child_by_field_id(F_MODULE_NAME)
        if mod_node is None:
            return
        if mod_node.type == "relative_import":
            dots = 0
            dotted = None
            for ch in mod_node.children:
                if ch.type == "import_prefix":
                    dots = len(ch.text.strip())
                elif ch.type == "dotted_name":
                    dotted = ch
            base = self.package.split(".") if self.package else []
            if dots > 1:
                base = base[: len(base) - (dots - 1)] if dots - 1 <= len(base) else []
            base_name = ".".join(base)
            full = self.dotted_refs(dotted, base_name) if dotted is not None else base_name
        else:
            full = self.dotted_refs(mod_node)
        if full:
            self.facts.imports.add(full.split(".")[0])
        line = self.point(node.start_byte)[0]
        for child in node.named_children:
            if child == mod_node:
                continue
            ctype = child.type
            if ctype == "wildcard_import":
                scope.stars.append(full)
                if scope.kind == "module":
                    self.facts.aliases.append((self.module, full, 1, line))
            elif ctype in ("dotted_name", "aliased_import"):
                name_node = child if ctype == "dotted_name" else child.child_by_field_id(F_NAME)
                idents = [p for p in name_node.named_children if p.kind_id in K_IDENT]
                if not idents:
                    continue
                name, r, c, ec = self.ident(idents[0])
                target = f"{full}.{name}" if full else name
                self.facts.refs.append((r, c, ec, name, target, "import"))
                local = name
                if ctype == "aliased_import":
                    local, r, c, ec = self.ident(child.child_by_field_id(F_ALIAS))
                    self.facts.refs.append((r, c, ec, local, target, "alias"))
                self.bind(scope, local, ("import", target))
                if scope.kind == "module":
                    self.import_aliases[local] = len(self.facts.aliases)
                    self.facts.aliases.append((f"{self.module}.{local}", target, 0, line))

    # definitions -----------------------------------------------------------------------
    def v_decorated(self, node, scope):
        """decorator expressions are uses; the definition learns its decorators here (a
        function's `node.parent` is a walk from the root in tree-sitter, too slow per function)."""
        children = node.named_children
        decorators = None
        for ch in children:
            if ch.kind_id in K_FUNCTION:
                if decorators is None:
                    decorators = [self.text(d) for d in children if d.kind_id in K_DECORATOR]
                self.v_function(ch, scope, decorators)
            else:
                self.visit(ch, scope)

    def v_class(self, node, scope):
        name_node = node.child_by_field_id(F_NAME)
        body = node.child_by_field_id(F_BODY)
        if name_node is None:
            return
        name = self.text(name_node)
        qual = f"{scope.qual}.{name}"
        self.add_def(qual, name_node, "class", scope.qual, node, self.header(node, body), self.docstring(body))
        self.shadow_import(scope, name, node)
        self.bind(scope, name, qual, node)
        supers = node.child_by_field_id(F_SUPERCLASSES)
        if supers is not None:
            for arg in supers.named_children:
                if arg.kind_id in K_IDENT_OR_ATTR:
                    self.uses.append((scope, "base", (qual, arg)))
                    self.visit(arg, scope)
                else:
                    self.visit(arg, scope)
        inner = _Scope("class", qual, scope)
        if body is not None:
            self.block(body, inner)

    def v_function(self, node, scope, decorators=()):
        name_node = node.child_by_field_id(F_NAME)
        body = node.child_by_field_id(F_BODY)
        if name_node is None:
            return
        name = self.text(name_node)
        qual = f"{scope.qual}.{name}"
        kind = "method" if scope.kind == "class" else "function"
        if decorators:
            if kind == "method" and any(d in ("@property", "@cached_property", "@functools.cached_property") or d.endswith(".setter") for d in decorators):
                kind = "property"
        start = len(self.facts.defs)
        rt = node.child_by_field_id(F_RETURN_TYPE)
        self.add_def(qual, name_node, kind, scope.qual, node, self.header(node, body), self.docstring(body),
                     (scope, rt, "ann") if rt is not None else None)
        self.shadow_import(scope, name, node)
        self.bind(scope, name, qual if scope.kind != "function" else LOCAL, node)
        if rt is not None:
            self.visit(rt, scope)
        inner = _Scope("function", qual, scope)
        params = node.child_by_field_id(F_PARAMETERS)
        if params is not None:
            first = True
            for p in params.named_children:
                pname = self.param(p, inner, scope, qual)
                if first and pname and scope.kind == "class" and "@staticmethod" not in decorators:
                    inner.bindings[pname] = _Inst(scope.qual)
                first = False
        if body is not None:
            self.block(body, inner)
        if decorators and any(d in ("@overload", "@typing.overload", "@t.overload") for d in decorators):
            self.overloads.extend(range(start, len(self.facts.defs)))

    def param(self, p, inner, outer, fqual):
        t = p.type
        name_node = None
        if t == "identifier":
            name_node = p
        elif t in ("typed_parameter", "list_splat_pattern", "dictionary_splat_pattern"):
            for ch in p.named_children:
                if ch.kind_id in K_IDENT:
                    name_node = ch
                    break
            tp = p.child_by_field_id(F_TYPE)
            if tp is not None:
                self.visit(tp, outer)
        elif t in ("default_parameter", "typed_default_parameter"):
            name_node = p.child_by_field_id(F_NAME)
            for f in (F_TYPE, F_VALUE):
                v = p.child_by_field_id(f)
                if v is not None:
                    self.visit(v, outer)
        if name_node is None or name_node.kind_id not in K_IDENT:
            return None
        pname = self.text(name_node)
        inner.bindings[pname] = LOCAL
        ann = p.child_by_field_id(F_TYPE) if t in ("typed_parameter", "typed_default_parameter") else None
        if ann is not None:
            inner.types[pname] = (outer, ann, "ann")
            inner.history[pname] = [(0, inner.types[pname])]
        if pname not in ("self", "cls") and not fqual.endswith(">"):
            self.add_def(f"{fqual}.{pname}", name_node, "parameter", fqual, p,
                         typed=(outer, ann, "ann") if ann is not None else None)
        return pname

    def v_lambda(self, node, scope):
        inner = _Scope("function", scope.qual + ".<lambda>", scope)
        params = node.child_by_field_id(F_PARAMETERS)
        if params is not None:
            for p in params.named_children:
                for n in _idents(p):
                    inner.bindings[self.text(n)] = LOCAL
        body = node.child_by_field_id(F_BODY)
        if body is not None:
            self.visit(body, inner)

    def v_comprehension(self, node, scope):
        inner = _Scope("function", scope.qual + ".<comp>", scope)
        children = node.named_children
        for ch in children:
            if ch.type == "for_in_clause":
                left = ch.child_by_field_id(F_LEFT)
                for n in _idents(left) if left is not None else ():
                    inner.bindings[self.text(n)] = LOCAL
        run = []
        for ch in children:
            if ch.type == "for_in_clause":
                right = ch.child_by_field_id(F_RIGHT)
                if right is not None:
                    run.append(right)
            else:
                run.append(ch)
        self.walk(run, inner)

    # bindings --------------------------------------------------------------------------
    def v_assignment(self, node, scope):
        left = node.child_by_field_id(F_LEFT)
        right = node.child_by_field_id(F_RIGHT)
        tp = node.child_by_field_id(F_TYPE)
        if tp is not None:
            self.walk([tp, right] if right is not None else [tp], scope)
        elif right is not None:
            self.visit(right, scope)
        if left is not None:
            augmented = node.type == "augmented_assignment"
            if augmented:
                typed = None
            elif tp is not None:
                typed = (scope, tp, "ann")
            elif right is not None and left.kind_id in K_IDENT_OR_ATTR:
                typed = (scope, right, "value")
            else:
                typed = None
            self.target(left, scope, node, augmented=augmented, typed=typed)

    def target(self, left, scope, stmt, augmented=False, typed=None):
        t = left.type
        if t == "identifier":
            name = self.text(left)
            if augmented:
                self.uses.append((scope, "name", left))
            if scope.kind == "function" and name not in scope.globals:
                scope.bindings.setdefault(name, LOCAL)
                if typed is not None:
                    scope.types[name] = typed
                    self.retype(scope, name, stmt.end_byte, typed)
                return
            target_scope = self.mod_scope if name in scope.globals else scope
            qual = f"{target_scope.qual}.{name}"
            if not augmented:
                self.shadow_import(target_scope, name, stmt)
            if name not in target_scope.bindings or not isinstance(target_scope.bindings.get(name), str) or augmented:
                if not augmented and qual not in self.seen_attr_defs:
                    self.seen_attr_defs.add(qual)
                    kind = "attribute" if target_scope.kind == "class" else ("constant" if name.isupper() else "variable")
                    sig = self.src[stmt.start_byte:stmt.end_byte].decode("utf-8", "replace").split("\n")[0][:200]
                    self.add_def(qual, left, kind, target_scope.qual, stmt, sig, typed=typed)
                self.bind(target_scope, name, qual, stmt)
            else:
                self.uses.append((scope, "name", left))
        elif t in _PATTERNS or t == "list_splat_pattern":
            for ch in left.named_children:
                self.target(ch, scope, stmt, augmented)
        elif t == "attribute":
            obj = left.child_by_field_id(F_OBJECT)
            attr = left.child_by_field_id(F_ATTRIBUTE)
            if obj is not None and obj.kind_id in K_IDENT and attr is not None and scope.kind == "function":
                b = scope.bindings.get(self.text(obj))
                if isinstance(b, _Inst):
                    qual = f"{b}.{self.text(attr)}"
                    if qual not in self.seen_attr_defs:
                        self.seen_attr_defs.add(qual)
                        sig = self.src[stmt.start_byte:stmt.end_byte].decode("utf-8", "replace").split("\n")[0][:200]
                        self.attr_def_index[qual] = len(self.facts.defs)
                        self.add_def(qual, attr, "attribute", str(b), stmt, sig, typed=typed)
                    elif typed is not None and qual in self.attr_def_index and not any(
                            x[0] == self.attr_def_index[qual] for x in self.typed):
                        # `self.x = None` in __init__, `self.x = Pool()` later: the later one types it
                        self.typed.append((self.attr_def_index[qual],) + typed)
            self.visit(left, scope)
        else:
            self.visit(left, scope)

    def v_for(self, node, scope):
        left = node.child_by_field_id(F_LEFT)
        self.walk([ch for ch in node.named_children if ch != left], scope)
        if left is not None:
            self.bind_plain(left, scope)

    def bind_plain(self, node, scope):
        """Loop/with/except targets: local names, never definitions worth indexing."""
        t = node.type
        if t == "identifier":
            name = self.text(node)
            if scope.kind == "function":
                scope.bindings.setdefault(name, LOCAL)
            elif name not in scope.bindings:
                scope.bindings[name] = LOCAL
        elif t in _PATTERNS or t in ("list_splat_pattern", "as_pattern_target", "pattern"):
            for ch in node.named_children:
                self.bind_plain(ch, scope)
        else:
            self.visit(node, scope)

    def v_as_pattern(self, node, scope):
        children = node.named_children
        alias = node.child_by_field_id(F_ALIAS)
        for ch in children:
            if ch == alias:
                continue
            self.visit(ch, scope)
        if alias is not None:
            self.bind_plain(alias, scope)

    def v_except(self, node, scope):
        for ch in node.named_children:
            if ch.type == "as_pattern":
                self.v_as_pattern(ch, scope)
            else:
                self.visit(ch, scope)

    def v_named_expr(self, node, scope):
        name = node.child_by_field_id(F_NAME)
        value = node.child_by_field_id(F_VALUE)
        if value is not None:
            self.visit(value, scope)
        if name is not None:
            self.bind_plain(name, scope)

    def v_global(self, node, scope):
        for ch in node.named_children:
            if ch.kind_id in K_IDENT:
                scope.globals.add(self.text(ch))

    # uses ------------------------------------------------------------------------------
    def v_attribute(self, node, scope):
        parts = []
        cur = node
        while cur.kind_id in K_ATTRIBUTE:
            children = cur.named_children
            if len(children) == 2 and children[0].kind_id not in K_EXTRA and children[1].kind_id in K_IDENT:
                # (object, attribute): one call instead of two field look-ups
                parts.append(children[1])
                cur = children[0]
                continue
            attr = cur.child_by_field_id(F_ATTRIBUTE)
            if attr is not None:
                parts.append(attr)
            cur = cur.child_by_field_id(F_OBJECT)
            if cur is None:
                return
        parts.reverse()
        if cur.kind_id in K_IDENT:
            self.uses.append((scope, "chain", (cur, parts)))
        else:
            self.visit(cur, scope)
            for a in parts:
                name, r, c, ec = self.ident(a)
                self.facts.refs.append((r, c, ec, name, None, "attr"))

    def v_call(self, node, scope):
        fn = node.child_by_field_id(F_FUNCTION)
        args = node.child_by_field_id(F_ARGUMENTS)
        run = [fn] if fn is not None else []   # visited in order by one walk, between kwarg uses
        if args is not None:
            fn_named = fn is not None and fn.kind_id in K_IDENT_OR_ATTR
            for a in args.named_children:
                if a.kind_id in K_KWARG:
                    kw = a.child_by_field_id(F_NAME)
                    val = a.child_by_field_id(F_VALUE)
                    if kw is not None and fn_named:
                        if run:
                            self.walk(run, scope)
                            run = []
                        self.uses.append((scope, "kwarg", (fn, kw)))
                    if val is not None:
                        run.append(val)
                else:
                    run.append(a)
        if run:
            self.walk(run, scope)

    def v_keyword_argument(self, node, scope):
        val = node.child_by_field_id(F_VALUE)
        if val is not None:
            self.visit(val, scope)

    def v_skip(self, node, scope):
        pass

    # resolution ------------------------------------------------------------------------
    def lookup(self, scope, name):
        """Target qualname of a bare name seen in `scope`; LOCAL for locals; '' for unresolved."""
        if self._evaluating:   # inside a value evaluation the answer depends on what is being evaluated
            return self._lookup(scope, name)
        memo = scope.memo
        r = memo.get(name, memo)
        if r is memo:
            r = memo[name] = self._lookup(scope, name)
        return r

    @staticmethod
    def retype(scope, name, at, typed):
        """A function local takes a value from byte `at` on; its second one makes reads of it depend
        on where they are (a parameter `node: Node`, reassigned `node = Text(...)` further down)."""
        h = scope.history.get(name)
        if h is None:
            scope.history[name] = [(at, typed)]
        else:
            h.append((at, typed))
            scope.flow[name] = h

    def lookup_at(self, scope, name, at):
        """lookup() of a name read at byte `at`, for the names in `scope.flow`. A class body runs top
        to bottom: above the statement binding a name (and on the right of `X = X`) the name is the
        enclosing scope's, e.g. the imported class a class attribute re-exports. A function local
        given several values has the last one assigned above the read (else the first)."""
        f = scope.flow.get(name)
        if f is None:
            return self.lookup(scope, name)
        if scope.kind == "class":
            if at < f:
                while scope.kind == "class":
                    scope = scope.parent
            return self.lookup(scope, name)
        i = 0
        for j in range(1, len(f)):
            if f[j][0] > at:
                break
            i = j
        if i == len(f) - 1 or self._evaluating:
            return self.lookup(scope, name)   # the last value: what lookup() gives
        memo = scope.memo
        key = (name, i)
        r = memo.get(key, memo)
        if r is memo:
            guard = (id(scope), name)
            self._evaluating.add(guard)
            try:
                v = self.value_of(*f[i][1])
            finally:
                self._evaluating.discard(guard)
            r = memo[key] = _Inst(v) if v else LOCAL
        return r

    def _lookup(self, scope, name):
        s = scope
        first = True
        while s is not None:
            if s.kind == "class" and not first:
                s = s.parent
                continue
            if name in s.globals:
                s = self.mod_scope
            bindings = s.bindings
            if name in bindings:
                b = bindings[name]
                if b.__class__ is tuple:
                    return b[1]
                if b is LOCAL and name in s.types:
                    key = (id(s), name)
                    if key in self._evaluating:
                        return LOCAL
                    self._evaluating.add(key)
                    try:
                        v = self.value_of(*s.types[name])
                    finally:
                        self._evaluating.discard(key)
                    return _Inst(v) if v else LOCAL
                return b
            if s.kind == "module":
                break
            first = False
            s = s.parent
        if name in BUILTINS:
            return LOCAL
        if self.mod_scope.stars:
            return f"{self.module}.{name}"
        return ""

    def resolve_uses(self):
        """Uses -> refs, after the walk (a name may be bound later in the file). Positions are
        worked out only for uses that become refs: locals are most bare names."""
        refs = self.facts.refs
        append = refs.append
        ident = self.ident
        lookup = self.lookup
        src = self.src
        starts = self.starts
        ascii_ = self.all_ascii
        for scope, kind, payload in self.uses:
            if kind == "name":
                sb = payload.start_byte
                eb = payload.end_byte
                name = src[sb:eb].decode("ascii") if ascii_ else src[sb:eb].decode("utf-8", "replace")
                target = self.lookup_at(scope, name, sb) if name in scope.flow else lookup(scope, name)
                if target is LOCAL or target.__class__ is _Inst:
                    continue
                if ascii_:
                    r = bisect_right(starts, sb) - 1
                    c = sb - starts[r]
                    append((r, c, c + eb - sb, name, target or None, "name"))
                else:
                    _, r, c, ec = ident(payload)
                    append((r, c, ec, name, target or None, "name"))
            elif kind == "chain":
                base, parts = payload
                name, r, c, ec = ident(base)
                target = self.lookup_at(scope, name, base.start_byte) if name in scope.flow else lookup(scope, name)
                if target.__class__ is _Inst:
                    prefix = str(target)
                elif target is LOCAL or not target:
                    if target == "":
                        append((r, c, ec, name, None, "name"))
                    prefix = None
                else:
                    append((r, c, ec, name, target, "name"))
                    prefix = target
                for a in parts:
                    if ascii_:
                        sb = a.start_byte
                        eb = a.end_byte
                        aname = src[sb:eb].decode("ascii")
                        r = bisect_right(starts, sb) - 1
                        c = sb - starts[r]
                        ec = c + eb - sb
                    else:
                        aname, r, c, ec = ident(a)
                    if prefix is not None:
                        prefix = f"{prefix}.{aname}"
                        append((r, c, ec, aname, prefix, "attr"))
                    else:
                        append((r, c, ec, aname, None, "attr"))
            elif kind == "kwarg":
                fn, kw = payload
                callee = self.expr_target(scope, fn)
                name, r, c, ec = ident(kw)
                append((r, c, ec, name, f"{callee}({name}" if callee else None, "kwarg"))
            elif kind == "base":
                cls, expr = payload
                t = self.expr_target(scope, expr)
                if t:
                    self.facts.bases.append((cls, t))

    def value_of(self, scope, node, mode):
        """A target string for the value an annotation or expression denotes: `Foo()` is an
        instance of class Foo (or what function Foo returns); `a.b` is whatever a.b is."""
        if node is None:
            return None
        if mode == "ann":
            t = self.ann_target(scope, node, 0)
            return f"{t}()" if t else None
        k = node.kind_id
        while k in K_PAREN_AWAIT and node.named_child_count:
            node = node.named_child(0)
            k = node.kind_id
        if k in K_CALL:
            fn = node.child_by_field_id(F_FUNCTION)
            if fn is not None and fn.kind_id in K_IDENT_OR_ATTR:
                c = self.expr_target(scope, fn)
                return f"{c}()" if c else None
            return None
        if k in K_IDENT_OR_ATTR:
            return self.expr_target(scope, node)
        return None

    def ann_target(self, scope, node, depth):
        """The class an annotation names: `Foo`, `mod.Foo`, `Optional[Foo]`, `Foo | None`, `"Foo"`."""
        if node is None or depth > 4:
            return None
        t = node.type
        if t == "type" and node.named_child_count:
            return self.ann_target(scope, node.named_children[0], depth + 1)
        if t in ("identifier", "attribute"):
            return self.expr_target(scope, node)
        if t in ("subscript", "generic_type"):
            base = node.child_by_field_id(F_VALUE) if t == "subscript" else node.named_children[0]
            base_name = self.text(base).rsplit(".", 1)[-1] if base is not None else ""
            if base_name in ("Optional", "Annotated", "ClassVar", "Final", "Union", "Type", "type"):
                args = [c for c in node.named_children[1:]]
                if args and args[0].type == "type_parameter":
                    args = args[0].named_children
                for a in args:
                    r = self.ann_target(scope, a, depth + 1)
                    if r:
                        return r
            return None
        if t == "binary_operator":
            for side in (F_LEFT, F_RIGHT):
                r = self.ann_target(scope, node.child_by_field_id(side), depth + 1)
                if r:
                    return r
            return None
        if t == "string":
            text = self.text(node).strip("\"'")
            parts = text.split(".")
            if all(p.isidentifier() for p in parts):
                base = self.lookup(scope, parts[0])
                if base and base is not LOCAL:
                    return ".".join([str(base)] + parts[1:])
        return None

    def expr_target(self, scope, node):
        parts = []
        while node.kind_id in K_ATTRIBUTE:
            attr = node.child_by_field_id(F_ATTRIBUTE)
            parts.append(self.text(attr))
            node = node.child_by_field_id(F_OBJECT)
        if node.kind_id not in K_IDENT:
            return None
        name = self.text(node)
        t = self.lookup_at(scope, name, node.start_byte) if name in scope.flow else self.lookup(scope, name)
        if not t or t is LOCAL:
            return None
        return ".".join([str(t)] + parts[::-1])


def _handlers():
    named = {
        "import_statement": _Extractor.v_import,
        "import_from_statement": _Extractor.v_import_from,
        "future_import_statement": _Extractor.v_skip,
        "class_definition": _Extractor.v_class,
        "function_definition": _Extractor.v_function,
        "decorated_definition": _Extractor.v_decorated,
        "lambda": _Extractor.v_lambda,
        "assignment": _Extractor.v_assignment,
        "augmented_assignment": _Extractor.v_assignment,
        "for_statement": _Extractor.v_for,
        "as_pattern": _Extractor.v_as_pattern,
        "except_clause": _Extractor.v_except,
        "named_expression": _Extractor.v_named_expr,
        "global_statement": _Extractor.v_global,
        "nonlocal_statement": _Extractor.v_global,
        "attribute": _Extractor.v_attribute,
        "call": _Extractor.v_call,
        "keyword_argument": _Extractor.v_keyword_argument,
        **{t: _Extractor.v_comprehension for t in _COMPREHENSIONS},
        "identifier": _IDENT,
        "string": _STRING,
        **{t: _SKIP for t in ("comment", "integer", "float", "true", "false", "none", "ellipsis")},
    }
    return {k: h for name, h in named.items() for k in _kinds(name)}


_DISPATCH = _handlers()   # node kind id -> handler (or walk marker); absent: look into its children


def _idents(node):
    if node.kind_id in K_IDENT:
        yield node
    else:
        for ch in node.named_children:
            yield from _idents(ch)


def _in_except(node) -> bool:
    """Is this statement inside an `except` (or `else` of a try), i.e. an import fallback?"""
    cur = node.parent
    while cur is not None and cur.type != "module":
        if cur.type in ("except_clause", "except_group_clause"):
            return True
        if cur.type in ("function_definition", "class_definition"):
            return False
        cur = cur.parent
    return False


def _clean_doc(raw: str) -> str | None:
    """First paragraph of a docstring literal, quotes and prefixes stripped."""
    s = raw.lstrip("rRbBuUfF")
    for q in ('"""', "'''", '"', "'"):
        if s.startswith(q) and s.endswith(q) and len(s) >= 2 * len(q):
            s = s[len(q):-len(q)]
            break
    lines = [ln.strip() for ln in s.strip().splitlines()]
    para = []
    for ln in lines:
        if not ln and para:
            break
        if ln:
            para.append(ln)
    text = " ".join(para)
    return text[:500] or None


parse = parser(PY_LANGUAGE)   # one tree-sitter Parser per thread (index/lang/source.py)


def extract(src: bytes, unit: Unit | str, is_package: bool = False) -> FileFacts:
    """All facts of one Python source file (UTF-8 bytes); `unit` may also be a bare module name."""
    if isinstance(unit, Unit):
        unit, is_package = unit.module, unit.is_package
    return _Extractor(src, unit, is_package).run(parse(src))


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """Dotted module name of a repo-relative path, relative to the deepest import root holding it."""
    for root in project.get("import_roots") or ("",):
        if not root:
            return module_name_for(path)
        if path.startswith(root + "/"):
            return module_name_for(path[len(root) + 1:])
    return module_name_for(path)


# ---- the repo layout: import roots and provided packages ---------------------------------------
from .repos import SKIP_DIRS  # noqa: E402  (repos imports the language registry lazily)


def project(root: str, paths: list[str]) -> dict:
    """Import roots (deepest first, "" = the repo root) and the top-level packages the repo
    provides (src/ layout, pyproject/setup.cfg configuration, or the root), and its dist name."""
    root = Path(root)
    roots: list[tuple[str, str]] = []
    packages: list[tuple[str, str, str]] = []
    cfg_roots, dist = _configured_roots(root)
    for r in cfg_roots:
        if (root / r).is_dir():
            roots.append((r, "config"))
    if (root / "src").is_dir() and not any(r == "src" for r, _ in roots):
        roots.append(("src", "src-layout"))
    roots.sort(key=lambda r: -len(r[0]))
    import_roots = [r for r, _ in roots] + [""]
    configured = {r.split("/")[0] for r, _ in roots}   # `python/` of a maturin project is a root, not a package
    seen = set()
    for rel, source in roots + [("", "root")]:
        base = root / rel if rel else root
        try:
            entries = sorted(os.scandir(base), key=lambda e: e.name)
        except OSError:
            continue
        for e in entries:
            name = e.name
            if name.startswith((".", "_")) and name != "__init__.py" or name in SKIP_DIRS:
                continue
            if not rel and (name in ("tests", "test", "docs", "doc", "examples", "benchmarks", "scripts", "src", "build", "dist")
                            or name in configured):
                continue
            if e.is_dir() and name.isidentifier():
                if (Path(e.path) / "__init__.py").exists() or _has_python(Path(e.path)):
                    pkg = name
                else:
                    continue
            elif e.is_file() and name.endswith(".py") and name[:-3].isidentifier() and name not in ("setup.py", "conftest.py", "noxfile.py", "tasks.py", "fabfile.py"):
                pkg = name[:-3]
            else:
                continue
            if pkg not in seen:
                seen.add(pkg)
                packages.append((pkg, rel, source))
    return {"import_roots": import_roots, "packages": packages, "dist": dist}


def _has_python(d: Path, depth: int = 3) -> bool:
    """Python modules in `d`, or below it in identifier-named folders: a PEP 420 namespace
    package such as `acme/utils/strings.py` (no `acme/__init__.py`) still provides `acme`."""
    try:
        entries = list(os.scandir(d))
    except OSError:
        return False
    if any(e.name.endswith(".py") and e.is_file() for e in entries):
        return True
    return depth > 0 and any(e.is_dir() and e.name.isidentifier() and e.name not in SKIP_DIRS
                             and _has_python(Path(e.path), depth - 1) for e in entries)


def _configured_roots(root: Path) -> tuple[list[str], str | None]:
    """Package directories named by pyproject.toml / setup.cfg, and the distribution name."""
    roots: list[str] = []
    dist = None
    pp = root / "pyproject.toml"
    if pp.is_file():
        try:
            data = tomllib.loads(pp.read_text(encoding="utf-8", errors="replace"))
        except (tomllib.TOMLDecodeError, OSError):
            data = {}
        tool = data.get("tool", {}) if isinstance(data, dict) else {}
        dist = (data.get("project") or {}).get("name") or (tool.get("poetry") or {}).get("name")
        st = tool.get("setuptools", {}) or {}
        pd = st.get("package-dir") or {}
        if isinstance(pd, dict) and isinstance(pd.get(""), str):
            roots.append(pd[""].strip("/"))
        find = (st.get("packages") or {}) if isinstance(st.get("packages"), dict) else {}
        for w in (find.get("find") or {}).get("where", []) or []:
            if isinstance(w, str) and w not in (".", ""):
                roots.append(w.strip("/"))
        for p in (tool.get("poetry") or {}).get("packages", []) or []:
            if isinstance(p, dict) and isinstance(p.get("from"), str):
                roots.append(p["from"].strip("/"))
        hatch = (((tool.get("hatch") or {}).get("build") or {}).get("targets") or {}).get("wheel") or {}
        skb = (tool.get("scikit-build") or {}).get("wheel") or {}
        for p in list(hatch.get("packages", []) or []) + list(skb.get("packages", []) or []):
            if isinstance(p, str) and "/" in p.strip("/"):
                roots.append(p.strip("/").rsplit("/", 1)[0])
        sources = hatch.get("sources")   # ["src"], or {"src" = ""}: that folder's contents install at the top
        if isinstance(sources, list):
            roots.extend(x.strip("/") for x in sources if isinstance(x, str))
        elif isinstance(sources, dict):
            roots.extend(k.strip("/") for k, v in sources.items() if isinstance(k, str) and v in ("", "/"))
        # maturin (Rust extensions with Python code beside them: pydantic-core's python/) and pdm
        for folder in ((tool.get("maturin") or {}).get("python-source"),
                       ((tool.get("pdm") or {}).get("build") or {}).get("package-dir")):
            if isinstance(folder, str):
                roots.append(folder.strip("/"))
    sc = root / "setup.cfg"
    if sc.is_file():
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read_string(sc.read_text(encoding="utf-8", errors="replace"))
            dist = dist or cp.get("metadata", "name", fallback=None)
            pdir = cp.get("options", "package_dir", fallback="")
            for line in pdir.splitlines():
                k, _, v = line.partition("=")
                if k.strip() == "" and v.strip():
                    roots.append(v.strip().strip("/"))
            where = cp.get("options.packages.find", "where", fallback="").strip()
            if where and where != ".":
                roots.append(where.strip("/"))
        except (configparser.Error, OSError):
            pass
    return list(dict.fromkeys(r for r in roots if r)), dist

