"""C#: namespaces, types and members from one file, uses with file-local guesses at their targets.

Identity: the namespace a file declares (block or file-scoped), not its path: `namespace Acme.Http;
class Client { void Send() }` defines `cs:Acme.Http` (namespace), `cs:Acme.Http.Client` and
`cs:Acme.Http.Client.Send`. Nested types nest (`cs:Acme.Http.Client.Options`); constructors are
`cs:Acme.Http.Client.#ctor` (named `Client`: the type name, looked up in a subclass, must find the
type, not its constructor); overloads share one qualname. A file without a namespace declares
into the global namespace (`cs:Client`).

Lookup is left to the resolver, through `aliases` star rows the file states:
  - every namespace sees its parent namespace, the outermost sees the global one (`cs:`);
  - a type sees the scope that declares it (nested types see their outer type's members);
  - `using X.Y;` and `using static X.Y.Z;` make the namespace (or type) visible in the namespace the
    file declares. C# scopes usings to the file; the index approximates them at namespace level,
    so one file's `using` is visible to every file of that namespace (a false positive only when
    two namespaces in scope define the same name). A file without a namespace gives its usings to
    the types it declares (not to the global namespace, which every such file shares).
  - `using A = X.Y.Z;` is resolved in the file (it is not visible elsewhere in C# either).
A simple name's target is its innermost guess (`cs:Ns.Type.Name`); the resolver walks bases, then
those stars outwards. Locals, parameters and type parameters are not stored; their declared type
(or `var x = new T()` / `F()` value) types member accesses on them.
"""
from __future__ import annotations

import html
import os
import re
from operator import attrgetter

import tree_sitter_c_sharp
from tree_sitter import Language, Parser, Query, QueryCursor

from . import FileFacts, Unit
from ._srcpos import Positions, one_line

NAME = "csharp"
EXTENSIONS = (".cs",)
SEARCH_NAMES = ("csharp", "c#", "cs")
PREFIX = "cs:"
FENCE = "csharp"

LANG = Language(tree_sitter_c_sharp.language())
_parser = Parser(LANG)

# Local bindings: names a member body declares (not stored; they shadow members and types).
_QUERY = Query(LANG, """
(identifier) @id
(implicit_parameter) @bind
(variable_declarator name: (identifier) @bind)
(parameter name: (identifier) @bind)
(foreach_statement left: (identifier) @bind)
(catch_declaration name: (identifier) @bind)
(declaration_pattern name: (identifier) @bind)
(declaration_expression name: (identifier) @bind)
(tuple_pattern name: (identifier) @bind)
(from_clause name: (identifier) @bind)
(let_clause (identifier) @bind)
(join_clause (identifier) @bind)
(join_into_clause (identifier) @bind)
(local_function_statement name: (identifier) @bind)
(var_pattern (identifier) @bind)
(parenthesized_variable_designation (identifier) @bind)
""")

_TYPE_KINDS = {
    "class_declaration": "class", "struct_declaration": "struct", "interface_declaration": "interface",
    "enum_declaration": "enum", "record_declaration": "record", "delegate_declaration": "type",
}
_BODY_TYPES = {"declaration_list", "block", "arrow_expression_clause", "accessor_list",
               "enum_member_declaration_list", "parameter_list", ";"}
# contextual keywords the grammar parses as identifiers
_NOT_NAMES = frozenset({"nameof", "var", "dynamic", "_", "value", "global", "unmanaged", "notnull", "args"})
# wrappers whose first type argument is the value that matters (`await` unwraps Task<T>)
_UNWRAP = frozenset({"Task", "ValueTask", "Nullable", "Lazy"})


# ---------------------------------------------------------------------------------- project


