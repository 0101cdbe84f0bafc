"""Ruby: modules, classes, methods and constants from one file, uses with file-local guesses.

Identity: constants are global in Ruby, so the path is the constant nesting, not the file:
`module Acme; class Client; def get` defines `rb:Acme` (module), `rb:Acme.Client` (class) and
`rb:Acme.Client.get`; `class Acme::Errors::Timeout` defines `rb:Acme.Errors.Timeout`. Singleton
methods (`def self.build`, methods in `class << self`) share the instance methods' path
(`rb:Acme.Client.build`): one namespace per class, as a reader navigates it. `attr_*` accessors
are properties, `X = ...` constants (classes when the value is `Struct.new`/`Class.new`), and the
first assignment of `@ivar` in a class an attribute `rb:Acme.Client.@ivar`. Top-level methods are
`rb:name`.

Lookup follows Ruby's lexical scoping through `aliases` star rows: a class/module body sees the
scope it is written in (`module Acme; class Client` -> `rb:Acme.Client` sees `rb:Acme`; the
compact `class Acme::Client` sees only the top level), and every outermost one sees the top level
(`rb:`). A constant's target is the innermost guess (`Client` inside `module Acme` ->
`rb:Acme.Client`); the resolver tries that, the class's ancestors (`< Base`, `include`, `extend`
are `bases` rows), then the enclosing scopes outwards. Constant paths `Foo::Bar` build on the guess
for `Foo`; `::Foo` is top-level. A method call's target is the receiver's value plus the method
(`Foo.new` -> `…Foo.initialize`, `x = Foo.new; x.bar` -> `…Foo().bar`); a call without receiver is
a method of the enclosing class (found through its ancestors). Locals and a few Kernel/DSL methods
(`puts`, `raise`, `private` ...) are not stored.
"""
from __future__ import annotations

import os
import re
from operator import attrgetter

import tree_sitter_ruby
from tree_sitter import Language, Parser, Query, QueryCursor

from . import FileFacts, Unit
from ._srcpos import Positions, first_paragraph, one_line

NAME = "ruby"
EXTENSIONS = (".rb", ".rake", ".gemspec")
SEARCH_NAMES = ("ruby", "rb")
PREFIX = "rb:"
FENCE = "ruby"

LANG = Language(tree_sitter_ruby.language())
_parser = Parser(LANG)

_STRUCTURE = Query(LANG, """
(module name: (_) @name) @module
(class name: (_) @name) @class
(singleton_class) @sclass
(method name: (_) @name) @method
(singleton_method name: (_) @name) @smethod
(assignment left: (constant) @name) @const
(assignment left: (instance_variable) @name) @ivar
(operator_assignment left: (instance_variable) @name) @ivar
((call method: (identifier) @name arguments: (argument_list)) @call
 (#any-of? @name "attr_accessor" "attr_reader" "attr_writer" "include" "extend" "prepend"
                 "require" "require_relative" "alias_method"))
(alias name: (_) @name) @alias
""")
_USES = Query(LANG, """
(constant) @c
(identifier) @id
(instance_variable) @iv
""")
_BINDS = Query(LANG, """
(assignment left: (identifier) @b)
(operator_assignment left: (identifier) @b)
(left_assignment_list (identifier) @b)
(rest_assignment (identifier) @b)
(destructured_left_assignment (identifier) @b)
(method_parameters (identifier) @b)
(block_parameters (identifier) @b)
(lambda_parameters (identifier) @b)
(destructured_parameter (identifier) @b)
(optional_parameter name: (identifier) @b)
(keyword_parameter name: (identifier) @b)
(splat_parameter name: (identifier) @b)
(hash_splat_parameter name: (identifier) @b)
(block_parameter name: (identifier) @b)
(exception_variable (identifier) @b)
(for pattern: (identifier) @b)
""")

# calls handled as declarations, or Kernel/DSL methods whose uses are noise
_DECL_CALLS = frozenset({"attr_accessor", "attr_reader", "attr_writer", "include", "extend", "prepend",
                         "require", "require_relative", "alias_method"})
