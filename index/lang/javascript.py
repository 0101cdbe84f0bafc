"""JavaScript (.js, .jsx, .mjs, .cjs; ES modules and CommonJS): the same extractor and `js:`
namespace as TypeScript (index/lang/_ecmascript.py)."""
from ._ecmascript import extract, module_of, project  # noqa: F401

NAME = "javascript"
EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs")
SEARCH_NAMES = ("js", "javascript", "jsx", "node")
PREFIX = "js:"
FENCE = "javascript"
