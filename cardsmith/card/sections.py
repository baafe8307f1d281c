"""The one section walker: which lines of a card are headings, and what text lies under each.

Every part of cardsmith that looks for a section (the parser and the renderer, the completeness
rules, ``ModelCard.section_text``) asks this module, so they all agree with each other and with
CommonMark on what is a heading. It works on lines of text, so it stands below the card model:

* an ATX heading is 0-3 spaces, 1-6 ``#``, then a space, a tab or the end of the line; a closing
  run of ``#`` (after a space) is not part of the title;
* a setext heading is a paragraph line underlined with ``===`` (level 1) or ``---`` (level 2);
* nothing inside a fenced code block is a heading: a fence opens with 3+ backticks or tildes
  (indented at most 3 spaces; a backtick fence's info string has no backtick) and closes only with a
  line of the *same* character, at least as long, and nothing else;
* nothing inside an HTML comment block (``<!-- ... -->``) or an indented code block is a heading.

The scan is one pass over the lines with no backtracking pattern: linear in the card's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cardsmith.card.lines import strip_eol

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card

__all__ = [
    "Section",
    "atx_heading",
    "block_of_line",
    "body_lines",
    "find",
    "heading_key",
    "headings",
    "section_text",
    "text_of",
    "without_front_matter",
]


class Section:
    """A heading and the lines under it.

    ``heading`` is the index of the heading's (first) line; ``start`` the first line after it (after
    the underline of a setext heading); ``end`` the index after the section's last line: the next
    heading of any level (or the end of the document). ``subtree_end`` is the next heading of the same
    or a higher level: the section with its subsections.

    (A plain slotted class: a dataclass would import ``inspect`` into every audit's start-up.)
    """

    __slots__ = ("end", "heading", "level", "start", "subtree_end", "title")

    def __init__(self, title: str, level: int, heading: int, start: int, end: int, subtree_end: int) -> None:
        self.title = title
        self.level = level
        self.heading = heading
        self.start = start
        self.end = end
        self.subtree_end = subtree_end

    def __repr__(self) -> str:
        return (
            f"Section(title={self.title!r}, level={self.level}, heading={self.heading}, start={self.start}, "
            f"end={self.end}, subtree_end={self.subtree_end})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Section):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    @property
    def key(self) -> str:
        return heading_key(self.title)


def heading_key(title: str) -> str:
    """How titles are compared: case-insensitive, runs of white space as one space, no ``#`` around.

    Zero-width and other format characters (U+200B..U+200D, U+2060, U+FEFF) are dropped: they are
    invisible on the Hub, so they must not make a heading a different one.
    """
    cleaned = title.translate(_INVISIBLE).strip().strip("#").strip().lower()
    return " ".join(cleaned.split())


_INVISIBLE = {cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)}


def _indent(line: str) -> int:
    """Columns of leading spaces (a tab counts as reaching the next multiple of 4)."""
    col = 0
    for ch in line:
        if ch == " ":
            col += 1
        elif ch == "\t":
            col += 4 - col % 4
        else:
            break
    return col


def _fence_open(stripped: str) -> tuple[str, int] | None:
    """``(char, length)`` when the (indent-stripped) line opens a fenced code block."""
    if not stripped or stripped[0] not in "`~":
        return None
    ch = stripped[0]
    n = len(stripped) - len(stripped.lstrip(ch))
    if n < 3:
        return None
    if ch == "`" and "`" in stripped[n:]:
        return None  # a backtick fence's info string cannot hold a backtick (it is inline code)
    return ch, n


def _fence_closes(stripped: str, fence: tuple[str, int]) -> bool:
    ch, n = fence
    run = len(stripped) - len(stripped.lstrip(ch))
    return run >= n and stripped[run:].strip(" \t") == ""


def atx_heading(line: str) -> tuple[int, str] | None:
    """``(level, title)`` of an ATX heading line, else None."""
    if _indent(line) > 3:
        return None
    s = line.lstrip(" ")
    if not s.startswith("#"):
        return None
    level = len(s) - len(s.lstrip("#"))
    if level > 6:
        return None
    rest = s[level:]
    if rest and rest[0] not in " \t":
        return None
    rest = rest.strip(" \t")
    # An optional closing sequence: spaces then only '#'s (a title of only '#'s is empty).
    body = rest.rstrip("#")
    if body != rest and (body == "" or body[-1] in " \t"):
        rest = body.rstrip(" \t")
    return level, rest


def _setext_level(line: str) -> int | None:
    if _indent(line) > 3:
        return None
    s = line.strip(" \t")
    if s and s == "=" * len(s):
        return 1
    if s and s == "-" * len(s):
        return 2
    return None


_NOT_PARAGRAPH_START = ("- ", "* ", "+ ", ">", "|", "<", "!", "[")


def _is_paragraph_line(line: str) -> bool:
    """A line that can be the text of a setext heading: plain paragraph text."""
    if not line.strip() or _indent(line) > 3:
        return False
    s = line.lstrip(" ")
    if s.startswith(_NOT_PARAGRAPH_START) or s[0].isdigit() and s.split(" ", 1)[0].rstrip(".)").isdigit():
        return False
    return atx_heading(line) is None and _fence_open(s) is None and _setext_level(line) is None


def headings(lines: Sequence[str]) -> list[Section]:
    """Every heading of ``lines`` (with or without line endings), in order, with its extent."""
    found: list[tuple[str, int, int, int]] = []  # (title, level, heading line, first body line)
    fence: tuple[str, int] | None = None
    in_comment = False
    prev_paragraph = False  # the previous line is paragraph text that a setext underline would take
    paragraph_start = -1
    n = len(lines)
    for i in range(n):
        line = strip_eol(lines[i])
        if fence is not None:
            if _indent(line) <= 3 and _fence_closes(line.lstrip(" "), fence):
                fence = None
            prev_paragraph = False
            continue
        if in_comment:
            if "-->" in line:
                in_comment = False
            prev_paragraph = False
            continue
        stripped = line.lstrip(" ")
        indent = _indent(line)
        if indent <= 3:
            opened = _fence_open(stripped)
            if opened is not None:
                fence = opened
                prev_paragraph = False
                continue
            if stripped.startswith("<!--"):
                in_comment = "-->" not in stripped[4:]
                prev_paragraph = False
                continue
            atx = atx_heading(line)
            if atx is not None:
                found.append((atx[1], atx[0], i, i + 1))
                prev_paragraph = False
                continue
            if prev_paragraph:
                level = _setext_level(line)
                if level is not None:
                    title = " ".join(strip_eol(lines[j]).strip() for j in range(paragraph_start, i))
                    found.append((title, level, paragraph_start, i + 1))
                    prev_paragraph = False
                    continue
        if not line.strip():
            prev_paragraph = False
            continue
        if prev_paragraph:
            continue  # a continuation line of the same paragraph
        if indent > 3:
            continue  # indented code (no paragraph was open)
        if _is_paragraph_line(line):
            prev_paragraph = True
            paragraph_start = i
    out: list[Section] = []
    following = [n] * 7  # following[lv]: line of the nearest later heading of level lv
    for k in range(len(found) - 1, -1, -1):
        title, level, head, start = found[k]
        end = found[k + 1][2] if k + 1 < len(found) else n
        subtree_end = min(following[1 : level + 1])
        out.append(
            Section(title=title, level=level, heading=head, start=start, end=end, subtree_end=subtree_end)
        )
        following[level] = head
    out.reverse()
    return out


def find(
    lines: Sequence[str], title: str, *, level: int | None = None, sections: list[Section] | None = None
) -> Section | None:
    """The first section titled ``title`` (compared with :func:`heading_key`), of ``level`` if given."""
    want = heading_key(title)
    for section in sections if sections is not None else headings(lines):
        if section.key == want and (level is None or section.level == level):
            return section
    return None


def text_of(lines: Sequence[str], section: Section, *, subtree: bool = False) -> str:
    """The text under ``section`` without surrounding blank lines (``""`` for an empty section)."""
    end = section.subtree_end if subtree else section.end
    body = [strip_eol(lines[i]) for i in range(section.start, end)]
    return "\n".join(body).strip("\n").strip()


# --------------------------------------------------------------------------------------------------
# On a card
# --------------------------------------------------------------------------------------------------


def body_lines(card: Card) -> list[str]:
    """The card's body as it was read (front matter excluded), with line endings; ``[]`` without blocks."""
    return "".join(b.text for b in card.blocks if b.kind != "metadata").splitlines(keepends=True)


def block_of_line(card: Card, line: int) -> int | None:
    """The index in ``card.blocks`` of the block that holds body line ``line`` (numbered as
    :func:`body_lines` numbers them), or None past the end."""
    seen = 0
    for i, block in enumerate(card.blocks):
        if block.kind == "metadata":
            continue
        seen += len(block.text.splitlines())
        if line < seen:
            return i
    return None


def without_front_matter(lines: list[str]) -> list[str]:
    """``lines`` after a leading ``---`` ... ``---`` (or ``...``) front matter, when there is one."""
    if lines and strip_eol(lines[0]).rstrip() == "---":
        for i in range(1, len(lines)):
            if strip_eol(lines[i]).rstrip() in ("---", "..."):
                return lines[i + 1 :]
    return lines


def section_text(lines: Sequence[str], title: str) -> str | None:
    """The free text under the first heading titled ``title``, up to the next heading; None if absent."""
    section = find(lines, title)
    return None if section is None else text_of(lines, section)
