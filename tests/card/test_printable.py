"""Terminal-safe text: the ASCII shortcut of ``printable`` and ``json_text`` changes nothing."""

from __future__ import annotations

import re

from cardsmith.card.io import UNPRINTABLE, printable
from cardsmith.cli.formats import json_text

CODE_POINTS = [*range(0x3000), *range(0xD7F0, 0xE010), 0xFEFF, 0x1F600]


def test_every_character_is_escaped_exactly_when_the_pattern_says_so() -> None:
    unsafe = re.compile(UNPRINTABLE)
    for code in CODE_POINTS:
        ch = chr(code)
        for text in (ch, f"a{ch}b", f"line\n{ch}\t"):
            out = printable(text)
            if unsafe.search(ch):
                assert ch not in out and out.count("\\") == 1, (hex(code), out)
            else:
                assert out == text, hex(code)


def test_ascii_text_passes_through_and_controls_are_shown() -> None:
    assert printable("plain card.md: Loss 0.3165\tok\n") == "plain card.md: Loss 0.3165\tok\n"
    assert printable("\x1b[2Jgone") == "\\x1b[2Jgone"
    assert printable("del\x7f") == "del\\x7f"
    assert printable("caf\udce9.md") == "caf\\xe9.md"  # a file-name byte that was not UTF-8
    assert printable("\u202eevil") == "\\u202eevil"


def test_json_text_escapes_only_what_json_dumps_leaves() -> None:
    assert json_text('{"a": "plain"}') == '{"a": "plain"}'
    assert json_text("x\x7fy") == "x\\u007fy"
    assert json_text("\u202e") == "\\u202e"
    assert json_text("caf\u00e9") == "caf\u00e9"
