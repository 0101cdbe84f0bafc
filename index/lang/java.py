"""Java facts from one file: definitions, file-local reference targets, wildcard imports as star
aliases, extends/implements as bases, declared types as value types.

One tree-sitter parse and one walk (plus a walk over class bodies only, to declare nested types
first). Name rules shared with Kotlin live in jvm.py; identity is `jvm:<package>.<Class>.<member>`.
"""
from __future__ import annotations

import tree_sitter_java
from tree_sitter import Language, Parser

from . import jvm
from .jvm import LOCAL, PREFIX, TPARAM, ClassRec, fqn_chain, looks_like_type, package_target, qual

NAME = "java"
EXTENSIONS = (".java",)
SEARCH_NAMES = ("java",)
FENCE = "java"
project = jvm.project
module_of = jvm.module_of

JAVA = Language(tree_sitter_java.language())
ANNOTATIONS = frozenset({"annotation", "marker_annotation"})
CLASS_KINDS = {"class_declaration": "class", "interface_declaration": "interface", "enum_declaration": "enum",
               "record_declaration": "record", "annotation_type_declaration": "interface"}
TYPE_NODES = frozenset({"type_identifier", "scoped_type_identifier", "generic_type", "array_type",
                        "annotated_type", "integral_type", "floating_point_type", "boolean_type", "void_type"})
SKIP = frozenset({"line_comment", "block_comment", "string_literal", "character_literal", "decimal_integer_literal",
                  "hex_integer_literal", "octal_integer_literal", "binary_integer_literal", "true", "false",
                  "decimal_floating_point_literal", "hex_floating_point_literal", "null_literal",
                  "module_declaration", "break_statement", "continue_statement", "package_declaration",
                  "import_declaration", "integral_type", "floating_point_type", "boolean_type", "void_type",
                  "dimensions", "asterisk", "modifiers_keyword"})