_SKIP = frozenset({
    "puts", "print", "p", "pp", "raise", "fail", "require", "require_relative", "load", "autoload",
    "private", "public", "protected", "module_function", "private_constant", "public_constant",
    "attr_accessor", "attr_reader", "attr_writer", "include", "extend", "prepend", "alias_method",
    "define_method", "lambda", "proc", "loop", "block_given?", "binding", "catch", "throw", "format",
    "sprintf", "rand", "sleep", "warn", "abort", "exit", "at_exit", "caller", "freeze", "frozen?",
    "respond_to?", "send", "__send__", "public_send", "instance_variable_get", "instance_variable_set",
    "is_a?", "kind_of?", "instance_of?", "nil?", "class", "dup", "clone", "tap", "then", "itself",
    "new", "initialize", "super", "defined?", "private_class_method", "public_class_method",
    "gets", "open", "system", "Integer", "Float", "String", "Array", "Hash", "Rational", "Complex",
    "__method__", "__dir__", "object_id", "hash", "inspect", "to_s", "equal?", "eql?",
})
_CLASS_VALUES = re.compile(rb"^(?:::)?(?:Struct|Class|Data)\s*\.\s*(?:new|define)\b")
_MAGIC = re.compile(r"^\s*(?:frozen_string_literal|encoding|coding|warn_indent|-\*-|typed:|rubocop:)")
_start = attrgetter("start_byte")


# ---------------------------------------------------------------------------------- project


def project(root: str, paths: list[str]) -> dict:
    """The gem a repo is: its *.gemspec name (else the folder name without a version), lib/ as the
    require root."""
    specs = sorted((p for p in paths if p.endswith(".gemspec") and "/" not in p), key=len)
    if not specs:
        try:
            specs = sorted(n for n in os.listdir(root) if n.endswith(".gemspec"))
        except OSError:
            specs = []
    name = None
    for spec in specs:
        try:
            with open(os.path.join(root, spec), "rb") as f:
                text = f.read(65536).decode("utf-8", "replace")
        except OSError:
            continue
        m = re.search(r"""\.name\s*=\s*["']([^"']+)["']""", text)
        name = m.group(1) if m else os.path.splitext(os.path.basename(spec))[0]
        break
    if name is None:
        base = os.path.basename(os.path.normpath(root))
        name = re.sub(r"-\d+(\.\d+)*([.-][0-9A-Za-z]+)*$", "", base) or base
    packages = [(PREFIX + name, "lib", "gemspec")]
    if "-" not in name:   # a gem named like its top namespace (`rack` -> Rack) provides that constant
        packages.append((PREFIX + _camel(name), "lib", "gemspec"))
    return {"gem": name, "packages": packages}


def _camel(s: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in s.split("_"))


def module_of(project: dict, path: str) -> tuple[str, bool]:
    """The require path (`lib/rack/request.rb` -> `rb:rack/request`): Ruby files are not
    namespaces, definitions carry their constant path."""
    p = path[4:] if path.startswith("lib/") else path
    return PREFIX + os.path.splitext(p)[0], False


# ---------------------------------------------------------------------------------- extract


class _Scope:
    __slots__ = ("start", "end", "qual", "self_qual", "locals")

    def __init__(self, start, end, qual, self_qual, locals_=None):
        self.start, self.end = start, end
        self.qual = qual              # lexical constant scope (`rb:Acme.Client`, or `rb:` at top level)
        self.self_qual = self_qual    # where `self`'s methods live
        self.locals = locals_         # name -> binding node, in method bodies and the top level


def extract(src: bytes, unit: Unit) -> FileFacts:
    return _Extractor(src).run()


