"""Suppression comments: ``<!-- cardsmith: disable=NAME[,NAME] -->``, read from real HTML comments only.

A suppression must be an HTML comment of the Markdown itself (a CommonMark HTML block or inline HTML
node): the same text inside inline code or a fenced code block is an example, shown to the reader,
and suppresses nothing. The scan is linear in the card's length: CommonMark finds the comments, and
each comment is read with string operations (no backtracking pattern), so a hostile card such as
``<!-- cardsmith: disable=`` followed by thousands of spaces costs one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

_KEYWORD = "cardsmith"
_MAX_NAMES = 200


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _comments(html: str) -> Iterator[str]:
    """The inner texts of the ``<!-- ... -->`` comments in a piece of HTML, left to right."""
    pos = 0
    while True:
        start = html.find("<!--", pos)
        if start < 0:
            return
        end = html.find("-->", start + 4)
        if end < 0:
            return
        yield html[start + 4 : end]
        pos = end + 3


def _names_in(comment: str) -> list[str] | None:
    """The rule names of one comment, when it is a ``cardsmith: disable=...`` comment."""
    text = comment.strip()
    if text[: len(_KEYWORD)].lower() != _KEYWORD:
        return None
    text = text[len(_KEYWORD) :].lstrip()
    if not text.startswith(":"):
        return None
    text = text[1:].lstrip()
    if text[:7].lower() != "disable":
        return None
    text = text[7:].lstrip()
    if not text.startswith("="):
        return None
    return [part.strip() for part in text[1:].split(",")[:_MAX_NAMES] if part.strip()]


def disabled_names(markdown: str) -> list[str]:
    """The names in the card's suppression comments, in order, each once."""
    if _KEYWORD not in markdown.lower():
        return []
    names: list[str] = []
    for html in _html_nodes(markdown):
        for comment in _comments(html):
            for name in _names_in(comment) or ():
                if name not in names:
                    names.append(name)
    return names


def _html_nodes(markdown: str) -> Iterator[str]:
    """The raw HTML of the Markdown: HTML blocks and inline HTML, not code spans or fences."""
    for tok in _markdown().parse(markdown):
        if tok.type == "html_block":
            yield tok.content
        elif tok.type == "inline" and tok.children:
            for child in tok.children:
                if child.type == "html_inline":
                    yield child.content
