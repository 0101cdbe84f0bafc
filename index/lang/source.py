"""What every extractor needs from one tree-sitter parse, whatever the language: code-point columns
from tree-sitter's byte columns, the number of syntax errors the parser recovered from, comment text
as a doc paragraph, a declaration header as one signature line, and the scope around each node a
query found. Kept here so that each extractor is about its language.

(index/python.py still has its own copy of the column code.)
"""
from __future__ import annotations

import threading

from tree_sitter import Parser


def parser(language):
    """`parse(src) -> Tree` for one grammar, with one tree-sitter Parser per thread, made on first
    use: parser processes have one thread, the server extracts live buffers from a thread pool, and
    a Parser must not parse two texts at once."""
    local = threading.local()

    def parse(src: bytes):
        made = getattr(local, "parser", None)
        if made is None:
            made = local.parser = Parser(language)
        return made.parse(src)
    return parse


def count_errors(root) -> int:
    """The syntax errors the parser recovered from: ERROR and MISSING nodes (an ERROR node's own
    errors are not counted again)."""
    if not root.has_error:
        return 0
    n = 0
    stack = [root]
    while stack:
        cur = stack.pop()
        if cur.type == "ERROR" or cur.is_missing:
            n += 1
        elif cur.has_error:
            stack.extend(cur.children)
    return n


class Positions:
    """tree-sitter gives UTF-8 byte columns; the index stores code points. Pure-ASCII files (the
    common case) convert nothing and are never split into lines; otherwise each line's ASCII-ness is
    checked once."""

    __slots__ = ("src", "all_ascii", "_lines", "_ascii")

    def __init__(self, src: bytes):
        self.src = src
        self.all_ascii = src.isascii()
        self._lines = None
        self._ascii: dict = {}

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = self.src.split(b"\n")
        return self._lines

    def col(self, row: int, bcol: int) -> int:
        """The code-point column of byte column `bcol` in line `row`."""
        if self.all_ascii or bcol == 0:
            return bcol
        ok = self._ascii.get(row)
        if ok is None:
            lines = self.lines
            ok = self._ascii[row] = (lines[row] if row < len(lines) else b"").isascii()
        if ok:
            return bcol
        return len(self._lines[row][:bcol].decode("utf-8", "replace"))

    def span(self, node) -> tuple[int, int, int]:
        """(line, col, end_col) of a one-line node, in code points."""
        r, c = node.start_point
        ec = c + (node.end_byte - node.start_byte)
        if self.all_ascii:
            return r, c, ec
        return r, self.col(r, c), self.col(r, ec)

    def range(self, node) -> tuple[int, int, int, int]:
        """(line, col, end_line, end_col) of a node, in code points."""
        sr, sc = node.start_point
        er, ec = node.end_point
        if self.all_ascii:
            return sr, sc, er, ec
        return sr, self.col(sr, sc), er, self.col(er, ec)

    def comment_block_above(self, row: int, marker: bytes) -> list[str]:
        """The lines of the contiguous comment block (lines starting with `marker`) ending just
        above `row`, markers stripped, top first."""
        out = []
        r = row - 1
        lines = self.lines
        n = len(marker)
        while r >= 0:
            s = lines[r].strip()
            if not s.startswith(marker):
                break
            out.append(s[n:].decode("utf-8", "replace"))
            r -= 1
        out.reverse()
        return out


def one_line(text: bytes) -> str:
    """Collapse whitespace: a multi-line declaration header becomes one signature line."""
    return " ".join(text.decode("utf-8", "replace").split())


def first_paragraph(lines: list[str], limit: int | None = None) -> str | None:
    """The comment lines up to the first blank one after some text, stripped and joined (hover shows
    the first paragraph), at most `limit` characters."""
    out = []
    for line in lines:
        s = line.strip()
        if not s:
            if out:
                break
            continue
        out.append(s)
    text = " ".join(out)
    return (text[:limit] if limit is not None else text) or None


def sweep(nodes, scopes):
    """(node, the scopes around it, innermost last) for nodes and scopes (objects with `start` and
    `end` bytes, properly nested) both in document order: one pass over both lists. The list
    yielded is the live stack: read it before asking for the next node."""
    stack = []
    i, n = 0, len(scopes)
    for node in nodes:
        p = node.start_byte
        while i < n and scopes[i].start <= p:
            s = scopes[i]
            while stack and stack[-1].end <= s.start:
                stack.pop()
            stack.append(s)
            i += 1
        while len(stack) > 1 and stack[-1].end <= p:
            stack.pop()
        yield node, stack
