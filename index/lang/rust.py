"""Rust: crates from Cargo.toml (cargo.py) and one file's facts from one tree-sitter parse.

Qualified names are `rust:<crate>.<module path>.<item>[.<member>]`: `rust:serde_json.value.Value`,
`rust:serde_json.value.Value.Null` (a variant), `rust:serde.ser.Serializer.serialize_bool` (a trait
method), `rust:serde_json.map.Map.insert` (an impl method, inherent or trait impl alike).

Resolution here is file-local, as for Python: `use` trees (both `pub use` re-exports and private
uses) become `aliases` of the file's module (`use a::b::*` a star alias), `impl Trait for Type` a
`bases` row, and every path (`serde::de::Error::custom`, `Self::Item`, `super::x`) is turned into a
target through the file's bindings, `crate`/`self`/`super`, and the crate's dependencies; the
resolver follows the chain across crates. Method calls get a target only when the receiver's type
is visible in the function (`self`, typed parameters and `let`s, `Type::new()` results); otherwise
the target is None and the server searches by name. Paths inside macro arguments (`tri!(a::b(x))`)
are read from the token stream. Items a `macro_rules!` body declares and the same file expands
(`declare_error_trait!(Error ...)`) are defined where the body names them.

Speed: items and uses are few and walked in Python; every reference comes from one QueryCursor pass.
"""
from __future__ import annotations

import re
from bisect import bisect_right

import tree_sitter_rust
from tree_sitter import Language, Query, QueryCursor

from . import FileFacts, Unit, cargo
from .source import Positions, count_errors, parser

NAME = "rust"
EXTENSIONS = (".rs",)
SEARCH_NAMES = ("rust", "rs")
PREFIX = "rust:"
FENCE = "rust"

LANGUAGE = Language(tree_sitter_rust.language())

# Names every module sees without a `use` (std prelude, primitive-like types): never stored as uses.
PRELUDE = frozenset("""Option Some None Result Ok Err Vec String Box ToString ToOwned Clone Copy Send Sync Sized
Unpin Default Drop Fn FnMut FnOnce Iterator IntoIterator DoubleEndedIterator ExactSizeIterator Extend From Into
TryFrom TryInto AsRef AsMut PartialEq Eq PartialOrd Ord Debug Hash Self FromIterator""".split())
STD_MACROS = frozenset("""println print eprintln eprint format format_args write writeln panic assert assert_eq
assert_ne debug_assert debug_assert_eq debug_assert_ne vec unreachable unimplemented todo matches concat stringify
include include_str include_bytes env option_env cfg line column file module_path compile_error dbg thread_local
macro_rules try""".split())
PRIMITIVES = frozenset("bool char str u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64".split())
_STD_TYPES = {"Vec": "std.vec.Vec", "String": "std.string.String", "Option": "std.option.Option",
              "Result": "std.result.Result", "Box": "std.boxed.Box"}
_DEREF = frozenset({"Box", "Rc", "Arc", "RefCell", "Cell", "Mutex", "RwLock", "Cow", "Pin", "ManuallyDrop"})

_QUERY = Query(LANGUAGE, """
[(mod_item) (function_item) (function_signature_item) (impl_item) (trait_item) (struct_item) (enum_item)
 (union_item) (type_item) (const_item) (static_item) (macro_definition) (use_declaration)
 (extern_crate_declaration) (associated_type)] @item
[(attribute_item) (inner_attribute_item)] @skip
(type_identifier) @type
[(scoped_identifier) (scoped_type_identifier)] @path
(call_expression function: (identifier) @call)
(macro_invocation macro: (identifier) @macro)
(macro_invocation (token_tree) @tokens)
(field_expression) @field
(identifier) @ident
(let_declaration) @let
(closure_parameters) @closure
[(line_comment outer: (outer_doc_comment_marker)) (block_comment outer: (outer_doc_comment_marker))] @doc
""")

_ITEM_SCOPES = frozenset({"struct_item", "enum_item", "union_item", "type_item"})
_KINDS = {"struct_item": "struct", "enum_item": "enum", "union_item": "union", "type_item": "type",
          "const_item": "constant", "static_item": "constant", "trait_item": "trait", "associated_type": "type"}
_ITEM_KEYWORDS = {"trait": "trait", "struct": "struct", "enum": "enum", "fn": "function", "type": "type",
                  "const": "constant", "static": "constant", "union": "union"}
GENERIC = object()   # binding marker: a generic parameter, never a stored use
_NO_USE = ("", None)
_WS = re.compile(r"\s+")


class _Scope:
    """A module (file or inline `mod`), function, impl, trait or generic item: where names bind."""
    __slots__ = ("kind", "name", "parent", "end", "qual_", "bindings", "stars", "generics", "locals", "mod", "env",
                 "venv")

    def __init__(self, kind, name, parent, end):
        self.kind, self.name, self.parent, self.end = kind, name, parent, end
        self.qual_ = None       # set for modules and impls; others derive it from the parent
        self.bindings = None    # name -> qualname (None: an item of this scope)
        self.stars = False      # the module has a glob import
        self.generics = None    # name -> first trait bound node (or None)
        self.locals = None      # name -> ("type", type node) | ("value", expression node)
        self.env = None   # the nearest scope whose names differ from its parent's (memo key for uses)
        self.venv = None  # the same counting locals too (memo key for receivers: `x.f()` depends on `let x`)
        self.mod = self if kind == "module" else parent.mod

    def qual(self) -> str | None:
        """Dotted qualname; None while an enclosing impl's type is not known yet (then not cached)."""
        q = self.qual_
        if q is None and self.kind != "impl":
            pq = self.parent.qual()
            if pq is not None:
                q = self.qual_ = f"{pq}.{self.name}"
        return q

    def bind(self, name, target):
        if self.bindings is None:
            self.bindings = {}
        self.bindings[name] = target


