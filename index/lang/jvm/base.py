"""What the Java and Kotlin extractors share: the extractor base class (the walk, positions and
rows, the package line and imports, declared classes, local scopes) and the file-local name rules
(package __init__: how both languages name a symbol)."""
from __future__ import annotations

from .. import FileFacts
from ..source import Positions, count_errors, first_paragraph
from . import PREFIX

TPARAM = object()     # scope marker: a type parameter (never a reference)
LOCAL = None          # scope value: a local whose value type is unknown
BARRIER = "\0barrier"  # scope key: locals of enclosing scopes are not visible from here

# java.lang (implicitly imported by every Java file and by Kotlin): simple name -> package
JAVA_LANG = frozenset("""Object String Class Integer Long Short Byte Character Boolean Double Float Number
Math StrictMath System Thread Runnable Exception RuntimeException Error Throwable Iterable Comparable
CharSequence StringBuilder StringBuffer Override Deprecated SuppressWarnings FunctionalInterface
SafeVarargs Enum Record Void Process ProcessBuilder Runtime ClassLoader Cloneable AutoCloseable
IllegalArgumentException IllegalStateException NullPointerException UnsupportedOperationException
IndexOutOfBoundsException ArrayIndexOutOfBoundsException ClassCastException ArithmeticException
NumberFormatException InterruptedException CloneNotSupportedException ClassNotFoundException
SecurityException ReflectiveOperationException NoSuchFieldException NoSuchMethodException
IllegalAccessException InstantiationException OutOfMemoryError StackOverflowError AssertionError
LinkageError NoClassDefFoundError ExceptionInInitializerError UnsatisfiedLinkError VirtualMachineError
ThreadLocal InheritableThreadLocal ThreadGroup StackTraceElement Appendable Readable""".split())


def qual(module: str, name: str) -> str:
    """A member of a package or class: `jvm:a.b` + `C` -> `jvm:a.b.C`; the default package is `jvm:`."""
    return module + name if module == PREFIX else f"{module}.{name}"


def package_target(parts: list[str]) -> str:
    return PREFIX + ".".join(parts)


def clean_doc(raw: str) -> str | None:
    """First paragraph of a `/** */` comment: stars stripped, stops at a blank line, `<p>` or `@tag`."""
    if not raw.startswith("/**") or raw == "/**/":
        return None
    body = raw[3:-2] if raw.endswith("*/") else raw[3:]
    lines = []
    for ln in body.splitlines():
        s = ln.strip()
        if s.startswith("*"):
            s = s[1:].strip()
        if s.startswith("@") and not s.startswith("@{"):
            break
        if s.lower().startswith("<p>"):
            lines.append("")      # `<p>` starts a new paragraph
        lines.append(s)
    return first_paragraph(lines, 500)


class ClassRec:
    """A class-like scope: its qualified name (None for an anonymous class), nested types and the
    members this file declares in it (name -> value target), for file-local look-ups."""
    __slots__ = ("qual", "outer", "types", "fields", "methods", "bases", "kind")

    def __init__(self, qual, outer, kind="class"):
        self.qual = qual
        self.outer = outer
        self.kind = kind
        self.types: dict = {}        # nested type name -> qualname
        self.fields: dict = {}       # field/property/enum constant name -> value target (its type) or None
        self.methods: dict = {}      # method name -> return type target or None
        self.bases: list = []        # base targets, superclass first


