"""Every language crossnav indexes, and the one interface each of them implements.

Before adding a language, read docs/adding-a-language.md (how to work, test and measure).

Adding a language means adding one module here (and its tests); no other layer changes. A
language module defines, at module level:

    NAME        the `files.language` value and canonical `lang:` filter, e.g. "go"
    EXTENSIONS  file suffixes it owns, e.g. (".go",)
    SEARCH_NAMES  what people type after `lang:`, e.g. ("go", "golang")
    PREFIX      the namespace of its qualified names, e.g. "go:" (Python: ""), so that the Rust
                crate `serde` and the Python package `serde` never collide
    FENCE       the Markdown code-fence language for hover signatures

    project(root: str, paths: list[str]) -> dict
        Per repo, once per run, in the indexing process: what its manifests say (go.mod,
        package.json, Cargo.toml, pom.xml ...). Must be picklable (it travels to the workers).
        The key "packages" lists (package, import_root, source) rows: which import package this
        repo provides (prefixed: "go:github.com/spf13/cobra", "js:@org/pkg", "rust:serde").
        The server calls it too (to extract a live buffer), possibly for a repo whose root is not
        on this machine: then it must return a usable dict, not raise.
    module_of(project: dict, path: str) -> tuple[str, bool]
        The qualified name of the module/package a file belongs to (prefixed), and whether the
        file *is* that package's entry (Python's __init__.py, a crate's lib.rs ...).
    extract(src: bytes, unit: Unit) -> FileFacts
        Runs in worker processes: one parse, no imports, no network. Everything file-local.

Qualified names are the symbol identity (docs/architecture.md, "Symbol identity"): PREFIX +
module + "." + member path. The resolver (index/resolve.py) splits on the *last* dot only, so
module parts may contain dots and slashes (`go:github.com/spf13/cobra.Command.Execute`,
`js:@org/ui/src/button.view.Button`); member names never contain dots.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass
class FileFacts:
    """What an extractor found in one file. Positions are 0-based lines and columns in Unicode
    code points. `target` strings are file-local guesses at a qualified name; resolve.py turns
    them into canonical qualified names across every repo."""
    defs: list = field(default_factory=list)      # (qualname, name, kind, container, line, col, end_line, end_col, name_line, name_col, name_end_col, signature, doc, type)
    # (line, col, end_col, name, target|None, kind). kind "attr": a member use `x.name` whose receiver type
    # is unknown (target None): find-references counts it for a member of that name when the file imports
    # the member's package; kind "alias": the local name an import binds (not counted as a use).
    refs: list = field(default_factory=list)
    aliases: list = field(default_factory=list)   # (alias, target, star, line): alias qualname -> target; star=1: every member of target is visible in alias
    bases: list = field(default_factory=list)     # (class qualname, base target): inheritance, embedding, implemented traits
    imports: set = field(default_factory=set)     # packages this file imports (as in the `packages` table), for ranking name search
    errors: int = 0                               # syntax error nodes the parser recovered from
    ascii: bool = False                           # the source is pure ASCII (set by the indexer)


@dataclass
class Unit:
    """One file as its extractor sees it."""
    path: str              # repo-relative, '/'-separated
    root: str              # absolute repo root: an extractor may look at sibling files (./x -> x.ts or x/index.ts)
    module: str            # module_of(project, path)[0]
    is_package: bool       # module_of(project, path)[1]
    project: dict = field(default_factory=dict)   # the language's project() for this repo


# Definition kinds, shared by every language (LSP symbol kinds in server.py, `kind:` in search).
CLASS_LIKE = frozenset({"class", "struct", "interface", "trait", "enum", "union", "record", "object"})
CALLABLE = frozenset({"function", "method", "constructor", "macro"})
SCOPES = frozenset({"module", "namespace", "package"})
# a definition of one of these kinds wins over an alias/variable of the same qualname
STRONG = CLASS_LIKE | CALLABLE | SCOPES | frozenset({"property", "type"})
VALUE = frozenset({"variable", "constant", "attribute", "field", "parameter", "property", "enum_member"})
KINDS = tuple(sorted(STRONG | VALUE))

# The registry: module names under index/lang/ (python lives in index/python.py for history).
MODULES = ("crossnav.index.python", "crossnav.index.lang.go", "crossnav.index.lang.csharp", "crossnav.index.lang.ruby",
           "crossnav.index.lang.c", "crossnav.index.lang.cpp", "crossnav.index.lang.java", "crossnav.index.lang.kotlin",
           "crossnav.index.lang.typescript", "crossnav.index.lang.javascript",
           "crossnav.index.lang.rust")


UNAVAILABLE: dict = {}   # module name -> why it did not import (a grammar wheel missing or incompatible)


@lru_cache(maxsize=None)
def languages() -> tuple:
    """Every language module that imports. One whose grammar wheel is missing or built for another
    tree-sitter is left out (its files are not indexed) and noted in UNAVAILABLE for the CLI to say."""
    out = []
    for name in MODULES:
        try:
            out.append(importlib.import_module(name))
        except (ImportError, ValueError) as e:   # ValueError: tree-sitter refuses the grammar's ABI version
            UNAVAILABLE[name.rpartition(".")[2]] = f"{type(e).__name__}: {e}"
    return tuple(out)


@lru_cache(maxsize=None)
def _by_ext() -> dict:
    return {ext: lang for lang in languages() for ext in lang.EXTENSIONS}


def for_path(path: str):
    """The language module that owns this file name, or None."""
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1]
    lang = _by_ext().get(ext)
    if lang is None and name.endswith(".d.ts"):
        lang = _by_ext().get(".ts")
    return lang


def skip_reason(lg, path: str, data: bytes) -> str | None:
    """Why a file of this language is not worth indexing (generated or minified: one huge line of a
    bundle adds nothing a person navigates), or None. A language may add its own rule as `skip()`."""
    own = getattr(lg, "skip", None)
    why = own(path, data) if own is not None else None
    if why:
        return why
    if len(data) > 32768 and data.count(b"\n") * 1000 < len(data):   # average line over 1000 bytes
        return "minified or generated (lines over 1000 characters on average)"
    return None


def by_name(name: str):
    for lang in languages():
        if lang.NAME == name:
            return lang
    return None


def language_of_qualname(qualname: str):
    """The language whose PREFIX starts this qualified name (Python's is empty, so it is last)."""
    best = None
    for lang in languages():
        if lang.PREFIX and qualname.startswith(lang.PREFIX):
            return lang
        if not lang.PREFIX:
            best = lang
    return best


def search_names() -> dict:
    """`lang:` value -> files.language value."""
    return {s: lang.NAME for lang in languages() for s in (lang.SEARCH_NAMES + (lang.NAME,))}