class _Extractor:
    def __init__(self, src: bytes, unit: Unit):
        self.src = src
        self.positions = Positions(src)
        self.all_ascii = self.positions.all_ascii
        self.module = unit.module
        proj = unit.project or {}
        crate = cargo.crate_of(proj, unit.path) if proj else None
        self.crate_root = unit.module.split(".", 1)[0]
        self.edition = (crate or {}).get("edition", "2018")
        self.externs = frozenset((crate or {}).get("deps", cargo.STD_CRATES))
        self.facts = FileFacts()
        self.defs = []          # [qual|None, name, kind, scope|None, row...]: scope-relative quals finished at the end
        self.def_names = set()  # start bytes of identifiers that name a definition (not uses)
        self.deferred_types = []   # (def index, scope, type node): value types, read once uses are bound
        self.templates = {}     # macro name -> items its body declares
        self.expanded = set()
        self.starts = []        # scope start bytes, parallel to self.scopes
        self.scopes = []
        self.pending_bases = []  # (trait scope, bounds node): supertraits
        self.type_aliases = []   # indexes into self.defs of `type X = Y;` items
        self.doc_rows = {}       # row -> text of a `///` line (a `/** */` block: its last row -> its text)
        self.attr_rows = set()   # rows covered by attributes (between a doc comment and its item)
        self.memo = {}           # (scope environment, text, kind) -> what a use there means

    # ---- positions --------------------------------------------------------------------
    def col(self, row: int, bcol: int) -> int:
        return self.positions.col(row, bcol)

    def ref(self, node, target, kind):
        r, c = node.start_point
        text = node.text
        if self.all_ascii:
            self.facts.refs.append((r, c, c + len(text), text.decode(), target, kind))
        else:
            name = text.decode("utf-8", "replace")
            c = self.col(r, c)
            self.facts.refs.append((r, c, c + len(name), name, target, kind))

    def add_def(self, qual, name_node, kind, scope, node, sig=None, doc=None, name=None):
        """Record a definition; `qual` None means scope.qual() + '.' + name, finished at the end."""
        if name is None:
            name = name_node.text.decode("utf-8", "replace")
        r, c = name_node.start_point
        self.def_names.add(name_node.start_byte)
        sr, sc = node.start_point
        er, ec = node.end_point
        nc = self.col(r, c)
        self.defs.append([qual, name, kind, scope, sr, self.col(sr, sc), er, self.col(er, ec), r, nc, nc + len(name),
                          sig, doc, None])
        return len(self.defs) - 1

    def header(self, node, body=None, limit=240):
        end = body.start_byte if body is not None else node.end_byte
        text = self.src[node.start_byte:end].decode("utf-8", "replace")
        text = _WS.sub(" ", text).strip().rstrip(";").rstrip()
        return text[:limit] if text else None

    def doc(self, node):
        """`///` lines (or `/** */`) right above an item, attribute lines in between allowed; first paragraph."""
        docs = self.doc_rows
        if not docs:
            return None
        k = node.start_point[0] - 1
        attrs = self.attr_rows
        while k in attrs:
            k -= 1
        if k not in docs:
            return None
        lines = []
        while k in docs:
            lines.append(docs[k])
            k -= 1
            while k in attrs:
                k -= 1
        return _paragraph(lines[::-1])

    def inner_doc(self, container):
        lines = []
        for child in container.children:
            t = child.type
            if t == "line_comment":
                text = child.text
                if text.startswith(b"//!"):
                    lines.append(text[3:].decode("utf-8", "replace"))
                    continue
                if lines:
                    break
            elif t in ("inner_attribute_item", "{", "shebang"):
                continue
            elif t == "block_comment" and child.text.startswith(b"/*!"):
                lines.extend(_block_doc(child.text))
                continue
            else:
                break
        return _paragraph(lines) if lines else None

    # ---- the walk ---------------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.facts.errors = count_errors(root)
        caps = QueryCursor(_QUERY).captures(root)
        for node in caps.get("doc", ()):
            text = node.text
            if node.type == "line_comment":
                if not text.startswith(b"////"):
                    self.doc_rows[node.start_point[0]] = text[3:].decode("utf-8", "replace").rstrip("\r\n")
            elif not text.startswith(b"/***"):
                self.doc_rows[node.end_point[0]] = "\n".join(_block_doc(text))
        mod = _Scope("module", None, None, root.end_byte + 1)
        mod.qual_ = self.module
        self.scopes, self.starts = [mod], [-1]
        parent_mod = self.module.rpartition(".")[0] if "." in self.module else None
        self.defs.append([self.module, self.module.rpartition(".")[2].rpartition("/")[2].replace("rust:", ""), "module",
                          parent_mod, 0, 0, root.end_point[0], 0, 0, 0, 0, None, self.inner_doc(root), None])
        uses, impls, externs = [], [], []
        hard = []   # byte ranges whose identifiers are not uses: use trees, attributes, macro bodies
        attr_rows = self.attr_rows
        for node in caps.get("skip", ()):
            hard.append((node.start_byte, node.end_byte))
            attr_rows.update(range(node.start_point[0], node.end_point[0] + 1))
        stack = [mod]
        for node in sorted(caps.get("item", ()), key=_start):   # captures come grouped, not in text order
            s = node.start_byte
            while stack[-1].end <= s:
                stack.pop()
            scope = stack[-1]
            t = node.type
            if t == "use_declaration":
                uses.append((node, scope))
                hard.append((s, node.end_byte))
            elif t == "impl_item":
                sc = self.push(stack, "impl", None, scope, node)
                impls.append((node, sc))
            elif t == "extern_crate_declaration":
                externs.append((node, scope))
                hard.append((s, node.end_byte))
            else:
                self.item(node, t, scope, stack)
                if t == "macro_definition":
                    hard.append((s, node.end_byte))
        for node, scope in externs:
            self.extern_crate(node, scope)
        for node, scope in uses:
            self.use(node, scope)
        for node, scope in impls:
            self.impl(node, scope)
        self.refs(caps, hard)
        self.finish()
        return self.facts

    def push(self, stack, kind, name, parent, node):
        sc = _Scope(kind, name, parent, node.end_byte)
        tp = node.child_by_field_name("type_parameters")
        if tp is not None:
            generics = sc.generics = {}   # name -> its first trait bound (a value of type T has the trait's methods)
            for p in tp.named_children:
                n = p.child_by_field_name("name") if p.type in ("type_parameter", "const_parameter") else None
                if n is None and p.type == "type_identifier":
                    n = p
                if n is not None:
                    generics[n.text.decode()] = _first_bound(p.child_by_field_name("bounds"))
                    self.def_names.add(n.start_byte)
            for c in node.children:
                if c.type == "where_clause":
                    for pred in c.named_children:
                        left = pred.child_by_field_name("left")
                        if left is not None and left.type == "type_identifier":
                            name = left.text.decode()
                            if name in generics and generics[name] is None:
                                generics[name] = _first_bound(pred.child_by_field_name("bounds"))
        stack.append(sc)
        self.scopes.append(sc)
        self.starts.append(node.start_byte)
        return sc

    def item(self, node, t, scope, stack):
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return
        name = name_node.text.decode("utf-8", "replace")
        skind = scope.kind
        container = scope   # members hang under their scope's qual (finished at the end)
        if t == "function_item" or t == "function_signature_item":
            kind = "method" if skind in ("impl", "trait") else "function"
            body = node.child_by_field_name("body")
            i = self.add_def(None, name_node, kind, container, node, self.header(node, body), self.doc(node), name)
            self.bind_item(scope, name)
            sc = self.push(stack, "fn", name, scope, node)
            self.params(node, sc)
            ret = node.child_by_field_name("return_type")
            if ret is not None:
                self.deferred_types.append((i, scope, ret))
        elif t in _ITEM_SCOPES:
            body = node.child_by_field_name("body")
            kind = _KINDS[t]
            sig = self.header(node, body if t != "type_item" else None)
            i = self.add_def(None, name_node, kind, container, node, sig, self.doc(node), name)
            self.bind_item(scope, name)
            sc = self.push(stack, "item", name, scope, node)
            if t == "type_item":   # `type Map = BTreeMap<..>`: Map's members are BTreeMap's
                ty = node.child_by_field_name("type")
                if ty is not None:
                    self.deferred_types.append((i, sc, ty))
                    self.type_aliases.append(i)
            elif body is not None:
                self.members(body, sc)
        elif t == "trait_item":
            body = node.child_by_field_name("body")
            self.add_def(None, name_node, "trait", container, node, self.header(node, body), self.doc(node), name)
            self.bind_item(scope, name)
            sc = self.push(stack, "trait", name, scope, node)
            bounds = node.child_by_field_name("bounds")
            if bounds is not None:
                self.pending_bases.append((sc, bounds))
        elif t == "const_item" or t == "static_item" or t == "associated_type":
            i = self.add_def(None, name_node, _KINDS[t], container, node, self.header(node), self.doc(node), name)
            self.bind_item(scope, name)
            ty = node.child_by_field_name("type")
            if ty is not None:
                self.deferred_types.append((i, scope, ty))
        elif t == "mod_item":
            body = node.child_by_field_name("body")
            if body is None:   # `mod x;`: the file x.rs (or x/mod.rs) is module `here.x`
                if scope.kind == "module":
                    target = f"{scope.qual()}.{name}"
                    scope.bind(name, target)
                    self.ref(name_node, target, "name")
                return
            self.add_def(None, name_node, "module", container, node, self.header(node, body),
                         self.inner_doc(body) or self.doc(node), name)
            self.bind_item(scope, name)
            sc = self.push(stack, "module", name, scope, node)
            if scope.kind != "module":
                sc.qual_ = f"{scope.mod.qual()}.{name}"
        elif t == "macro_definition":
            exported = any(a.type == "attribute_item" and b"macro_export" in a.text for a in _attributes(node))
            qual = f"{self.crate_root}.{name}" if exported or scope.kind == "module" else None
            self.add_def(qual, name_node, "macro", scope.mod if qual else scope, node, f"macro_rules! {name}",
                         self.doc(node), name)
            scope.bind(name + "!", qual or f"{scope.qual()}.{name}")
            self.template(node, name)

    def bind_item(self, scope, name):
        if scope.kind in ("module", "fn"):
            scope.bind(name, None)   # None: "an item of this scope", made a qualname on look-up

    def params(self, fn, sc):
        params = fn.child_by_field_name("parameters")
        if params is None:
            return
        for p in params.named_children:
            if p.type == "parameter":
                pat, ty = p.child_by_field_name("pattern"), p.child_by_field_name("type")
                if pat is not None and pat.type == "identifier" and ty is not None:
                    if sc.locals is None:
                        sc.locals = {}
                    sc.locals[pat.text.decode()] = ("type", ty)

    def members(self, body, sc):
        """Fields of a struct/union, variants (and their fields) of an enum."""
        for child in body.named_children:
            t = child.type
            if t == "field_declaration":
                n = child.child_by_field_name("name")
                if n is not None:
                    i = self.add_def(None, n, "field", sc, child, self.header(child), self.doc(child))
                    ty = child.child_by_field_name("type")
                    if ty is not None:
                        self.deferred_types.append((i, sc, ty))
            elif t == "enum_variant":
                n = child.child_by_field_name("name")
                if n is None:
                    continue
                vbody = child.child_by_field_name("body")
                self.add_def(None, n, "enum_member", sc, child,
                             self.header(child, vbody if vbody is not None and vbody.type == "field_declaration_list" else None),
                             self.doc(child))
                if vbody is not None and vbody.type == "field_declaration_list":
                    vsc = _Scope("item", n.text.decode("utf-8", "replace"), sc, child.end_byte)
                    for f in vbody.named_children:
                        fn = f.child_by_field_name("name") if f.type == "field_declaration" else None
                        if fn is not None:
                            self.add_def(None, fn, "field", vsc, f, self.header(f), self.doc(f))

    def template(self, node, name):
        """Items a macro_rules! body declares with a literal name (`pub trait Error ...`)."""
        found = []
        for rule in node.named_children:
            if rule.type != "macro_rule":
                continue
            right = rule.child_by_field_name("right")
            if right is None:
                continue
            found.extend(_token_items(right))
        if found:
            self.templates[name] = found

    def expand(self, name, scope):
        """A module-level invocation of a same-file macro_rules! that declares items: define them here."""
        mq = scope.qual()
        for kind, name_node, sig, doc, members in self.templates.get(name, ()):
            item = name_node.text.decode("utf-8", "replace")
            if (mq, item) in self.expanded:
                continue
            self.expanded.add((mq, item))
            self.add_def(f"{mq}.{item}", name_node, kind, mq, name_node, self.squeeze(sig), doc, item)
            if scope.bindings is None or item not in scope.bindings:
                scope.bind(item, None)
            for m_node, m_sig, m_doc in members:
                m = m_node.text.decode("utf-8", "replace")
                self.add_def(f"{mq}.{item}.{m}", m_node, "method", f"{mq}.{item}", m_node, self.squeeze(m_sig), m_doc, m)

    def squeeze(self, span):
        text = _WS.sub(" ", self.src[span[0]:span[1]].decode("utf-8", "replace")).strip()
        return text[:240] or None

    # ---- use, extern crate --------------------------------------------------------------
    def extern_crate(self, node, scope):
        name = node.child_by_field_name("name")
        if name is None:
            return
        crate = name.text.decode()
        target = self.crate_root if crate == "self" else f"rust:{crate}"
        alias = node.child_by_field_name("alias")
        local = alias.text.decode() if alias is not None else crate
        if crate != "self":
            self.ref(name, target, "import")
            self.facts.imports.add(target)
        if alias is not None and local != "_":
            self.ref(alias, target, "alias")
        if local != "_":
            scope.bind(local, target)
            if scope.kind == "module":
                self.facts.aliases.append((f"{scope.qual()}.{local}", target, 0, node.start_point[0]))

    def use(self, node, scope):
        arg = node.child_by_field_name("argument")
        if arg is not None:
            self.use_tree(arg, None, scope, node.start_point[0])

    def use_tree(self, node, prefix, scope, line):
        t = node.type
        if t == "scoped_use_list":
            path = node.child_by_field_name("path")
            base = self.use_path(path, prefix, scope) if path is not None else (prefix or self.leading(node))
            lst = node.child_by_field_name("list")
            if lst is not None and base is not None:
                for child in lst.named_children:
                    self.use_tree(child, base, scope, line)
        elif t == "use_list":
            for child in node.named_children:
                self.use_tree(child, prefix, scope, line)
        elif t == "use_as_clause":
            path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
            target = self.use_path(path, prefix, scope) if path is not None else None
            if alias is not None and target is not None:
                local = alias.text.decode("utf-8", "replace")
                if local != "_":
                    self.ref(alias, target, "alias")
                    self.bind_use(scope, local, target, line)
        elif t == "use_wildcard":
            path = node.named_children[0] if node.named_child_count else None
            target = self.use_path(path, prefix, scope) if path is not None else prefix
            if target is not None:
                if scope.kind == "module":
                    self.facts.aliases.append((scope.qual(), target, 1, line))
                    scope.stars = True
                else:   # `use self::Kind::*;` in a function: its names, there only
                    scope.bind("*", target if scope.bindings is None or "*" not in scope.bindings else GENERIC)
        elif t == "self":   # `use a::b::{self}`
            if prefix is not None:
                self.bind_use(scope, prefix.rpartition(".")[2], prefix, line)
        else:
            target = self.use_path(node, prefix, scope)
            if target is None:
                return
            last = node.child_by_field_name("name") if t == "scoped_identifier" else node
            if last is None or last.type in ("crate", "super"):
                return
            local = last.text.decode("utf-8", "replace")
            if local == "self":
                local = target.rpartition(".")[2]
            self.bind_use(scope, local, target, line)

    def bind_use(self, scope, local, target, line):
        scope.bind(local, target)
        if scope.kind == "module":
            self.facts.aliases.append((f"{scope.qual()}.{local}", target, 0, line))

    def use_path(self, node, prefix, scope):
        """Target of a path in a use tree (emitting a use for each segment)."""
        t = node.type
        if t in ("identifier", "type_identifier"):
            name = node.text.decode("utf-8", "replace")
            target = _join(prefix, name) if prefix is not None else self.use_first(name, scope)
            if target is not None:
                self.ref(node, target, "import")
            return target
        if t == "scoped_identifier":
            path, name = node.child_by_field_name("path"), node.child_by_field_name("name")
            if path is None:
                base = prefix if prefix is not None else self.leading(node)
            else:
                base = self.use_path(path, prefix, scope)
            if base is None or name is None:
                return None
            if name.type in ("self", "super", "crate"):
                return self.keyword(name.type, scope, base)
            target = _join(base, name.text.decode("utf-8", "replace"))
            if base == "rust:":
                self.facts.imports.add(target)
            self.ref(name, target, "import")
            return target
        if t in ("crate", "self", "super"):
            return self.keyword(t, scope, prefix)
        return None

    def use_first(self, name, scope):
        """First segment of a `use` path: uniform paths (2018+) or crate-relative (2015)."""
        if name in self.externs:
            self.facts.imports.add(f"rust:{name}")
            return f"rust:{name}"
        if self.edition == "2015":
            return f"{self.crate_root}.{name}"
        b = self.lookup(scope, name)
        if b is not None and b is not GENERIC:
            return b
        self.facts.imports.add(f"rust:{name}")
        return f"rust:{name}"

    def leading(self, node):
        """`::name` (or a bare `::{...}`): an extern crate (2018) or the crate root (2015)."""
        if self.edition == "2015":
            name = node.child_by_field_name("name")
            if name is None or name.text.decode() not in self.externs:
                return self.crate_root
        return "rust:"

    def keyword(self, kw, scope, base):
        if kw == "crate":
            return self.crate_root
        if kw == "self":
            return base if base is not None else scope.mod.qual()
        if kw == "super":
            cur = base if base is not None else scope.mod.qual()
            if cur == self.crate_root or "." not in cur:
                return None
            return cur.rpartition(".")[0]
        return None

    # ---- names --------------------------------------------------------------------------
    def lookup(self, scope, name):
        """What a name means in a scope: a qualname, GENERIC, or None (not bound in this module)."""
        s = scope
        glob = None
        while s is not None:
            b = s.bindings
            if b is not None:
                if name in b:
                    v = b[name]
                    if v is None:
                        q = s.qual()
                        return f"{q}.{name}" if q is not None else None
                    return v
                glob = glob or b.get("*")   # a glob import in a function: last resort (two of them: GENERIC)
            g = s.generics
            if g is not None and name in g:
                return GENERIC
            if s.kind == "module":
                break
            s = s.parent
        if glob is not None and glob is not GENERIC and name[:1].isupper() and name not in PRELUDE:
            return f"{glob}.{name}"
        return None

    def bound_of(self, scope, name):
        """(first trait bound node, scope declaring it) of generic parameter `name`."""
        s = scope
        while s is not None:
            g = s.generics
            if g is not None and name in g:
                return g[name], s
            if s.kind == "module":
                break
            s = s.parent
        return None, None

    def self_type(self, scope):
        s = scope
        while s is not None:
            if s.kind in ("impl", "trait"):
                return s.qual()
            if s.kind == "module":
                return None
            s = s.parent
        return None

    def first(self, name, scope, path=True):
        """First segment of a path or a lone name outside `use`: a target, GENERIC, or None."""
        b = self.lookup(scope, name)
        if b is not None:
            return b
        if name == "Self":
            return self.self_type(scope)
        if name in PRELUDE:
            return None
        if name in PRIMITIVES:   # `u64::MAX`: members of primitive types live under `rust:u64`
            return f"rust:{name}"
        if path and name in self.externs:
            self.facts.imports.add(f"rust:{name}")
            return f"rust:{name}"
        if scope.mod.stars:
            return f"{scope.mod.qual()}.{name}"
        if path and name[:1].islower():
            self.facts.imports.add(f"rust:{name}")
            return f"rust:{name}"
        return None

    def path(self, node, scope, emit=True):
        """Target of a path expression or type (`a::b::C`, `Self::X`, `<T as Tr>::f`)."""
        t = node.type
        if t == "identifier" or t == "type_identifier":
            name = node.text.decode("utf-8", "replace")
            target = self.first(name, scope)
            if target is GENERIC:
                return None
            if emit and target is not None:
                self.ref(node, target, "name")
            return target
        if t == "scoped_identifier" or t == "scoped_type_identifier":
            p, n = node.child_by_field_name("path"), node.child_by_field_name("name")
            if n is None:
                return None
            if p is None:
                if self.edition == "2015" and n.text.decode() not in self.externs:
                    base = self.crate_root
                else:
                    base = "rust:"
            else:
                base = self.path(p, scope, emit)
                if base is None and p.type in ("identifier", "type_identifier") and \
                        self.lookup(scope, p.text.decode("utf-8", "replace")) is GENERIC:
                    base = self.type_target(p, scope)   # `D::Error` where `D: Deserializer`: the trait's
            if base is None:
                if emit and p is not None and n.type in ("identifier", "type_identifier"):
                    self.ref(n, None, "attr")
                return None
            if n.type in ("self", "super", "crate"):
                return self.keyword(n.type, scope, base)
            target = _join(base, n.text.decode("utf-8", "replace"))
            if base == "rust:":
                self.facts.imports.add(target)
            if emit:
                self.ref(n, target, "name")
            return target
        if t in ("crate", "self", "super"):
            return self.keyword(t, scope, None)
        if t == "generic_type" or t == "generic_function":
            inner = node.child_by_field_name("type") or node.child_by_field_name("function")
            return self.path(inner, scope, emit) if inner is not None else None
        if t == "bracketed_type":   # <T as Trait>::x resolves through the trait
            q = node.named_children[0] if node.named_child_count else None
            if q is not None and q.type == "qualified_type":
                alias = q.child_by_field_name("alias")
                return self.path(alias, scope, emit) if alias is not None else None
            if q is not None:
                return self.type_target(q, scope)
        return None

    def type_target(self, node, scope, bounds=True):
        """The type a type expression names, for members looked up on its values (no uses emitted);
        a generic parameter stands for its first trait bound unless `bounds` is False."""
        for _ in range(8):
            t = node.type
            if t in ("reference_type", "pointer_type"):
                node = node.child_by_field_name("type")
            elif t == "generic_type":
                base = node.child_by_field_name("type")
                if base is not None and base.text.decode() in _DEREF:
                    args = node.child_by_field_name("type_arguments")
                    inner = [a for a in args.named_children if a.type != "lifetime"] if args is not None else []
                    if inner:
                        node = inner[0]
                        continue
                node = base
            elif t == "type_identifier" or t == "identifier":
                name = node.text.decode("utf-8", "replace")
                if self.lookup(scope, name) is GENERIC:   # `v: V` where `V: Visitor`: the trait's methods
                    if not bounds:
                        return None
                    node, scope = self.bound_of(scope, name)
                    if node is None:
                        return None
                    continue
                return self.path(node, scope, emit=False)
            elif t in ("scoped_type_identifier", "scoped_identifier"):
                return self.path(node, scope, emit=False)
            elif t in ("abstract_type", "dynamic_type"):   # `impl Read`, `dyn Error`
                node = node.child_by_field_name("trait")
            else:
                return None
            if node is None:
                return None
        return None

    # ---- impl blocks -------------------------------------------------------------------
    def impl(self, node, sc):
        ty, trait = node.child_by_field_name("type"), node.child_by_field_name("trait")
        target = self.type_target(ty, sc, bounds=False) if ty is not None else None   # `impl<T: X> Y for T`: not X's
        if target is None and ty is not None:
            inner = ty
            while inner is not None and inner.type in ("reference_type", "pointer_type"):
                inner = inner.child_by_field_name("type")
            inner = inner if inner is not None else ty
            text = _WS.sub("", inner.text.decode("utf-8", "replace")).replace(".", "_")
            if inner.type == "primitive_type":
                target = f"rust:{text}"
            else:
                base = text.split("<", 1)[0]
                target = f"rust:{_STD_TYPES[base]}" if base in _STD_TYPES else f"{sc.mod.qual()}.{text}"
        sc.qual_ = target
        if trait is not None and target is not None:
            tt = self.path(trait, sc.parent, emit=False)
            if tt is not None:
                self.facts.bases.append((target, tt))

    # ---- uses in code ------------------------------------------------------------------
    def scope_at(self, pos):
        i = bisect_right(self.starts, pos) - 1
        s = self.scopes[i]
        while pos >= s.end:
            s = s.parent
        return s

    def refs(self, caps, hard):
        hard.sort()
        hstarts = [h[0] for h in hard]
        hends = [h[1] for h in hard]

        def in_hard(pos):
            i = bisect_right(hstarts, pos) - 1
            return i >= 0 and pos < hends[i]

        # paths outside use trees, attributes and macro bodies; only the outermost of nested ones
        paths = caps.get("path", [])
        paths.sort(key=_start)
        outer = []
        last_start = last_end = -1
        for node in paths:
            s = node.start_byte
            if s < last_end:
                if s == last_start and node.end_byte > last_end:   # the same start: keep the longer one
                    outer[-1] = node
                    last_end = node.end_byte
                continue
            if in_hard(s):
                continue
            outer.append(node)
            last_start, last_end = s, node.end_byte
        for sc in self.scopes:   # in text order: parents first
            sc.env = sc if sc.kind in ("module", "impl", "trait") or sc.generics or sc.bindings else sc.parent.env
        spans = list(hard)
        scope_at = self.scope_at
        out = self.facts.refs
        memo = self.memo
        for node in outer:
            s, e = node.start_byte, node.end_byte
            spans.append((s, e))
            scope = scope_at(s)
            key = (scope.env, self.src[s:e])
            hit = memo.get(key)
            r0, c0 = node.start_point
            if hit is not None:   # the same path in the same scope: the same uses, shifted
                out.extend((r0, c0 + dc, c0 + de, name, target, kind) for dc, de, name, target, kind in hit)
                continue
            n0 = len(out)
            self.path(node, scope)
            if b"\n" not in key[1] and (self.all_ascii or self.col(r0, c0) == c0):
                new = out[n0:]
                if all(x[0] == r0 for x in new):
                    memo[key] = [(x[1] - c0, x[2] - c0, x[3], x[4], x[5]) for x in new]
        spans.extend((n.start_byte, n.end_byte) for n in caps.get("tokens", ()))   # read by tokens()
        spans.sort()
        starts = [h[0] for h in spans]
        ends = [h[1] for h in spans]
        def_names = self.def_names

        # a name bound twice in one scope means its last `let` in the text (captures of a pattern
        # come in no fixed order: sorted, so the answer never depends on the run)
        for node in sorted(caps.get("let", ()), key=_start):
            pat = node.child_by_field_name("pattern")
            if pat is None or pat.type != "identifier":
                continue
            scope = scope_at(node.start_byte)
            if scope.kind == "module":
                continue
            ty = node.child_by_field_name("type")
            if scope.locals is None:
                scope.locals = {}
            scope.locals[pat.text.decode("utf-8", "replace")] = ("type", ty) if ty is not None else \
                ("value", node.child_by_field_name("value"))
        for node in sorted(caps.get("closure", ()), key=_start):
            scope = scope_at(node.start_byte)
            if scope.kind != "module":
                if scope.locals is None:
                    scope.locals = {}
                for p in node.named_children:
                    if p.type == "identifier":
                        scope.locals[p.text.decode()] = ("value", None)
        for sc in self.scopes:   # in text order: parents first
            sc.venv = sc if sc.locals or sc.env is sc else sc.parent.venv

        src = self.src
        ascii_ = self.all_ascii
        col = self.col
        sstarts, scopes = self.starts, self.scopes
        idents = [n for n in caps.get("ident", ()) if 64 < src[n.start_byte] < 91]   # upper-case: consts, variants, unit structs
        calls = [n for n in caps.get("call", ()) if not 64 < src[n.start_byte] < 91]  # `Variant(x)` is among idents
        for kind, nodes in (("type", caps.get("type", ())), ("name", idents), ("call", calls)):
            for node in nodes:
                s = node.start_byte
                if s in def_names:
                    continue
                i = bisect_right(starts, s) - 1
                if i >= 0 and s < ends[i]:
                    continue
                scope = scopes[bisect_right(sstarts, s) - 1]
                while s >= scope.end:
                    scope = scope.parent
                text = node.text
                if kind != "type" and self.is_local(scope, text.decode("utf-8", "replace")):
                    continue
                key = (scope.env, text, kind)
                hit = memo.get(key)
                if hit is None:
                    hit = memo[key] = self.name_use(scope, text.decode("utf-8", "replace"), kind)
                if hit is _NO_USE:
                    continue
                r, c = node.start_point
                if ascii_:
                    out.append((r, c, c + len(text), hit[0], hit[1], kind))
                else:
                    c = col(r, c)
                    out.append((r, c, c + len(hit[0]), hit[0], hit[1], kind))
        for node in caps.get("macro", ()):
            s = node.start_byte
            if in_hard(s):
                continue
            name = node.text.decode("utf-8", "replace")
            scope = scope_at(s)
            if name in self.templates and scope.kind == "module":
                self.expand(name, scope)
            target = self.lookup(scope, name + "!") or self.lookup(scope, name)
            if target is None or target is GENERIC:
                if name in STD_MACROS:
                    continue
                target = f"{self.crate_root}.{name}"
            self.ref(node, target, "macro")
        value_type = self.value_type
        for node in caps.get("field", ()):
            f = node.child_by_field_name("field")
            if f is None or f.type != "field_identifier":
                continue
            s = f.start_byte
            if in_hard(s):
                continue
            scope = scope_at(s)
            v = node.child_by_field_name("value")
            # what a receiver means depends on the locals of every enclosing block and function:
            # keyed by the nearest scope that has any, two functions' `class.push()` never share an answer
            key = (scope.venv, src[v.start_byte:v.end_byte], "value")
            recv = memo.get(key, memo)
            if recv is memo:
                recv = memo[key] = value_type(v, scope, 0)
            text = f.text
            name = text.decode("utf-8", "replace")
            r, c = f.start_point
            if not ascii_:
                c = col(r, c)
            out.append((r, c, c + len(name), name, f"{recv}.{name}" if recv else None, "attr"))
        for node in caps.get("tokens", ()):
            s = node.start_byte
            if in_hard(s):
                continue
            self.tokens(node, scope_at(s), 0)

    def name_use(self, scope, name, kind):
        """(name, target) of a lone identifier used as a type, value or callee; _NO_USE for
        generics, the prelude and unknown callees (never stored). The caller skips locals."""
        target = self.first(name, scope, path=False)
        if target is GENERIC or (target is None and (kind == "call" or name in PRELUDE)):
            return _NO_USE
        return name, target

    def is_local(self, scope, name):
        s = scope
        while s is not None and s.kind != "module":
            if s.locals is not None and name in s.locals:
                return True
            s = s.parent
        return False

    def local(self, scope, name):
        s = scope
        while s is not None and s.kind != "module":
            if s.locals is not None and name in s.locals:
                return s.locals[name], s
            s = s.parent
        return None, None

    def value_type(self, node, scope, depth):
        """The qualname whose members a value has (`self` -> the impl's type), or a call result
        (`Type::new()`) the resolver evaluates; None when not visible in this function."""
        if node is None or depth > 6:
            return None
        t = node.type
        if t == "self":
            return self.self_type(scope)
        if t == "identifier":
            name = node.text.decode("utf-8", "replace")
            entry, where = self.local(scope, name)
            if entry is None:
                target = self.first(name, scope, path=False) if name[:1].isupper() else None
                return target if isinstance(target, str) else None
            kind, n = entry
            if n is None:
                return None
            if kind == "type":
                return self.type_target(n, where)
            return self.value_type(n, where, depth + 1)
        if t == "field_expression":
            base = self.value_type(node.child_by_field_name("value"), scope, depth + 1)
            f = node.child_by_field_name("field")
            return f"{base}.{f.text.decode('utf-8', 'replace')}" if base and f is not None else None
        if t == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is None:
                return None
            if fn.type == "field_expression":
                base = self.value_type(fn, scope, depth + 1)
            elif fn.type in ("scoped_identifier", "identifier", "generic_function"):
                base = self.path(fn, scope, emit=False)
            else:
                return None
            return f"{base}()" if base else None
        if t == "struct_expression":
            n = node.child_by_field_name("name")
            return self.type_target(n, scope) if n is not None else None
        if t in ("reference_expression", "parenthesized_expression", "unary_expression"):
            inner = node.child_by_field_name("value") or (node.named_children[-1] if node.named_child_count else None)
            return self.value_type(inner, scope, depth + 1)
        return None

    # ---- macro arguments: paths in the token stream ----------------------------------------
    def tokens(self, tt, scope, depth):
        """Paths, calls, uppercase names and `x.field` in a macro's argument tokens
        (`tri!(de::Error::custom(x))`, `format!("{}", c.describe())`)."""
        if depth > 16:
            return
        segs = []        # path tokens being read
        lead = False     # the path started with `::`
        prev = None      # previous token type
        value = None     # what the expression just read denotes (a path target or a value type)
        recv = None      # the value before a `.`
        children = tt.children
        n = len(children)
        i = 0
        while i <= n:
            c = children[i] if i < n else None
            t = c.type if c is not None else None
            if t == "::" and (segs or prev not in _NOT_LEADING):
                if not segs:
                    lead = True
                prev = t
                i += 1
                continue
            if t in _PATH_TOKENS and (not segs or prev == "::") and prev != "." and (segs or prev != "::" or lead):
                segs.append(c)
                prev = t
                i += 1
                continue
            if segs:
                value = self.token_path(segs, lead, scope, t)
                segs, lead = [], False
            if c is None:
                break
            if t == "token_tree":
                self.tokens(c, scope, depth + 1)
                value = f"{value}()" if value and prev in ("identifier", "self") and c.text[:1] == b"(" else None
            elif t == ".":
                recv, value = value, None
            elif t == "identifier" and prev == ".":   # `x.f`, `x.m()`
                value = f"{recv}.{c.text.decode('utf-8', 'replace')}" if recv else None
                self.ref(c, value, "attr")
            elif t == "identifier" and prev == "::":  # `<T as Tr>::f`
                self.ref(c, None, "attr")
                value = None
            else:
                value = None
            prev = t
            i += 1

    def token_path(self, segs, lead, scope, after):
        """Uses for one path read from macro tokens; returns what it denotes (for `.` and calls after it)."""
        first = segs[0]
        ft = first.type
        if ft == "primitive_type":
            base = f"rust:{first.text.decode()}"
            ft = None
        elif len(segs) == 1 and not lead:
            if ft == "self":
                return self.self_type(scope)
            if ft != "identifier":
                return None
            name = first.text.decode("utf-8", "replace")
            if after == "!":
                if name in STD_MACROS:
                    return None
                target = self.lookup(scope, name + "!") or self.lookup(scope, name)
                self.ref(first, target if isinstance(target, str) else f"{self.crate_root}.{name}", "macro")
                return None
            entry, where = self.local(scope, name)
            if entry is not None:
                if after != ".":
                    return None
                kind, node = entry
                if node is None:
                    return None
                return self.type_target(node, where) if kind == "type" else self.value_type(node, where, 1)
            if name[:1].isupper() or after == "token_tree":
                target = self.first(name, scope, path=False)
                if target is GENERIC or (target is None and (name in PRELUDE or after == "token_tree")):
                    return None
                self.ref(first, target, "call" if after == "token_tree" else "name")
                return target
            return None
        if ft is None:
            pass
        elif lead:
            name = first.text.decode("utf-8", "replace")
            if self.edition == "2015" and name not in self.externs:
                base = f"{self.crate_root}.{name}"
            else:
                base = f"rust:{name}"
                self.facts.imports.add(base)
            self.ref(first, base, "name")
        elif ft in ("self", "super", "crate"):
            base = self.keyword(ft, scope, None)
        else:   # a local variable never starts a path (`let de = ..; de::Deserialize::deserialize(&mut de)`)
            name = first.text.decode("utf-8", "replace")
            base = self.first(name, scope)
            if base is GENERIC:
                base = None
            if base is not None:
                self.ref(first, base, "name")
        for seg in segs[1:]:
            if seg.type in ("self", "super", "crate"):
                base = self.keyword(seg.type, scope, base) if base is not None else None
                continue
            if base is None:
                self.ref(seg, None, "attr")
                continue
            base = f"{base}.{seg.text.decode('utf-8', 'replace')}"
            self.ref(seg, base, "name")
        return base

    # ---- the end ----------------------------------------------------------------------
    def finish(self):
        for sc, bounds in self.pending_bases:
            for b in bounds.named_children:
                if b.type in ("type_identifier", "scoped_type_identifier", "generic_type"):
                    t = self.path(b, sc.parent, emit=False)
                    if t is not None:
                        self.facts.bases.append((sc.qual(), t))
        defs = self.defs
        for i, scope, node in self.deferred_types:
            t = self.type_target(node, scope)
            if t:
                defs[i][13] = t
        out = self.facts.defs
        for d in defs:
            sc = d[3]
            if isinstance(sc, _Scope):
                q = sc.qual()
                if q is None:
                    continue
                if d[0] is None:
                    d[0] = f"{q}.{d[1]}"
                d[3] = q
            out.append(tuple(d))
        for i in self.type_aliases:
            d = defs[i]
            if d[0] is not None and d[13]:
                self.facts.bases.append((d[0], d[13]))


