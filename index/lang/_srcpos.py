"""Source text helpers the C# and Ruby extractors share: byte columns -> code points, comment
blocks above a line, one-line signatures. Kept apart so each extractor is about its language."""
from __future__ import annotations


class Positions:
    """tree-sitter gives UTF-8 byte columns; the index stores code points. Pure-ASCII files (the
    common case) convert nothing; otherwise each line's ASCII-ness is checked once."""

    __slots__ = ("src", "lines", "all_ascii", "_ascii")

    def __init__(self, src: bytes):
        self.src = src
        self.lines = src.split(b"\n")
        self.all_ascii = src.isascii()
        self._ascii: dict = {}

    def col(self, row: int, bcol: int) -> int:
        if self.all_ascii or bcol == 0:
            return bcol
        ok = self._ascii.get(row)
        if ok is None:
            line = self.lines[row] if row < len(self.lines) else b""
            ok = self._ascii[row] = line.isascii()
        if ok:
            return bcol
        return len(self.lines[row][:bcol].decode("utf-8", "replace"))

    def span(self, node) -> tuple[int, int, int]:
        """(line, col, end_col) of a one-line node, in code points."""
        r, c = node.start_point
        ec = c + (node.end_byte - node.start_byte)
        if self.all_ascii:
            return r, c, ec
        return r, self.col(r, c), self.col(r, ec)

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


def first_paragraph(lines: list[str]) -> str | None:
    """The comment lines up to the first blank one, joined (hover shows the first paragraph)."""
    out = []
    for line in lines:
        s = line.strip()
        if not s:
            if out:
                break
            continue
        out.append(s)
    return " ".join(out) or None
