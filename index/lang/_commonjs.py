"""CommonJS exports for the TypeScript/JavaScript extractor (a mixin of _ecmascript._Extractor):
`module.exports = X` (a star alias on X, and X as `default`), `module.exports = {a, b: f}`,
`exports.name = ...`, `X.prototype.m = ...` (then X is a class), `Object.defineProperty(exports, ...)`,
and `var app = exports = module.exports = {}` aliases."""
from __future__ import annotations

from ._jsnodes import CLASS_VALUES, FUNC_VALUES, WRAPPERS


class CommonJS:
    """The CommonJS half of _ecmascript._Extractor."""

    def is_exports(self, node) -> bool:
        t = node.type
        if t == "identifier":
            return node.text == b"exports" or self.text(node) in self.export_vars
        return t == "member_expression" and node.text == b"module.exports"

    def require_target(self, value, members=False):
        """`require('x')` -> (bare, prefix) of module x; `require('x').y` -> x.y; None otherwise.
        With members=True (destructuring): the module's qualname, or None."""
        v = value
        props = []
        while v is not None and v.type == "member_expression":
            p = v.child_by_field_name("property")
            if p is None:
                return None
            props.append(self.text(p))
            v = v.child_by_field_name("object")
        if v is None or v.type != "call_expression":
            return None
        fn = v.child_by_field_name("function")
        args = v.child_by_field_name("arguments")
        if fn is None or fn.text != b"require" or args is None or args.named_child_count != 1:
            return None
        s = args.named_children[0]
        if s.type != "string":
            return None
        m = self.spec_module(s)
        if m is None:
            return None
        self.source_ref(s, m)
        if members:
            return ".".join([m] + props[::-1])
        if props:
            q = ".".join([m] + props[::-1])
            return q, q
        return f"{m}.default", m

    def l_cjs_assign(self, e, stmt):
        lefts, value = assign_chain(e)
        for left in lefts:
            if self.is_exports(left):
                self.module_exports(value, stmt, left)
            elif left.type == "member_expression":
                obj = left.child_by_field_name("object")
                prop = left.child_by_field_name("property")
                if obj is None or prop is None or prop.type != "property_identifier":
                    continue
                if self.is_exports(obj):
                    self.cjs = True
                    self.export_member(self.module, prop, value, stmt)
                elif obj.type == "member_expression" and obj.child_by_field_name("property") is not None \
                        and obj.child_by_field_name("property").text == b"prototype":
                    owner = self.local_def(obj.child_by_field_name("object"))
                    if owner is not None:
                        self.export_member(owner, prop, value, stmt, method=True)
                elif obj.type == "identifier" and prop.text != b"prototype":
                    owner = self.local_def(obj)
                    if owner is not None:
                        self.export_member(owner, prop, value, stmt)

    def local_def(self, node):
        """The qualname of a module-level definition this identifier names, or None."""
        if node is None or node.type != "identifier":
            return None
        b = self.bind.get(self.text(node))
        if b and b[0] in self.defined and b[0].startswith(self.module + "."):
            return b[0]
        return None

    def module_exports(self, value, stmt, left):
        """`module.exports = value` (also TypeScript's `export = value`)."""
        mod = self.module
        self.cjs = True
        v = value
        while v.type in WRAPPERS and v.named_child_count:
            v = v.named_children[0]
        t = v.type
        if t == "identifier":
            b = self.bind.get(self.text(v))
            if b and b[1] != mod:
                self.alias(mod, b[1], 1, stmt)
                self.alias(f"{mod}.default", b[0], 0, stmt)
            return
        if t == "member_expression" and self.require_target(v) is None:
            target = self.expr_target(v)
            if target:
                self.alias(mod, target, 1, stmt)
                self.alias(f"{mod}.default", target, 0, stmt)
            return
        req = self.require_target(v)
        if req is not None:
            self.alias(mod, req[1], 1, stmt)
            self.alias(f"{mod}.default", req[0], 0, stmt)
            return
        if t == "object":
            for ch in v.named_children:
                if ch.type == "shorthand_property_identifier":
                    b = self.bind.get(self.text(ch))
                    if b and b[0] != f"{mod}.{self.text(ch)}":
                        self.alias(f"{mod}.{self.text(ch)}", b[0], 0, stmt)
                elif ch.type == "pair":
                    key = ch.child_by_field_name("key")
                    val = ch.child_by_field_name("value")
                    if key is not None and val is not None and key.type in ("property_identifier", "string"):
                        self.export_member(mod, key, val, stmt, name=self.text(key).strip("'\""))
                elif ch.type == "method_definition":
                    name = ch.child_by_field_name("name")
                    if name is not None and name.type == "property_identifier":
                        self.add_def(f"{mod}.{self.text(name)}", name, "function", mod, ch,
                                     self.header(ch, ch.child_by_field_name("body")), self.doc(ch))
            return
        if t in FUNC_VALUES or t in CLASS_VALUES:
            name = v.child_by_field_name("name")
            nm = self.text(name) if name is not None else "default"
            qual = f"{mod}.{nm}"
            name_node = name if name is not None else (left.child_by_field_name("property") if left.type == "member_expression" else left)
            self.value_def(qual, name_node, v, mod, stmt, name_text=nm)
            if name is not None:
                self.alias(f"{mod}.default", qual, 0, stmt)
            self.alias(mod, qual, 1, stmt)
            return
        name_node = left.child_by_field_name("property") if left.type == "member_expression" else left
        i = self.add_def(f"{mod}.default", name_node, "variable", mod, stmt, self.first_line(stmt), self.doc(stmt), name="default")
        self.l_value_type(i, v)

    def export_member(self, owner, prop, value, stmt, method=False, name=None):
        """`exports.name = value`, `X.prototype.name = value`, `X.name = value`."""
        nm = name or self.text(prop)
        qual = f"{owner}.{nm}"
        v = value
        while v.type in WRAPPERS and v.named_child_count:
            v = v.named_children[0]
        t = v.type
        if t in FUNC_VALUES:
            body = v.child_by_field_name("body")
            self.add_def(qual, prop, "method" if method else "function", owner, stmt, self.header(stmt, body), self.doc(stmt), name=nm)
            if method:
                self.constructor_function(owner)
            return
        if t in CLASS_VALUES:
            self.d_class(v, owner, stmt, name=prop, qual=qual)
            return
        req = self.require_target(v)
        if req is not None:
            self.alias(qual, req[0], 0, stmt)
            return
        if t in ("identifier", "member_expression"):
            target = self.expr_target(v)
            if target and target != qual:
                self.alias(qual, target, 0, stmt)
                return
            if target == qual:
                return
        i = self.add_def(qual, prop, "field" if method else "variable", owner, stmt, self.first_line(stmt), self.doc(stmt), name=nm)
        self.l_value_type(i, v)

    def constructor_function(self, qual):
        """A function with prototype methods is a class: `new F()` has F's members."""
        i = self.defined.get(qual)
        if i is not None and self.facts.defs[i][2] == "function":
            d = self.facts.defs[i]
            self.facts.defs[i] = d[:2] + ("class",) + d[3:]

    def l_define_property(self, call, stmt):
        """`Object.defineProperty(exports, 'json', {get: () => require('./json')})`."""
        args = call.child_by_field_name("arguments")
        if args is None or args.named_child_count < 3:
            return
        target, key, desc = args.named_children[:3]
        if not self.is_exports(target) or key.type != "string" or desc.type != "object":
            return
        frag = key.named_children[0] if key.named_child_count else None
        if frag is None:
            return
        self.cjs = True
        nm = self.text(frag)
        for pair in desc.named_children:
            if pair.type != "pair":
                continue
            k = pair.child_by_field_name("key")
            val = pair.child_by_field_name("value")
            if k is None or val is None:
                continue
            if k.text == b"value":
                self.export_member(self.module, frag, val, stmt, name=nm)
                return
            if k.text == b"get" and val.type in FUNC_VALUES:
                body = val.child_by_field_name("body")
                ret = body
                if body is not None and body.type == "statement_block":
                    ret = next((s.named_children[0] for s in body.named_children
                                if s.type == "return_statement" and s.named_child_count), None)
                req = self.require_target(ret) if ret is not None else None
                if req is not None:
                    self.alias(f"{self.module}.{nm}", req[0], 0, stmt)
                    return
        self.add_def(f"{self.module}.{nm}", frag, "property", self.module, stmt, self.first_line(stmt), self.doc(stmt))


def assign_chain(e):
    """`a = b = value` -> ([a, b], value)."""
    lefts = []
    while e is not None and e.type == "assignment_expression":
        left = e.child_by_field_name("left")
        if left is not None:
            lefts.append(left)
        e = e.child_by_field_name("right")
    return lefts, e
