"""Uses for the TypeScript/JavaScript extractor (a mixin of _ecmascript._Extractor).

The source is searched for the names bound at module level (imports and top-level declarations;
`this` inside classes); the tree says what each hit is: a declaration of a local that shadows the
name in its scope, or a use, whose member chain (`ns.Client.create`) becomes references. Locals
whose value type is visible (`new X()`, `make()`, `c: X`) are followed the same way, and member
names on receivers of unknown type are stored without a target."""
from __future__ import annotations

import re

from ._jsnodes import WRAPPERS

_IDENTS = {"identifier", "type_identifier", "shorthand_property_identifier", "this",
           "shorthand_property_identifier_pattern"}
_PATTERNS = {"object_pattern", "array_pattern", "pair_pattern", "assignment_pattern", "rest_pattern",
             "object_assignment_pattern"}
_FUNCTION_SCOPES = {"function_declaration", "generator_function_declaration", "function_expression", "function",
                    "generator_function", "arrow_function", "method_definition", "program"}
_BLOCK_SCOPES = _FUNCTION_SCOPES | {"statement_block", "for_statement", "for_in_statement", "switch_body",
                                    "class_static_block"}
# identifier-like tokens (keywords, property names and words in comments too: the tree decides)
_WORD = re.compile(rb"[A-Za-z_$\x80-\xff][\w$\x80-\xff]*")
_MEMBER = re.compile(rb"\.[ \t]*([A-Za-z_$\x80-\xff#][\w$\x80-\xff]*)")