def project(root: str, paths: list[str]) -> dict:
    """The .csproj files of the repo: root namespace per project folder (for module_of and `packages`)."""
    projs = sorted(p for p in paths if p.endswith(".csproj"))
    if not projs:
        dirs = {os.path.dirname(p) for p in paths if p.endswith(".cs")}
        seen = set()
        for d in sorted(dirs):
            while d not in seen:
                seen.add(d)
                try:
                    projs.extend(os.path.join(d, n) if d else n for n in os.listdir(os.path.join(root, d))
                                 if n.endswith(".csproj"))
                except OSError:
                    pass
                if not d:
                    break
                d = os.path.dirname(d)
        projs = sorted(set(projs))
    projects = []
    for rel in projs:
        try:
            with open(os.path.join(root, rel), "rb") as f:
                text = f.read(262144).decode("utf-8", "replace")
        except OSError:
            continue
        ns = _xml_value(text, "RootNamespace") or _xml_value(text, "AssemblyName") \
            or os.path.splitext(os.path.basename(rel))[0]
        package = _xml_value(text, "PackageId")
        projects.append((os.path.dirname(rel), ns, package))
    projects.sort(key=lambda p: -len(p[0]))
    packages = list(dict.fromkeys((PREFIX + ns, d, "csproj") for d, ns, _ in projects if "$(" not in ns))
    return {"projects": projects, "packages": packages}


def _xml_value(text: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}>\s*([^<]+?)\s*</{tag}>", text)
    return m.group(1) if m else None


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """A guess from the path (the project's root namespace + folders), since C# namespaces are not
    tied to files; the extractor files every definition under the namespace the file declares."""
    folder = os.path.dirname(path)
    for d, ns, _ in project.get("projects", ()):
        if not d or folder == d or folder.startswith(d + "/"):
            rest = folder[len(d):].strip("/")
            parts = [ns] + [p for p in rest.split("/") if p.isidentifier()] if rest else [ns]
            return PREFIX + ".".join(parts), False
    parts = [p for p in folder.split("/") if p.isidentifier()]
    return PREFIX + ".".join(parts), False


# ---------------------------------------------------------------------------------- extract


class _Scope:
    """A region of the file where names are looked up the same way."""
    __slots__ = ("start", "end", "qual", "type_qual", "ns", "tparams", "locals", "usings")

    def __init__(self, start, end, qual, type_qual, ns, tparams, usings):
        self.start, self.end = start, end
        self.qual = qual              # innermost type (or namespace) qualname: where a simple name is guessed
        self.type_qual = type_qual    # innermost type, for `this`/`base`
        self.ns = ns
        self.tparams = tparams
        self.locals: dict | None = None   # name -> binding node, for member bodies
        self.usings = usings          # file-level `using A = X.Y` -> target


def extract(src: bytes, unit: Unit) -> FileFacts:
    return _Extractor(src).run()


