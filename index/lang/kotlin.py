"""Kotlin facts from one file, in the same `jvm:` namespace as Java (Kotlin calls Java and back).

Top-level functions and properties are members of the package (`jvm:<package>.name`); a companion
object is the nested object `Class.Companion` (or its own name), and the class gets it as a base so
that `Class.member` resolves to the companion's member. Value types come from declared types and,
when there is none, from the initializer (`val x = Foo()` -> `Foo()`: an instance of Foo, or what
function Foo returns). Extension functions are package members; inside one, `this` is the receiver.
"""
from __future__ import annotations

import tree_sitter_kotlin
from tree_sitter import Language, Parser

from . import jvm
from .jvm import BARRIER, PREFIX, TPARAM, ClassRec, fqn_chain, looks_like_type, package_target, qual

NAME = "kotlin"
EXTENSIONS = (".kt", ".kts")
SEARCH_NAMES = ("kotlin", "kt")
FENCE = "kotlin"
project = jvm.project
module_of = jvm.module_of

KOTLIN = Language(tree_sitter_kotlin.language())
ANNOTATIONS = frozenset({"annotation"})
TYPE_NODES = frozenset({"user_type", "nullable_type", "non_nullable_type", "parenthesized_type", "function_type",
                        "type_modifiers"})
SKIP = frozenset({"line_comment", "block_comment", "string_content", "escape_sequence", "number_literal",
                  "character_literal", "label", "package_header", "import", "shebang", "file_annotation",
                  "class_modifier", "member_modifier", "visibility_modifier", "function_modifier",
                  "property_modifier", "inheritance_modifier", "parameter_modifier", "platform_modifier",
                  "variance_modifier", "reification_modifier"})
LITERAL_NAMES = frozenset({"null", "true", "false"})

_KT_TYPES = {
    "kotlin": """Any Unit Nothing String Int Long Short Byte Char Boolean Double Float Number Array IntArray
        LongArray ShortArray ByteArray CharArray BooleanArray DoubleArray FloatArray Pair Triple Lazy Result
        Comparable Throwable Exception RuntimeException Error IllegalArgumentException IllegalStateException
        NullPointerException UnsupportedOperationException IndexOutOfBoundsException ClassCastException
        NoSuchElementException ArithmeticException NumberFormatException Enum Annotation Deprecated
        Suppress Function CharSequence""",
    "kotlin.collections": """List MutableList Map MutableMap Set MutableSet Collection MutableCollection
        Iterable MutableIterable Iterator MutableIterator ArrayList HashMap HashSet LinkedHashMap LinkedHashSet
        Sequence""",
    "kotlin.jvm": "JvmStatic JvmField JvmOverloads JvmName Throws Volatile Synchronized JvmSuppressWildcards",
    "kotlin.text": "Regex StringBuilder Appendable",
}
_KT_FUNCTIONS = frozenset("""listOf mutableListOf arrayListOf emptyList listOfNotNull mapOf mutableMapOf hashMapOf
linkedMapOf emptyMap setOf mutableSetOf hashSetOf linkedSetOf emptySet arrayOf arrayOfNulls emptyArray intArrayOf
longArrayOf floatArrayOf doubleArrayOf byteArrayOf charArrayOf booleanArrayOf shortArrayOf sequenceOf emptySequence
println print readLine require requireNotNull check checkNotNull error TODO lazy lazyOf run let apply also with
takeIf takeUnless repeat maxOf minOf synchronized buildString buildList buildMap buildSet to until downTo step
generateSequence runCatching assert""".split())


