"""C++: namespaces, classes, methods (in-class and out-of-line), templates, `using`. Shares the
extractor and the `c:` prefix with C (cfamily.py): one linkage namespace, C++ calls C."""
from __future__ import annotations

from . import Unit, cfamily, cproject

NAME = "cpp"
EXTENSIONS = (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".ipp")
SEARCH_NAMES = ("cpp", "c++", "cxx")
PREFIX = cfamily.PREFIX
FENCE = "cpp"

project = cproject.project
module_of = cfamily.module_of


def extract(src: bytes, unit: Unit):
    return cfamily.extract(src, unit, cpp=True)
