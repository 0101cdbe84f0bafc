"""C: `.c` and `.h` files (a `.h` with C++-only syntax is parsed as C++: cfamily/extract.py `header_is_cpp`).
The extractor is shared with C++ (index/lang/cfamily/); both use the prefix `c:` because C++ calls C."""
from __future__ import annotations

from . import Unit
from .cfamily import extract as family
from .cfamily.project import project  # noqa: F401  (the language interface)

NAME = "c"
EXTENSIONS = (".c", ".h")
SEARCH_NAMES = ("c",)
PREFIX = family.PREFIX
FENCE = "c"

module_of = family.module_of


def extract(src: bytes, unit: Unit):
    return family.extract(src, unit, cpp=False)