class _Kotlin(jvm.Base):
    LANG_TYPES = {**{n: f"{PREFIX}java.lang.{n}" for n in jvm.JAVA_LANG},
                  **{n: f"{PREFIX}{pkg}.{n}" for pkg, names in _KT_TYPES.items() for n in names.split()}}

    def __init__(self, src: bytes, module: str):
        super().__init__(src, module)
        self.recs: dict = {}

    # ---- file ------------------------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.facts.errors = _count_errors(root) if root.has_error else 0
        has_package = False
        for ch in root.named_children:
            if ch.type == "package_header" and not has_package:
                q = next((c for c in ch.named_children if c.type == "qualified_identifier"), None)
                parts = [c for c in q.named_children if c.type == "identifier"] if q is not None else []
                if parts:
                    self.module = package_target([self.text(n) for n in parts])
                    self.package_def(parts, ch)
                    has_package = True
            elif ch.type == "import":
                self.v_import(ch)
        if not has_package:
            self.no_package_def(root)
        self.declare(root, None, self.module)
        self.scopes.append({})
        for ch in root.named_children:
            if ch.type not in SKIP:
                self.visit(ch)
        return self.facts

    def v_import(self, node):
        path = None
        alias = None
        wildcard = False
        for ch in node.children:
            t = ch.type
            if t == "qualified_identifier":
                path = ch
            elif t == "*":
                wildcard = True
            elif t == "identifier" and path is not None:
                alias = ch
        if path is None:
            return
        parts_nodes = [c for c in path.named_children if c.type == "identifier"]
        parts = self.import_refs(parts_nodes)
        self.note_import(parts, wildcard)
        target = package_target(parts)
        if wildcard:
            self.star(target, node.start_point[0])
            return
        name = self.text(alias) if alias is not None else parts[-1]
        if alias is not None:
            self.ref(alias, target, "alias")
        self.imports[name] = target

    def declare(self, body, rec, container):
        """Types (and, at the top level, functions/properties) this file declares, before any use."""
        for ch in body.named_children:
            t = ch.type
            if t in ("class_declaration", "object_declaration", "companion_object"):
                n = _name(ch)
                if n is None and t != "companion_object":
                    continue
                name = self.text(n) if n is not None else "Companion"
                q = qual(container, name)
                r = ClassRec(q, rec, _class_kind(ch))
                (rec.types if rec is not None else self.file_types)[name] = q
                self.recs[ch.start_byte] = r
                self.by_qual[q] = r
                b = _body(ch)
                if b is not None:
                    self.declare(b, r, q)
            elif t == "type_alias" and rec is None:
                n = ch.child_by_field_name("type")
                if n is not None and n.type == "identifier":
                    self.file_types[self.text(n)] = qual(container, self.text(n))
            elif t == "ERROR":
                self.declare(ch, rec, container)
            elif rec is None and t == "function_declaration":
                n = ch.child_by_field_name("name")
                if n is not None and not _receiver(ch):
                    self.top[self.text(n)] = None
            elif rec is None and t == "property_declaration":
                for n in _property_names(ch):
                    self.top[self.text(n)] = None

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
            if ch.type == "annotation":
                self.v_annotation(ch)

    def v_annotation(self, node):
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                self.v_type(ch)
            elif ch.type == "constructor_invocation":
                self.v_ctor_invocation(ch)
            elif ch.type not in SKIP and ch.type != "use_site_target":
                self.visit(ch)
        return None

    # ---- declarations ------------------------------------------------------------------------
    def v_class(self, node):
        n = _name(node)
        outer = self.cls
        rec = self.recs.get(node.start_byte)
        if rec is None:
            if n is None and node.type != "companion_object":
                self.walk(node)
                return None
            host = self.named_class()
            name = self.text(n) if n is not None else "Companion"
            rec = ClassRec(qual(host.qual if host else self.module, name), outer, _class_kind(node))
            self.by_qual[rec.qual] = rec
            if outer is not None:
                outer.types[name] = rec.qual
            b = _body(node)
            if b is not None:
                self.declare(b, rec, rec.qual)
        q = rec.qual
        container = outer.qual if outer is not None and outer.qual else self.module
        self.scopes.append({})
        body = _body(node)
        self.cls = rec        # constructor parameters are visible in supertype arguments
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif t == "primary_constructor":
                self.v_primary(ch, rec)
            elif t == "delegation_specifiers":
                for spec in ch.named_children:
                    bt = self.v_delegation(spec)
                    if bt:
                        rec.bases.append(bt)
                        self.facts.bases.append((q, bt))
            elif t == "type_constraints":
                self.walk(ch)
        end = body.start_byte if body is not None else None
        name_node = n if n is not None else next((c for c in node.children if c.type == "object"), node)
        self.add_def(q, name_node, rec.kind, container, node, self.signature(node, end, ANNOTATIONS),
                     self.doc_of(node), None, None if n is not None else "Companion")
        if node.type == "companion_object" and outer is not None and outer.qual:
            self.facts.bases.append((outer.qual, q))
            outer.fields.update(rec.fields)
        if body is not None:
            self.members(body, rec)
            if node.type == "companion_object" and outer is not None:
                for k, v in rec.fields.items():
                    outer.fields.setdefault(k, v)
                for k, v in rec.methods.items():
                    outer.methods.setdefault(k, v)
            self.walk(body)
        self.cls = outer
        self.scopes.pop()
        return None

    def v_delegation(self, spec):
        """A supertype in `: Base(), Api, C by d`: refs, and its target."""
        for ch in spec.named_children:
            t = ch.type
            if t == "constructor_invocation":
                return self.v_ctor_invocation(ch)
            if t in TYPE_NODES:
                return self.v_type(ch)
            if t == "explicit_delegation":
                out = None
                for c in ch.named_children:
                    if c.type in TYPE_NODES and out is None:
                        out = self.v_type(c)
                    elif c.type not in SKIP:
                        self.visit(c)
                return out
        return None

    def v_ctor_invocation(self, node):
        out = None
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                out = self.v_type(ch)
            elif ch.type == "value_arguments":
                self.v_args(ch)
        return out

    def v_primary(self, node, rec):
        for ch in node.named_children:
            if ch.type == "modifiers":
                self.v_modifiers(ch)
            elif ch.type == "class_parameters":
                for p in ch.named_children:
                    if p.type != "class_parameter":
                        continue
                    prop = any(c.type in ("val", "var") for c in p.children)
                    pn = pt = None
                    for c in p.named_children:
                        if c.type == "modifiers":
                            self.v_modifiers(c)
                        elif c.type == "identifier" and pn is None:
                            pn = c
                        elif c.type in TYPE_NODES and pt is None:
                            pt = self.v_type(c)
                        elif c.type not in SKIP:
                            self.visit(c)
                    if pn is None:
                        continue
                    name = self.text(pn)
                    self.bind(name, pt)        # visible in initializers
                    if prop:
                        rec.fields[name] = pt
                        self.add_def(f"{rec.qual}.{name}", pn, "property", rec.qual, p,
                                     self.signature(p, None, ANNOTATIONS).split(" = ")[0], None, pt)

    def members(self, body, rec):
        """Properties, functions and enum entries this class declares (with their types)."""
        for ch in body.named_children:
            t = ch.type
            if t == "property_declaration":
                tn = _property_type(ch)
                v = self.type_value(tn) if tn is not None else None
                for n in _property_names(ch):
                    rec.fields[self.text(n)] = v
            elif t == "function_declaration":
                n = ch.child_by_field_name("name")
                if n is not None:
                    rn = _return_type(ch)
                    rec.methods[self.text(n)] = self.type_value(rn) if rn is not None else None
            elif t == "enum_entry":
                n = next((c for c in ch.named_children if c.type == "identifier"), None)
                if n is not None:
                    rec.fields[self.text(n)] = rec.qual

    def v_type_parameters(self, node):
        for tp in node.named_children:
            if tp.type != "type_parameter":
                continue
            for ch in tp.named_children:
                if ch.type == "identifier":
                    self.bind(self.text(ch), TPARAM)
            for ch in tp.named_children:
                if ch.type in TYPE_NODES:
                    self.v_type(ch)

    def v_function(self, node):
        n = node.child_by_field_name("name")
        cls = self.cls
        local = self.in_body
        self.scopes.append({BARRIER: True} if cls is not None and cls.qual is not None and not local else {})
        body = None
        rt = None
        receiver = None
        seen_name = False
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif ch == n:
                seen_name = True
            elif t == "function_value_parameters":
                self.v_params(ch)
            elif t in TYPE_NODES:
                if seen_name:
                    rt = self.v_type(ch)
                else:
                    receiver = self.v_type(ch)
            elif t == "function_body":
                body = ch
            elif t == "type_constraints":
                self.walk(ch)
        outer = self.cls
        if receiver:
            ext = ClassRec(None, outer)
            ext.bases.append(receiver)
            self.cls = ext
        index = None
        if n is not None and not local:
            name = self.text(n)
            sig = self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS)
            if cls is not None and cls.qual is not None and not receiver:
                index = self.add_def(f"{cls.qual}.{name}", n, "method", cls.qual, node, sig, self.doc_of(node), rt)
            elif cls is None:
                index = self.add_def(qual(self.module, name), n, "function", self.module, node, sig,
                                     self.doc_of(node), rt)
        elif n is not None:
            self.scopes[-2][self.text(n)] = None
        if body is not None:
            saved, self.in_body = self.in_body, True
            v = None
            for ch in body.named_children:
                if ch.type not in SKIP:
                    v = self.visit(ch)
            self.in_body = saved
            if index is not None and rt is None and body.named_child_count and body.named_children[0].type != "block":
                self.set_type(index, v)
        self.cls = outer
        self.scopes.pop()
        return None

    in_body = False

    def v_params(self, node):
        for p in node.named_children:
            if p.type == "parameter":
                pn = None
                pt = None
                for ch in p.named_children:
                    if ch.type == "identifier" and pn is None:
                        pn = ch
                    elif ch.type in TYPE_NODES and pt is None:
                        pt = self.v_type(ch)
                    elif ch.type == "modifiers":
                        self.v_modifiers(ch)
                    elif ch.type not in SKIP:
                        self.visit(ch)
                if pn is not None:
                    self.bind(self.text(pn), pt)
            elif p.type == "parameter_modifiers":
                self.v_modifiers(p)
            elif p.type not in SKIP:
                self.visit(p)

    def v_property(self, node):
        cls = self.cls
        local = self.in_body
        pt = None
        const = False
        value = None
        receiver = None
        names = []
        end = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
                const = b"const" in ch.text.split()
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif t in TYPE_NODES:
                receiver = self.v_type(ch)
            elif t == "variable_declaration":
                names = [c for c in ch.named_children if c.type == "identifier"][:1]
                for c in ch.named_children:
                    if c.type in TYPE_NODES:
                        pt = self.v_type(c)
                end = ch.end_byte
            elif t == "multi_variable_declaration":
                names = [n for v in ch.named_children for n in v.named_children if n.type == "identifier"][:8]
                for v in ch.named_children:
                    for c in v.named_children:
                        if c.type in TYPE_NODES:
                            self.v_type(c)
                end = ch.end_byte
            elif t in ("getter", "setter"):
                self.scopes.append({"field": pt, "value": pt, BARRIER: True})
                self.walk(ch)
                self.scopes.pop()
            elif t == "property_delegate":
                self.walk(ch)
            elif t == "type_constraints":
                self.walk(ch)
            elif t not in SKIP:
                value = self.visit(ch)
        typ = pt or value
        if local:
            for n in names:
                self.bind(self.text(n), typ if len(names) == 1 else None)
            return None
        doc = self.doc_of(node)
        sig = self.signature(node, end, ANNOTATIONS)
        for n in names:
            name = self.text(n)
            kind = "constant" if const else "property"
            if cls is not None and cls.qual is not None and not receiver:
                self.add_def(f"{cls.qual}.{name}", n, kind, cls.qual, node, sig, doc, typ)
                cls.fields[name] = cls.fields.get(name) or pt or (value if value and not value.endswith("()") else None)
            elif cls is None:
                self.add_def(qual(self.module, name), n, kind, self.module, node, sig, doc, typ)
                if self.top.get(name) is None:
                    self.top[name] = pt
        return None

    def v_secondary_ctor(self, node):
        cls = self.cls
        kw = next((c for c in node.children if c.type == "constructor"), None)
        self.scopes.append({BARRIER: True})
        body = None
        for ch in node.named_children:
            t = ch.type
            if t == "modifiers":
                self.v_modifiers(ch)
            elif t == "function_value_parameters":
                self.v_params(ch)
            elif t == "constructor_delegation_call":
                for c in ch.named_children:
                    if c.type == "value_arguments":
                        self.v_args(c)
            elif t == "block":
                body = ch
        if kw is not None and cls is not None and cls.qual is not None:
            self.add_def(f"{cls.qual}.<init>", kw, "constructor", cls.qual, node,
                         self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS),
                         self.doc_of(node), None, cls.qual[cls.qual.rfind(".") + 1:])
        if body is not None:
            saved, self.in_body = self.in_body, True
            self.walk(body)
            self.in_body = saved
        self.scopes.pop()
        return None

    def v_init(self, node):
        saved, self.in_body = self.in_body, True
        self.walk(node)
        self.in_body = saved
        return None

    def v_enum_entry(self, node):
        cls = self.cls
        n = next((c for c in node.named_children if c.type == "identifier"), None)
        body = None
        for ch in node.named_children:
            if ch.type == "modifiers":
                self.v_modifiers(ch)
            elif ch.type == "value_arguments":
                self.v_args(ch)
            elif ch.type == "class_body":
                body = ch
        if n is not None and cls is not None and cls.qual is not None:
            self.add_def(f"{cls.qual}.{self.text(n)}", n, "enum_member", cls.qual, node,
                         self.signature(node, body.start_byte if body is not None else None, ANNOTATIONS),
                         self.doc_of(node), cls.qual)
        if body is not None:
            self.anonymous(body, cls.qual if cls is not None else None)
        return None

    def v_type_alias(self, node):
        n = node.child_by_field_name("type")
        self.scopes.append({})
        for ch in node.named_children:
            if ch == n:
                continue
            if ch.type == "type_parameters":
                self.v_type_parameters(ch)
            elif ch.type in TYPE_NODES:
                t = self.v_type(ch)
                if n is not None and n.type == "identifier" and self.cls is None:
                    self.add_def(qual(self.module, self.text(n)), n, "type", self.module, node,
                                 " ".join(self.text(node).split()), self.doc_of(node), t)
            elif ch.type == "modifiers":
                self.v_modifiers(ch)
        self.scopes.pop()
        return None

    def anonymous(self, body, bases):
        rec = ClassRec(None, self.cls)
        if bases:
            rec.bases.extend(bases if isinstance(bases, list) else [bases])
        outer = self.cls
        self.cls = rec
        host = self.named_class()
        self.declare(body, rec, host.qual if host else self.module)
        self.members(body, rec)
        self.scopes.append({})
        saved, self.in_body = self.in_body, False
        self.walk(body)
        self.in_body = saved
        self.scopes.pop()
        self.cls = outer

    def v_object_literal(self, node):
        bases = []
        body = None
        for ch in node.named_children:
            if ch.type == "delegation_specifiers":
                for spec in ch.named_children:
                    bt = self.v_delegation(spec)
                    if bt:
                        bases.append(bt)
            elif ch.type == "class_body":
                body = ch
        if body is not None:
            self.anonymous(body, bases)
        return bases[0] if bases else None

    # ---- types -------------------------------------------------------------------------------
    def type_in_scope(self, name):
        c = self.cls
        while c is not None:
            if name in c.types:
                return c.types[name]
            c = c.outer
        return None

    def package_head(self, names) -> bool:
        head = names[0]
        return (head[:1].islower() and self.local(head) is False and head not in self.imports
                and head not in self.file_types and self.type_in_scope(head) is None and head not in self.top)

    def type_value(self, node) -> str | None:
        if node is None:
            return None
        t = node.type
        if t == "user_type":
            names = [self.text(c) for c in node.named_children if c.type == "identifier"]
            if not names:
                return None
            if len(names) > 1 and self.package_head(names):
                return package_target(names)
            head = self.type_target(names[0])
            return ".".join([head] + names[1:]) if head else None
        if t in ("nullable_type", "non_nullable_type", "parenthesized_type"):
            for ch in node.named_children:
                if ch.type in TYPE_NODES:
                    return self.type_value(ch)
        return None

    def v_type(self, node) -> str | None:
        """Emit `type` references for a type node; return the class it names."""
        t = node.type
        if t == "user_type":
            ids = []
            for ch in node.named_children:
                if ch.type == "identifier":
                    ids.append(ch)
                elif ch.type == "type_arguments":
                    for a in ch.named_children:
                        for c in a.named_children:
                            if c.type in TYPE_NODES:
                                self.v_type(c)
            if not ids:
                return None
            names = [self.text(c) for c in ids]
            if len(names) > 1 and self.package_head(names):
                for i, p in enumerate(ids):
                    self.ref(p, package_target(names[:i + 1]), "type")
                return package_target(names)
            cur = self.type_target(names[0])
            if cur is None:
                return None
            self.ref(ids[0], cur, "type")
            for p, nm in zip(ids[1:], names[1:]):
                cur = f"{cur}.{nm}"
                self.ref(p, cur, "type")
            return cur
        out = None
        for ch in node.named_children:
            ct = ch.type
            if ct in TYPE_NODES:
                r = self.v_type(ch)
                if t != "function_type":
                    out = out or r
            elif ct == "annotation":
                self.v_annotation(ch)
            elif ct == "function_type_parameters":
                for c in ch.named_children:
                    if c.type in TYPE_NODES:
                        self.v_type(c)
                    elif c.type == "parameter":
                        for cc in c.named_children:
                            if cc.type in TYPE_NODES:
                                self.v_type(cc)
        return out

    def v_type_test(self, node):
        out = None
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                out = self.v_type(ch)
            elif ch.type not in SKIP:
                self.visit(ch)
        return out

    # ---- expressions ---------------------------------------------------------------------------
    def v_ident(self, node):
        name = self.text(node)
        if name in LITERAL_NAMES:
            return None
        v = self.local(name)
        if v is not False:
            return v if v is not TPARAM else None
        c = self.cls
        while c is not None:
            if c.qual is not None and name in c.fields:
                t = f"{c.qual}.{name}"
                self.ref(node, t, "name")
                return c.fields[name] or t
            c = c.outer
        if name in self.top:
            t = qual(self.module, name)
            self.ref(node, t, "name")
            return self.top[name] or t
        t = self.imports.get(name) or self.statics.get(name)
        if t is None and (looks_like_type(name) or name in self.file_types or self.type_in_scope(name)):
            t = self.type_target(name)
        if t is not None:
            self.ref(node, t, "name")
            return t
        if name == "it":
            return None
        t, v = self.member_target(name, False)
        self.ref(node, t, "name")
        return v

    def callee(self, node):
        """An unqualified call `f(...)`/`Foo(...)`: ref and the call's value."""
        name = self.text(node)
        v = self.local(name)
        if v is not False:
            return None
        c = self.cls
        while c is not None:
            if c.qual is not None and name in c.methods:
                t = f"{c.qual}.{name}"
                self.ref(node, t, "name")
                return c.methods[name] or f"{t}()"
            c = c.outer
        if name in self.top:
            t = qual(self.module, name)
            self.ref(node, t, "name")
            return f"{t}()"
        t = self.imports.get(name)
        if t is None and (name[:1].isupper() or self.type_in_scope(name)):
            t = self.type_target(name)
            if t:
                self.ref(node, t, "name")
            return t
        if t is not None:
            self.ref(node, t, "name")
            return f"{t}()"
        if name in _KT_FUNCTIONS:
            return None
        c = self.cls
        while c is not None and not c.bases:
            c = c.outer
        if c is None:        # no class with supertypes around: a package-level function elsewhere
            t = qual(self.module, name)
            self.ref(node, t, "name")
            return f"{t}()"
        t, v = self.member_target(name, True)
        self.ref(node, t, "name")
        return v

    def chain(self, node):
        parts = []
        while node.type == "navigation_expression":
            kids = node.named_children
            if len(kids) != 2 or kids[1].type != "identifier" or _nav_op(node) != ".":
                return None
            parts.append(kids[1])
            node = kids[0]
        if node.type != "identifier":
            return None
        parts.append(node)
        parts.reverse()
        return parts

    def fqn(self, obj, last=None):
        if obj.type not in ("navigation_expression", "identifier"):
            return None
        parts = self.chain(obj)
        if parts is None:
            return None
        names = [self.text(p) for p in parts]
        if not fqn_chain(names + ([last] if last else [])) or not self.package_head(names):
            return None
        c = self.cls
        while c is not None:
            if names[0] in c.fields:
                return None
            c = c.outer
        for i, p in enumerate(parts):
            self.ref(p, package_target(names[:i + 1]), "name")
        return package_target(names)

    def v_navigation(self, node, call=False):
        kids = node.named_children
        if len(kids) < 2 or kids[-1].type != "identifier":
            base = None
            for ch in kids:
                if ch.type in TYPE_NODES:
                    self.v_type(ch)
                elif ch.type not in SKIP:
                    base = self.visit(ch)
            if any(c.type == "class" for c in node.children):
                return f"{PREFIX}kotlin.reflect.KClass"
            return None
        obj, f = kids[0], kids[-1]
        name = self.text(f)
        base = self.fqn(obj, name)
        if base is None:
            base = self.v_type(obj) if obj.type in TYPE_NODES else self.visit(obj)
        target = f"{base}.{name}" if base else None
        self.ref(f, target, "attr")
        if target is None:
            return None
        if call:
            return self.known_member(base, name, True) or f"{target}()"
        return self.known_member(base, name, False) or target

    def v_call(self, node):
        value = None
        for i, ch in enumerate(node.named_children):
            t = ch.type
            if i == 0:
                if t == "identifier":
                    value = self.callee(ch) if self.text(ch) not in LITERAL_NAMES else None
                elif t == "navigation_expression":
                    value = self.v_navigation(ch, call=True)
                else:
                    self.visit(ch)
            elif t == "value_arguments":
                self.v_args(ch)
            elif t == "type_arguments":
                for a in ch.named_children:
                    for c in a.named_children:
                        if c.type in TYPE_NODES:
                            self.v_type(c)
            elif t not in SKIP:
                self.visit(ch)
        return value

    def v_args(self, node):
        for a in node.named_children:
            if a.type != "value_argument":
                if a.type not in SKIP:
                    self.visit(a)
                continue
            kids = a.children
            named = len(kids) >= 2 and kids[0].type == "identifier" and kids[1].type == "="
            for ch in a.named_children:
                if named and ch == kids[0]:
                    self.ref(ch, None, "attr")      # a named argument: the callee's parameter
                elif ch.type not in SKIP:
                    self.visit(ch)

    def v_callable_ref(self, node):
        kids = node.named_children
        base = None
        for ch in kids[:-1]:
            base = self.v_type(ch) if ch.type in TYPE_NODES else self.visit(ch)
        if kids and kids[-1].type == "identifier":
            last = kids[-1]
            if len(kids) == 1:
                self.callee(last)
            else:
                self.ref(last, f"{base}.{self.text(last)}" if base else None, "attr")
        elif kids and kids[-1].type in TYPE_NODES:
            self.v_type(kids[-1])
        return None

    def v_lambda(self, node):
        self.scopes.append({})
        has_params = False
        saved, self.in_body = self.in_body, True
        for ch in node.named_children:
            if ch.type == "lambda_parameters":
                has_params = True
                for v in ch.named_children:
                    for n in (v.named_children if v.type == "multi_variable_declaration" else [v]):
                        idn = next((c for c in n.named_children if c.type == "identifier"), None)
                        tn = next((c for c in n.named_children if c.type in TYPE_NODES), None)
                        t = self.v_type(tn) if tn is not None else None
                        if idn is not None:
                            self.bind(self.text(idn), t)
            elif ch.type not in SKIP:
                if not has_params and "it" not in self.scopes[-1]:
                    self.scopes[-1]["it"] = None
                self.visit(ch)
        self.in_body = saved
        self.scopes.pop()
        return None

    def v_anon_function(self, node):
        self.scopes.append({})
        saved, self.in_body = self.in_body, True
        for ch in node.named_children:
            if ch.type == "function_value_parameters":
                self.v_params(ch)
            elif ch.type in TYPE_NODES:
                self.v_type(ch)
            elif ch.type not in SKIP:
                self.visit(ch)
        self.in_body = saved
        self.scopes.pop()
        return None

    def v_for(self, node):
        """`for (x in xs) body`: x is bound after the iterable is walked."""
        self.scopes.append({})
        names = []
        for ch in node.named_children:
            t = ch.type
            if t == "variable_declaration":
                names.extend(c for c in ch.named_children if c.type == "identifier")
                for c in ch.named_children:
                    if c.type in TYPE_NODES:
                        self.v_type(c)
            elif t == "multi_variable_declaration":
                names.extend(n for v in ch.named_children for n in v.named_children if n.type == "identifier")
            elif t not in SKIP:
                self.visit(ch)
                for n in names:
                    self.bind(self.text(n))
        self.scopes.pop()
        return None

    def v_catch(self, node):
        self.scopes.append({})
        name = None
        for ch in node.named_children:
            if ch.type == "identifier" and name is None:
                name = ch
            elif ch.type in TYPE_NODES:
                t = self.v_type(ch)
                if name is not None:
                    self.bind(self.text(name), t)
            elif ch.type not in SKIP:
                self.visit(ch)
        self.scopes.pop()
        return None

    def v_when_subject(self, node):
        name = None
        pt = None
        for ch in node.named_children:
            if ch.type == "variable_declaration":
                name = next((c for c in ch.named_children if c.type == "identifier"), None)
                tn = next((c for c in ch.named_children if c.type in TYPE_NODES), None)
                pt = self.v_type(tn) if tn is not None else None
            elif ch.type not in SKIP:
                v = self.visit(ch)
                if name is not None:
                    self.bind(self.text(name), pt or v)
        return None

    def v_this(self, node):
        label = next((c for c in node.named_children if c.type == "identifier"), None)
        if label is not None:
            t = self.type_target(self.text(label))
            self.ref(label, t, "name")
            return t
        return self.this_value()

    def v_super(self, node):
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                return self.v_type(ch)
        c = self.named_class()
        return c.bases[0] if c is not None and c.bases else None

    def v_as(self, node):
        out = None
        for ch in node.named_children:
            if ch.type in TYPE_NODES:
                out = self.v_type(ch)
            elif ch.type not in SKIP:
                self.visit(ch)
        return out

    def v_paren(self, node):
        out = None
        for ch in node.named_children:
            if ch.type not in SKIP:
                out = self.visit(ch)
        return out

    def v_unary(self, node):
        """`x!!` keeps x's value; other unary operators walk."""
        out = None
        for ch in node.named_children:
            if ch.type not in SKIP:
                out = self.visit(ch)
        return out if node.child_count == 2 and node.children[1].type == "!!" else None

    def v_labeled(self, node):
        for ch in node.named_children:
            if ch.type != "identifier" and ch.type not in SKIP:
                self.visit(ch)
        return None

    def v_error(self, node):
        """Recover `class Name` / `object Name` / `interface Name` inside an ERROR node: the members
        that follow are members of that class, as far as this file can tell."""
        kids = node.children
        for i, ch in enumerate(kids):
            if ch.type in ("class", "interface", "object") and i + 1 < len(kids) and kids[i + 1].type == "identifier":
                return self._recover_class(node, kids, i)
        self.walk(node)
        return None

    def _recover_class(self, node, kids, i):
        n = kids[i + 1]
        name = self.text(n)
        outer = self.cls
        host = self.named_class()
        q = qual(host.qual if host else self.module, name)
        kind = {"interface": "interface", "object": "object"}.get(kids[i].type, "class")
        rec = self.by_qual.get(q) or ClassRec(q, outer, kind)
        self.by_qual[q] = rec
        (outer.types if outer is not None else self.file_types)[name] = q
        for ch in kids[:i]:
            if ch.is_named and ch.type not in SKIP:
                self.visit(ch)
        self.add_def(q, n, kind, host.qual if host else self.module, node, name and f"{kids[i].type} {name}",
                     self.doc_of(node))
        self.scopes.append({})
        self.cls = rec
        rest = [c for c in kids[i + 2:] if c.is_named]
        self.members(node, rec)
        for ch in rest:
            t = ch.type
            if t == "primary_constructor":
                self.v_primary(ch, rec)
            elif t == "delegation_specifiers":
                for spec in ch.named_children:
                    bt = self.v_delegation(spec)
                    if bt:
                        rec.bases.append(bt)
                        self.facts.bases.append((q, bt))
            elif t == "type_parameters":
                self.v_type_parameters(ch)
            elif t in ("class_body", "enum_class_body"):
                self.members(ch, rec)
                self.walk(ch)
            elif t not in SKIP:
                self.visit(ch)
        self.cls = outer
        self.scopes.pop()
        return None


