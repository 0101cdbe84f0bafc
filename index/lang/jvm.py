"""What Java and Kotlin share: one `jvm:` namespace, the repo layout (Maven/Gradle, source roots),
the package of a file, and the file-local name rules both extractors use.

Kotlin calls Java and back, so both languages name a symbol the same way: `jvm:` + package +
nested class path + member (`jvm:com.example.billing.Invoice.Line.total`). Constructors are the
member `<init>` (the JVM's own name; Java allows a method named like its class, so `Foo.Foo`
would collide). Kotlin top-level functions and properties are members of the package itself
(`jvm:com.example.billing.format`), companion objects are nested objects (`Invoice.Companion`).

Resolution here is file-local (docs/architecture.md, "Reference targets"): a simple type name is
looked up in the enclosing classes' nested types, then the file's own types, then single-type
imports, then the language's default imports; anything else is guessed to be in the file's own
package (`jvm:<package>.Name`), which the resolver also searches through the package's wildcard
imports (star aliases). Single-type imports are *not* stored as aliases: they are file-local,
and an alias `jvm:<package>.C -> jvm:a.b.C` would leak into every file of the package and, since
the resolver follows aliases before definitions, hide a class `C` of that package.
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from . import FileFacts

PREFIX = "jvm:"
SOURCE_DIRS = ("java", "kotlin")
JVM_EXTENSIONS = (".java", ".kt", ".kts")
_PACKAGE_RE = re.compile(rb"^\s*package\s+([A-Za-z_][\w.]*)", re.M)
_GRADLE_GROUP = re.compile(r"""^\s*group\s*=?\s*["']([^"']+)["']""", re.M)
_GRADLE_NAME = re.compile(r"""rootProject\.name\s*=\s*["']([^"']+)["']""")
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


# ---------------------------------------------------------------------------------------- layout

def _source_root(path: str) -> str | None:
    """The source root a path lies under: `app/src/main/java` for `app/src/main/java/a/B.java`."""
    parts = path.split("/")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] in SOURCE_DIRS and i >= 2 and parts[i - 2] == "src":
            return "/".join(parts[:i + 1])
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in SOURCE_DIRS and (i == 0 or parts[i - 1] in ("src", "main", "test")):
            return "/".join(parts[:i + 1])
    return None


def _read_head(root: str, path: str, size: int = 8192) -> bytes:
    try:
        with open(os.path.join(root, path), "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def declared_package(src: bytes) -> str | None:
    """The `package a.b` of a Java/Kotlin source (the first one, as a regex over the head)."""
    for m in _PACKAGE_RE.finditer(src[:8192]):
        line_start = src.rfind(b"\n", 0, m.start(1)) + 1
        if b"//" in src[line_start:m.start(1)] or b"*" in src[line_start:m.start(1)]:
            continue
        return m.group(1).decode("ascii", "replace").rstrip(".")
    return None


def _build_info(root: str) -> tuple[str | None, str | None, str | None]:
    """(build file, group, artifact) from pom.xml or Gradle build files at the repo root."""
    pom = os.path.join(root, "pom.xml")
    if os.path.isfile(pom):
        try:
            tree = ET.parse(pom)
            ns = {"m": tree.getroot().tag[1:].split("}")[0]} if tree.getroot().tag.startswith("{") else {}
            find = (lambda p: tree.getroot().findtext("m:" + p.replace("/", "/m:"), namespaces=ns)) if ns \
                else (lambda p: tree.getroot().findtext(p))
            group = find("groupId") or find("parent/groupId")
            return "pom.xml", (group or "").strip() or None, (find("artifactId") or "").strip() or None
        except (ET.ParseError, OSError):
            return "pom.xml", None, None
    for name in ("build.gradle", "build.gradle.kts"):
        f = os.path.join(root, name)
        if os.path.isfile(f):
            try:
                text = open(f, encoding="utf-8", errors="replace").read()
            except OSError:
                text = ""
            m = _GRADLE_GROUP.search(text)
            artifact = None
            for s in ("settings.gradle", "settings.gradle.kts"):
                try:
                    n = _GRADLE_NAME.search(open(os.path.join(root, s), encoding="utf-8", errors="replace").read())
                except OSError:
                    continue
                if n:
                    artifact = n.group(1)
            return "build.gradle", m.group(1) if m else None, artifact
    return None, None, None


def _common(prefixes: list[list[str]]) -> list[str]:
    if not prefixes:
        return []
    out = prefixes[0]
    for p in prefixes[1:]:
        n = 0
        while n < len(out) and n < len(p) and out[n] == p[n]:
            n += 1
        out = out[:n]
    return out


def project(root: str, paths: list[str]) -> dict:
    """Build file identity, source roots and the top package of each root (shared by Java and Kotlin).

    A source root is `.../src/<set>/java|kotlin`; files elsewhere get a root from their package
    declaration (the folder above the package path), read from at most 200 files' heads."""
    jvm = [p for p in paths if p.endswith(JVM_EXTENSIONS)]
    build, group, artifact = _build_info(root)
    roots: dict[str, list[list[str]]] = {}
    loose = []
    for p in jvm:
        r = _source_root(p)
        if r is None:
            loose.append(p)
        else:
            roots.setdefault(r, []).append(p[len(r) + 1:].split("/")[:-1])
    for p in loose[:200]:
        pkg = declared_package(_read_head(root, p))
        d = p.split("/")[:-1]
        parts = pkg.split(".") if pkg else []
        if parts and d[len(d) - len(parts):] == parts:
            r = "/".join(d[:len(d) - len(parts)])
            roots.setdefault(r, []).append(parts)
    packages = []
    for r, dirs in sorted(roots.items()):
        top = _common([d for d in dirs if d])
        name = ".".join(top) if top else group
        if name:
            packages.append((PREFIX + name, r, build or "package"))
    if not packages and group:
        packages.append((PREFIX + group, "", build))
    return {"root": root, "roots": sorted(roots, key=len, reverse=True), "build": build,
            "group": group, "artifact": artifact, "packages": packages}


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """`jvm:<package>` from the file's `package` declaration, else the folder under its source root."""
    pkg = declared_package(_read_head(project.get("root", ""), path)) if project.get("root") else None
    if pkg is None:
        d = path.rsplit("/", 1)[0] if "/" in path else ""
        for r in project.get("roots", ()):
            if d == r or d.startswith(r + "/"):
                pkg = d[len(r) + 1:].replace("/", ".")
                break
        else:
            pkg = ""
    return PREFIX + pkg, False


