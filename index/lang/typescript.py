"""TypeScript (.ts, .tsx, .mts, .cts, .d.ts): the same extractor and `js:` namespace as JavaScript
(index/lang/_ecmascript.py), since TypeScript imports JavaScript and the other way round."""
from ._ecmascript import extract, module_of, project  # noqa: F401

NAME = "typescript"
EXTENSIONS = (".ts", ".tsx", ".mts", ".cts")   # `.d.ts` too (lang.for_path)
SEARCH_NAMES = ("ts", "typescript", "tsx")
PREFIX = "js:"
FENCE = "typescript"