class _Java(jvm.Base):
    LANG_TYPES = {n: f"{PREFIX}java.lang.{n}" for n in jvm.JAVA_LANG}

    def __init__(self, src: bytes, module: str):
        super().__init__(src, module)
        self.recs: dict = {}      # class declaration start byte -> ClassRec (declared before the walk)

    # ---- file ------------------------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.facts.errors = _count_errors(root) if root.has_error else 0
        has_package = False
        for ch in root.named_children:
            if ch.type == "package_declaration":
                if not has_package:
                    parts = _scoped_parts(ch.named_children[-1]) if ch.named_child_count else []
                    if parts:
                        self.module = package_target([self.text(n) for n in parts])
                        self.package_def(parts, ch)
                        has_package = True
            elif ch.type == "import_declaration":
                self.v_import(ch)
        if not has_package:
            self.no_package_def(root)
        self.declare(root, None, self.module)
        for ch in root.named_children:
            if ch.type not in SKIP:
                self.visit(ch)
        return self.facts

    def v_import(self, node):
        static = wildcard = False
        path = None
        for ch in node.children:
            t = ch.type
            if t == "static":
                static = True
            elif t == "asterisk":
                wildcard = True
            elif t in ("scoped_identifier", "identifier"):
                path = ch
        if path is None:
            return
        parts_nodes = _scoped_parts(path)
        parts = self.import_refs(parts_nodes)
        self.note_import(parts, wildcard)
        target = package_target(parts)
        if wildcard:
            self.star(target, node.start_point[0])
        elif static:
            self.statics[parts[-1]] = target
        else:
            self.imports[parts[-1]] = target

    def declare(self, body, rec, container):
        """Nested and top-level types of this file, before any use is resolved."""
        for ch in body.named_children:
            kind = CLASS_KINDS.get(ch.type)
            if kind is None:
                if ch.type in ("enum_body_declarations", "ERROR"):
                    self.declare(ch, rec, container)
                continue
            n = ch.child_by_field_name("name")
            if n is None:
                continue
            name = self.text(n)
            q = qual(container, name)
            r = ClassRec(q, rec, kind)
            (rec.types if rec is not None else self.file_types)[name] = q
            self.recs[ch.start_byte] = r
            self.by_qual[q] = r
            b = ch.child_by_field_name("body")
            if b is not None:
                self.declare(b, r, q)

    # ---- walk ------------------------------------------------------------------------------
    def visit(self, node):
        h = _HANDLERS.get(node.type)
        if h is not None:
            return h(self, node)
        for ch in node.named_children:
            if ch.type not in SKIP:
                self.visit(ch)
        return None

    def walk(self, node):
        for ch in node.named_children:
            if ch.type not in SKIP:
                self.visit(ch)

    def v_scoped(self, node):
        self.scopes.append({})
        self.walk(node)
        self.scopes.pop()

    def v_modifiers(self, node):
        for ch in node.named_children:
            if ch.type in ANNOTATIONS:
                self.v_annotation(ch)

    # ---- declarations ------------------------------------------------------------------------
    def v_class(self, node):
        name_node = node.child_by_field_name("name")
        if name_node is None:
            self.walk(node)
            return None
        outer = self.cls
        rec = self.recs.get(node.start_byte)
        if rec is None:     # a local class (in a method body or an anonymous class)
            host = self.named_class()
            q = qual(host.qual if host else self.module, self.text(name_node))
            rec = ClassRec(q, outer, CLASS_KINDS[node.type])
            self.by_qual[q] = rec
            if outer is not None:
                outer.types[self.text(name_node)] = q
            body = node.child_by_field_name("body")
            if body is not None:
                self.declare(body, rec, q)
        q = rec.qual
        container = rec.outer.qual if rec.outer is not None and rec.outer.qual else self.module
        self.scopes.append({})
        body = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif t in ("superclass", "super_interfaces", "extends_interfaces"):
                for b in _type_children(ch):
                    bt = self.v_type(b)
                    if bt:
                        rec.bases.append(bt)
                        self.facts.bases.append((q, bt))
            elif t == "permits":
                for b in _type_children(ch):
                    self.v_type(b)
            elif t in ("class_body", "interface_body", "enum_body", "annotation_type_body"):
                body = ch
        self.add_def(q, name_node, rec.kind, container, node,
                     self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS),
                     self.doc_of(node))
        self.cls = rec
        params = node.child_by_field_name("parameters")      # record components
        if params is not None:
            for p in params.named_children:
                if p.type == "formal_parameter":
                    pn = p.child_by_field_name("name")
                    pt = self.v_type(p.child_by_field_name("type"))
                    if pn is not None:
                        rec.fields[self.text(pn)] = pt
                        self.add_def(f"{q}.{self.text(pn)}", pn, "field", q, p,
                                     self.signature(p, None, ANNOTATIONS), None, pt)
        if body is not None:
            self.members(body, rec)
            self.walk(body)
        self.cls = outer
        self.scopes.pop()
        return None

    def members(self, body, rec):
        """Fields and methods this class declares (their types), before its bodies are walked."""
        for ch in body.named_children:
            t = ch.type
            if t in ("field_declaration", "constant_declaration"):
                ft = _type_node(ch)
                v = self.type_value(ft)
                for d in ch.children_by_field_name("declarator"):
                    n = d.child_by_field_name("name")
                    if n is not None:
                        rec.fields[self.text(n)] = v
            elif t in ("method_declaration", "annotation_type_element_declaration"):
                n = ch.child_by_field_name("name")
                if n is not None:
                    rec.methods[self.text(n)] = self.type_value(ch.child_by_field_name("type"))
            elif t == "enum_constant":
                n = ch.child_by_field_name("name")
                if n is not None:
                    rec.fields[self.text(n)] = rec.qual
            elif t == "enum_body_declarations":
                self.members(ch, rec)

    def v_type_parameters(self, node):
        for tp in node.named_children:
            for ch in tp.named_children:
                if ch.type == "type_identifier":
                    self.bind(self.text(ch), TPARAM)
            for ch in tp.named_children:
                if ch.type == "type_bound":
                    for b in ch.named_children:
                        self.v_type(b)
                elif ch.type in ANNOTATIONS:
                    self.v_annotation(ch)

    def v_method(self, node):
        name_node = node.child_by_field_name("name")
        cls = self.cls
        self.scopes.append({})
        body = node.child_by_field_name("body")
        rt = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif t == "formal_parameters":
                self.v_params(ch)
            elif t == "throws":
                for b in ch.named_children:
                    self.v_type(b)
            elif ch == body or ch == name_node:
                continue
            elif t in TYPE_NODES:
                rt = self.v_type(ch)
        if name_node is not None and cls is not None and cls.qual is not None:
            ctor = node.type != "method_declaration" and node.type != "annotation_type_element_declaration"
            member = "<init>" if ctor else self.text(name_node)
            self.add_def(f"{cls.qual}.{member}", name_node, "constructor" if ctor else "method", cls.qual, node,
                         self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS),
                         self.doc_of(node), rt)
        if body is not None:
            self.walk(body)
        else:
            v = node.child_by_field_name("value")      # annotation element default
            if v is not None:
                self.visit(v)
        self.scopes.pop()
        return None

    def v_params(self, node):
        for p in node.named_children:
            t = p.type
            if t in ("formal_parameter", "spread_parameter"):
                pt = None
                for ch in p.named_children:
                    if ch.type == "modifiers":
                        self.v_modifiers(ch)
                    elif ch.type in TYPE_NODES:
                        pt = self.v_type(ch)
                    elif ch.type == "identifier":
                        self.bind(self.text(ch), pt)
                    elif ch.type == "variable_declarator":
                        n = ch.child_by_field_name("name")
                        if n is not None:
                            self.bind(self.text(n), None)
            elif t == "receiver_parameter":
                for ch in p.named_children:
                    if ch.type in TYPE_NODES:
                        self.v_type(ch)

    def v_field(self, node):
        cls = self.cls
        ft = None
        tnode = None
        static = final = False
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
                words = ch.text.split()
                static, final = b"static" in words, b"final" in words
            elif t in TYPE_NODES:
                tnode = ch
                ft = self.v_type(ch)
        constant = node.type == "constant_declaration" or (static and final) or (cls is not None and cls.kind == "interface")
        doc = self.doc_of(node)
        head = self.signature(node, tnode.end_byte, ANNOTATIONS) if tnode is not None else None
        for d in node.children_by_field_name("declarator"):
            n = d.child_by_field_name("name")
            value = d.child_by_field_name("value")
            if value is not None:
                self.visit(value)
            if n is None or cls is None or cls.qual is None:
                continue
            typ = ft if d.child_by_field_name("dimensions") is None else None
            self.add_def(f"{cls.qual}.{self.text(n)}", n, "constant" if constant else "field", cls.qual, node,
                         f"{head} {self.text(n)}" if head else None, doc, typ)
        return None

    def v_enum_constant(self, node):
        cls = self.cls
        n = node.child_by_field_name("name")
        if n is not None and cls is not None and cls.qual is not None:
            body = node.child_by_field_name("body")
            self.add_def(f"{cls.qual}.{self.text(n)}", n, "enum_member", cls.qual, node,
                         self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS),
                         self.doc_of(node), cls.qual)
        for ch in node.named_children:
            if ch.type == "modifiers":
                self.v_modifiers(ch)
            elif ch.type == "argument_list":
                self.walk(ch)
            elif ch.type == "class_body":
                self.anonymous(ch, cls.qual if cls is not None else None)
        return None

    def anonymous(self, body, base):
        rec = ClassRec(None, self.cls)
        if base:
            rec.bases.append(base)
        outer = self.cls
        self.cls = rec
        self.declare(body, rec, (self.named_class() or ClassRec(self.module, None)).qual)
        self.members(body, rec)
        self.scopes.append({})
        self.walk(body)
        self.scopes.pop()
        self.cls = outer

    # ---- locals ------------------------------------------------------------------------------
    def v_local(self, node):
        lt = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t in TYPE_NODES:
                if not (t == "type_identifier" and ch.text == b"var"):
                    lt = self.v_type(ch)
            elif t == "variable_declarator":
                n = ch.child_by_field_name("name")
                v = ch.child_by_field_name("value")
                val = self.visit(v) if v is not None else None
                if n is not None:
                    dims = ch.child_by_field_name("dimensions") is not None
                    self.bind(self.text(n), None if dims else (lt or val))
        return None

    def v_enhanced_for(self, node):
        self.scopes.append({})
        lt = None
        name = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif ch == node.child_by_field_name("type"):
                if not (t == "type_identifier" and ch.text == b"var"):
                    lt = self.v_type(ch)
            elif ch == node.child_by_field_name("name"):
                name = self.text(ch)
            elif ch == node.child_by_field_name("value"):
                self.visit(ch)
                if name is not None:
                    self.bind(name, lt)
            elif t not in SKIP:
                self.visit(ch)
        self.scopes.pop()
        return None

    def v_catch_param(self, node):
        first = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "catch_type":
                for c in ch.named_children:
                    bt = self.v_type(c)
                    first = first or bt
            elif t == "identifier":
                self.bind(self.text(ch), first)
        return None

    def v_resource(self, node):
        n = node.child_by_field_name("name")
        if n is None:
            self.walk(node)
            return None
        tnode = node.child_by_field_name("type")
        lt = None
        if tnode is not None and not (tnode.type == "type_identifier" and tnode.text == b"var"):
            lt = self.v_type(tnode)
        v = node.child_by_field_name("value")
        val = self.visit(v) if v is not None else None
        self.bind(self.text(n), lt or val)
        return None

    def v_lambda(self, node):
        self.scopes.append({})
        params = node.child_by_field_name("parameters")
        if params is not None:
            if params.type == "identifier":
                self.bind(self.text(params))
            elif params.type == "formal_parameters":
                self.v_params(params)
            else:
                for ch in params.named_children:
                    if ch.type == "identifier":
                        self.bind(self.text(ch))
        body = node.child_by_field_name("body")
        if body is not None:
            self.visit(body)
        self.scopes.pop()
        return None

    def v_pattern_binding(self, node):
        """`x instanceof Foo f`, `case Foo f ->`: bind f to Foo."""
        bt = None
        for ch in node.named_children:
            t = ch.type
            if t in TYPE_NODES:
                bt = self.v_type(ch)
            elif t == "identifier" and (node.type != "instanceof_expression" or ch == node.child_by_field_name("name")):
                self.bind(self.text(ch), bt)
            elif t not in SKIP:
                self.visit(ch)
        return None

    # ---- types ---------------------------------------------------------------------------------
    def type_value(self, node) -> str | None:
        """The class a type node names (no refs emitted): for member tables filled before the walk."""
        if node is None:
            return None
        t = node.type
        if t == "type_identifier":
            return self.type_target(self.text(node))
        if t == "generic_type":
            return self.type_value(node.named_children[0]) if node.named_child_count else None
        if t == "annotated_type":
            for ch in node.named_children:
                if ch.type in TYPE_NODES:
                    return self.type_value(ch)
            return None
        if t == "scoped_type_identifier":
            parts = _type_parts(node)
            if parts is None:
                return None
            names = [self.text(p) for p in parts]
            if self.package_head(names):
                return package_target(names)
            head = self.type_target(names[0])
            return ".".join([head] + names[1:]) if head else None
        return None

    def package_head(self, names) -> bool:
        head = names[0]
        return (head[:1].islower() and self.local(head) is False and head not in self.imports
                and head not in self.file_types and self.type_in_scope(head) is None)

    def type_in_scope(self, name):
        c = self.cls
        while c is not None:
            if name in c.types:
                return c.types[name]
            c = c.outer
        return None

    def v_type(self, node) -> str | None:
        """Emit `type` references for a type node; return the class it names."""
        if node is None:
            return None
        t = node.type
        if t == "type_identifier":
            target = self.type_target(self.text(node))
            if target:
                self.ref(node, target, "type")
            return target
        if t == "generic_type":
            out = None
            for ch in node.named_children:
                if ch.type == "type_arguments":
                    self.v_type_args(ch)
                else:
                    out = self.v_type(ch)
            return out
        if t == "scoped_type_identifier":
            parts = _type_parts(node)
            if parts is None:
                self.walk(node)
                return None
            names = [self.text(p) for p in parts]
            if self.package_head(names):
                for i, p in enumerate(parts):
                    self.ref(p, package_target(names[:i + 1]), "type")
                return package_target(names)
            cur = self.type_target(names[0])
            self.ref(parts[0], cur, "type")
            for p, nm in zip(parts[1:], names[1:]):
                cur = f"{cur}.{nm}" if cur else None
                self.ref(p, cur, "type")
            return cur
        if t in ("array_type", "annotated_type", "wildcard", "type_bound"):
            out = None
            for ch in node.named_children:
                if ch.type in ANNOTATIONS:
                    self.v_annotation(ch)
                elif ch.type != "dimensions":
                    out = self.v_type(ch)
            return out if t == "annotated_type" else None
        if t == "type_arguments":
            self.v_type_args(node)
        return None

    def v_type_args(self, node):
        for ch in node.named_children:
            self.v_type(ch)

    def v_annotation(self, node):
        name = node.child_by_field_name("name")
        target = None
        if name is not None:
            if name.type == "identifier":
                target = self.type_target(self.text(name))
                self.ref(name, target, "type")
            else:
                parts = _scoped_parts(name)
                names = [self.text(p) for p in parts]
                if self.package_head(names):
                    for i, p in enumerate(parts):
                        self.ref(p, package_target(names[:i + 1]), "type")
                    target = package_target(names)
                else:
                    target = self.type_target(names[0])
                    self.ref(parts[0], target, "type")
                    for p, nm in zip(parts[1:], names[1:]):
                        target = f"{target}.{nm}"
                        self.ref(p, target, "type")
        args = node.child_by_field_name("arguments")
        if args is not None:
            for ch in args.named_children:
                if ch.type == "element_value_pair":
                    k = ch.child_by_field_name("key")
                    if k is not None:
                        self.ref(k, f"{target}.{self.text(k)}" if target else None, "attr")
                    v = ch.child_by_field_name("value")
                    if v is not None:
                        self.visit(v)
                elif ch.type not in SKIP:
                    self.visit(ch)
        return None

    # ---- expressions -----------------------------------------------------------------------
    def v_ident(self, node):
        """A name in an expression: a local (not stored), a field, a static import, a type."""
        name = self.text(node)
        v = self.local(name)
        if v is not False:
            return v if v is not TPARAM else None
        c = self.cls
        while c is not None:
            if c.qual is not None and name in c.fields:
                t = f"{c.qual}.{name}"
                self.ref(node, t, "name", name)
                return c.fields[name] or t
            c = c.outer
        if name in self.statics:
            t = self.statics[name]
            self.ref(node, t, "name", name)
            return t
        if looks_like_type(name) or name in self.imports or name in self.file_types or self.type_in_scope(name):
            t = self.type_target(name)
            self.ref(node, t, "name", name)
            return t
        t, v = self.member_target(name, False)
        self.ref(node, t, "name", name)
        return v

    def chain(self, node):
        """The identifier nodes of a pure `a.b.c` expression, or None."""
        parts = []
        while node.type == "field_access":
            f = node.child_by_field_name("field")
            if f is None or f.type != "identifier":
                return None
            parts.append(f)
            node = node.child_by_field_name("object")
            if node is None:
                return None
        if node.type != "identifier":
            return None
        parts.append(node)
        parts.reverse()
        return parts

    def fqn(self, obj, last=None):
        """`com.q.Thing` in code (a fully qualified name): refs along the package path; its target."""
        head = obj
        while head.type == "field_access":
            head = head.child_by_field_name("object")
            if head is None:
                return None
        if head.type != "identifier" or not head.text[:1].islower() or (obj is head and last is None):
            return None
        parts = self.chain(obj)
        if parts is None:
            return None
        names = [self.text(p) for p in parts]
        head = names[0]
        if not head[:1].islower() or not fqn_chain(names + ([last] if last else [])) or not self.package_head(names):
            return None
        if any(head in c.fields for c in self._classes()) or head in self.statics:
            return None
        for i, p in enumerate(parts):
            self.ref(p, package_target(names[:i + 1]), "name")
        return package_target(names)

    def _classes(self):
        c = self.cls
        while c is not None:
            yield c
            c = c.outer

    def v_field_access(self, node):
        obj = node.child_by_field_name("object")
        f = node.child_by_field_name("field")
        if f is None or f.type != "identifier":
            self.walk(node)
            return None
        name = self.text(f)
        base = self.fqn(obj, name)
        if base is None:
            base = self.visit(obj)
        target = f"{base}.{name}" if base else None
        self.ref(f, target, "attr", name)
        if base and name == "INSTANCE" and looks_like_type(base.rpartition(".")[2]):
            return base     # a Kotlin object (or a Java singleton) seen from Java: the instance of base
        return (self.known_member(base, name, False) or target) if base else None

    def v_call(self, node):
        obj = node.child_by_field_name("object")
        n = node.child_by_field_name("name")
        value = None
        if n is not None:
            name = self.text(n)
            if obj is None:
                target, value = self.member_target(name, True)
                self.ref(n, target, "name", name)
            else:
                base = self.fqn(obj) or self.visit(obj)
                target = f"{base}.{name}" if base else None
                self.ref(n, target, "attr", name)
                value = (self.known_member(base, name, True) or f"{target}()") if target else None
        for ch in node.named_children:
            t = ch.type
            if t == "argument_list":
                self.walk(ch)
            elif t == "type_arguments":
                self.v_type_args(ch)
        return value

    def v_new(self, node):
        tnode = node.child_by_field_name("type")
        target = None
        for ch in node.named_children:
            if ch == tnode:
                target = self.v_type(ch)
            elif ch.type == "argument_list":
                self.walk(ch)
            elif ch.type == "class_body":
                self.anonymous(ch, target)
            elif ch.type == "type_arguments":
                self.v_type_args(ch)
            elif ch.type not in SKIP:
                self.visit(ch)
        return target

    def v_method_ref(self, node):
        kids = node.named_children
        if not kids:
            return None
        base = self.v_type(kids[0]) if kids[0].type in TYPE_NODES else self.visit(kids[0])
        last = kids[-1]
        if len(kids) > 1 and last.type == "identifier":
            self.ref(last, f"{base}.{self.text(last)}" if base else None, "attr")
        return None

    def v_cast(self, node):
        out = None
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                out = self.v_type(ch)
            elif ch.type not in SKIP:
                self.visit(ch)
        return out

    def v_class_literal(self, node):
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                self.v_type(ch)
            elif ch.type == "identifier":
                self.v_ident(ch)
        return f"{PREFIX}java.lang.Class"

    def v_paren(self, node):
        out = None
        for ch in node.named_children:
            out = self.visit(ch)
        return out

    def v_this(self, node):
        return self.this_value()

    def v_super(self, node):
        c = self.named_class()
        return c.bases[0] if c is not None and c.bases else None

    def v_labeled(self, node):
        for ch in node.named_children:
            if ch.type != "identifier" and ch.type not in SKIP:
                self.visit(ch)
        return None

    def v_switch_label(self, node):
        for ch in node.named_children:
            if ch.type == "identifier":
                self.ref(ch, None, "attr")      # an enum constant of the switch value's type
            elif ch.type not in SKIP:
                self.visit(ch)
        return None