class _Extractor:
    def __init__(self, src: bytes):
        self.src = src
        self.pos = Positions(src)
        self.facts = FileFacts()
        self.scopes: list[_Scope] = []
        self.def_names: set = set()        # start bytes of definition identifiers (not uses)
        self.usings: dict = {}             # alias name -> target
        self.file_stars: list = []         # (target, line) of `using X;` at file level
        self.stars: set = set()
        self.file_namespaces: list = []    # outermost namespaces this file declares
        self.global_types: list = []       # types declared outside any namespace
        self.pending_bases: list = []      # (class qual, base type node, scope): read once scopes exist
        self._memo: dict = {}
        self.value_types: list = []        # (index into defs, type node, scope) resolved after scopes exist

    # ---- definitions --------------------------------------------------------------------
    def add_def(self, qual, name_node, kind, container, node, signature=None, doc=None):
        r, c, ec = self.pos.span(name_node)
        sr, sc = node.start_point
        er, ecol = node.end_point
        self.def_names.add(name_node.start_byte)
        self.facts.defs.append((qual, name_node.text.decode("utf-8", "replace"), kind, container,
                                sr, self.pos.col(sr, sc), er, self.pos.col(er, ecol), r, c, ec, signature, doc, None))
        return len(self.facts.defs) - 1

    def star(self, alias, target, line):
        key = (alias, target)
        if key not in self.stars:
            self.stars.add(key)
            self.facts.aliases.append((alias, target, 1, line))

    def doc(self, node):
        lines = self.pos.comment_block_above(node.start_point[0], b"///")
        return _xml_doc(lines) if lines else None

    def signature(self, node, end_node=None):
        start = node.start_byte
        for ch in node.children:
            if ch.type != "attribute_list":
                start = ch.start_byte
                break
        end = end_node.start_byte if end_node is not None else node.end_byte
        return one_line(self.src[start:end]).rstrip(";= ") or None

    # ---- structure ----------------------------------------------------------------------
    def run(self) -> FileFacts:
        tree = _parser.parse(self.src)
        root = tree.root_node
        if root.has_error:
            self.facts.errors = _count_errors(root)
        top = _Scope(0, len(self.src) + 1, PREFIX, None, "", frozenset(), self.usings)
        self.scopes.append(top)
        self.declarations(root, "", top)
        for target, line in self.file_stars:   # file-level `using X;`: into the namespaces declared here,
            for q in self.file_namespaces or self.global_types:   # else into the file's global types
                self.star(q, target, line)
        for i, type_node, scope in self.value_types:
            t = self.type_target(type_node, scope)
            if t:
                d = self.facts.defs[i]
                self.facts.defs[i] = d[:13] + (t,)
        self.uses(root)
        return self.facts

    def declarations(self, node, ns: str, scope: _Scope):
        """Namespace-level children: usings, namespaces, types."""
        for child in node.named_children:
            t = child.type
            if t == "using_directive":
                self.using(child, ns)
            elif t == "namespace_declaration":
                self.namespace(child, ns, scope, child.child_by_field_name("body"))
            elif t == "file_scoped_namespace_declaration":
                scope = self.namespace(child, ns, scope, None)
                ns = scope.ns
            elif t in _TYPE_KINDS:
                self.type_decl(child, ns, scope, PREFIX + ns if ns else None)
            elif t.startswith("preproc_"):
                self.declarations(child, ns, scope)
            elif t == "ERROR":   # unsafe code the grammar cannot read can swallow a whole `namespace X { ... }`
                kids = child.children
                k = next((i for i, c in enumerate(kids) if c.type == "namespace"), None)
                if k is not None and k + 1 < len(kids) and kids[k + 1].type in ("identifier", "qualified_name"):
                    self.namespace(child, ns, scope, child, kids[k + 1])
                else:
                    self.declarations(child, ns, scope)

    def namespace(self, node, outer_ns: str, outer: _Scope, body, name=None):
        name = name or node.child_by_field_name("name")
        if name is None:
            return outer
        parts = _dotted_parts(name)
        ns = outer_ns
        for part in parts:
            parent = ns
            ns = f"{ns}.{part.text.decode()}" if ns else part.text.decode()
            qual = PREFIX + ns
            self.add_def(qual, part, "namespace", PREFIX + parent if parent else None, node,
                         "namespace " + ns, self.doc(node) if part is parts[-1] else None)
            self.star(qual, PREFIX + parent if parent else PREFIX, node.start_point[0])
        if not outer_ns:
            self.file_namespaces.append(PREFIX + ns)
        start = body.start_byte if body is not None else node.end_byte
        end = body.end_byte if body is not None else outer.end
        scope = _Scope(start, end, PREFIX + ns, None, ns, frozenset(), self.usings)
        self.scopes.append(scope)
        if body is not None:
            self.declarations(body, ns, scope)
        return scope

    def using(self, node, ns: str):
        alias = node.child_by_field_name("name")
        target_node = None   # `using static T;` makes T's members visible: the same star row
        for ch in node.children:
            if ch.is_named and ch.type in ("identifier", "qualified_name", "generic_name", "alias_qualified_name") \
                    and (alias is None or ch.start_byte != alias.start_byte):
                target_node = ch
        if target_node is None:
            return
        target = self.using_refs(target_node)
        if not target:
            return
        line = node.start_point[0]
        top = target.split(".")[0]
        self.facts.imports.add(top)
        self.facts.imports.add(target)
        if alias is not None:
            self.usings[alias.text.decode()] = target
            r, c, ec = self.pos.span(alias)
            self.def_names.add(alias.start_byte)
            self.facts.refs.append((r, c, ec, alias.text.decode(), target, "alias"))
        elif ns:
            self.star(PREFIX + ns, target, line)
        else:
            self.file_stars.append((target, line))

    def using_refs(self, node) -> str | None:
        """Refs for each component of a using's name (kind import); returns its qualname."""
        t = node.type
        if t == "identifier":
            name = node.text.decode()
            q = PREFIX + name
            r, c, ec = self.pos.span(node)
            self.def_names.add(node.start_byte)
            self.facts.refs.append((r, c, ec, name, q, "import"))
            return q
        if t == "qualified_name":
            left = self.using_refs(node.child_by_field_name("qualifier"))
            right = node.child_by_field_name("name")
            if left is None or right is None:
                return None
            if right.type == "generic_name":
                right = right.named_children[0]
            name = right.text.decode()
            q = f"{left}.{name}"
            r, c, ec = self.pos.span(right)
            self.def_names.add(right.start_byte)
            self.facts.refs.append((r, c, ec, name, q, "import"))
            return q
        if t == "generic_name":
            return self.using_refs(node.named_children[0])
        if t == "alias_qualified_name":
            return self.using_refs(node.child_by_field_name("name"))
        return None

    def type_decl(self, node, ns: str, outer: _Scope, container):
        name = node.child_by_field_name("name")
        if name is None:
            return
        kind = _TYPE_KINDS[node.type]
        qual = f"{outer.qual}.{name.text.decode()}" if outer.qual != PREFIX else PREFIX + name.text.decode()
        body = node.child_by_field_name("body")
        tparams = set(outer.tparams)
        header_end = body.start_byte if body is not None else node.end_byte
        for ch in node.named_children:
            if ch.type == "type_parameter_list":
                for tp in ch.named_children:
                    n = tp.child_by_field_name("name")
                    if n is not None:
                        tparams.add(n.text.decode())
                        self.def_names.add(n.start_byte)
        tparams = frozenset(tparams)
        # the header (bases, constraints) is read in the declaring scope, with the type's parameters
        head = _Scope(node.start_byte, header_end, outer.qual, outer.type_qual, ns, tparams, self.usings)
        self.scopes.append(head)
        end_sig = body
        if node.type == "record_declaration" and body is None:
            end_sig = None
        sig = self.signature(node, end_sig if node.type != "delegate_declaration" else None)
        i = self.add_def(qual, name, kind, container, node, sig, self.doc(node))
        if outer.qual == PREFIX:
            self.global_types.append(qual)
        if kind == "type":
            ret = node.child_by_field_name("type")
            if ret is not None:
                self.value_types.append((i, ret, head))
            return
        self.star(qual, outer.qual, node.start_point[0])
        for ch in node.named_children:
            if ch.type == "base_list":
                for b in ch.named_children:
                    if b.type == "primary_constructor_base_type":
                        b = b.child_by_field_name("type")
                    if b is not None:
                        self.pending_bases.append((qual, b, head))
        scope = _Scope(body.start_byte if body is not None else node.end_byte, body.end_byte if body is not None else node.end_byte,
                       qual, qual, ns, tparams, self.usings)
        self.scopes.append(scope)
        if node.type == "record_declaration":
            for ch in node.named_children:
                if ch.type == "parameter_list":
                    for p in ch.named_children:
                        pn = p.child_by_field_name("name")
                        if pn is not None and p.type == "parameter":
                            j = self.add_def(f"{qual}.{pn.text.decode()}", pn, "property", qual, p,
                                             self.signature(p), None)
                            pt = p.child_by_field_name("type")
                            if pt is not None:
                                self.value_types.append((j, pt, scope))
        if body is None:
            return
        if kind == "enum":
            for m in body.named_children:
                if m.type == "enum_member_declaration":
                    mn = m.child_by_field_name("name")
                    if mn is not None:
                        j = self.add_def(f"{qual}.{mn.text.decode()}", mn, "enum_member", qual, m,
                                         self.signature(m), self.doc(m))
                        self.facts.defs[j] = self.facts.defs[j][:13] + (qual,)
            return
        self.members(body, ns, scope, qual)

    def members(self, body, ns, scope, qual):
        for m in body.named_children:
            t = m.type
            if t in _TYPE_KINDS:
                self.type_decl(m, ns, scope, qual)
            elif t in ("method_declaration", "constructor_declaration", "property_declaration",
                       "event_declaration", "indexer_declaration", "operator_declaration",
                       "conversion_operator_declaration", "destructor_declaration"):
                self.member(m, t, ns, scope, qual)
            elif t == "field_declaration" or t == "event_field_declaration":
                self.field(m, t, ns, scope, qual)
            elif t.startswith("preproc_"):
                self.members(m, ns, scope, qual)

    def member(self, m, t, ns, scope, qual):
        name = m.child_by_field_name("name")
        tparams = scope.tparams
        tps = m.child_by_field_name("type_parameters")
        if tps is not None:
            extra = set()
            for tp in tps.named_children:
                n = tp.child_by_field_name("name")
                if n is not None:
                    extra.add(n.text.decode())
                    self.def_names.add(n.start_byte)
            tparams = tparams | extra
        region = _Scope(m.start_byte, m.end_byte, qual, qual, ns, tparams, self.usings)
        region.locals = {"value": None} if t in ("property_declaration", "event_declaration", "indexer_declaration") else {}
        self.scopes.append(region)
        if name is None or t in ("operator_declaration", "conversion_operator_declaration", "destructor_declaration",
                                 "indexer_declaration"):
            return
        if name.type != "identifier":
            return
        body = None
        for ch in m.children:
            if ch.type in ("block", "arrow_expression_clause", "accessor_list") or ch.type == "constructor_initializer":
                body = ch
                break
        kind = {"method_declaration": "method", "constructor_declaration": "constructor",
                "property_declaration": "property", "event_declaration": "property"}[t]
        mname = "#ctor" if kind == "constructor" else name.text.decode()
        i = self.add_def(f"{qual}.{mname}", name, kind, qual, m, self.signature(m, body), self.doc(m))
        typ = m.child_by_field_name("returns") or m.child_by_field_name("type")
        if typ is not None:
            self.value_types.append((i, typ, region))

    def field(self, m, t, ns, scope, qual):
        region = _Scope(m.start_byte, m.end_byte, qual, qual, ns, scope.tparams, self.usings)
        region.locals = {}
        self.scopes.append(region)
        const = any(ch.type == "modifier" and ch.text == b"const" for ch in m.children)
        decl = next((ch for ch in m.named_children if ch.type == "variable_declaration"), None)
        if decl is None:
            return
        typ = decl.child_by_field_name("type")
        doc = self.doc(m)
        for v in decl.named_children:
            if v.type != "variable_declarator":
                continue
            n = v.child_by_field_name("name")
            if n is None or n.type != "identifier":
                continue
            sig = self.signature_from(m, n)
            i = self.add_def(f"{qual}.{n.text.decode()}", n, "constant" if const else "field", qual, m, sig, doc)
            if typ is not None:
                self.value_types.append((i, typ, region))

    def signature_from(self, m, name):
        start = m.start_byte
        for ch in m.children:
            if ch.type != "attribute_list":
                start = ch.start_byte
                break
        return one_line(self.src[start:name.end_byte])

    # ---- uses -----------------------------------------------------------------------------
    def uses(self, root):
        caps = QueryCursor(_QUERY).captures(root)
        scopes = sorted(self.scopes, key=lambda s: (s.start, -s.end))
        binds = sorted(caps.get("bind", ()), key=_start)   # captures() is not in document order
        bound = set()
        # bindings first: a member body's locals, whatever their position in it
        for node, scope in self._sweep(binds, scopes):
            bound.add(node.start_byte)
            if scope.locals is not None:
                name = node.text.decode("utf-8", "replace")
                if name not in scope.locals:
                    scope.locals[name] = node
        # bases now that scopes exist
        for qual, b, head in self.pending_bases:
            t = self.type_target(b, head)
            if t:
                self.facts.bases.append((qual, t))
        refs = self.facts.refs
        def_names = self.def_names
        for node, scope in self._sweep(sorted(caps.get("id", ()), key=_start), scopes):
            sb = node.start_byte
            if sb in def_names or sb in bound:
                continue
            self.use(node, scope, refs)

    @staticmethod
    def _sweep(nodes, scopes):
        """(node, innermost scope holding it) for nodes in document order."""
        stack = []
        i, n = 0, len(scopes)
        for node in nodes:
            p = node.start_byte
            while i < n and scopes[i].start <= p:
                s = scopes[i]
                while stack and stack[-1].end <= s.start:
                    stack.pop()
                stack.append(s)
                i += 1
            while len(stack) > 1 and stack[-1].end <= p:
                stack.pop()
            yield node, stack[-1]

    def use(self, node, scope, refs):
        parent = node.parent
        pt = parent.type
        target_node = node
        if pt == "generic_name":
            target_node = parent
            parent = parent.parent
            pt = parent.type
        kind = "name"
        if pt == "member_access_expression" or pt == "qualified_name":
            recv = parent.child_by_field_name("expression" if pt == "member_access_expression" else "qualifier")
            if recv is not None and recv.start_byte != target_node.start_byte:   # the member, not the receiver
                base = self.value(recv, scope) if pt == "member_access_expression" else self.type_target(recv, scope)
                name = node.text.decode("utf-8", "replace")
                r, c, ec = self.pos.span(node)
                refs.append((r, c, ec, name, f"{base}.{name}" if base else None, "attr"))
                return
        elif pt == "member_binding_expression":
            cond = parent.parent
            recv = cond.child_by_field_name("condition") if cond is not None and cond.type == "conditional_access_expression" else None
            base = self.value(recv, scope) if recv is not None else None
            name = node.text.decode("utf-8", "replace")
            r, c, ec = self.pos.span(node)
            refs.append((r, c, ec, name, f"{base}.{name}" if base else None, "attr"))
            return
        elif pt == "alias_qualified_name":
            if parent.child_by_field_name("alias") == node:
                return
            name = node.text.decode("utf-8", "replace")
            r, c, ec = self.pos.span(node)
            refs.append((r, c, ec, name, PREFIX + name, "name"))
            return
        elif pt == "argument" or pt == "attribute_argument" or pt == "labeled_statement" or pt == "goto_statement":
            if parent.child_by_field_name("name") == node or pt in ("labeled_statement", "goto_statement"):
                return
        elif pt == "assignment_expression" and parent.parent is not None and parent.parent.type == "initializer_expression":
            if parent.child_by_field_name("left") == node:
                creation = parent.parent.parent
                base = None
                if creation is not None and creation.type == "object_creation_expression":
                    base = self.type_target(creation.child_by_field_name("type"), scope)
                name = node.text.decode("utf-8", "replace")
                r, c, ec = self.pos.span(node)
                refs.append((r, c, ec, name, f"{base}.{name}" if base else None, "attr"))
                return
        elif pt == "attribute":
            name = node.text.decode("utf-8", "replace")
            full = name if name.endswith("Attribute") else name + "Attribute"
            base = self.simple(full, scope)
            r, c, ec = self.pos.span(node)
            refs.append((r, c, ec, name, base, "type"))
            return
        name = node.text.decode("utf-8", "replace")
        if name in _NOT_NAMES and (name != "value" or scope.locals is not None):
            return
        if scope.locals is not None and name in scope.locals:
            return
        if name in scope.tparams:
            return
        target = self.simple(name, scope)
        r, c, ec = self.pos.span(node)
        refs.append((r, c, ec, name, target, kind))

    # ---- targets ----------------------------------------------------------------------------
    def simple(self, name, scope):
        """The innermost guess for a simple name used in `scope`."""
        t = scope.usings.get(name)
        if t is not None:
            return t
        q = scope.qual
        return f"{q}.{name}" if q != PREFIX else PREFIX + name

    def value(self, node, scope):
        """The file-local target of an expression's value (what a member access is on)."""
        key = (node.start_byte, node.end_byte, node.type)
        memo = self._memo
        if key in memo:
            return memo[key]
        memo[key] = None
        r = self._value(node, scope)
        memo[key] = r
        return r

    def _value(self, node, scope):
        t = node.type
        if t == "identifier":
            name = node.text.decode("utf-8", "replace")
            if scope.locals is not None and name in scope.locals:
                b = scope.locals[name]
                return self.local_type(b, scope) if b is not None else None
            if name in scope.tparams or name in _NOT_NAMES:
                return None
            return self.simple(name, scope)
        if t == "generic_name":
            return self._value(node.named_children[0], scope)
        if t == "member_access_expression":
            recv = node.child_by_field_name("expression")
            name = node.child_by_field_name("name")
            if recv is None or name is None:
                return None
            if name.type == "generic_name":
                name = name.named_children[0]
            base = self.value(recv, scope)
            return f"{base}.{name.text.decode()}" if base else None
        if t == "this" or t == "base":
            return scope.type_qual
        if t == "invocation_expression":
            f = node.child_by_field_name("function")
            base = self.value(f, scope) if f is not None else None
            return base + "()" if base else None
        if t == "object_creation_expression":
            ty = self.type_target(node.child_by_field_name("type"), scope)
            return ty + "()" if ty else None
        if t == "cast_expression" or t == "as_expression":
            ty = self.type_target(node.child_by_field_name("type") or node.child_by_field_name("right"), scope)
            return ty + "()" if ty else None
        if t == "parenthesized_expression" or t == "await_expression" or t == "checked_expression":
            inner = node.named_children
            return self.value(inner[-1], scope) if inner else None
        if t == "qualified_name" or t == "alias_qualified_name":
            return self.type_target(node, scope)
        return None

    def local_type(self, b, scope):
        """The value type of a local binding: its declared type, or the value `var` stands for."""
        p = b.parent
        if p is None:
            return None
        pt = p.type
        if pt == "variable_declarator":
            decl = p.parent
            ty = decl.child_by_field_name("type") if decl is not None and decl.type == "variable_declaration" else None
            if ty is not None and ty.type != "implicit_type":
                t = self.type_target(ty, scope)
                return t + "()" if t else None
            named = p.named_children
            if len(named) >= 2 and named[-1].start_byte > b.start_byte:
                return self.value(named[-1], scope)
            return None
        if pt in ("parameter", "catch_declaration", "declaration_pattern", "declaration_expression", "foreach_statement"):
            ty = p.child_by_field_name("type")
            if ty is not None and ty.type != "implicit_type":
                t = self.type_target(ty, scope)
                return t + "()" if t else None
        return None

    def type_target(self, node, scope):
        """The file-local target of a type expression (`Acme.Http.Client`, `List<T>` -> List, `T?`)."""
        if node is None:
            return None
        t = node.type
        if t == "identifier":
            name = node.text.decode("utf-8", "replace")
            if name in scope.tparams or name in _NOT_NAMES:
                return None
            return self.simple(name, scope)
        if t == "generic_name":
            ident = node.named_children[0]
            if ident.text.decode() in _UNWRAP:
                args = node.named_children[1].named_children if len(node.named_children) > 1 else ()
                return self.type_target(args[0], scope) if args else None
            return self.type_target(ident, scope)
        if t == "qualified_name":
            left = self.type_target(node.child_by_field_name("qualifier"), scope)
            right = node.child_by_field_name("name")
            if not left or right is None:
                return None
            if right.type == "generic_name":
                right = right.named_children[0]
            return f"{left}.{right.text.decode()}"
        if t == "nullable_type":
            return self.type_target(node.named_children[0], scope) if node.named_children else None
        if t == "alias_qualified_name":
            n = node.child_by_field_name("name")
            return PREFIX + n.text.decode() if n is not None else None
        return None


