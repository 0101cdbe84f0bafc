"""JavaScript (.js, .jsx, .mjs, .cjs; ES modules and CommonJS): the same extractor and `js:`
namespace as TypeScript (index/lang/_ecmascript.py)."""
from ._ecmascript import extract, module_of, project  # noqa: F401

NAME = "javascript"
EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs")
SEARCH_NAMES = ("js", "javascript", "jsx", "node")
PREFIX = "js:"
FENCE = "javascript"


def skip(path: str, data: bytes) -> str | None:
    """A minified bundle (`*.min.js`) is build output, not code anyone navigates."""
    return "minified (.min.js)" if path.endswith((".min.js", ".min.mjs", ".min.cjs")) else None