def _token_items(tt):
    """(kind, name node, signature span, doc, [(fn name node, span, doc)]) for `trait X`, `struct X`,
    `fn x` ... at the top of a macro body, with a trait's `fn` members one level down."""
    out = []
    children = tt.children
    doc_lines = []
    start = None
    for i, c in enumerate(children):
        t = c.type
        if t == "line_comment":
            text = c.text
            if text.startswith(b"///") and not text.startswith(b"////"):
                doc_lines.append(text[3:].decode("utf-8", "replace"))
            continue
        if t == "pub" or t == "visibility_modifier":
            start = c.start_byte
            continue
        kind = _ITEM_KEYWORDS.get(t)
        if kind is not None and i + 1 < len(children) and children[i + 1].type == "identifier":
            name = children[i + 1]
            members, end = [], name.end_byte
            for j in range(i + 2, len(children)):
                cj = children[j]
                if cj.type == ";" or (cj.type == "token_tree" and cj.text[:1] == b"{"):
                    end = cj.start_byte
                    if kind == "trait" and cj.type == "token_tree":
                        members = _token_fns(cj)
                    break
            sig = (start if start is not None else c.start_byte, end)
            out.append((kind, name, sig, _paragraph(doc_lines) if doc_lines else None, members))
        if t != "#" and t != "token_tree" or kind is not None:
            doc_lines = []
        start = None
    return out


