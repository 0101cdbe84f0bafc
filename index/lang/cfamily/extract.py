"""One C or C++ file -> definitions, references, aliases, bases and includes (tree-sitter, no
preprocessing beyond blanking decorator macros: cfamily/macros.py).

Identity (docs/architecture.md, "C and C++"): a program has one linkage namespace, so C and C++
share the prefix `c:`. Functions, globals, types, macros and enum constants are `c:name`; struct and
class members `c:Struct.field`; C++ namespaces and classes nest with dots (`c:ns.Class.method`;
out-of-line `void ns::Class::m()` is the same name). File-local things (`static` in a .c/.cpp file,
C++ anonymous namespaces) live under the file's module `c:<repo>/<path>`, so two files' `static int
helper()` never collide. A declaration without a body (a prototype, an in-class method declaration,
a renaming macro) is stored with its full range equal to its name range: the server ranks such
definitions after those with a body (server/query.py `defs`).

References are file-local guesses like Python's: an unqualified name is the definition this file
has in an enclosing scope, else (C) `c:name`, else (C++) `<innermost scope>.name`, which the
resolver walks outwards through star aliases that every namespace and class adds to its enclosing
scope (the global scope is the bare prefix `c:`). `p->f` is `c:T.f` when `p`'s declared type `T`
is known in the function; typedefs and fields carry their type so the resolver follows them.
"""
from __future__ import annotations

import os
import re
from bisect import bisect_right

from tree_sitter import Language, Parser, Query, QueryCursor

from .. import FileFacts, Unit
from ..source import Positions, count_errors, first_paragraph
from . import macros as cmacros