def _name(node):
    n = node.child_by_field_name("name")
    if n is not None:
        return n
    for ch in node.named_children:
        if ch.type == "identifier":
            return ch
        if ch.type in ("class_body", "enum_class_body", "primary_constructor", "delegation_specifiers"):
            break
    return None


def _body(node):
    for ch in node.named_children:
        if ch.type in ("class_body", "enum_class_body"):
            return ch
    return None


def _class_kind(node) -> str:
    if node.type in ("object_declaration", "companion_object"):
        return "object"
    for ch in node.children:
        if ch.type == "interface":
            return "interface"
        if ch.type == "modifiers":
            for m in ch.named_children:
                if m.type == "class_modifier" and m.text == b"enum":
                    return "enum"
    return "class"


def _receiver(node) -> bool:
    """Is this `fun Foo.name()` (an extension function)?"""
    n = node.child_by_field_name("name")
    for ch in node.named_children:
        if ch == n:
            return False
        if ch.type in TYPE_NODES:
            return True
    return False


def _return_type(node):
    n = node.child_by_field_name("name")
    seen = False
    for ch in node.named_children:
        if ch == n:
            seen = True
        elif seen and ch.type in TYPE_NODES:
            return ch
    return None


def _property_names(node):
    for ch in node.named_children:
        if ch.type == "variable_declaration":
            return [c for c in ch.named_children if c.type == "identifier"][:1]
        if ch.type == "multi_variable_declaration":
            return []
    return []