def _token_fns(tt):
    """`fn name ...` members in a trait body's tokens: (name node, signature span, doc)."""
    out = []
    children = tt.children
    doc_lines = []
    for i, c in enumerate(children):
        t = c.type
        if t == "line_comment":
            text = c.text
            if text.startswith(b"///") and not text.startswith(b"////"):
                doc_lines.append(text[3:].decode("utf-8", "replace"))
            continue
        if t == "fn" and i + 1 < len(children) and children[i + 1].type == "identifier":
            end = children[i + 1].end_byte
            for j in range(i + 2, len(children)):
                cj = children[j]
                if cj.type == ";" or (cj.type == "token_tree" and cj.text[:1] == b"{"):
                    end = cj.start_byte
                    break
                end = cj.end_byte
            out.append((children[i + 1], (c.start_byte, end), _paragraph(doc_lines) if doc_lines else None))
            doc_lines = []
        elif t != "#" and t != "token_tree":
            doc_lines = []
    return out


_PATH_TOKENS = frozenset({"identifier", "self", "super", "crate", "primitive_type"})
_NOT_LEADING = frozenset({"identifier", "self", "super", "crate", "primitive_type", ">", ")", "]", "metavariable"})


def _start(node):
    return node.start_byte


def _first_bound(bounds):
    """The first trait (a path) in `T: A + B + 'a`, or None."""
    if bounds is None:
        return None
    for b in bounds.named_children:
        if b.type in ("type_identifier", "scoped_type_identifier", "generic_type"):
            return b
    return None