class Base:
    """What the Java and Kotlin extractors share: the walk, positions and rows, the package line and
    imports, the classes a file declares, local scopes and the file-local name rules. A subclass
    gives its grammar's node types and handlers and reads its own declarations and expressions."""

    LANG_TYPES: dict = {}          # default-imported simple type names -> target
    HANDLERS: dict = {}            # node type -> method(self, node); the walk goes into other nodes
    SKIP: frozenset = frozenset()  # node types never walked into (comments, literals ...)
    TYPE_NODES: frozenset = frozenset()
    ANNOTATIONS: frozenset = frozenset()
    PACKAGE = IMPORT = ""          # the node types of the `package` line and of an import
    in_body = False                # Kotlin: inside a function body (declarations there are locals)

    def __init__(self, src: bytes, module: str):
        self.src = src
        self.pos = Positions(src)
        self.col = self.pos.col
        self.all_ascii = self.pos.all_ascii
        self.facts = FileFacts()
        self.module = module
        self.imports: dict = {}         # simple name -> target (single-type / named imports)
        self.statics: dict = {}         # member simple name -> target (static / Kotlin member imports)
        self.file_types: dict = {}      # top-level type names declared in this file -> qualname
        self.top: dict = {}             # Kotlin top-level functions/properties of this file -> value
        self.scopes: list = []          # local scopes, innermost last: name -> value target | LOCAL | TPARAM
        self.cls: ClassRec | None = None
        self.by_qual: dict = {}         # qualname -> ClassRec of the classes this file declares
        self.recs: dict = {}            # class declaration start byte -> ClassRec (declared before the walk)

    # ---- the file and the walk ------------------------------------------------------------
    def head(self, root):
        """Before the walk: errors, the `package` line (it names the module), imports, and the
        types this file declares, so that a use before a declaration resolves."""
        self.facts.errors = count_errors(root)
        has_package = False
        for ch in root.named_children:
            t = ch.type
            if t == self.PACKAGE:
                if not has_package:
                    parts = self.package_parts(ch)
                    if parts:
                        self.module = package_target([self.text(n) for n in parts])
                        self.package_def(parts, ch)
                        has_package = True
            elif t == self.IMPORT:
                self.v_import(ch)
        if not has_package:
            self.no_package_def(root)
        self.declare(root, None, self.module)

    def visit(self, node):
        h = self.HANDLERS.get(node.type)
        if h is not None:
            return h(self, node)
        skip = self.SKIP
        for ch in node.named_children:
            if ch.type not in skip:
                self.visit(ch)
        return None

    def walk(self, node):
        skip = self.SKIP
        for ch in node.named_children:
            if ch.type not in skip:
                self.visit(ch)

    def v_scoped(self, node):
        self.scopes.append({})
        self.walk(node)
        self.scopes.pop()

    def v_modifiers(self, node):
        for ch in node.named_children:
            if ch.type in self.ANNOTATIONS:
                self.v_annotation(ch)

    def v_labeled(self, node):
        for ch in node.named_children:
            if ch.type != "identifier" and ch.type not in self.SKIP:
                self.visit(ch)
        return None

    def v_cast(self, node):
        """`(T) x`, `x as T`, `x is T`: the type's refs, the operand walked; the value is a T."""
        out = None
        for ch in node.named_children:
            if ch.type in self.TYPE_NODES:
                out = self.v_type(ch)
            elif ch.type not in self.SKIP:
                self.visit(ch)
        return out

    def v_super(self, node):
        c = self.named_class()
        return c.bases[0] if c is not None and c.bases else None

    # ---- rows -------------------------------------------------------------------------------
    def text(self, node) -> str:
        return node.text.decode("utf-8", "replace")

    def ref(self, node, target, kind, name=None):
        if name is None:
            name = node.text.decode("utf-8", "replace")
        r, c = node.start_point
        if not self.all_ascii:
            c = self.col(r, c)
        self.facts.refs.append((r, c, c + len(name), name, target, kind))

    def add_def(self, q, name_node, kind, container, node, signature=None, doc=None, typ=None, name=None):
        """One definition row; `name` overrides the identifier text (a Kotlin `constructor`)."""
        width = len(name_node.text.decode("utf-8", "replace"))
        name = name or name_node.text.decode("utf-8", "replace")
        r, c = name_node.start_point
        sr, sc = node.start_point
        er, ec = node.end_point
        if not self.all_ascii:
            c, sc, ec = self.col(r, c), self.col(sr, sc), self.col(er, ec)
        self.facts.defs.append((q, name, kind, container, sr, sc, er, ec, r, c, c + width, signature, doc, typ))
        return len(self.facts.defs) - 1

    def set_type(self, index: int, typ: str | None):
        if typ:
            d = self.facts.defs[index]
            self.facts.defs[index] = d[:13] + (typ,)

    def doc_of(self, node) -> str | None:
        prev = node.prev_named_sibling
        if prev is None or prev.type != "block_comment" or prev.end_point[0] < node.start_point[0] - 1:
            return None
        return clean_doc(prev.text.decode("utf-8", "replace"))

    def signature(self, node, end: int | None, annotations: frozenset) -> str | None:
        """The declaration's text up to `end` (its body), annotations and comments cut out, one line."""
        end = node.end_byte if end is None else end
        cut = []
        for ch in node.children:
            if ch.start_byte >= end:
                break
            if ch.type == "modifiers":
                cut.extend((m.start_byte, m.end_byte) for m in ch.children if m.type in annotations)
            elif ch.type in annotations or ch.type in ("block_comment", "line_comment"):
                cut.append((ch.start_byte, ch.end_byte))
        pos, out = node.start_byte, []
        for s, e in cut:
            out.append(self.src[pos:s])
            pos = e
        out.append(self.src[pos:end])
        text = " ".join(b"".join(out).decode("utf-8", "replace").split())
        return text.rstrip("{=;").strip() or None

    # ---- package, imports -------------------------------------------------------------------
    def package_def(self, parts_nodes, decl):
        """The `package` definition (kind package), one per file, at its last name."""
        parts = [self.text(n) for n in parts_nodes]
        self.package_refs(parts_nodes[:-1], parts[:-1], "name")
        container = package_target(parts[:-1]) if len(parts) > 1 else None
        self.add_def(self.module, parts_nodes[-1], "package", container, decl)

    def no_package_def(self, root):
        """A file without a `package` line still defines its (folder-derived) package, at line 0."""
        if self.module == PREFIX:
            return
        name = self.module.rpartition(".")[2] or self.module[len(PREFIX):]
        parent = self.module.rpartition(".")[0]
        self.facts.defs.append((self.module, name, "package", parent if "." in self.module else None,
                                0, 0, root.end_point[0], 0, 0, 0, 0, None, None, None))

    def package_refs(self, nodes, names, kind) -> str:
        """Refs along a package path `a.b.c`, each prefix a package; the whole path's target."""
        for i, n in enumerate(nodes):
            self.ref(n, package_target(names[:i + 1]), kind)
        return package_target(names)

    def import_target(self, parts_nodes, wildcard, line) -> tuple[list[str], str | None]:
        """The names of an import path and its target, with refs and `imports` rows; a wildcard
        import is a star alias of this package on the imported one (target None)."""
        parts = [self.text(n) for n in parts_nodes]
        target = self.package_refs(parts_nodes, parts, "import")
        self.note_import(parts, wildcard)
        if wildcard:
            self.star(target, line)
            return parts, None
        return parts, target

    def note_import(self, parts: list[str], wildcard: bool = False):
        """Record the imported package and its parents (>= 2 parts) for ranking (`imports`): the
        lowercase segments before the first type name (`a.b.C.m` -> a.b; `a.b.f` -> a.b)."""
        n = next((i for i, p in enumerate(parts) if p[:1].isupper()), None)
        if n is None:
            n = len(parts) if wildcard else len(parts) - 1
        for k in range(2, n + 1):
            self.facts.imports.add(package_target(parts[:k]))

    def star(self, target: str, line: int):
        self.facts.aliases.append((self.module, target, 1, line))

    # ---- classes ----------------------------------------------------------------------------
    def declare_class(self, node, name: str, rec, container: str, kind: str) -> ClassRec:
        """A type this file declares at the top level or in another type (seen before the walk)."""
        q = qual(container, name)
        r = ClassRec(q, rec, kind)
        (rec.types if rec is not None else self.file_types)[name] = q
        self.recs[node.start_byte] = r
        self.by_qual[q] = r
        return r

    def local_class(self, name: str, kind: str, body) -> ClassRec:
        """A class declared in a method body or an anonymous class (not seen before the walk)."""
        outer = self.cls
        host = self.named_class()
        q = qual(host.qual if host else self.module, name)
        rec = ClassRec(q, outer, kind)
        self.by_qual[q] = rec
        if outer is not None:
            outer.types[name] = q
        if body is not None:
            self.declare(body, rec, q)
        return rec

    def add_base(self, rec: ClassRec, base: str | None):
        if base:
            rec.bases.append(base)
            self.facts.bases.append((rec.qual, base))

    def anonymous(self, body, bases):
        """An anonymous class body (`new T() {…}`, an enum constant's body, a Kotlin `object : T`)
        with its base or bases: its members, then a walk of it."""
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

    # ---- scopes -----------------------------------------------------------------------------
    def local(self, name: str):
        """The scope value of a local name, or False. Past a BARRIER (a member function's scope)
        only type parameters of the enclosing class are visible, not its constructor's parameters."""
        crossed = False
        for s in reversed(self.scopes):
            if name in s:
                v = s[name]
                if not crossed or v is TPARAM:
                    return v
            if BARRIER in s:
                crossed = True
        return False

    def bind(self, name: str, value=LOCAL):
        if self.scopes:
            self.scopes[-1][name] = value

    # ---- names ------------------------------------------------------------------------------
    def type_target(self, name: str) -> str | None:
        """The qualified name a simple type name denotes here (None: a type parameter)."""
        if self.scopes and self.local(name) is TPARAM:
            return None
        c = self.cls
        while c is not None:
            t = c.types.get(name)
            if t:
                return t
            c = c.outer
        t = self.file_types.get(name) or self.imports.get(name)
        if t:
            return t
        t = self.LANG_TYPES.get(name)
        if t:
            return t
        return qual(self.module, name)

    def type_in_scope(self, name):
        """A nested type of an enclosing class of this file, or None."""
        c = self.cls
        while c is not None:
            if name in c.types:
                return c.types[name]
            c = c.outer
        return None

    def field_in_scope(self, name) -> bool:
        """Does an enclosing class of this file declare a field (property) of that name?"""
        c = self.cls
        while c is not None:
            if name in c.fields:
                return True
            c = c.outer
        return False

    def package_head(self, names) -> bool:
        """Is `names[0]` (lowercase, not a local, an import, a type or a member here) the first
        segment of a package path?"""
        head = names[0]
        return (head[:1].islower() and self.local(head) is False and head not in self.imports
                and head not in self.file_types and self.type_in_scope(head) is None and head not in self.top)

    def named_class(self) -> ClassRec | None:
        c = self.cls
        while c is not None and c.qual is None:
            c = c.outer
        return c

    def this_value(self) -> str | None:
        """What `this` denotes: the innermost named class, or an anonymous class's base."""
        c = self.cls
        if c is not None and c.qual is None:
            return c.bases[0] if c.bases else None
        return c.qual if c is not None else None

    def known_member(self, base: str, name: str, call: bool) -> str | None:
        """The value of `base.name` when base is a class of this file that declares name with a type."""
        rec = self.by_qual.get(base)
        if rec is None:
            return None
        return (rec.methods if call else rec.fields).get(name)

    def declared_member(self, name: str, call: bool) -> tuple[str, str] | None:
        """(target, value) of a field (call=False) or method (call=True) that an enclosing class
        of this file declares, innermost first; the value is its type (else the target, or the
        call `target()`)."""
        c = self.cls
        while c is not None:
            table = c.methods if call else c.fields
            if c.qual is not None and name in table:
                t = f"{c.qual}.{name}"
                return t, table[name] or (t + "()" if call else t)
            c = c.outer
        return None

    def member_target(self, name: str, call: bool) -> tuple[str | None, str | None]:
        """(target, value) of an unqualified field (call=False) or method (call=True) name:
        declared in an enclosing class in this file, statically imported, a top-level Kotlin
        member of this file, else guessed to be inherited by the innermost class that has bases
        (an anonymous class's base first), else a member of the innermost class. The value is what
        a `.member` after it hangs on: the field's type, the call's return type, else `target()`."""
        declared = self.declared_member(name, call)
        if declared is not None:
            return declared
        t = self.statics.get(name)
        if t is None and name in self.top:
            t = qual(self.module, name)
            v = self.top[name]
            return t, v or (t + "()" if call else t)
        if t is None:
            c = self.cls
            while c is not None and not c.bases:
                c = c.outer
            if c is not None:
                t = f"{c.qual or c.bases[0]}.{name}"
            else:
                c = self.named_class()
                t = f"{c.qual}.{name}" if c is not None else qual(self.module, name)
        return t, (t + "()" if call else t)


def looks_like_type(name: str) -> bool:
    """`Foo`, `URLBuilder` are types; `MAX_SIZE`, `X` are constants/members."""
    return name[:1].isupper() and any(ch.islower() for ch in name)


def fqn_chain(parts: list[str]) -> bool:
    """`com.q.Thing` (lowercase segments, then a type): a fully qualified name in code."""
    if len(parts) < 2 or not parts[0][:1].islower():
        return False
    for p in parts[1:]:
        if looks_like_type(p):
            return True
        if not p[:1].islower():
            return False
    return False