# ------------------------------------------------------------------------------------ docs, text

def clean_doc(raw: str) -> str | None:
    """First paragraph of a `/** */` comment: stars stripped, stops at a blank line, `<p>` or `@tag`."""
    if not raw.startswith("/**") or raw == "/**/":
        return None
    body = raw[3:-2] if raw.endswith("*/") else raw[3:]
    para = []
    for ln in body.splitlines():
        s = ln.strip()
        if s.startswith("*"):
            s = s[1:].strip()
        if s.startswith("@") and not s.startswith("@{"):
            break
        if s.lower().startswith("<p>") and para:
            break
        if not s:
            if para:
                break
            continue
        para.append(s)
    text = " ".join(para)
    return text[:500] or None


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
    """Positions, rows and the name rules shared by the Java and Kotlin extractors."""

    LANG_TYPES: dict = {}          # default-imported simple type names -> target

    def __init__(self, src: bytes, module: str):
        self.src = src
        self.all_ascii = src.isascii()
        self.lines = None if self.all_ascii else src.split(b"\n")
        self.facts = FileFacts()
        self.module = module
        self.imports: dict = {}         # simple name -> target (single-type / named imports)
        self.statics: dict = {}         # member simple name -> target (static / Kotlin member imports)
        self.file_types: dict = {}      # top-level type names declared in this file -> qualname
        self.top: dict = {}             # Kotlin top-level functions/properties of this file -> value
        self.scopes: list = []          # local scopes, innermost last: name -> value target | LOCAL | TPARAM
        self.cls: ClassRec | None = None
        self.by_qual: dict = {}         # qualname -> ClassRec of the classes this file declares

    # ---- positions ------------------------------------------------------------------------
    def col(self, row: int, bcol: int) -> int:
        if self.all_ascii:
            return bcol
        line = self.lines[row] if row < len(self.lines) else b""
        return bcol if line.isascii() else len(line[:bcol].decode("utf-8", "replace"))

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
        for i, n in enumerate(parts_nodes):
            self.ref(n, package_target(parts[:i + 1]), "name") if i < len(parts) - 1 else None
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

    def import_refs(self, parts_nodes, kind="import"):
        parts = [self.text(n) for n in parts_nodes]
        for i, n in enumerate(parts_nodes):
            self.ref(n, package_target(parts[:i + 1]), kind)
        return parts

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

    def member_target(self, name: str, call: bool) -> tuple[str | None, str | None]:
        """(target, value) of an unqualified field (call=False) or method (call=True) name:
        declared in an enclosing class in this file, statically imported, a top-level Kotlin
        member of this file, else guessed to be inherited by the innermost class that has bases
        (an anonymous class's base first), else a member of the innermost class. The value is what
        a `.member` after it hangs on: the field's type, the call's return type, else `target()`."""
        c = self.cls
        while c is not None:
            table = c.methods if call else c.fields
            if c.qual is not None and name in table:
                t = f"{c.qual}.{name}"
                v = table[name]
                return t, v or (t + "()" if call else t)
            c = c.outer
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
