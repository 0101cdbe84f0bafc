"""C: `.c` and `.h` files (a `.h` with C++-only syntax is parsed as C++: cfamily.header_is_cpp).
The extractor is shared with C++ (cfamily.py); both use the prefix `c:` because C++ calls C."""
from __future__ import annotations

from . import Unit, cfamily, cproject

NAME = "c"
EXTENSIONS = (".c", ".h")
SEARCH_NAMES = ("c",)
PREFIX = cfamily.PREFIX
FENCE = "c"

project = cproject.project
module_of = cfamily.module_of


def extract(src: bytes, unit: Unit):
    return cfamily.extract(src, unit, cpp=False)