def _scoped_parts(node):
    """identifier nodes of `a.b.c` (scoped_identifier) in order."""
    parts = []
    while node is not None and node.type == "scoped_identifier":
        parts.append(node.child_by_field_name("name"))
        node = node.child_by_field_name("scope")
    if node is not None and node.type == "identifier":
        parts.append(node)
    parts.reverse()
    return [p for p in parts if p is not None]


def _type_parts(node):
    """type_identifier nodes of `a.b.C` (scoped_type_identifier), or None if it holds generics."""
    parts = []
    while node.type == "scoped_type_identifier":
        kids = [c for c in node.named_children if c.type not in ANNOTATIONS]
        if len(kids) != 2 or kids[1].type != "type_identifier":
            return None
        parts.append(kids[1])
        node = kids[0]
    if node.type != "type_identifier":
        return None
    parts.append(node)
    parts.reverse()
    return parts


def _type_children(node):
    for ch in node.named_children:
        if ch.type == "type_list":
            yield from ch.named_children
        elif ch.type in TYPE_NODES:
            yield ch


def _type_node(node):
    for ch in node.named_children:
        if ch.type in TYPE_NODES:
            return ch
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


_HANDLERS = {
    **{t: _Java.v_class for t in CLASS_KINDS},
    "method_declaration": _Java.v_method,
    "constructor_declaration": _Java.v_method,
    "compact_constructor_declaration": _Java.v_method,
    "annotation_type_element_declaration": _Java.v_method,
    "field_declaration": _Java.v_field,
    "constant_declaration": _Java.v_field,
    "enum_constant": _Java.v_enum_constant,
    "modifiers": _Java.v_modifiers,
    "marker_annotation": _Java.v_annotation,
    "annotation": _Java.v_annotation,
    "local_variable_declaration": _Java.v_local,
    "enhanced_for_statement": _Java.v_enhanced_for,
    "catch_formal_parameter": _Java.v_catch_param,
    "resource": _Java.v_resource,
    "lambda_expression": _Java.v_lambda,
    "instanceof_expression": _Java.v_pattern_binding,
    "type_pattern": _Java.v_pattern_binding,
    "block": _Java.v_scoped,
    "constructor_body": _Java.v_scoped,
    "switch_block": _Java.v_scoped,
    "for_statement": _Java.v_scoped,
    "catch_clause": _Java.v_scoped,
    "try_with_resources_statement": _Java.v_scoped,
    "identifier": _Java.v_ident,
    "field_access": _Java.v_field_access,
    "method_invocation": _Java.v_call,
    "object_creation_expression": _Java.v_new,
    "method_reference": _Java.v_method_ref,
    "cast_expression": _Java.v_cast,
    "class_literal": _Java.v_class_literal,
    "parenthesized_expression": _Java.v_paren,
    "this": _Java.v_this,
    "super": _Java.v_super,
    "labeled_statement": _Java.v_labeled,
    "switch_label": _Java.v_switch_label,
    **{t: _Java.v_type for t in TYPE_NODES},
    "type_arguments": _Java.v_type,
}

_parser = None


def parse(src: bytes):
    global _parser
    if _parser is None:
        _parser = Parser(JAVA)
    return _parser.parse(src)


def extract(src: bytes, unit) -> "jvm.FileFacts":
    """All facts of one Java source file (UTF-8 bytes); the `package` line overrides unit.module."""
    return _Java(src, unit.module).run(parse(src))
