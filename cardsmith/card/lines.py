"""Lines of a card: split with their endings kept (the round trip is byte for byte), and stripped of them."""

from __future__ import annotations

import re

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Split text into lines that keep their line ending (``\\n``, ``\\r\\n`` or ``\\r``).

    The split matches markdown-it's line numbering, so ``token.map`` indexes this list.
    """
    return _LINE_RE.findall(text)


def strip_eol(line: str) -> str:
    return line.rstrip("\r\n")
