"""JavaScript (.js, .jsx, .mjs, .cjs; ES modules and CommonJS): the same extractor and `js:`
namespace as TypeScript (index/lang/ecmascript/)."""
from .ecmascript.extract import extract  # noqa: F401  (the language interface)
from .ecmascript.manifests import module_of, project  # noqa: F401

NAME = "javascript"
EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs")
SEARCH_NAMES = ("js", "javascript", "jsx", "node")
PREFIX = "js:"
FENCE = "javascript"


def skip(path: str, data: bytes) -> str | None:
    """A minified bundle (`*.min.js`) is build output, not code anyone navigates."""
    return "minified (.min.js)" if path.endswith((".min.js", ".min.mjs", ".min.cjs")) else None