def _property_type(node):
    for ch in node.named_children:
        if ch.type == "variable_declaration":
            for c in ch.named_children:
                if c.type in TYPE_NODES:
                    return c
            return None
    return None


def _nav_op(node) -> str:
    for ch in node.children:
        if not ch.is_named:
            return ch.type
    return ""


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
    "class_declaration": _Kotlin.v_class,
    "object_declaration": _Kotlin.v_class,
    "companion_object": _Kotlin.v_class,
    "function_declaration": _Kotlin.v_function,
    "property_declaration": _Kotlin.v_property,
    "secondary_constructor": _Kotlin.v_secondary_ctor,
    "anonymous_initializer": _Kotlin.v_init,
    "enum_entry": _Kotlin.v_enum_entry,
    "type_alias": _Kotlin.v_type_alias,
    "object_literal": _Kotlin.v_object_literal,
    "modifiers": _Kotlin.v_modifiers,
    "annotation": _Kotlin.v_annotation,
    "block": _Kotlin.v_scoped,
    "lambda_literal": _Kotlin.v_lambda,
    "anonymous_function": _Kotlin.v_anon_function,
    "for_statement": _Kotlin.v_for,
    "catch_block": _Kotlin.v_catch,
    "when_subject": _Kotlin.v_when_subject,
    "identifier": _Kotlin.v_ident,
    "navigation_expression": _Kotlin.v_navigation,
    "call_expression": _Kotlin.v_call,
    "value_arguments": _Kotlin.v_args,
    "callable_reference": _Kotlin.v_callable_ref,
    "this_expression": _Kotlin.v_this,
    "super_expression": _Kotlin.v_super,
    "as_expression": _Kotlin.v_as,
    "is_expression": _Kotlin.v_type_test,
    "type_test": _Kotlin.v_type_test,
    "parenthesized_expression": _Kotlin.v_paren,
    "unary_expression": _Kotlin.v_unary,
    "labeled_expression": _Kotlin.v_labeled,
    "constructor_invocation": _Kotlin.v_ctor_invocation,
    "ERROR": _Kotlin.v_error,
    **{t: _Kotlin.v_type for t in TYPE_NODES},
}

_parser = None


def parse(src: bytes):
    global _parser
    if _parser is None:
        _parser = Parser(KOTLIN)
    return _parser.parse(src)


def extract(src: bytes, unit) -> "jvm.FileFacts":
    """All facts of one Kotlin source file (UTF-8 bytes); the `package` line overrides unit.module."""
    return _Kotlin(src, unit.module).run(parse(src))
