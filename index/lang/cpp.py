"""C++: namespaces, classes, methods (in-class and out-of-line), templates, `using`. Shares the
extractor and the `c:` prefix with C (index/lang/cfamily/): one linkage namespace, C++ calls C."""
from __future__ import annotations

from . import Unit
from .cfamily import extract as family
from .cfamily.project import project  # noqa: F401  (the language interface)

NAME = "cpp"
EXTENSIONS = (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".ipp")
SEARCH_NAMES = ("cpp", "c++", "cxx")
PREFIX = family.PREFIX
FENCE = "cpp"

module_of = family.module_of


def extract(src: bytes, unit: Unit):
    return family.extract(src, unit, cpp=True)