_start = attrgetter("start_byte")


def _dotted_parts(node) -> list:
    """Identifiers of a namespace name, left to right."""
    if node.type == "identifier":
        return [node]
    if node.type == "qualified_name":
        q, n = node.child_by_field_name("qualifier"), node.child_by_field_name("name")
        return (_dotted_parts(q) if q is not None else []) + ([n] if n is not None else [])
    return []


_TAG = re.compile(r"<(see|seealso|paramref|typeparamref)\b[^>]*?\b(?:cref|name|langword|href)\s*=\s*\"(?:[A-Z]:)?([^\"]*)\"[^>]*?/?>|<[^>]+>")


def _xml_doc(lines: list[str]) -> str | None:
    """The <summary> of a `///` XML doc comment as plain text (references kept as their names)."""
    text = "\n".join(lines)
    m = re.search(r"<summary>(.*?)</summary>", text, re.S)
    if m:
        text = m.group(1)
    elif "<" in text:
        m = re.search(r"<remarks>(.*?)</remarks>", text, re.S)
        text = m.group(1) if m else re.sub(r"<(param|typeparam|returns|exception)\b.*?</\1>", "", text, flags=re.S)
    text = _TAG.sub(lambda m: m.group(2) or "", text)
    text = html.unescape(" ".join(text.split()))
    return text or None


def _count_errors(node) -> int:
    n = 0
    stack = [node]
    while stack:
        x = stack.pop()
        if x.type == "ERROR" or x.is_missing:
            n += 1
            continue
        if x.has_error:
            stack.extend(x.children)
    return n