def _join(base: str, name: str) -> str:
    """`rust:` + `serde` (an extern crate) or `rust:serde` + `.` + `de`."""
    return f"{base}{name}" if base.endswith(":") else f"{base}.{name}"


def _attributes(node):
    p = node.prev_sibling
    while p is not None and p.type in ("attribute_item", "line_comment", "block_comment"):
        yield p
        p = p.prev_sibling


def _block_doc(text: bytes) -> list[str]:
    body = text.decode("utf-8", "replace")[3:-2]
    return [ln.strip().lstrip("*") for ln in body.split("\n")]


def _paragraph(lines: list[str]) -> str | None:
    out = []
    for ln in lines:
        s = ln[1:] if ln.startswith(" ") else ln
        if not s.strip():
            if out:
                break
            continue
        out.append(s.rstrip())
    return "\n".join(out) if out else None


parse = parser(LANGUAGE)


def project(root: str, paths: list[str]) -> dict:
    return cargo.project(root, paths)


def module_of(project: dict, path: str) -> tuple[str, bool]:
    return cargo.module_of(project, path)


def extract(src: bytes, unit: Unit) -> FileFacts:
    tree = parse(src)
    if b"cfg_" in src:
        src, tree = _unwrap_cfg_macros(src, tree)
    return _Extractor(src, unit).run(tree)


