"""TypeScript and JavaScript facts from one file (shared by index/lang/typescript.py and
javascript.py: one `js:` namespace, since each imports the other).

One tree-sitter parse. Declarations, imports and exports are read from the top-level statements
(and class/interface/enum/namespace bodies) here; CommonJS exports in commonjs.py; uses in
uses.py, by searching the text for the names bound at module level and asking the tree what
sits at each hit, so no Python code runs per node of the tree. Package and tsconfig facts come
from manifests.py (project()). Everything is file-local: `import {Client} from '@org/pkg'` gives
the target `js:@org/pkg.Client`; resolve.py follows the package's entry alias
(`js:@org/pkg` -> `js:@org/pkg/src/index`) and its re-exports to the definition.

Qualified names: `js:<package>/<path without extension>` for a module, then `.Name`,
`.Class.member`. `export default` is the member `default` (an alias to the declared name).
"""
from __future__ import annotations

import re

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language

from .. import FileFacts
from ..source import Positions, count_errors, first_paragraph, parser
from . import manifests as mf
from .commonjs import CommonJS, assign_chain
from .nodes import CLASS_VALUES, FUNC_VALUES, WRAPPERS
from .uses import Uses

_PARSE = {
    "ts": parser(Language(tree_sitter_typescript.language_typescript())),
    "tsx": parser(Language(tree_sitter_typescript.language_tsx())),
    "js": parser(Language(tree_sitter_javascript.language())),
}

_FUNCS = {"function_declaration", "generator_function_declaration", "function_signature"}
_CLASSES = {"class_declaration", "abstract_class_declaration"}
_UNWRAP_TYPES = {"Promise", "Array", "ReadonlyArray", "Readonly", "Partial", "Required", "Record", "Map", "Set",
                 "Awaited", "NonNullable", "Pick", "Omit"}
_MAX_SIG = 400


def extract(src: bytes, unit) -> FileFacts:
    """All facts of one TypeScript/JavaScript file (UTF-8 bytes)."""
    path = unit.path
    g = "tsx" if path.endswith(".tsx") else "ts" if path.endswith((".ts", ".mts", ".cts")) else "js"
    tree = _PARSE[g](src)
    if g == "ts" and tree.root_node.has_error:
        src, tree = _separated_call_signatures(src, tree)
    return _Extractor(src, unit).run(tree)


_CALL_SIGNATURE_LINE = re.compile(rb"(?m)^([ \t]*)[ \t](<[A-Za-z_$])")


def _separated_call_signatures(src: bytes, tree):
    """tree-sitter-typescript 0.23 loses a whole file (one ERROR root) to an interface whose generic
    call signatures are separated by line breaks only (`): R` then `<A>(a: A): A` on the next line, as
    in redux-thunk's ThunkDispatch). TypeScript accepts that; a `;` in place of the indentation's last
    space before each line-leading `<` gives the grammar its separator, keeping every line and column.
    Kept only where the file then parses with fewer errors."""
    patched = _CALL_SIGNATURE_LINE.sub(rb"\1;\2", src)
    if patched == src:
        return src, tree
    again = _PARSE["ts"](patched)
    if count_errors(again.root_node) < count_errors(tree.root_node):
        return patched, again
    return src, tree


def _clean_jsdoc(raw: str) -> str | None:
    """First paragraph of a `/** ... */` block, without the stars and before any @tag."""
    body = raw[3:-2] if raw.endswith("*/") else raw[3:]
    lines = []
    for ln in body.split("\n"):
        ln = ln.strip()
        if ln.startswith("*"):
            ln = ln[1:].strip()
        if ln.startswith("@"):
            break
        lines.append(ln)
    return first_paragraph(lines, 500)


def _collapse(text: str, limit: int = _MAX_SIG) -> str | None:
    s = " ".join(text.split())
    return s[:limit] or None