class _Extractor:
    def __init__(self, src: bytes):
        self.src = src
        self.pos = Positions(src)
        self.facts = FileFacts()
        self.scopes: list[_Scope] = []
        self.def_names: set = set()
        self.stars: set = set()
        self.ivars: set = set()
        self._memo: dict = {}

    def add_def(self, qual, name, name_node, kind, container, node, signature=None, doc=None, typ=None, skip=0):
        r, c, ec = self.pos.span(name_node)
        c += skip
        sr, sc = node.start_point
        er, ecol = node.end_point
        self.def_names.add(name_node.start_byte)
        self.facts.defs.append((qual, name, kind, container, sr, self.pos.col(sr, sc), er, self.pos.col(er, ecol),
                                r, c, ec, signature, doc, typ))

    def doc(self, node):
        lines = self.pos.comment_block_above(node.start_point[0], b"#")
        lines = [x for x in lines if not _MAGIC.match(x) and not x.startswith("!")]
        return first_paragraph(lines) if lines else None

    def star(self, alias, target, line):
        if (alias, target) not in self.stars:
            self.stars.add((alias, target))
            self.facts.aliases.append((alias, target, 1, line))

    # ---- structure -------------------------------------------------------------------
    def run(self) -> FileFacts:
        tree = _parser.parse(self.src)
        root = tree.root_node
        if root.has_error:
            self.facts.errors = _count_errors(root)
        top = _Scope(0, len(self.src) + 1, PREFIX, PREFIX, {})
        self.scopes.append(top)
        matches = QueryCursor(_STRUCTURE).matches(root)
        stack = [top]   # enclosing class/module/def scopes
        pending = []    # (class qual, node, scope) of bases, read once every scope exists
        for _, caps in matches:
            for key in ("module", "class", "sclass", "method", "smethod", "const", "ivar", "call", "alias"):
                nodes = caps.get(key)
                if nodes:
                    break
            node = nodes[0]
            p = node.start_byte
            while stack[-1].end <= p:
                stack.pop()
            scope = stack[-1]
            name = caps.get("name", (None,))[0]
            if key == "module" or key == "class":
                s = self.namespace(node, key, name, scope, pending)
                if s is not None:
                    stack.append(s)
            elif key == "sclass":
                body = node.child_by_field_name("body")
                if body is not None:
                    s = _Scope(body.start_byte, body.end_byte, scope.qual, scope.self_qual)
                    self.scopes.append(s)
                    stack.append(s)
            elif key == "method" or key == "smethod":
                stack.append(self.method(node, key, name, scope))
            elif key == "const":
                self.constant(node, name, scope)
            elif key == "ivar":
                self.ivar(node, name, scope)
            elif key == "call":
                self.decl_call(node, name, scope, pending)
            elif key == "alias":
                self.alias(node, name, scope)
        self.pending = pending
        self.uses(root)
        return self.facts

    def namespace(self, node, key, name, scope, pending):
        """`module X` / `class X::Y < Z`: a definition, its scope, its lexical star and bases."""
        lexical = scope.qual
        if name.type == "constant":
            parent, text = lexical, name.text.decode("utf-8", "replace")
            name_node = name
        elif name.type == "scope_resolution":
            n = name.child_by_field_name("name")
            if n is None:
                return None
            s = name.child_by_field_name("scope")
            parent = self.const_target(s, scope) if s is not None else PREFIX
            if parent is None:
                return None
            text, name_node = n.text.decode("utf-8", "replace"), n
        else:
            return None
        qual = parent + text if parent == PREFIX else f"{parent}.{text}"
        body = node.child_by_field_name("body")
        sup = node.child_by_field_name("superclass")
        end = (sup or name).end_byte
        sig = one_line(self.src[node.start_byte:end])
        kind = "module" if key == "module" else "class"
        self.add_def(qual, text, name_node, kind, None if parent == PREFIX else parent, node, sig, self.doc(node))
        self.star(qual, lexical, node.start_point[0])
        if sup is not None:
            for ch in sup.named_children:
                pending.append((qual, ch, scope))
        start = body.start_byte if body is not None else node.end_byte
        s = _Scope(start, body.end_byte if body is not None else node.end_byte, qual, qual)
        self.scopes.append(s)
        return s

    def method(self, node, key, name, scope):
        if name.type == "setter":
            inner = name.child_by_field_name("name")
            text = (inner.text if inner is not None else name.text.rstrip(b"=")).decode("utf-8", "replace") + "="
        else:
            text = name.text.decode("utf-8", "replace")
        owner = scope.self_qual
        if key == "smethod":
            obj = node.child_by_field_name("object")
            if obj is not None and obj.type == "constant":
                owner = self.const_target(obj, scope) or owner
        qual = owner + text if owner == PREFIX else f"{owner}.{text}"
        params = node.child_by_field_name("parameters")
        sig = one_line(self.src[node.start_byte:(params or name).end_byte])
        typ = None
        body = node.child_by_field_name("body")
        if body is not None and body.named_child_count and (key == "smethod" or scope.qual == scope.self_qual):
            last = body.named_children[-1]   # a factory ending in `new`: returns an instance
            if last.type in ("identifier", "call") and last.child_by_field_name("receiver") is None and (
                    last.text == b"new" or last.type == "call" and last.child_by_field_name("method").text == b"new"):
                typ = owner + "()"
        self.add_def(qual, text, name, "method", None if owner == PREFIX else owner, node, sig, self.doc(node), typ)
        s = _Scope(node.start_byte, node.end_byte, scope.qual, scope.self_qual, {})
        self.scopes.append(s)
        return s

    def constant(self, node, name, scope):
        text = name.text.decode("utf-8", "replace")
        q = scope.qual
        qual = q + text if q == PREFIX else f"{q}.{text}"
        right = node.child_by_field_name("right")
        kind = "constant"
        typ = None
        if right is not None:
            if right.type in ("call", "method_call") and _CLASS_VALUES.match(right.text):
                kind = "class"
                block = right.child_by_field_name("block")
                if block is not None:   # `Struct.new(...) do ... end`: the block is the new class's body
                    self.scopes.append(_Scope(block.start_byte, block.end_byte, qual, qual))
                self.star(qual, scope.qual, node.start_point[0])
            elif right.type in ("constant", "scope_resolution", "call"):
                typ = ("value", right, scope)
        first = self.src[node.start_byte:node.end_byte].split(b"\n", 1)[0]
        self.add_def(qual, text, name, kind, None if q == PREFIX else q, node, one_line(first[:120]), self.doc(node), typ)

    def ivar(self, node, name, scope):
        owner = scope.self_qual
        if owner == PREFIX:
            return
        text = name.text.decode("utf-8", "replace")
        qual = f"{owner}.{text}"
        if qual in self.ivars:
            return
        self.ivars.add(qual)
        right = node.child_by_field_name("right")
        typ = ("value", right, scope) if right is not None and node.type == "assignment" else None
        first = self.src[node.start_byte:node.end_byte].split(b"\n", 1)[0]
        self.add_def(qual, text, name, "attribute", owner, node, one_line(first[:120]), None, typ)

    def decl_call(self, node, name, scope, pending):
        m = name.text
        if node.child_by_field_name("receiver") is not None:
            return
        args = node.child_by_field_name("arguments")
        if args is None:
            return
        if m == b"require":
            for a in args.named_children:
                if a.type == "string" and a.named_child_count == 1 and a.named_children[0].type == "string_content":
                    path = a.named_children[0].text.decode("utf-8", "replace")
                    first = path.split("/")[0]
                    if first:
                        self.facts.imports.add(PREFIX + first)
                        self.facts.imports.add(PREFIX + _camel(first.split("-")[0]))
            return
        if m == b"require_relative":
            return
        owner = scope.self_qual
        if owner == PREFIX:
            return
        if m in (b"include", b"extend", b"prepend"):
            for a in args.named_children:
                if a.type in ("constant", "scope_resolution"):
                    pending.append((owner, a, scope))
            return
        if m == b"alias_method":
            syms = args.named_children
            if syms and syms[0].type == "simple_symbol":
                text = syms[0].text[1:].decode("utf-8", "replace")
                self.add_def(f"{owner}.{text}", text, syms[0], "method", owner, node,
                             one_line(self.src[node.start_byte:node.end_byte].split(b"\n", 1)[0]), self.doc(node), skip=1)
            return
        doc = self.doc(node)
        sig = one_line(self.src[node.start_byte:node.end_byte].split(b"\n", 1)[0])
        for a in args.named_children:
            if a.type == "simple_symbol":
                text = a.text[1:].decode("utf-8", "replace")
                self.add_def(f"{owner}.{text}", text, a, "property", owner, node, sig, doc, skip=1)

    def alias(self, node, name, scope):
        owner = scope.self_qual
        if owner == PREFIX or name.type != "identifier":
            return
        text = name.text.decode("utf-8", "replace")
        self.add_def(f"{owner}.{text}", text, name, "method", owner, node, one_line(node.text.split(b"\n")[0]), self.doc(node))

    # ---- uses ---------------------------------------------------------------------------
    def uses(self, root):
        scopes = sorted(self.scopes, key=lambda s: (s.start, -s.end))
        bound = set()
        binds = QueryCursor(_BINDS).captures(root).get("b", ())
        for node, _, scope in _sweep(sorted(binds, key=_start), scopes):
            bound.add(node.start_byte)
            name = node.text
            if name not in scope.locals:
                scope.locals[name] = node
        # bases and value types, now that every scope is known
        for qual, node, scope in self.pending:
            t = self.const_target(node, scope)
            if t:
                self.facts.bases.append((qual, t))
        defs = self.facts.defs
        for i, d in enumerate(defs):
            if isinstance(d[13], tuple):
                _, node, scope = d[13]
                defs[i] = d[:13] + (self.value(node, scope),)
        caps = QueryCursor(_USES).captures(root)
        nodes = sorted(caps.get("c", []) + caps.get("id", []) + caps.get("iv", []), key=_start)
        refs = self.facts.refs
        def_names = self.def_names
        span = self.pos.span
        for node, scope, local in _sweep(nodes, scopes):
            local = local.locals
            sb = node.start_byte
            if sb in def_names or sb in bound:
                continue
            t = node.type
            parent = node.parent
            if t == "constant":
                pt = parent.type
                if pt == "scope_resolution":
                    if parent.child_by_field_name("name") == node:
                        s = parent.child_by_field_name("scope")
                        base = self.const_target(s, scope) if s is not None else PREFIX
                        name = node.text.decode("utf-8", "replace")
                        target = (base + name if base == PREFIX else f"{base}.{name}") if base else None
                        r, c, ec = span(node)
                        refs.append((r, c, ec, name, target, "attr" if base != PREFIX else "name"))
                        continue
                elif pt == "call" and parent.child_by_field_name("method") == node:
                    self.call_ref(node, parent, scope, refs)
                    continue
                name = node.text.decode("utf-8", "replace")
                r, c, ec = span(node)
                refs.append((r, c, ec, name, self.simple(name, scope), "name"))
            elif t == "identifier":
                pt = parent.type
                if pt == "call":
                    if parent.child_by_field_name("method") == node:
                        self.call_ref(node, parent, scope, refs)
                    elif node.text in local:
                        continue
                    elif parent.child_by_field_name("receiver") == node:
                        self.vcall(node, scope, refs)
                    continue
                if pt in ("keyword_parameter", "setter", "alias") or node.text in local:
                    continue
                self.vcall(node, scope, refs)
            else:   # instance variable
                owner = scope.self_qual
                if owner == PREFIX:
                    continue
                name = node.text.decode("utf-8", "replace")
                r, c, ec = span(node)
                refs.append((r, c, ec, name, f"{owner}.{name}", "name"))

    def vcall(self, node, scope, refs):
        """A bare identifier that is no local: a method of self."""
        name = node.text.decode("utf-8", "replace")
        if name in _SKIP:
            return
        owner = scope.self_qual
        r, c, ec = self.pos.span(node)
        refs.append((r, c, ec, name, owner + name if owner == PREFIX else f"{owner}.{name}", "name"))

    def call_ref(self, node, call, scope, refs):
        recv = call.child_by_field_name("receiver")
        if recv is None:
            self.vcall(node, scope, refs)
            return
        name = node.text.decode("utf-8", "replace")
        base = self.value(recv, scope)
        member = "initialize" if name == "new" else name
        r, c, ec = self.pos.span(node)
        refs.append((r, c, ec, name, f"{base}.{member}" if base else None, "attr"))

    # ---- targets ------------------------------------------------------------------------
    def simple(self, name, scope):
        q = scope.qual
        return q + name if q == PREFIX else f"{q}.{name}"

    def const_target(self, node, scope):
        t = node.type
        if t == "constant":
            return self.simple(node.text.decode("utf-8", "replace"), scope)
        if t == "scope_resolution":
            n = node.child_by_field_name("name")
            if n is None:
                return None
            s = node.child_by_field_name("scope")
            base = self.const_target(s, scope) if s is not None else PREFIX
            if not base:
                return None
            name = n.text.decode("utf-8", "replace")
            return base + name if base == PREFIX else f"{base}.{name}"
        return None

    def value(self, node, scope):
        """The file-local target of an expression's value (what a method is called on)."""
        key = (node.start_byte, node.end_byte)
        memo = self._memo
        if key in memo:
            return memo[key]
        memo[key] = None
        t = node.type
        r = None
        if t == "constant" or t == "scope_resolution":
            r = self.const_target(node, scope)
        elif t == "self":
            r = scope.self_qual if scope.self_qual != PREFIX else None
        elif t == "identifier":
            b = scope.locals.get(node.text) if scope.locals is not None else None
            if b is not None:
                p = b.parent
                if p is not None and p.type == "assignment" and p.child_by_field_name("left") == b:
                    right = p.child_by_field_name("right")
                    r = self.value(right, scope) if right is not None else None
        elif t == "instance_variable":
            if scope.self_qual != PREFIX:
                r = f"{scope.self_qual}.{node.text.decode('utf-8', 'replace')}"
        elif t == "call":
            recv = node.child_by_field_name("receiver")
            m = node.child_by_field_name("method")
            if recv is not None and m is not None:
                base = self.value(recv, scope)
                if base:
                    name = m.text.decode("utf-8", "replace")
                    if name == "new":
                        r = base + "()"
                    elif name == "class":   # `self.class`, `x.class`: the class itself
                        r = base[:-2] if base.endswith("()") else base
                    else:
                        r = f"{base}.{name}()"
        elif t == "parenthesized_statements" and node.named_child_count:
            r = self.value(node.named_children[-1], scope)
        memo[key] = r
        return r


def _sweep(nodes, scopes):
    """(node, innermost scope holding it, innermost scope with locals: a method body or the top
    level) for nodes in document order."""
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
        j = len(stack) - 1
        while stack[j].locals is None:
            j -= 1
        yield node, stack[-1], stack[j]


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