class Uses:
    """The uses half of _ecmascript._Extractor (its state: bind, skip, classes, locals, facts)."""

    def uses(self):
        names = {n.encode("utf-8") for n in self.bind}
        if self.classes:
            names.add(b"this")
        if not names:
            self.unknown_members()
            return
        src = self.src
        root = self.root
        skip = self.skip
        shadows: dict = {}
        found = []
        for s, e in _occurrences(src, names):
            if s in skip:
                continue
            node = root.descendant_for_byte_range(s, e)
            if node is None or node.start_byte != s or node.end_byte != e or node.type not in _IDENTS:
                continue
            parent = node.parent
            if parent.type == "nested_type_identifier" and parent.child_by_field_name("name") == node:
                continue    # `ns.Type`: a member, reached from `ns`
            scope = self.declares(node, parent)
            if scope is not None:
                if scope:
                    shadows.setdefault(node.text, []).append(scope)
                continue
            found.append((node, parent))
        for node, parent in found:
            sh = shadows.get(node.text)
            if sh is not None:
                b = node.start_byte
                if any(a <= b < z for a, z in sh):
                    continue
            try:
                self.use(node, parent)
            except Exception:  # noqa: BLE001 - as in statements()
                self.facts.errors += 1
        if self.locals:
            self.local_uses()
        self.unknown_members()

    def unknown_members(self):
        """`x.name` where the type of x is not known here: a use of some member `name` (target None);
        find-references counts it for members of that name in packages this file imports."""
        done = self.members_done
        skip = self.skip
        root = self.root
        for m in _MEMBER.finditer(self.src):
            s = m.start(1)
            if s in done or s in skip:
                continue
            node = root.descendant_for_byte_range(s, m.end(1))
            if node is None or node.start_byte != s or node.type not in ("property_identifier", "private_property_identifier"):
                continue
            if node.parent is not None and node.parent.type in ("member_expression", "nested_identifier"):
                self.ref(node, None, "attr")

    def declares(self, node, parent):
        """Where a local declaration of this name is visible: (start, end); False for a top-level
        declaration; None when the identifier is a use."""
        pt = parent.type
        if pt == "variable_declarator":
            if parent.child_by_field_name("name") != node:
                return None
            d = parent.parent
            return self.scope_of(d, d.type == "variable_declaration")
        if pt in ("required_parameter", "optional_parameter"):
            if parent.child_by_field_name("pattern") != node:
                return None
            fn = parent.parent.parent if parent.parent is not None else None
            return (fn.start_byte, fn.end_byte) if fn is not None else None
        if pt == "formal_parameters":
            fn = parent.parent
            return (fn.start_byte, fn.end_byte) if fn is not None else None
        if pt == "arrow_function":
            return (parent.start_byte, parent.end_byte) if parent.child_by_field_name("parameter") == node else None
        if node.type == "shorthand_property_identifier_pattern" or pt in _PATTERNS:
            if pt in ("assignment_pattern", "object_assignment_pattern") and parent.child_by_field_name("left") != node:
                return None
            if pt == "pair_pattern" and parent.child_by_field_name("value") != node:
                return None
            p = parent
            while p is not None and p.type in _PATTERNS:
                p = p.parent
            if p is None:
                return None
            if p.type == "variable_declarator":
                return self.scope_of(p.parent, p.parent.type == "variable_declaration")
            if p.type in ("required_parameter", "optional_parameter"):
                p = p.parent
            if p.type == "formal_parameters":
                fn = p.parent
                return (fn.start_byte, fn.end_byte)
            if p.type in ("for_in_statement", "catch_clause"):
                return (p.start_byte, p.end_byte)
            return None
        if pt in ("function_declaration", "generator_function_declaration", "class_declaration",
                  "abstract_class_declaration", "interface_declaration", "type_alias_declaration", "enum_declaration"):
            if parent.child_by_field_name("name") != node:
                return None
            return self.scope_of(parent, False)
        if pt in ("function_expression", "function", "class", "generator_function"):
            return (parent.start_byte, parent.end_byte) if parent.child_by_field_name("name") == node else None
        if pt == "catch_clause":
            return (parent.start_byte, parent.end_byte)
        if pt == "for_in_statement":
            return (parent.start_byte, parent.end_byte) if parent.child_by_field_name("left") == node else None
        if pt == "type_parameter":
            owner = parent.parent.parent if parent.parent is not None else None
            return (owner.start_byte, owner.end_byte) if owner is not None else None
        return None

    def scope_of(self, decl, var):
        """The block (let/const/class) or function (var) a declaration belongs to; False at top level."""
        scopes = _FUNCTION_SCOPES if var else _BLOCK_SCOPES
        p = decl.parent
        while p is not None and p.type not in scopes:
            p = p.parent
        if p is None or p.type == "program":
            return False
        return (p.start_byte, p.end_byte)

    def class_at(self, pos):
        best = None
        for a, z, q in self.classes:
            if a <= pos < z and (best is None or a >= best[0]):
                best = (a, z, q)
        return best[2] if best else None

    def use(self, node, parent):
        if node.type == "this":
            cls = self.class_at(node.start_byte)
            if cls is None:
                return
            bare, prefix = None, cls
        else:
            b = self.bind.get(node.text.decode("utf-8", "replace"))
            if b is None:
                return
            bare, prefix = b
        kind = "type" if node.type == "type_identifier" else "name"
        cur, parts, p = node, [], parent
        while p is not None:
            pt = p.type
            if pt in ("member_expression", "nested_identifier"):
                obj = p.child_by_field_name("object")
                if obj is None or obj.start_byte != cur.start_byte or obj.end_byte != cur.end_byte:
                    break
                prop = p.child_by_field_name("property")
                if prop is None or prop.type not in ("property_identifier", "private_property_identifier"):
                    break
            elif pt == "nested_type_identifier":
                prop = p.child_by_field_name("name")
                if prop is None or p.child_by_field_name("module") != cur:
                    break
                kind = "type"
            else:
                break
            parts.append(prop)
            cur, p = p, p.parent
        if bare is not None:
            self.ref(node, bare, kind)
        target = bare
        for prop in parts:
            if prop.start_byte in self.skip:
                break
            if prop.text == b"prototype":     # X.prototype.m is the instance member X.m
                continue
            prefix = f"{prefix}.{self.text(prop)}"
            target = prefix
            if bare is None and len(parts) == 1 and p is not None and p.type == "assignment_expression" \
                    and p.child_by_field_name("left") == cur and prefix not in self.defined:
                self.this_field(prefix, prop, p)      # this.x = value: declares the field x
                continue
            self.ref(prop, prefix, "attr")
            self.members_done.add(prop.start_byte)
        if target is not None and p is not None:
            self.typed_local(cur, p, target, kind)

    def this_field(self, qual, prop, assign):
        stmt = assign.parent if assign.parent is not None and assign.parent.type == "expression_statement" else assign
        i = self.add_def(qual, prop, "field", qual.rpartition(".")[0], stmt, self.first_line(stmt), self.doc(stmt))
        right = assign.child_by_field_name("right")
        if right is not None:
            self.set_type(i, self.value_type(right))

    def typed_local(self, cur, p, target, kind):
        """`const c = new Client()`, `c = make()`, `(c: Client) =>`: a local whose members are known."""
        pt = p.type
        if kind == "type":
            if pt == "generic_type":
                cur, p = p, p.parent
                if p is None:
                    return
                pt = p.type
            if pt == "union_type":
                cur, p = p, p.parent
                pt = p.type if p is not None else None
            if pt != "type_annotation" or p.parent is None:
                return
            owner = p.parent
            value = f"{target}()"
            if owner.type in ("required_parameter", "optional_parameter"):
                pat = owner.child_by_field_name("pattern")
                fn = owner.parent.parent if owner.parent is not None else None
                if pat is not None and pat.type == "identifier" and fn is not None:
                    self.locals.append((pat.text, fn.start_byte, fn.end_byte, value, pat.start_byte))
            elif owner.type == "variable_declarator":
                self.local_declarator(owner, value)
            return
        if pt == "new_expression" or pt == "call_expression":
            field = "constructor" if pt == "new_expression" else "function"
            f = p.child_by_field_name(field)
            if f is None or f.start_byte != cur.start_byte or f.end_byte != cur.end_byte:
                return
            value = f"{target}()"
            q = p.parent
            while q is not None and q.type in WRAPPERS:
                q = q.parent
            if q is not None and q.type == "variable_declarator":
                self.local_declarator(q, value)

    def local_declarator(self, decl, value):
        name = decl.child_by_field_name("name")
        if name is None or name.type != "identifier" or decl.parent is None:
            return
        scope = self.scope_of(decl.parent, decl.parent.type == "variable_declaration")
        if scope:
            self.locals.append((name.text, scope[0], scope[1], value, name.start_byte))

    def local_uses(self):
        """Member uses of typed locals: `c.get()` with `c: Client` -> `…Client().get`."""
        src = self.src
        seen = set()
        # innermost declaration first, so a shadowing inner local claims its uses
        for name, a, z, value, at in sorted(self.locals, key=lambda x: -x[1]):
            n = len(name)
            s = src.find(name, a, z)
            while s >= 0:
                e = s + n
                if s != at and s not in seen and not _word_byte(src, s - 1) and not _word_byte(src, e):
                    seen.add(s)
                    self.local_use(s, e, value)
                s = src.find(name, e, z)

    def local_use(self, s, e, value):
        node = self.root.descendant_for_byte_range(s, e)
        if node is None or node.start_byte != s or node.end_byte != e or node.type != "identifier":
            return
        p = node.parent
        cur = node
        prefix = value
        while p is not None and p.type == "member_expression":
            obj = p.child_by_field_name("object")
            prop = p.child_by_field_name("property")
            if obj is None or obj.start_byte != cur.start_byte or prop is None or prop.type != "property_identifier":
                break
            prefix = f"{prefix}.{self.text(prop)}"
            self.ref(prop, prefix, "attr")
            self.members_done.add(prop.start_byte)
            cur, p = p, p.parent


def _occurrences(src: bytes, names: set):
    """(start, end) of every whole-word occurrence of these names: one C-speed search per name
    when they are few and not tiny, else one pass over every identifier-like token."""
    if len(names) > 40 or any(len(n) < 3 for n in names):
        for m in _WORD.finditer(src):
            if m.group() in names:
                yield m.span()
        return
    hits = []
    word = _WORD_BYTE
    size = len(src)
    for name in names:
        n = len(name)
        s = src.find(name)
        while s >= 0:
            e = s + n
            if (s == 0 or not word[src[s - 1]]) and (e == size or not word[src[e]]):
                hits.append((s, e))
            s = src.find(name, e)
    hits.sort()
    yield from hits


# bytes that continue an identifier: ASCII letters, digits, _ and $, and any byte of a non-ASCII character
_WORD_BYTE = tuple(c >= 0x80 or chr(c).isalnum() or chr(c) in "_$" for c in range(256))


def _word_byte(src: bytes, i: int) -> bool:
    return 0 <= i < len(src) and _WORD_BYTE[src[i]]