class _Extractor(CommonJS, Uses):
    def __init__(self, src: bytes, unit):
        self.src = src
        self.unit = unit
        self.module = unit.module
        self.project = unit.project or {}
        self.files = mf.files_for(unit.root) if unit.root else None
        self.facts = FileFacts()
        self.pos = Positions(src)
        self.col = self.pos.col
        self.all_ascii = self.pos.all_ascii
        self.bind: dict = {}          # module-level name -> (target of the bare name, prefix of its members)
        self.skip: set = set()        # start bytes of identifiers already recorded (defs, import names)
        self.defined: dict = {}       # qualname -> index in facts.defs (the first definition wins)
        self.classes: list = []       # (body start, body end, class qualname): `this` inside
        self.later: list = []         # work that needs every binding: (method, args)
        self.alias_keys: set = set()
        self.cjs = False              # uses CommonJS exports
        self.export_vars: set = set()  # `var app = exports = module.exports = {}`
        self.locals: list = []        # (name, start, end, value target, declaration byte): typed locals
        self.members_done: set = set()  # start bytes of member names given a target
        self._specs: dict = {}

    # ---- positions -----------------------------------------------------------------------------
    def ident(self, node):
        """(text, line, col, end_col) of a one-line token."""
        text = node.text.decode("utf-8", "replace")
        r, c = node.start_point
        if not self.all_ascii:
            c = self.col(r, c)
        return text, r, c, c + len(text)

    def text(self, node) -> str:
        return node.text.decode("utf-8", "replace")

    # ---- recording -----------------------------------------------------------------------------
    def add_def(self, qual, name_node, kind, container, node, sig=None, doc=None, name=None):
        if qual in self.defined:
            return None
        if name_node is not None:
            self.skip.add(name_node.start_byte)
            nm, r, c, ec = self.ident(name_node)
        else:
            r, c = node.start_point
            c = self.col(r, c)
            nm, ec = None, c
        i = len(self.facts.defs)
        self.defined[qual] = i
        self.facts.defs.append((qual, name or nm, kind, container, *self.pos.range(node), r, c, ec, sig, doc, None))
        return i

    def set_type(self, i, t):
        if i is not None and t:
            d = self.facts.defs[i]
            self.facts.defs[i] = d[:13] + (t,)

    def ref(self, node, target, kind, name=None):
        nm, r, c, ec = self.ident(node)
        self.facts.refs.append((r, c, ec, name or nm, target, kind))

    def alias(self, alias, target, star, node):
        key = (alias, target, star)
        if target and key not in self.alias_keys and alias != target:
            self.alias_keys.add(key)
            self.facts.aliases.append((alias, target, star, node.start_point[0]))

    def doc(self, outer):
        p = outer.prev_named_sibling
        if p is not None and p.type == "comment" and p.end_point[0] >= outer.start_point[0] - 1:
            raw = p.text
            if raw.startswith(b"/**") and not raw.startswith(b"/**/"):
                return _clean_jsdoc(raw.decode("utf-8", "replace"))
        return None

    def header(self, outer, body):
        end = body.start_byte if body is not None else outer.end_byte
        return self.snippet(outer.start_byte, end, _MAX_SIG, "{")

    def snippet(self, start, end, limit, strip=""):
        """Source text [start, end) on one line (whitespace collapsed), at most `limit` characters."""
        raw = self.src[start:min(end, start + 4 * limit)].decode("utf-8", "replace").rstrip()
        if strip:
            raw = raw.rstrip(strip).rstrip()
        return _collapse(raw, limit)

    def first_line(self, node, limit=200):
        start = node.start_byte
        nl = self.src.find(b"\n", start, node.end_byte)
        end = node.end_byte if nl < 0 else nl
        line = self.src[start:min(end, start + 4 * limit)].decode("utf-8", "replace")
        return _collapse(line.rstrip().rstrip(";"), limit)

    # ---- module names of specifiers ------------------------------------------------------------
    def spec_module(self, string_node) -> str | None:
        """The module qualname an import specifier names (relative: by the files on disk)."""
        if string_node is None:
            return None
        spec = string_node.text[1:-1].decode("utf-8", "replace") if string_node.type in ("string", "template_string") else None
        if not spec:
            return None
        got = self._specs.get(spec)
        if got is None:
            got = self._specs[spec] = self._resolve_spec(spec)
        return got[0]

    def _resolve_spec(self, spec: str):
        path = self.unit.path
        if spec.endswith(".json"):   # data, not code: nothing in it is indexed, so nothing to alias to
            return None, None
        if spec.startswith((".", "/")):
            base = path.rpartition("/")[0]
            rel = mf.join(base, spec) if not spec.startswith("/") else mf.norm(spec.lstrip("/"))
            found = self.files.resolve(rel) if self.files is not None else None
            return mf.module_name(self.project, found or rel), None
        mapped = self._tsconfig_path(spec)
        if mapped is not None:
            return mf.module_name(self.project, mapped), None
        spec = spec.rstrip("/")
        parts = spec.split("/")
        pkg = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        self.facts.imports.add(f"js:{pkg}")
        if len(parts) > (2 if spec.startswith("@") else 1):
            spec = mf.strip_ext(spec)
        return f"js:{spec}", pkg

    def _tsconfig_path(self, spec: str) -> str | None:
        """tsconfig `paths` / `baseUrl` of the nearest tsconfig.json: the file the specifier maps to."""
        configs = self.project.get("tsconfig")
        if not configs or self.files is None:
            return None
        d = self.unit.path.rpartition("/")[0]
        while True:
            cfg = configs.get(d)
            if cfg is not None:
                break
            if not d:
                return None
            d = d.rpartition("/")[0]
        for pat, targets in cfg.get("paths", ()):
            pre, star, suf = pat.partition("*")
            if star:
                if not (spec.startswith(pre) and spec.endswith(suf) and len(spec) >= len(pre) + len(suf)):
                    continue
                middle = spec[len(pre):len(spec) - len(suf)]
            elif spec != pat:
                continue
            else:
                middle = ""
            for t in targets:
                found = self.files.resolve(t.replace("*", middle, 1))
                if found:
                    return found
        base = cfg.get("base")
        if base is not None:
            return self.files.resolve(mf.join(base, spec))
        return None

    # ---- the walk over declarations ------------------------------------------------------------
    def run(self, tree):
        root = tree.root_node
        self.root = root
        self.facts.errors = count_errors(root)
        mod = self.module
        d, pkg = mf.package_of(self.project, self.unit.path)
        first = root.named_children[0] if root.named_child_count else None
        mdoc = None
        if first is not None and first.type == "comment" and first.text.startswith(b"/**"):
            nxt = first.next_named_sibling
            if nxt is None or nxt.start_point[0] > first.end_point[0] + 1:
                mdoc = _clean_jsdoc(first.text.decode("utf-8", "replace"))
        self.facts.defs.append((mod, mod.rpartition("/")[2] or mod, "module", f"js:{pkg}" if pkg else None,
                                0, 0, root.end_point[0], 0, 0, 0, 0, None, mdoc, None))
        self.defined[mod] = 0
        self.statements(root, mod)
        for fn, args in self.later:
            try:
                fn(self, *args)
            except Exception:  # noqa: BLE001 - as in statements()
                self.facts.errors += 1
        if self.cjs and f"{mod}.default" not in self.defined and not any(
                a[0] == f"{mod}.default" for a in self.facts.aliases):
            self.alias(f"{mod}.default", mod, 0, root)
        self.entry_aliases()
        self.uses()
        return self.facts

    def entry_aliases(self):
        """The package's entry points name this module: `js:@org/pkg` -> `js:@org/pkg/src/index`."""
        for a in (self.project.get("entries") or {}).get(self.module, ()):
            self.alias(a, self.module, 0, self.root)
        wild = self.project.get("wild")
        if wild:
            d, name = mf.package_of(self.project, self.unit.path)
            stem = mf.strip_ext(self.unit.path[len(d) + 1:] if d else self.unit.path)
            for kpre, ksuf, src in wild.get(d, ()):
                if stem.startswith(src):
                    self.alias(f"js:{name}/{kpre}{stem[len(src):]}{ksuf}", self.module, 0, self.root)

    def statements(self, parent, scope):
        for node in parent.named_children:
            h = _STATEMENTS.get(node.type)
            if h is not None:
                try:
                    h(self, node, scope, node)
                except Exception:  # noqa: BLE001 - a shape this code did not expect: skip the statement, keep the file
                    self.facts.errors += 1

    def bind_top(self, scope, name, qual):
        if scope == self.module and name not in self.bind:
            self.bind[name] = (qual, qual)

    # imports
    def s_import(self, node, scope, outer):
        clause = req = None
        for ch in node.named_children:
            if ch.type == "import_clause":
                clause = ch
            elif ch.type == "import_require_clause":
                req = ch
        src = node.child_by_field_name("source")
        if req is not None:
            src = req.child_by_field_name("source")
        m = self.spec_module(src)
        if m is None:
            return
        self.source_ref(src, m)
        if req is not None:
            ident = req.named_children[0]
            if ident.type == "identifier":
                self.bind_import(ident, f"{m}.default", m, "import")
            return
        if clause is None:
            return
        for ch in clause.named_children:
            t = ch.type
            if t == "identifier":
                self.bind_import(ch, f"{m}.default", f"{m}.default", "import")
            elif t == "namespace_import":
                for ident in ch.named_children:
                    self.bind_import(ident, m, m, "import")
            elif t == "named_imports":
                for spec in ch.named_children:
                    if spec.type != "import_specifier":
                        continue
                    name = spec.child_by_field_name("name")
                    alias = spec.child_by_field_name("alias")
                    if name is None:
                        continue
                    nm = self.text(name).strip("'\"")
                    target = f"{m}.{nm}"
                    if alias is None:
                        self.bind_import(name, target, target, "import")
                    else:
                        self.skip.add(name.start_byte)
                        self.ref(name, target, "import")
                        self.bind_import(alias, target, target, "alias")

    def bind_import(self, ident, bare, prefix, kind):
        self.skip.add(ident.start_byte)
        self.ref(ident, bare, kind)
        self.bind[self.text(ident)] = (bare, prefix)

    def source_ref(self, string_node, module):
        """The specifier string itself leads to the module."""
        frag = string_node.named_children[0] if string_node.named_child_count else None
        if frag is not None and frag.start_point[0] == frag.end_point[0]:
            self.ref(frag, module, "import")

    def s_import_alias(self, node, scope, outer):
        """TypeScript `import x = N.y`."""
        kids = node.named_children
        if len(kids) >= 2 and kids[0].type == "identifier":
            self.skip.add(kids[0].start_byte)
            self.later.append((_Extractor.l_import_alias, (kids[0], kids[1], scope)))

    def l_import_alias(self, ident, value, scope):
        t = self.expr_target(value)
        if t:
            self.ref(ident, t, "alias")
            if scope == self.module:
                self.bind.setdefault(self.text(ident), (t, t))

    # exports
    def s_export(self, node, scope, outer):
        decl = node.child_by_field_name("declaration")
        src = node.child_by_field_name("source")
        default_kw = None
        eq = False
        for ch in node.children:
            if not ch.is_named:
                if ch.type == "default":
                    default_kw = ch
                elif ch.type == "=":
                    eq = True
        if decl is not None:
            quals = self.declaration(decl, scope, node)
            if default_kw is not None and quals:
                self.alias(f"{scope}.default", quals[0], 0, node)
            return
        value = node.child_by_field_name("value")
        if value is None and eq:
            for ch in node.named_children:
                if ch.type != "comment":
                    self.later.append((_Extractor.module_exports, (ch, node, None)))
                    return
        if value is not None and default_kw is not None:
            self.export_default(value, scope, node, default_kw)
            return
        m = self.spec_module(src) if src is not None else None
        if src is not None and m is not None:
            self.source_ref(src, m)
        clause = None
        for ch in node.named_children:
            if ch.type == "export_clause":
                clause = ch
            elif ch.type == "namespace_export" and m is not None:
                for ident in ch.named_children:
                    if ident.type in ("identifier", "string"):
                        self.skip.add(ident.start_byte)
                        self.ref(ident, m, "alias")
                        self.alias(f"{scope}.{self.text(ident).strip(chr(39) + chr(34))}", m, 0, node)
        if clause is None:
            if src is not None and m is not None and not any(ch.type == "namespace_export" for ch in node.named_children):
                self.alias(scope, m, 1, node)      # export * from './y'
            return
        for spec in clause.named_children:
            if spec.type != "export_specifier":
                continue
            name = spec.child_by_field_name("name")
            alias = spec.child_by_field_name("alias")
            if name is None:
                continue
            nm = self.text(name).strip("'\"")
            exported = self.text(alias).strip("'\"") if alias is not None else nm
            self.skip.add(name.start_byte)
            if alias is not None:
                self.skip.add(alias.start_byte)
            if m is not None:
                target = f"{m}.{nm}"
                self.ref(name, target, "import")
                if alias is not None:
                    self.ref(alias, target, "alias")
                self.alias(f"{scope}.{exported}", target, 0, node)
            else:
                self.later.append((_Extractor.l_export_local, (name, alias, nm, exported, scope, node)))

    def l_export_local(self, name, alias, nm, exported, scope, node):
        b = self.bind.get(nm) if scope == self.module else None
        target = b[0] if b else f"{scope}.{nm}"
        self.ref(name, target, "name")
        if alias is not None:
            self.ref(alias, target, "alias")
        if target != f"{scope}.{exported}":
            self.alias(f"{scope}.{exported}", target, 0, node)

    def export_default(self, value, scope, outer, kw):
        v = value
        t = v.type
        qual = f"{scope}.default"
        if t in ("identifier", "member_expression"):
            self.later.append((_Extractor.l_alias_expr, (qual, v, outer)))
        elif t in FUNC_VALUES or t in CLASS_VALUES:
            name = v.child_by_field_name("name")
            if name is not None:
                nq = f"{scope}.{self.text(name)}"
                self.value_def(nq, name, v, scope, outer)
                self.bind_top(scope, self.text(name), nq)
                self.alias(qual, nq, 0, outer)
            else:
                self.value_def(qual, kw, v, scope, outer, name_text="default")
        else:
            i = self.add_def(qual, kw, "variable", scope, outer, self.first_line(outer), self.doc(outer), name="default")
            self.later.append((_Extractor.l_value_type, (i, v)))

    def l_alias_expr(self, alias, expr, node):
        t = self.expr_target(expr)
        if t:
            self.alias(alias, t, 0, node)

    # declarations
    def s_declaration(self, node, scope, outer):
        self.declaration(node, scope, outer)

    def declaration(self, node, scope, outer) -> list:
        h = _DECLARATIONS.get(node.type)
        return h(self, node, scope, outer) if h is not None else []

    def d_function(self, node, scope, outer):
        name = node.child_by_field_name("name")
        if name is None:
            return []
        nm = self.text(name)
        qual = f"{scope}.{nm}"
        body = node.child_by_field_name("body")
        i = self.add_def(qual, name, "function", scope, node, self.header(outer, body), self.doc(outer))
        self.skip.add(name.start_byte)
        rt = node.child_by_field_name("return_type")
        if i is not None and rt is not None:
            self.later.append((_Extractor.l_ann_type, (i, rt)))
        self.bind_top(scope, nm, qual)
        return [qual]

    def d_class(self, node, scope, outer, name=None, qual=None):
        name = name if name is not None else node.child_by_field_name("name")
        if name is None and qual is None:
            return []
        nm = self.text(name) if name is not None else "default"
        qual = qual or f"{scope}.{nm}"
        body = node.child_by_field_name("body")
        self.add_def(qual, name, "class", scope, node, self.header(outer, body), self.doc(outer), name=nm)
        if name is not None:
            self.skip.add(name.start_byte)
        self.bind_top(scope, nm, qual)
        for ch in node.named_children:
            if ch.type == "class_heritage":
                for h in ch.named_children:
                    if h.type in ("extends_clause", "implements_clause"):
                        for b in h.named_children:
                            if b.type not in ("type_arguments", "comment"):
                                self.later.append((_Extractor.l_base, (qual, b)))
                    elif h.type != "comment":   # JavaScript: the expression itself
                        self.later.append((_Extractor.l_base, (qual, h)))
        if body is not None:
            self.classes.append((body.start_byte, body.end_byte, qual))
            self.class_body(body, qual)
        return [qual]

    def class_body(self, body, cls):
        for m in body.named_children:
            t = m.type
            if t in ("method_definition", "method_signature", "abstract_method_signature"):
                name = m.child_by_field_name("name")
                if name is None or name.type not in ("property_identifier", "private_property_identifier"):
                    continue
                kind = "method"
                for ch in m.children:
                    if not ch.is_named and ch.type in ("get", "set"):
                        kind = "property"
                        break
                    if ch.is_named and ch.type == "formal_parameters":
                        break
                nm = self.text(name)
                if nm == "constructor" and kind == "method":
                    kind = "constructor"
                mbody = m.child_by_field_name("body")
                i = self.add_def(f"{cls}.{nm}", name, kind, cls, m, self.header(m, mbody), self.doc(m))
                rt = m.child_by_field_name("return_type")
                if i is not None and rt is not None:
                    self.later.append((_Extractor.l_ann_type, (i, rt)))
                if nm == "constructor":
                    params = m.child_by_field_name("parameters")
                    if params is not None:
                        self.ctor_fields(params, cls)
            elif t in ("public_field_definition", "field_definition"):
                name = m.child_by_field_name("name") or m.child_by_field_name("property")
                if name is None or name.type not in ("property_identifier", "private_property_identifier"):
                    continue
                value = m.child_by_field_name("value")
                kind = "method" if value is not None and value.type in FUNC_VALUES else "field"
                sig = self.header(m, value.child_by_field_name("body")) if kind == "method" else self.first_line(m)
                i = self.add_def(f"{cls}.{self.text(name)}", name, kind, cls, m, sig, self.doc(m))
                typ = m.child_by_field_name("type")
                if i is not None:
                    if typ is not None:
                        self.later.append((_Extractor.l_ann_type, (i, typ)))
                    elif value is not None and kind == "field":
                        self.later.append((_Extractor.l_value_type, (i, value)))

    def ctor_fields(self, params, cls):
        """`constructor(private client: Client)` declares the field `client`."""
        for p in params.named_children:
            if p.type not in ("required_parameter", "optional_parameter"):
                continue
            if not any(ch.type in ("accessibility_modifier", "readonly", "override_modifier") for ch in p.children):
                continue
            pat = p.child_by_field_name("pattern")
            if pat is None or pat.type != "identifier":
                continue
            i = self.add_def(f"{cls}.{self.text(pat)}", pat, "field", cls, p, self.snippet(p.start_byte, p.end_byte, 200), None)
            typ = p.child_by_field_name("type")
            if i is not None and typ is not None:
                self.later.append((_Extractor.l_ann_type, (i, typ)))

    def d_interface(self, node, scope, outer):
        name = node.child_by_field_name("name")
        if name is None:
            return []
        nm = self.text(name)
        qual = f"{scope}.{nm}"
        body = node.child_by_field_name("body")
        self.add_def(qual, name, "interface", scope, node, self.header(outer, body), self.doc(outer))
        self.bind_top(scope, nm, qual)
        for ch in node.named_children:
            if ch.type == "extends_type_clause":
                for b in ch.named_children:
                    self.later.append((_Extractor.l_base, (qual, b)))
        if body is not None:
            self.type_members(body, qual)
        return [qual]

    def type_members(self, body, qual):
        """Members of an interface body or an object type `{ a: A; m(): B }`."""
        for m in body.named_children:
            if m.type in ("property_signature", "method_signature"):
                mname = m.child_by_field_name("name")
                if mname is None or mname.type not in ("property_identifier", "private_property_identifier"):
                    continue
                kind = "property" if m.type == "property_signature" else "method"
                i = self.add_def(f"{qual}.{self.text(mname)}", mname, kind, qual, m,
                                 self.snippet(m.start_byte, m.end_byte, 200, ";,"), self.doc(m))
                typ = m.child_by_field_name("type") or m.child_by_field_name("return_type")
                if i is not None and typ is not None:
                    self.later.append((_Extractor.l_ann_type, (i, typ)))

    def d_type(self, node, scope, outer):
        """`type T = {…}` has members; `type T = Other` has Other's (the resolver follows `type`)."""
        name = node.child_by_field_name("name")
        if name is None:
            return []
        nm = self.text(name)
        qual = f"{scope}.{nm}"
        i = self.add_def(qual, name, "type", scope, node, self.snippet(outer.start_byte, node.end_byte, 300), self.doc(outer))
        self.bind_top(scope, nm, qual)
        value = node.child_by_field_name("value")
        if value is not None and i is not None:
            parts = value.named_children if value.type == "intersection_type" else [value]
            for part in parts:
                if part.type == "object_type":
                    self.type_members(part, qual)
                elif part.type in ("type_identifier", "nested_type_identifier", "generic_type"):
                    self.later.append((_Extractor.l_alias_type, (i if len(parts) == 1 else None, qual, part)))
        return [qual]

    def l_alias_type(self, i, qual, node):
        """`type A = B` (or `B & {…}`): A has B's members, as a base; a plain alias also records B as its type."""
        if node.type == "generic_type":
            base = node.child_by_field_name("name")
            if base is None or base.text.decode("utf-8", "replace") in _UNWRAP_TYPES:
                return
        t = self.expr_target(node)
        if t:
            self.facts.bases.append((qual, t))
            self.set_type(i, t)

    def d_enum(self, node, scope, outer):
        name = node.child_by_field_name("name")
        if name is None:
            return []
        nm = self.text(name)
        qual = f"{scope}.{nm}"
        body = node.child_by_field_name("body")
        self.add_def(qual, name, "enum", scope, node, self.header(outer, body), self.doc(outer))
        self.bind_top(scope, nm, qual)
        if body is not None:
            for m in body.named_children:
                mname = m if m.type == "property_identifier" else m.child_by_field_name("name") if m.type == "enum_assignment" else None
                if mname is not None and mname.type == "property_identifier":
                    self.add_def(f"{qual}.{self.text(mname)}", mname, "enum_member", qual, m, self.snippet(m.start_byte, m.end_byte, 200, ","), self.doc(m))
        return [qual]

    def d_namespace(self, node, scope, outer):
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name is None:
            return []
        if name.type == "string":
            if scope != self.module:
                return []
            m = self.spec_module(name)      # declare module 'x' { ... }: members of module x
            if m is None:
                return []
            if any(c.type in ("import_statement", "export_statement") for c in self.root.named_children):
                # in a module, `declare module 'x'` augments x (react-router adding fields to
                # @tanstack/history's HistoryState): its members stay this file's, so x's own
                # declarations remain what x's names resolve to
                m = f"{self.module}#{m.removeprefix('js:')}"
            frag = name.named_children[0] if name.named_child_count else name
            self.add_def(m, frag, "module", None, node, self.header(outer, body), self.doc(outer))
            if body is not None:
                self.statements(body, m)
            return []
        parts = [self.text(p) for p in _dotted(name)]
        idents = list(_dotted(name))
        qual = scope
        for nm, ident in zip(parts, idents):
            qual = f"{qual}.{nm}"
            self.add_def(qual, ident, "namespace", qual.rpartition(".")[0], node, self.header(outer, body), self.doc(outer))
        self.bind_top(scope, parts[0], f"{scope}.{parts[0]}")
        if body is not None:
            self.statements(body, qual)
        return [qual]

    def d_ambient(self, node, scope, outer):
        out = []
        for ch in node.named_children:
            out.extend(self.declaration(ch, scope, outer))
        return out

    def d_variables(self, node, scope, outer):
        const = node.type == "lexical_declaration" and node.children and node.children[0].type == "const"
        out = []
        for decl in node.named_children:
            if decl.type != "variable_declarator":
                continue
            name = decl.child_by_field_name("name")
            value = decl.child_by_field_name("value")
            if name is None:
                continue
            if name.type == "identifier":
                req = self.require_target(value) if value is not None else None
                if req is not None:
                    self.bind_import(name, req[0], req[1], "import")
                    continue
                if value is not None and value.type == "assignment_expression" and scope == self.module:
                    lefts, inner = assign_chain(value)
                    if any(self.is_exports(x) for x in lefts):
                        nm = self.text(name)
                        self.skip.add(name.start_byte)
                        self.export_vars.add(nm)
                        self.bind[nm] = (self.module, self.module)
                        self.later.append((_Extractor.l_cjs_assign, (value, outer)))
                        continue
                nm = self.text(name)
                qual = f"{scope}.{nm}"
                out.append(qual)
                self.value_def(qual, name, value, scope, outer, const=const, decl=decl)
                self.bind_top(scope, nm, qual)
            elif name.type in ("object_pattern", "array_pattern"):
                req = self.require_target(value, members=True) if value is not None else None
                self.destructure(name, req, scope, outer, const)
        return out

    def value_def(self, qual, name, value, scope, outer, name_text=None, const=False, decl=None):
        """A named value: a function or class expression becomes that kind, anything else a variable."""
        t = value.type if value is not None else None
        while t in WRAPPERS and value.named_child_count:
            value = value.named_children[0]
            t = value.type
        if t in CLASS_VALUES:
            return self.d_class(value, scope, outer, name=name, qual=qual)
        if t in FUNC_VALUES:
            body = value.child_by_field_name("body")
            i = self.add_def(qual, name, "function", scope, decl or outer, self.header(outer, body), self.doc(outer), name=name_text)
            rt = value.child_by_field_name("return_type")
            if i is not None and rt is not None:
                self.later.append((_Extractor.l_ann_type, (i, rt)))
            return [qual]
        kind = "constant" if const else "variable"
        i = self.add_def(qual, name, kind, scope, decl or outer, self.first_line(outer), self.doc(outer), name=name_text)
        if i is not None:
            typ = decl.child_by_field_name("type") if decl is not None else None
            if typ is not None:
                self.later.append((_Extractor.l_ann_type, (i, typ)))
            elif value is not None:
                self.later.append((_Extractor.l_value_type, (i, value)))
            if t == "object":
                self.object_members(value, qual, 2)
        return [qual]

    def object_members(self, obj, qual, depth):
        """`const colors = {primary: '#0af', load() {}}`: colors.primary, colors.load."""
        for ch in obj.named_children:
            t = ch.type
            if t == "pair":
                key = ch.child_by_field_name("key")
                val = ch.child_by_field_name("value")
                if key is None or key.type not in ("property_identifier", "string") or val is None:
                    continue
                if key.type == "string":
                    if not key.named_child_count:
                        continue
                    key = key.named_children[0]
                mq = f"{qual}.{self.text(key)}"
                if val.type in FUNC_VALUES:
                    self.add_def(mq, key, "method", qual, ch, self.header(ch, val.child_by_field_name("body")), self.doc(ch))
                else:
                    self.add_def(mq, key, "property", qual, ch, self.first_line(ch), self.doc(ch))
                    if val.type == "object" and depth > 1:
                        self.object_members(val, mq, depth - 1)
            elif t == "method_definition":
                name = ch.child_by_field_name("name")
                if name is not None and name.type == "property_identifier":
                    self.add_def(f"{qual}.{self.text(name)}", name, "method", qual, ch,
                                 self.header(ch, ch.child_by_field_name("body")), self.doc(ch))

    def destructure(self, pattern, req, scope, outer, const):
        """`const {a, b: c} = require('x')` binds imports; any other pattern defines variables."""
        for ch in pattern.named_children:
            t = ch.type
            if t == "shorthand_property_identifier_pattern":
                nm = self.text(ch)
                if req is not None:
                    self.bind_import(ch, f"{req}.{nm}", f"{req}.{nm}", "import")
                else:
                    self.add_def(f"{scope}.{nm}", ch, "constant" if const else "variable", scope, outer, self.first_line(outer), self.doc(outer))
                    self.bind_top(scope, nm, f"{scope}.{nm}")
            elif t == "pair_pattern":
                key = ch.child_by_field_name("key")
                val = ch.child_by_field_name("value")
                if val is not None and val.type == "identifier" and req is not None and key is not None:
                    target = f"{req}.{self.text(key).strip(chr(39) + chr(34))}"
                    self.ref(key, target, "import")
                    self.skip.add(key.start_byte)
                    self.bind_import(val, target, target, "alias")
                elif val is not None:
                    self.destructure_value(val, scope, outer, const)
            elif t in ("object_assignment_pattern", "assignment_pattern"):
                left = ch.child_by_field_name("left")
                if left is not None:
                    self.destructure_value(left, scope, outer, const)
            elif t in ("identifier", "rest_pattern", "object_pattern", "array_pattern"):
                self.destructure_value(ch, scope, outer, const)

    def destructure_value(self, node, scope, outer, const):
        if node.type in ("identifier", "shorthand_property_identifier_pattern"):
            nm = self.text(node)
            self.add_def(f"{scope}.{nm}", node, "constant" if const else "variable", scope, outer, self.first_line(outer), self.doc(outer))
            self.bind_top(scope, nm, f"{scope}.{nm}")
        elif node.type in ("object_pattern", "array_pattern"):
            self.destructure(node, None, scope, outer, const)
        elif node.type == "rest_pattern" and node.named_child_count:
            self.destructure_value(node.named_children[0], scope, outer, const)

    def s_expression(self, node, scope, outer):
        if not node.named_child_count:
            return
        e = node.named_children[0]
        t = e.type
        if t in ("internal_module", "module"):
            self.d_namespace(e, scope, outer)
        elif scope == self.module and t == "assignment_expression":
            self.later.append((_Extractor.l_cjs_assign, (e, outer)))
        elif scope == self.module and t == "call_expression":
            fn = e.child_by_field_name("function")
            if fn is not None and fn.type == "member_expression" and fn.text == b"Object.defineProperty":
                self.later.append((_Extractor.l_define_property, (e, outer)))

    # ---- value types and bases -----------------------------------------------------------------
    def expr_target(self, node):
        """File-local target of `a`, `a.b.c`, `ns.Type`, `Type<T>`; None when `a` is not bound here."""
        t = node.type
        if t == "generic_type":
            name = node.child_by_field_name("name") or (node.named_children[0] if node.named_child_count else None)
            return self.expr_target(name) if name is not None else None
        if t in ("identifier", "type_identifier"):
            b = self.bind.get(self.text(node))
            return b[0] if b else None
        if t in ("member_expression", "nested_type_identifier", "nested_identifier"):
            parts = self.text(node).replace("?.", ".").split(".")
            parts = [p.strip() for p in parts]
            if not all(p and (p[0].isalpha() or p[0] in "_$") for p in parts):
                return None
            b = self.bind.get(parts[0])
            if not b:
                return None
            return ".".join([b[1]] + parts[1:])
        return None

    def value_type(self, v):
        while v is not None and v.type in WRAPPERS and v.named_child_count:
            v = v.named_children[0]
        if v is None:
            return None
        t = v.type
        if t == "new_expression":
            c = v.child_by_field_name("constructor")
            r = self.expr_target(c) if c is not None else None
            return f"{r}()" if r else None
        if t == "call_expression":
            fn = v.child_by_field_name("function")
            if fn is None or fn.text == b"require":
                return None
            r = self.expr_target(fn)
            return f"{r}()" if r else None
        if t in ("identifier", "member_expression"):
            return self.expr_target(v)
        return None

    def ann_type(self, node, depth=0):
        if node is None or depth > 4:
            return None
        t = node.type
        if t in ("type_annotation", "parenthesized_type", "readonly_type") and node.named_child_count:
            return self.ann_type(node.named_children[0], depth + 1)
        if t in ("type_identifier", "nested_type_identifier"):
            r = self.expr_target(node)
            return f"{r}()" if r else None
        if t == "generic_type":
            name = node.child_by_field_name("name")
            if name is not None and name.text.decode() in _UNWRAP_TYPES:
                return None
            r = self.expr_target(node)
            return f"{r}()" if r else None
        if t == "union_type":
            for ch in node.named_children:
                if ch.type in ("literal_type", "predefined_type"):
                    continue
                r = self.ann_type(ch, depth + 1)
                if r:
                    return r
        return None

    def l_ann_type(self, i, node):
        self.set_type(i, self.ann_type(node))

    def l_value_type(self, i, node):
        self.set_type(i, self.value_type(node))

    def l_base(self, cls, expr):
        t = self.expr_target(expr)
        if t:
            self.facts.bases.append((cls, t))

def _dotted(node):
    """Identifiers of `A.B.C` (nested_identifier) in order."""
    if node.type in ("identifier", "property_identifier", "type_identifier"):
        yield node
        return
    for ch in node.named_children:
        yield from _dotted(ch)


_DECLARATIONS = {
    **{t: _Extractor.d_function for t in _FUNCS},
    **{t: _Extractor.d_class for t in _CLASSES},
    "interface_declaration": _Extractor.d_interface,
    "type_alias_declaration": _Extractor.d_type,
    "enum_declaration": _Extractor.d_enum,
    "internal_module": _Extractor.d_namespace,
    "module": _Extractor.d_namespace,
    "ambient_declaration": _Extractor.d_ambient,
    "lexical_declaration": _Extractor.d_variables,
    "variable_declaration": _Extractor.d_variables,
}
_STATEMENTS = {
    **{t: _Extractor.s_declaration for t in _DECLARATIONS},
    "import_statement": _Extractor.s_import,
    "import_alias": _Extractor.s_import_alias,
    "export_statement": _Extractor.s_export,
    "expression_statement": _Extractor.s_expression,
}