PREFIX = "c:"
HEADER_EXTS = (".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".tcc", ".h++")

_SPECIFIERS = {"struct_specifier": "struct", "union_specifier": "union", "enum_specifier": "enum",
               "class_specifier": "class"}
_TRANSPARENT = {"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef",
                "ERROR", "declaration_list", "linkage_specification", "template_declaration", "export_declaration"}
_DECLARATOR_WRAPPERS = {"pointer_declarator", "array_declarator", "parenthesized_declarator", "init_declarator",
                        "attributed_declarator", "reference_declarator", "abstract_pointer_declarator"}
_NAME_TYPES = {"identifier", "field_identifier", "type_identifier", "destructor_name", "operator_name",
               "qualified_identifier", "template_function", "template_method", "namespace_identifier",
               "operator_cast", "structured_binding_declarator"}
_WS = re.compile(r"\s+")

_REF_PATTERNS = """
(identifier) @id
(type_identifier) @type
(field_expression field: (field_identifier) @fld)
(field_designator (field_identifier) @desig)
(call_expression function: (identifier) @call)
(preproc_include path: (_) @include)
(init_declarator declarator: (identifier) @decl)
(declaration declarator: (identifier) @decl)
(pointer_declarator declarator: (identifier) @decl)
(array_declarator declarator: (identifier) @decl)
(parenthesized_declarator (identifier) @decl)
(attributed_declarator (identifier) @decl)
(parameter_declaration declarator: (identifier) @decl)
(function_declarator declarator: (identifier) @decl)
(preproc_params (identifier) @decl)
(preproc_def name: (identifier) @decl)
(preproc_function_def name: (identifier) @decl)
(enumerator name: (identifier) @decl)
"""
_CPP_PATTERNS = """
(qualified_identifier) @qual
(namespace_identifier) @nsid
(reference_declarator (identifier) @decl)
(optional_parameter_declaration declarator: (identifier) @decl)
(variadic_declarator (identifier) @decl)
(for_range_loop declarator: (identifier) @decl)
(lambda_capture_specifier (identifier) @decl)
(structured_binding_declarator (identifier) @decl)
(catch_clause parameters: (parameter_list (parameter_declaration declarator: (identifier) @decl)))
(template_parameter_list (type_parameter_declaration (type_identifier) @tparam))
(template_parameter_list (parameter_declaration declarator: (identifier) @decl))
(field_initializer (field_identifier) @init)
"""


class Grammar:
    """A parser and the reference query for one of the two grammars (built once per process)."""

    def __init__(self, language, cpp: bool):
        self.language = Language(language)
        self.parser = Parser(self.language)
        self.cpp = cpp
        self.refs = Query(self.language, _REF_PATTERNS + (_CPP_PATTERNS if cpp else ""))


_grammars: dict = {}


def grammar(cpp: bool) -> Grammar:
    g = _grammars.get(cpp)
    if g is None:
        if cpp:
            import tree_sitter_cpp as ts
        else:
            import tree_sitter_c as ts
        g = _grammars[cpp] = Grammar(ts.language(), cpp)
    return g


_CPP_SYNTAX = re.compile(rb"^[ \t]*(?:template[ \t]*<|namespace(?:[ \t]+[\w:]+)?[ \t]*\{|class[ \t]+\w+[^;(\n]*\{"
                         rb"|(?:public|private|protected)[ \t]*:|using[ \t]+namespace\b|extern[ \t]+\"C\+\+\")"
                         rb"|\w::~?\w+[ \t]*\(", re.M)


def header_is_cpp(src: bytes, project: dict) -> bool:
    """A `.h` file is parsed as C++ when it uses C++-only syntax (class bodies, namespaces,
    templates, access specifiers, `A::b(`), or when its repo has C++ sources and no C sources."""
    if project.get("cpp_only"):
        return True
    return _CPP_SYNTAX.search(src) is not None


_blankers: dict = {}


def blanker_for(project: dict):
    macros = project.get("macros") or {}
    key = (tuple(macros.get("decorators", ())), tuple(macros.get("identity", ())), tuple(sorted((macros.get("definers") or {}).items())),
           tuple(sorted((macros.get("namespaces") or {}).items())))
    b = _blankers.get(key)
    if b is None:
        if not macros:
            m = cmacros.repo_decorators({}, {})
            key2 = (tuple(m["decorators"]), tuple(m["identity"]))
            b = _blankers.get(key2) or cmacros.blanker(m["decorators"], m["identity"])
        else:
            b = cmacros.blanker(macros["decorators"], macros["identity"], macros.get("definers"), macros.get("namespaces"))
        if len(_blankers) > 64:
            _blankers.clear()
        _blankers[key] = b
    return b


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """The file's module: `c:<repo>/<path>` (a container only: C symbols are global)."""
    repo = project.get("repo")
    return (f"{PREFIX}{repo}/{path}" if repo else f"{PREFIX}{path}"), False


def extract(src: bytes, unit: Unit, cpp: bool) -> FileFacts:
    project = unit.project or {}
    if not cpp and unit.path.endswith(".h") and header_is_cpp(src, project):
        cpp = True
    text = blanker_for(project)(src)
    g = grammar(cpp)
    tree = g.parser.parse(text)
    return _Extractor(src, unit, g, project, text).run(tree)


class _Span:
    """A name range that is no tree-sitter node: the macro that opened a namespace."""
    __slots__ = ("start_point", "end_point")

    def __init__(self, start_point, end_point):
        self.start_point, self.end_point = start_point, end_point


def _macro_span(src: bytes, node) -> _Span:
    """The identifier in the original text where a respelled namespace macro starts (`FMT_BEGIN_NAMESPACE`)."""
    start, (row, col) = node.start_byte, node.start_point
    end = start
    while end < len(src) and (src[end] == 95 or chr(src[end]).isalnum()):
        end += 1
    return _Span((row, col), (row, col + end - start))


class _Extractor:
    def __init__(self, src: bytes, unit: Unit, g: Grammar, project: dict, parsed: bytes):
        self.src = src
        self.parsed = parsed       # what the parser saw: decorators blanked (signatures read it)
        self.unit = unit
        self.g = g
        self.cpp = g.cpp
        self.project = project
        self.module = unit.module
        self.header = unit.path.endswith(HEADER_EXTS)
        self.static_macros = set((project.get("macros") or {}).get("static", ()))
        self.facts = FileFacts()
        self.pos = Positions(src)
        self.col = self.pos.col
        self.ascii = self.pos.all_ascii
        self.funcs: list = []          # (start_byte, end_byte, scope qualname, class qualname|None)
        self.local_defs: dict = {}     # (scope, name) -> qualname, for this file's own definitions
        self.types: dict = {}          # global variable name -> type target
        self.scope_kind: dict = {PREFIX: "global"}
        self.stars: set = set()
        self.file_using = False        # a `using namespace` at file scope

    def text(self, node) -> str:
        return self.src[node.start_byte:node.end_byte].decode("utf-8", "replace")

    # ---- definitions -----------------------------------------------------------------------
    def run(self, tree) -> FileFacts:
        root = tree.root_node
        f = self.facts
        f.defs.append((self.module, self.module.rpartition("/")[2], "module", None, 0, 0, root.end_point[0], 0,
                       0, 0, 0, None, None, None))
        self._header_aliases()
        self.walk(root, PREFIX, None)
        if self.cpp:
            if self.file_using:
                self.stars.add((self.module, PREFIX))
            for alias, target in sorted(self.stars):
                f.aliases.append((alias, target, 1, 0))
        self.funcs.sort()
        self.refs(root)
        f.errors = count_errors(root)
        return f

    def _header_aliases(self):
        """A header is reachable as `c:<path below an include root>` (`#include <png.h>`)."""
        if not self.header:
            return
        path = self.unit.path
        seen = set()
        for r in self.project.get("include_roots") or ("",):
            if r and not path.startswith(r + "/"):
                continue
            rel = path[len(r) + 1:] if r else path
            if rel not in seen:
                seen.add(rel)
                self.facts.aliases.append((PREFIX + rel, self.module, 0, 0))

    def qual(self, scope: str, name: str) -> str:
        return scope + name if scope == PREFIX else f"{scope}.{name}"

    def add_def(self, qual, name, kind, container, node, name_node, sig=None, doc=None, typ=None, decl=False):
        sp, ep = node.start_point, node.end_point
        nl, nc = name_node.start_point
        nec = self.col(nl, name_node.end_point[1]) if name_node.end_point[0] == nl else self.col(nl, nc) + len(name)
        ncol = self.col(nl, nc)
        if decl:   # no body: the full range is the name, which ranks it after the definitions
            line, col, end_line, end_col = nl, ncol, nl, nec
        else:
            line, col, end_line, end_col = sp[0], self.col(sp[0], sp[1]), ep[0], self.col(ep[0], ep[1])
        self.facts.defs.append((qual, name, kind, container, line, col, end_line, end_col, nl, ncol, nec,
                                sig, doc if doc is not None else self.doc(node), typ))

    def file_local(self, node) -> bool:
        """`static` at file scope of a source file (headers' statics are everyone's)."""
        if self.header:
            return False
        for c in node.children:
            if c.type == "storage_class_specifier" and c.text == b"static":
                return True
            if c.type in ("function_declarator", "init_declarator", "identifier", "pointer_declarator", "compound_statement"):
                break
        if self.static_macros:   # zlib's `local` (`#define local static`), blanked before parsing
            start = self.src.rfind(b"\n", 0, node.start_byte) + 1
            head = self.src[start:min(node.end_byte, node.start_byte + 200)].split(b"(", 1)[0]
            return any(w.decode() in self.static_macros for w in re.findall(rb"[A-Za-z_]\w*", head))
        return False

    def walk(self, node, scope: str, cls: str | None, local_scope: str | None = None):
        """Definitions among `node`'s children at namespace/class/file scope."""
        for child in node.children:
            t = child.type
            if t == "function_definition":
                self.function(child, scope, cls, local_scope)
            elif t in ("declaration", "field_declaration"):
                self.declaration(child, scope, cls, local_scope)
            elif t == "type_definition":
                self.typedef(child, scope, cls, local_scope)
            elif t in _SPECIFIERS:
                self.specifier(child, scope, cls, local_scope)
            elif t in ("preproc_def", "preproc_function_def"):
                self.macro(child)
            elif t == "namespace_definition":
                self.namespace(child, scope, local_scope)
            elif t == "alias_declaration":
                n = child.child_by_field_name("name")
                if n is not None:
                    name = self.text(n)
                    q = self.qual(local_scope or scope, name)
                    self.local_defs[(scope, name)] = q
                    self.add_def(q, name, "type", scope, child, n, self.sig(child), typ=self.type_target(child.child_by_field_name("type"), scope))
            elif t == "using_declaration":
                self.using(child, scope, local_scope)
            elif t == "namespace_alias_definition":
                n = child.child_by_field_name("name")
                target = [c for c in child.children if c.type in ("nested_namespace_specifier", "namespace_identifier", "qualified_identifier")]
                if n is not None and len(target) > 1:
                    q = self.scoped_name(scope, local_scope, self.text(n))
                    path = self.text(target[-1]).replace("::", ".").replace(" ", "")
                    self.facts.aliases.append((q, self.lookup_path(path.lstrip("."), scope, absolute=path.startswith(".")), 0, n.start_point[0]))
                    self.local_defs[(scope, self.text(n))] = q
            elif t in _TRANSPARENT or t == "field_declaration_list":
                self.walk(child, scope, cls, local_scope)

    def namespace(self, node, scope, local_scope):
        n = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if n is None:   # anonymous: file-local
            if body is not None:
                self.walk(body, scope, None, self.module if scope == PREFIX else (local_scope or scope))
            return
        if node.children and node.children[0].type == "inline":
            # `inline namespace v9 {}`: its names are the enclosing namespace's (`fmt::format`)
            if body is not None:
                self.walk(body, scope, None, local_scope)
            return
        # names as the parser saw them: a namespace macro (`FMT_BEGIN_NAMESPACE`) was replaced by the
        # namespace it opens, and the namespace is defined at the macro (`_macro_span`)
        def parsed(x):
            return self.parsed[x.start_byte:x.end_byte].decode("utf-8", "replace")
        parts = [parsed(x) for x in n.children if x.type == "namespace_identifier"] if n.type == "nested_namespace_specifier" else [parsed(n)]
        macro = self.parsed[n.start_byte:n.end_byte] != self.src[n.start_byte:n.end_byte]
        outer = scope
        for i, part in enumerate(parts):
            q = self.qual(outer, part)
            if q not in self.scope_kind:
                name_node = n if len(parts) == 1 else n.children[2 * i] if 2 * i < n.child_count else n
                self.add_def(q, part, "namespace", outer if outer != PREFIX else self.module, node,
                             _macro_span(self.src, node) if macro else name_node, self.sig(node))
            self.scope_kind[q] = "namespace"
            self.stars.add((q, outer))
            self.local_defs[(outer, part)] = q
            outer = q
        if body is not None:
            self.walk(body, outer, None, None)

    def using(self, node, scope, local_scope):
        is_ns = any(c.type == "namespace" for c in node.children)
        target = next((c for c in node.children if c.is_named and c.type not in ("comment",)), None)
        if target is None:
            return
        path = self.text(target).replace("::", ".").replace(" ", "")
        full = self.lookup_path(path.lstrip("."), scope, absolute=path.startswith("."))
        if is_ns:
            if scope == PREFIX:
                self.file_using = True
                self.stars.add((self.module, full))
            else:
                self.stars.add((scope, full))
        else:
            name = path.rpartition(".")[2]
            q = self.scoped_name(scope, local_scope, name)
            self.facts.aliases.append((q, full, 0, node.start_point[0]))
            self.local_defs[(scope, name)] = q

    def scoped_name(self, scope, local_scope, name):
        """Where a `using`/alias at this scope puts its name: at file scope, the file's module (an
        alias row is global, and `using ns::f;` in one .cpp file must not rename `f` for everyone)."""
        if local_scope:
            return f"{local_scope}.{name}"
        return f"{self.module}.{name}" if scope == PREFIX else f"{scope}.{name}"

    def declarator_name(self, d):
        """(name node, function_declarator|None) at the core of a declarator."""
        func = None
        while d is not None:
            t = d.type
            if t == "function_declarator":
                if func is not None:
                    wrapped = _macro_wrapped_name(d)
                    if wrapped is not None:
                        return wrapped, func
                func = func or d
                d = d.child_by_field_name("declarator")
            elif func is not None and t in ("pointer_declarator", "reference_declarator"):
                return self.declarator_name(d)[0], None     # `int (*cb)(int)`: a pointer, not a function
            elif t in _DECLARATOR_WRAPPERS:
                nd = d.child_by_field_name("declarator")
                if nd is None:
                    nd = next((c for c in d.children if c.is_named and c.type not in ("type_qualifier", "attribute_specifier", "ms_pointer_modifier", "comment")), None)
                d = nd
            elif t in _NAME_TYPES:
                return d, func
            else:
                return None, func
        return None, func

    def name_parts(self, n):
        """`A::B::m` -> (["A", "B"], "m", name node); a plain name -> ([], name, node)."""
        scopes = []
        while n is not None and n.type == "qualified_identifier":
            s = n.child_by_field_name("scope")
            if s is not None:
                if s.type == "template_type":
                    s = s.child_by_field_name("name") or s
                scopes.append(self.text(s))
            n = n.child_by_field_name("name")
        if n is None:
            return scopes, None, None
        if n.type in ("template_function", "template_method", "template_type"):
            n = n.child_by_field_name("name") or n
        return scopes, self.text(n), n

    def function(self, node, scope, cls, local_scope, decl_node=None):
        d = node.child_by_field_name("declarator")
        name_node, fdecl = self.declarator_name(d)
        if name_node is None:
            return
        scopes, name, nn = self.name_parts(name_node)
        if name is None:
            return
        body = node.child_by_field_name("body")
        local = scope == PREFIX and not scopes and self.file_local(node)
        if scopes:
            owner = self.scope_path(scopes, scope)
            q = f"{owner}.{name}"
            kind = "method" if self.scope_kind.get(owner) != "namespace" else "function"
            container = owner
        elif local or local_scope:
            owner = local_scope or self.module
            q = self.qual(owner, name) if owner != self.module else f"{self.module}.{name}"
            kind = "method" if cls else "function"
            container = owner
            self.local_defs[(scope, name)] = q
        else:
            q = self.qual(scope, name)
            kind = "method" if cls else "function"
            container = scope if scope != PREFIX else self.module
            if not (cls and name == cls.rpartition(".")[2].rpartition(":")[2]):   # constructors are not looked up by name
                self.local_defs.setdefault((scope, name), q)
        owner_cls = container if scopes and kind == "method" else cls
        if kind == "method" and owner_cls and name == owner_cls.rpartition(".")[2].rpartition(":")[2]:
            kind = "constructor"
        typ = self.type_target(node.child_by_field_name("type"), scope)
        self.add_def(q, name, kind, container, node, nn, self.sig(node, body), typ=typ, decl=body is None)
        if body is not None:   # names in the body are looked up from the lexical scope (the class for A::m)
            self.funcs.append((node.start_byte, node.end_byte, container if scopes else scope, owner_cls))

    def scope_path(self, scopes, scope):
        """The qualified name of `A::B` written in `scope`, for a definition (`void A::B::m() {}`)."""
        return self.lookup_path(".".join(scopes), scope, for_def=True)

    def lookup_path(self, path: str, scope: str, absolute: bool = False, for_def: bool = False) -> str:
        """`a.b` named in `scope`: this file's own definition of `a` in an enclosing scope, else
        (C) global, (C++) a definition's enclosing scope or a use's lookup chain (`name_target`)."""
        first, _, rest = path.partition(".")
        if not absolute:
            s = scope
            while True:
                q = self.local_defs.get((s, first))
                if q is not None:
                    return f"{q}.{rest}" if rest else q
                if s == PREFIX:
                    break
                s = s.rpartition(".")[0] or PREFIX
        if self.cpp and not absolute:
            if for_def:
                return self.qual(scope, path)
            base = self.name_target(first, scope)     # C++: the resolver walks outwards (stars)
            return f"{base}.{rest}" if rest else base
        return PREFIX + path

    def declaration(self, node, scope, cls, local_scope):
        tnode = node.child_by_field_name("type")
        if tnode is not None and tnode.type in _SPECIFIERS:
            self.specifier(tnode, scope, cls, local_scope)
        decls = node.children_by_field_name("declarator")
        typ = self.type_target(tnode, scope)
        for d in decls:
            name_node, fdecl = self.declarator_name(d)
            if name_node is None:
                continue
            if fdecl is not None:
                self.function(node, scope, cls, local_scope) if len(decls) == 1 else None
                continue
            scopes, name, nn = self.name_parts(name_node)
            if name is None or (scopes and not self.cpp):
                continue
            if cls is not None or node.type == "field_declaration":
                if scope == PREFIX:
                    continue
                q = f"{scope}.{name}"
                self.add_def(q, name, "field", scope, node, nn, self.sig(node), typ=typ)
                continue
            if scopes:   # `int ns::Class::count = 0;` defines a static member
                q = f"{self.scope_path(scopes, scope)}.{name}"
                self.add_def(q, name, "field", q.rpartition(".")[0], node, nn, self.sig(node), typ=typ)
                continue
            extern = any(c.type == "storage_class_specifier" and c.text == b"extern" for c in node.children)
            if scope == PREFIX and self.file_local(node) or local_scope:
                q = f"{local_scope or self.module}.{name}" if (local_scope or self.module) != PREFIX else PREFIX + name
                self.local_defs[(scope, name)] = q
            else:
                q = self.qual(scope, name)
                self.local_defs.setdefault((scope, name), q)
            self.types[name] = typ
            const = any(c.type == "type_qualifier" and c.text == b"const" for c in node.children)
            self.add_def(q, name, "constant" if const else "variable", scope if scope != PREFIX else self.module,
                         node, nn, self.sig(node), typ=typ, decl=extern)

    def typedef(self, node, scope, cls, local_scope):
        tnode = node.child_by_field_name("type")
        decls = node.children_by_field_name("declarator")
        anon = tnode is not None and tnode.type in _SPECIFIERS and tnode.child_by_field_name("name") is None \
            and tnode.child_by_field_name("body") is not None
        if anon and decls:
            # `typedef struct { ... } name;`: the struct is known by the typedef's name
            first, _ = self.declarator_name(decls[0])
            if first is not None and first.type == "type_identifier" and decls[0].type == "type_identifier":
                self.specifier(tnode, scope, cls, local_scope, name_node=first, outer=node)
                decls = decls[1:]
        elif tnode is not None and tnode.type in _SPECIFIERS:
            self.specifier(tnode, scope, cls, local_scope)
        typ = self.type_target(tnode, scope)
        for d in decls:
            name_node, _ = self.declarator_name(d)
            if name_node is None:
                continue
            name = self.text(name_node)
            q = self.qual(local_scope or scope, name)
            self.local_defs.setdefault((scope, name), q)
            self.add_def(q, name, "type", scope if scope != PREFIX else self.module, node, name_node, self.sig(node), typ=typ)

    def specifier(self, node, scope, cls, local_scope, name_node=None, outer=None):
        body = node.child_by_field_name("body")
        if body is None:
            return
        kind = _SPECIFIERS[node.type]
        n = name_node or node.child_by_field_name("name")
        if n is None:
            # anonymous struct/union member: its fields belong to the enclosing struct
            if cls is not None and kind != "enum":
                self.walk(body, scope, cls, local_scope)
            elif kind == "enum":
                self.enumerators(body, scope if self.cpp else PREFIX, None, local_scope)
            return
        scopes, name, nn = self.name_parts(n)
        if name is None:
            return
        if not self.cpp:
            q = PREFIX + name        # C: struct/union/enum tags are not scoped by the struct around them
        elif scopes:
            q = f"{self.scope_path(scopes, scope)}.{name}"
        elif local_scope:
            q = f"{local_scope}.{name}"
        else:
            q = self.qual(scope, name)
        self.local_defs[(scope, name)] = q
        if self.cpp and kind == "struct":
            kind = "class" if node.type == "class_specifier" else "struct"
        self.add_def(q, name, kind, scope if scope != PREFIX else self.module, outer or node, nn,
                     self.sig(outer or node, body))
        self.scope_kind[q] = kind
        if kind == "enum":
            scoped = any(c.type in ("class", "struct") for c in node.children)
            self.enumerators(body, scope, q if scoped else None, local_scope, enum_q=q)
            return
        if self.cpp:
            self.stars.add((q, scope if not local_scope else local_scope))
            for base in node.children:
                if base.type == "base_class_clause":
                    for b in base.children:
                        if b.type in ("type_identifier", "qualified_identifier", "template_type"):
                            target = self.type_target(b, scope)
                            if target:
                                self.facts.bases.append((q, target))
        self.walk(body, q, q, None)

    def enumerators(self, body, scope, enum_scope, local_scope, enum_q=None):
        for e in body.children:
            if e.type != "enumerator":
                continue
            n = e.child_by_field_name("name")
            if n is None:
                continue
            name = self.text(n)
            if enum_scope:
                q = f"{enum_scope}.{name}"
            elif not self.cpp:
                q = PREFIX + name        # C: enum constants are global
            else:
                q = f"{local_scope}.{name}" if local_scope else self.qual(scope, name)
                self.local_defs.setdefault((scope, name), q)
            self.add_def(q, name, "enum_member", enum_q or scope, e, n, self.sig(e), typ=enum_q)

    def macro(self, node):
        n = node.child_by_field_name("name")
        if n is None:
            return
        name = self.text(n)
        value = node.child_by_field_name("value")
        fn = node.type == "preproc_function_def"
        renaming = not fn and value is not None and re.fullmatch(rb"\s*[A-Za-z_]\w*\s*", value.text or b"") is not None
        line = self.text(node).split("\n", 1)[0].rstrip("\\").strip()
        q = PREFIX + name
        if not self.header:     # a #define in a .c file is seen by that translation unit only
            q = f"{self.module}.{name}"
            self.local_defs[(PREFIX, name)] = q
        self.add_def(q, name, "macro" if fn else "constant", self.module, node, n, line[:240],
                     decl=renaming or value is None)

    # ---- text helpers ------------------------------------------------------------------------
    def sig(self, node, body=None) -> str:
        end = body.start_byte if body is not None else node.end_byte
        s = self.parsed[node.start_byte:min(end, node.start_byte + 600)].decode("utf-8", "replace")
        s = _WS.sub(" ", s).strip().rstrip(";{").strip()
        return s[:240]

    def doc(self, node) -> str | None:
        """The comment block directly above (`/** */`, `//` lines), else a trailing comment on the same line."""
        if node.parent is not None and node.parent.type == "template_declaration":
            node = node.parent
        p = node.prev_sibling
        row = node.start_point[0]
        parts = []
        while p is not None and p.type == "comment" and p.end_point[0] >= row - 1 and self._starts_line(p):
            parts.append(self.text(p))
            row = p.start_point[0]
            if parts[-1].startswith("/*"):
                break
            p = p.prev_sibling
        if not parts:
            nxt = node.next_sibling
            if nxt is None or nxt.type != "comment" or nxt.start_point[0] != node.end_point[0]:
                return None
            parts = [self.text(nxt)]
        return _clean_comment("\n".join(reversed(parts)))

    def _starts_line(self, node) -> bool:
        start = self.src.rfind(b"\n", 0, node.start_byte) + 1
        return not self.src[start:node.start_byte].strip()

    def type_target(self, tnode, scope) -> str | None:
        """The type a declaration names (`struct foo *` -> `c:foo`), as a file-local target."""
        if tnode is None:
            return None
        t = tnode.type
        if t in _SPECIFIERS:
            n = tnode.child_by_field_name("name")
            if n is None:
                return None
            tnode, t = n, n.type
        if t == "template_type":
            tnode = tnode.child_by_field_name("name") or tnode
            t = tnode.type
        if t == "type_identifier":
            return self.lookup_path(self.text(tnode), scope)
        if t == "qualified_identifier":
            scopes, name, _ = self.name_parts(tnode)
            if name is None:
                return None
            return self.lookup_path(".".join(scopes + [name]), scope)
        return None

    # ---- references ------------------------------------------------------------------------
    def enclosing(self, byte: int) -> int:
        """Index of the function body holding this byte (they never nest: bodies are not walked), or -1."""
        i = bisect_right(self._fstarts, byte) - 1
        return i if i >= 0 and byte < self.funcs[i][1] else -1

    def refs(self, root):
        caps = QueryCursor(self.g.refs).captures(root)
        for nodes in caps.values():   # py-tree-sitter gives no fixed order; the passes below need document order
            nodes.sort(key=lambda n: n.start_byte)
        self._fstarts = [f[0] for f in self.funcs]
        locals_: dict[int, dict] = {}
        skip = set()
        for d in caps.get("decl", ()):
            skip.add(d.start_byte)
            fi = self.enclosing(d.start_byte)
            if fi >= 0:
                locals_.setdefault(fi, {})[self.text(d)] = d
        for d in caps.get("tparam", ()):
            skip.add(d.start_byte)
        refs = self.facts.refs
        out = []
        handled: dict[int, str | None] = {}
        self._def_names = def_names = {(d[8], d[9]) for d in self.facts.defs}
        for q in caps.get("qual", ()):
            if q.start_byte in handled or (q.parent is not None and q.parent.type == "qualified_identifier"):
                continue
            self.qualified_ref(q, handled, out)
        calls = {c.start_byte for c in caps.get("call", ())}
        funcs, nfuncs, ascii_ = self.funcs, len(self.funcs), self.ascii
        name_target, cpp = self.name_target, self.cpp
        for kindcap in ("id", "type", "nsid"):
            kind0 = "type" if kindcap == "type" else "name"
            fi = -1
            nxt = 0                     # captures come in document order: walk the function list along
            targets: dict = {}          # (name, scope) -> target, within this pass
            for n in caps.get(kindcap, ()):
                b = n.start_byte
                if b in skip or b in handled:
                    continue
                while nxt < nfuncs and funcs[nxt][0] <= b:
                    nxt += 1
                fi = nxt - 1 if nxt and b < funcs[nxt - 1][1] else -1
                name = n.text.decode("utf-8", "replace")
                if fi >= 0 and kindcap == "id" and name in locals_.get(fi, ()):
                    continue
                row, c0 = n.start_point
                col = c0 if ascii_ else self.col(row, c0)
                if (row, col) in def_names:
                    continue
                if cpp and n.parent.type == "destructor_name":
                    continue
                scope = funcs[fi][2] if fi >= 0 else (self.scope_at(n) if cpp else PREFIX)
                key = (name, scope)
                target = targets.get(key)
                if target is None:
                    target = targets[key] = name_target(name, scope)
                kind = "call" if b in calls else kind0
                out.append((row, col, col + len(name), name, target, kind))
        # struct members: `p->f`, `s.f`, `.f = x`, `this->f`
        for fld in caps.get("fld", ()):
            row, c0 = fld.start_point
            name = self.text(fld)
            col = self.col(row, c0)
            target = None
            a = fld.parent.child_by_field_name("argument")
            base = self.value_target(a, locals_) if a is not None else None
            if base:
                target = f"{base}.{name}"
            out.append((row, col, col + len(name), name, target, "attr"))
        for fld in [*caps.get("desig", ()), *caps.get("init", ())]:
            row, c0 = fld.start_point
            name = self.text(fld)
            col = self.col(row, c0)
            target = None
            if fld.type == "field_identifier" and fld.parent is not None and fld.parent.type == "field_initializer":
                fi = self.enclosing(fld.start_byte)
                if fi >= 0 and self.funcs[fi][3]:
                    target = f"{self.funcs[fi][3]}.{name}"
            out.append((row, col, col + len(name), name, target, "attr"))
        for inc in caps.get("include", ()):
            self.include(inc, out)
        out.sort()
        refs.extend(out)

    def scope_at(self, node) -> str:
        """The namespace/class scope around a node outside functions (C++ only matters)."""
        if not self.cpp:
            return PREFIX
        parts = []
        p = node.parent
        while p is not None:
            if p.type == "namespace_definition":
                n = p.child_by_field_name("name")
                if n is not None:
                    parts.append(self.text(n).replace("::", "."))
            elif p.type in ("class_specifier", "struct_specifier", "union_specifier"):
                n = p.child_by_field_name("name")
                body = p.child_by_field_name("body")
                if n is not None and body is not None and body.start_byte <= node.start_byte:
                    parts.append(self.text(n).replace("::", "."))
            p = p.parent
        return PREFIX + ".".join(reversed(parts)) if parts else PREFIX

    def name_target(self, name: str, scope: str) -> str:
        s = scope
        ld = self.local_defs
        while True:
            q = ld.get((s, name))
            if q is not None:
                return q
            if s == PREFIX:
                break
            s = s.rpartition(".")[0] or PREFIX
        if not self.cpp:
            return PREFIX + name
        if scope == PREFIX:
            return f"{self.module}.{name}" if self.file_using else PREFIX + name
        return f"{scope}.{name}"

    def qualified_ref(self, q, handled, out):
        """`a::b::c`: refs on each component with the targets `a`, `a.b`, `a.b.c`."""
        comps = []
        n = q
        absolute = q.child_count > 0 and q.children[0].type == "::"
        while n is not None and n.type == "qualified_identifier":
            s = n.child_by_field_name("scope")
            if s is not None:
                if s.type == "template_type":
                    s = s.child_by_field_name("name") or s
                comps.append(s)
            handled[n.start_byte] = None
            n = n.child_by_field_name("name")
        if n is not None and n.type in ("template_function", "template_type", "template_method"):
            n = n.child_by_field_name("name") or n
        if n is None:
            return
        if n.type in ("identifier", "type_identifier", "field_identifier", "namespace_identifier", "destructor_name", "operator_name"):
            comps.append(n)
        if not comps:
            return
        fi = self.enclosing(q.start_byte)
        scope = self.funcs[fi][2] if fi >= 0 else self.scope_at(q)
        path = []
        for c in comps:
            handled[c.start_byte] = None
            name = self.text(c)
            if c.type == "destructor_name":
                name = name.replace(" ", "")
            path.append(name)
            joined = ".".join(path)
            if absolute:
                target = PREFIX + joined
            else:
                first = self.name_target(path[0], scope)
                target = first + ("." + ".".join(path[1:]) if len(path) > 1 else "")
            row, c0 = c.start_point
            col = self.col(row, c0)
            if (row, col) not in self._def_names:
                out.append((row, col, col + len(name), name, target, "type" if c is not comps[-1] else "name"))

    def value_target(self, a, locals_) -> str | None:
        """The file-local target of an expression whose member is accessed (`p` in `p->f`)."""
        t = a.type
        if t == "identifier":
            name = self.text(a)
            fi = self.enclosing(a.start_byte)
            if fi >= 0:
                d = locals_.get(fi, {}).get(name)
                if d is not None:
                    return self.local_type(d, self.funcs[fi][2])
            return self.types.get(name) if name in self.types else None
        if t == "this":
            fi = self.enclosing(a.start_byte)
            return self.funcs[fi][3] if fi >= 0 else None
        if t == "field_expression":
            inner = a.child_by_field_name("argument")
            fld = a.child_by_field_name("field")
            if inner is None or fld is None:
                return None
            base = self.value_target(inner, locals_)
            return f"{base}.{self.text(fld)}" if base else None
        if t in ("parenthesized_expression", "pointer_expression", "subscript_expression"):
            inner = a.child_by_field_name("argument") or (a.named_children[0] if a.named_child_count else None)
            return self.value_target(inner, locals_) if inner is not None else None
        return None

    def local_type(self, decl, scope) -> str | None:
        p = decl.parent
        for _ in range(6):
            if p is None:
                return None
            if p.type in ("declaration", "parameter_declaration", "field_declaration", "optional_parameter_declaration"):
                return self.type_target(p.child_by_field_name("type"), scope)
            p = p.parent
        return None

    def include(self, node, out):
        raw = self.text(node)
        if len(raw) < 2:
            return
        path = raw[1:-1].strip()
        if not path:
            return
        row, c0 = node.start_point
        col = self.col(row, c0) + 1
        target = PREFIX + path      # a header alias (`_header_aliases`) of whichever repo has it
        if self.unit.root:
            here = os.path.dirname(self.unit.path)
            cands = [os.path.join(here, path)] if raw[0] == '"' else []
            cands += [os.path.join(r, path) for r in self.project.get("include_roots") or ("",)]
            for cand in cands:
                rel = os.path.normpath(cand).replace(os.sep, "/")
                if not rel.startswith("../") and os.path.isfile(os.path.join(self.unit.root, rel)):
                    target = module_of(self.project, rel)[0]
                    break
        self.facts.imports.add(PREFIX + path)
        out.append((row, col, col + len(path), path, target, "import"))


_COMMENT_LINE = re.compile(r"^\s*(?:/\*+!?|\*+/?|//+!?<?|/)?\s?")


def _clean_comment(text: str) -> str | None:
    """The first paragraph of a comment block, without comment markers."""
    lines = []
    for line in text.splitlines():
        line = line.rstrip()
        if line.endswith("*/"):
            line = line[:-2].rstrip()
        line = _COMMENT_LINE.sub("", line, count=1).rstrip("*").rstrip()
        lines.append(line)
    return first_paragraph(lines, 1000)


def _macro_wrapped_name(inner):
    """`int BZ_API(BZ2_bzCompressInit) (bz_stream *strm)`: bzip2 (and Windows-minded C libraries) wrap
    every API name in a calling-convention macro. To the grammar the inner `BZ_API(BZ2_x)` is a
    function declarator of BZ_API whose one parameter is a type named BZ2_x: that type is the name."""
    macro = inner.child_by_field_name("declarator")
    params = inner.child_by_field_name("parameters")
    if macro is None or macro.type != "identifier" or params is None:
        return None
    name = macro.text
    if not name.isupper() or params.named_child_count != 1:
        return None
    p = params.named_children[0]
    if p.type != "parameter_declaration" or p.child_by_field_name("declarator") is not None:
        return None
    t = p.child_by_field_name("type")
    return t if t is not None and t.type == "type_identifier" else None