_CFG_QUERY = Query(LANGUAGE, "(macro_invocation macro: (identifier) @name (token_tree) @body) @call")
_ITEM_PARENTS = frozenset({"source_file", "declaration_list"})


def _unwrap_cfg_macros(src: bytes, tree):
    """tokio and mio gate whole groups of items behind `cfg_net! { pub use ...; pub fn ...; }`: to
    tree-sitter a macro body is tokens, so none of them was defined. A `cfg_*!` macro at item level
    passes its items through unchanged, so its `name! {` and closing `}` are blanked (spaces, lines and
    columns kept) and the file parsed again, the items then in their module or `impl`. Nested ones
    come out on the next pass. Kept only where the file parses no worse."""
    errors = count_errors(tree.root_node)
    for _ in range(4):
        spans = []
        for _, caps in QueryCursor(_CFG_QUERY).matches(tree.root_node):
            call, name, body = caps["call"][0], caps["name"][0], caps["body"][0]
            if (name.text.startswith(b"cfg_") and name.text != b"cfg_if" and body.text[:1] == b"{"
                    and call.parent is not None and call.parent.type in _ITEM_PARENTS):
                spans.append((call.start_byte, body.start_byte + 1))
                spans.append((body.end_byte - 1, body.end_byte))
        if not spans:
            break
        out = bytearray(src)
        for a, b in spans:
            out[a:b] = bytes(32 if c not in (10, 13) else c for c in out[a:b])
        again = parse(bytes(out))
        n = count_errors(again.root_node)
        if n > errors:
            break
        src, tree, errors = bytes(out), again, n
    return src, tree
