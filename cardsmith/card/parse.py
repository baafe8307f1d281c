"""Read a model card (Markdown with optional YAML front matter) into a :class:`~cardsmith.card.model.Card`.

The parser is built on markdown-it-py's block tokens: ``token.map`` line ranges slice the source into
blocks, and only the lines of a block that is a Trainer-generated part (title, intro sentence,
headline, hyperparameters, results table, framework versions) are read further. The front matter is
read with :func:`cardsmith.card.io.load_yaml` (bounded ``SafeLoader``).

Every line of the source ends up in exactly one :class:`~cardsmith.card.model.Block`, in order, so that
:func:`cardsmith.card.render.render_card` can write an unchanged card back byte for byte:

* ``metadata``: the front matter including its ``---`` fences; ``snapshot`` = ``{"data": ..., "model_index": ...}``
* ``title``, ``intro``, ``headline``, ``hyperparameters``, ``results``, ``framework_versions``: the
  exact source lines of that part; ``snapshot`` = :func:`~cardsmith.card.model.part_snapshot` of the part at parse time
* ``text``: everything else, verbatim, split so that every heading starts a new text block

What is *not a card* (:class:`~cardsmith.errors.NotACardError`): empty or whitespace-only text,
binary data (NUL bytes; control characters alone do not make text binary: they are escaped on output), bytes that are not UTF-8 (via :func:`load_card`).
Input that starts like a card but is broken is a :class:`~cardsmith.errors.ParseError`: front matter
opened with ``---`` and never closed, invalid YAML, front matter that is a list or a scalar instead of
a mapping. Any other text - a README with prose and no Trainer section at all - is a (hand-written)
card: it parses, with empty generated parts.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, ValidationError

from cardsmith.card.io import (
    MAX_CARD_BYTES,
    MAX_TABLE_ROWS,
    check_within,
    decode_text,
    load_json,
    load_yaml,
    read_text,
)
from cardsmith.card.lines import split_lines, strip_eol
from cardsmith.card.model import (
    FRONT_MATTER_UNCLOSED,
    HEADLINE_LEAD,
    HEADLINE_LEAD_OPENING,
    HEADLINE_NOT_READ,
    HYPERPARAMETERS_LEAD,
    Block,
    Card,
    Cell,
    FrameworkVersion,
    HeadlineMetric,
    Hyperparameters,
    Metadata,
    ResultsTable,
    metadata_snapshot,
    parse_optimizer,
    part_snapshot,
    typed_model_index,
)
from cardsmith.card.sections import heading_key
from cardsmith.errors import InputTooLargeError, NotACardError, ParseError

if TYPE_CHECKING:  # pragma: no cover
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.token import Token

__all__ = [
    "load_card",
    "parse_card",
    "split_lines",
]

_FENCE_CLOSE = {"---", "..."}

# The intro sentence's opening, up to "on ": bounded quantifiers, so that a search over a long line
# of near-misses stays linear; the dataset part is found by :func:`_find_intro` with str.find.
_INTRO_HEAD_RE = re.compile(
    r"This model (?:is a fine-tuned version of\s+"
    r"(?:\[(?P<btext>(?:[^\]\\\n]|\\.){0,512})\]\((?P<url>[^)\s]{0,2048})\)|(?P<bplain>[^\s\[\]()]{1,512}))"
    r"|(?P<scratch>was trained from scratch))"
    r"\s+on\s+"
)
_UNKNOWN_DATASET = "an unknown dataset."


class _Intro(NamedTuple):
    base: str | None
    dataset: str | None
    start: int
    end: int


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _find_intro(line: str) -> _Intro | None:
    """The Trainer's intro sentence in ``line``: ``This model is a fine-tuned version of BASE on the
    DS dataset.`` (or ``... on an unknown dataset.``, or ``was trained from scratch on ...``).

    The first match, as ``re.search`` of the former single pattern found it (the dataset is the
    shortest text before a `` dataset``/`` datasets`` word followed, later on the line, by a
    period), in time linear in the line.
    """
    m = _INTRO_HEAD_RE.search(line)
    while m is not None:
        pos = m.end()
        base = m.group("btext") if m.group("btext") is not None else m.group("bplain")
        if line.startswith(_UNKNOWN_DATASET, pos):
            return _Intro(base, None, m.start(), pos + len(_UNKNOWN_DATASET))
        if line.startswith("the ", pos):
            k = line.find(" dataset", pos + 5)
            while k >= 0:
                word_end = k + len(" dataset")
                if line[word_end : word_end + 1] == "s" and not _is_word_char(
                    line[word_end + 1 : word_end + 2] or " "
                ):
                    word_end += 1
                if not _is_word_char(line[word_end : word_end + 1] or " "):
                    dot = line.find(".", word_end)
                    if dot < 0:
                        break  # no later " dataset" has a period after it either
                    return _Intro(base, line[pos + 4 : k], m.start(), dot + 1)
                k = line.find(" dataset", k + 1)
        m = _INTRO_HEAD_RE.search(line, m.start() + 1)
    return None


_ITEM_MARK_RE = re.compile(r"^[ ]{0,3}[-*+][ \t]+")
_PIPE_SPLIT_RE = re.compile(r"(?<!\\)\|")
_SIMPLE_NUMBER_RE = re.compile(r"^-?\d+(?:\.(\d+))?$")
_INT_RE = re.compile(r"^[-+]?\d+$")
_FLOAT_RE = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")

_INT_FIELDS = {
    "train_batch_size",
    "eval_batch_size",
    "seed",
    "num_devices",
    "gradient_accumulation_steps",
    "total_train_batch_size",
    "total_eval_batch_size",
    "training_steps",
}
_FLOAT_FIELDS = {"learning_rate", "lr_scheduler_warmup_ratio", "label_smoothing_factor"}
_NUMBER_FIELDS = {"lr_scheduler_warmup_steps", "num_epochs"}
_STR_FIELDS = {"distributed_type", "lr_scheduler_type", "mixed_precision_training"}


# --------------------------------------------------------------------------------------------------
# markdown-it with a fast table rule
# --------------------------------------------------------------------------------------------------

_MD: MarkdownIt | None = None


def _fast_table(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """markdown-it-py's GFM ``table`` rule, without a token per cell.

    The stock rule validates the header and delimiter rows (reused here in silent mode) and then
    emits three tokens per cell, which takes seconds for a long table. cardsmith reads the cells
    from the source lines itself, so this rule only finds where the table ends, with the stock
    rule's termination logic, and emits ``table_open``/``table_close`` with the line map.
    """
    from markdown_it.rules_block.table import table as stock_table

    if not stock_table(state, start_line, end_line, True):
        return False
    if silent:
        return True
    terminators = state.md.block.ruler.getRules("blockquote")
    src = state.src
    next_line = start_line + 2
    while next_line < end_line:
        if state.sCount[next_line] < state.blkIndent:
            break
        pos = state.bMarks[next_line] + state.tShift[next_line]
        first = src[pos] if pos < state.eMarks[next_line] else ""
        if not first:
            break  # blank line
        if state.is_code_block(next_line):
            break
        # A row that starts with a pipe cannot start any terminating block (fence, quote, hr,
        # list, html, heading); only other lines need the terminator rules.
        if first != "|" and any(rule(state, next_line, end_line, True) for rule in terminators):
            break
        next_line += 1
    old_parent = state.parentType
    state.parentType = "table"
    token = state.push("table_open", "table", 1)
    token.map = [start_line, next_line]
    state.push("table_close", "table", -1)
    state.parentType = old_parent
    state.line = next_line
    return True


def _markdown() -> MarkdownIt:
    """A CommonMark parser with GFM tables, block level only (inline parsing is not needed)."""
    global _MD
    if _MD is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": True})
        md.enable("table")
        md.block.ruler.at("table", _fast_table, {"alt": ["paragraph", "reference"]})
        md.core.ruler.disable(["inline", "text_join"])
        _MD = md
    return _MD


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _is_blank(line: str) -> bool:
    return not line.strip()


_CELL_FIELDS_SET = frozenset({"text", "value", "decimals", "percent"})
_setattr = object.__setattr__
_new = object.__new__
# BaseModel's slots, set directly (what model_construct does, minus its per-call overhead)
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _number_cell(text: str, value: float, decimals: int) -> Cell:
    """A plain-decimal :class:`Cell` without validation (what ``Cell.parse`` returns, built fast)."""
    cell = _new(Cell)
    _setattr(cell, "__dict__", {"text": text, "value": value, "decimals": decimals, "percent": False})
    _set_fields_set(cell, set(_CELL_FIELDS_SET))
    _set_extra(cell, None)
    _set_private(cell, None)
    return cell


_KIND_TEXT = frozenset({"kind", "text"})
_KIND_TEXT_SNAPSHOT = frozenset({"kind", "text", "snapshot"})
_NO_SNAPSHOT: Any = object()


def _block(kind: str, text: str, snapshot: Any = _NO_SNAPSHOT) -> Block:
    """``Block.model_construct(kind=..., text=..., [snapshot=...])``, without its per-call overhead."""
    block = _new(Block)
    if snapshot is _NO_SNAPSHOT:
        _setattr(block, "__dict__", {"kind": kind, "text": text, "snapshot": None})
        _set_fields_set(block, set(_KIND_TEXT))
    else:
        _setattr(block, "__dict__", {"kind": kind, "text": text, "snapshot": snapshot})
        _set_fields_set(block, set(_KIND_TEXT_SNAPSHOT))
    _set_extra(block, None)
    _set_private(block, None)
    return block


def _fast_cell(text: str) -> Cell:
    """``Cell.parse(text)`` for an already stripped cell, with a fast path for plain decimals."""
    m = _SIMPLE_NUMBER_RE.match(text)
    if m is None:
        return Cell.parse(text)
    frac = m.group(1)
    return _number_cell(text, float(text), len(frac) if frac else 0)


# --------------------------------------------------------------------------------------------------
# Front matter
# --------------------------------------------------------------------------------------------------


def _parse_front_matter(lines: list[str], notes: list[str]) -> tuple[Metadata | None, int]:
    """Read the YAML front matter; returns the metadata and the index of the first body line."""
    if not lines or strip_eol(lines[0]).rstrip() != "---":
        return None, 0
    close = None
    for i in range(1, len(lines)):
        if strip_eol(lines[i]).rstrip() in _FENCE_CLOSE:
            close = i
            break
    if close is None:
        # huggingface_hub (RepoCard) then reads no metadata and keeps the whole file as the card's text
        notes.append(FRONT_MATTER_UNCLOSED)
        return None, 0
    raw = "".join(lines[1:close])
    data = load_yaml(raw)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__} scalar"
        raise ParseError(f"front matter is {kind}, not a mapping of metadata keys")
    data = {str(k) if not isinstance(k, str) else k: v for k, v in data.items()}
    key = "model-index"
    if "model-index" not in data and "model_index" in data:
        key = "model_index"
    model_index = typed_model_index(data.get(key), notes) if key in data else None
    meta = Metadata.model_construct(data=data, model_index=model_index, model_index_key=key, raw=raw)
    meta.__pydantic_fields_set__ = {"data", "model_index", "model_index_key", "raw"}
    return meta, close + 1


# --------------------------------------------------------------------------------------------------
# Generated parts
# --------------------------------------------------------------------------------------------------


def _list_items(tokens: list[Token], open_index: int) -> list[tuple[int, int]]:
    """Line ranges of the items of the list whose ``*_list_open`` token is at ``open_index``."""
    level = tokens[open_index].level
    items = []
    i = open_index + 1
    while i < len(tokens):
        tok = tokens[i]
        if tok.level == level and tok.type.endswith("_list_close"):
            break
        if tok.type == "list_item_open" and tok.level == level + 1 and tok.map:
            items.append((tok.map[0], tok.map[1]))
        i += 1
    return items


def _item_text(lines: list[str], start: int, end: int) -> str | None:
    """An item's text without its marker; continuation lines joined with ``\\n``. None if not ``-``."""
    first = strip_eol(lines[start])
    m = _ITEM_MARK_RE.match(first)
    if not m:
        return None
    parts = [first[m.end() :]]
    last = end
    while last > start + 1 and _is_blank(lines[last - 1]):
        last -= 1
    parts.extend(strip_eol(lines[j]) for j in range(start + 1, last))
    return "\n".join(parts)


def _parse_key_values(lines: list[str], items: list[tuple[int, int]]) -> list[tuple[str, str]] | None:
    out = []
    for start, end in items:
        text = _item_text(lines, start, end)
        if text is None:
            return None
        first, _, rest = text.partition("\n")
        pair = _key_value(first)
        if pair is None:
            return None
        key, value = pair
        if rest:
            value = value + "\n" + rest
        out.append((key.strip(), value))
    return out


#: One line of an emphasised headline: ``*- Loss: 0.1234*``, optionally ending in a hard break (``\``).
@functools.cache
def _italic_item_re() -> re.Pattern[str]:
    """One emphasised headline line (compiled on first use: only edited cards have one)."""
    return re.compile(r"^\s*([*_]{1,2})\s*[-*+]\s+(?P<key>[^:*_]+?)\s*:\s*(?P<value>[^*_]+?)\s*\1\s*\\?\s*$")


def _italic_headline(para: list[str]) -> list[HeadlineMetric] | None:
    """The headline of a paragraph that holds the lead line and then only emphasised ``- Name: value``
    lines (an edited card's italic headline), else ``None``."""
    try:
        at = next(j for j, line in enumerate(para) if line.strip() == HEADLINE_LEAD)
    except StopIteration:
        return None
    items = [ln for ln in para[at + 1 :] if ln.strip()]
    if not items:
        return None
    pairs = []
    for line in items:
        # one blank for each run of blanks: the pattern's lazy name and value, each followed by \s*,
        # would be tried at every position of a long run (quadratic)
        m = _italic_item_re().match(" ".join(line.split()))
        if m is None:
            return None
        pairs.append((m.group("key").strip(), m.group("value").strip()))
    return _parse_headline(pairs)


def _key_value(line: str) -> tuple[str, str] | None:
    """``key: value`` -> ``(key, value)`` (the value stripped; "" when absent); None when the line is
    not one: no colon, an empty key, or text glued to the colon (``a:b``). A scan, not a pattern."""
    colon = line.find(":")
    if colon < 0:
        return None
    key = line[:colon].rstrip()
    if not key:
        return None
    rest = line[colon + 1 :]
    if rest[:1] in (" ", "\t"):
        return key, rest.strip()
    if rest.strip():
        return None
    return key, ""


def _parse_headline(pairs: list[tuple[str, str]]) -> list[HeadlineMetric] | None:
    out = []
    for name, value in pairs:
        if "\n" in value:
            return None
        out.append(HeadlineMetric.model_construct(name=name, value=_fast_cell(value.strip())))
    return out


def _parse_hyperparameters(pairs: list[tuple[str, str]], notes: list[str]) -> Hyperparameters:
    fields: dict[str, Any] = {}
    extra: dict[str, str] = {}
    order: list[str] = []
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            notes.append(f"hyperparameter {key!r} is listed twice; the first value is kept")
            continue
        order.append(key)
        seen.add(key)
        v = value.strip()
        single = "\n" not in value
        if key == "optimizer":
            fields[key] = parse_optimizer(value)
        elif single and key in _INT_FIELDS and _INT_RE.match(v):
            fields[key] = int(v)
        elif single and key in _FLOAT_FIELDS and _FLOAT_RE.match(v):
            fields[key] = float(v)
        elif single and key in _NUMBER_FIELDS and _FLOAT_RE.match(v):
            fields[key] = int(v) if _INT_RE.match(v) else float(v)
        elif single and key in _STR_FIELDS and v:
            fields[key] = v
        else:
            extra[key] = value
    return Hyperparameters.model_construct(**fields, extra=extra, order=order)


def _split_row(line: str) -> list[str]:
    """A table row's cells as GFM splits them (unescaped pipes; outer pipes optional), stripped."""
    text = line.strip()
    cells = [c.strip() for c in _PIPE_SPLIT_RE.split(text)]
    if text[:1] == "|":
        del cells[0]
    if len(cells) > 1 and text[-1:] == "|" and text[-2:] != "\\|" and cells[-1] == "":
        del cells[-1]
    return cells


def _parse_table(lines: list[str], start: int, end: int) -> tuple[ResultsTable, list[list[str]]]:
    """The table at ``lines[start:end]`` (header, delimiter, rows) as printed cells, and the
    cells' texts row by row (the table's :func:`part_snapshot` rows)."""
    if end - start - 2 > MAX_TABLE_ROWS:
        raise InputTooLargeError(f"results table has more than {MAX_TABLE_ROWS:,} rows")
    columns = _split_row(lines[start])
    rows, texts = _table_rows(lines, start + 2, end, len(columns))
    return ResultsTable.model_construct(columns=columns, rows=rows), texts


def _table_rows(
    lines: list[str], start: int, end: int, ncols: int
) -> tuple[list[list[Cell]], list[list[str]]]:
    """Rows of cells (equal texts share one immutable :class:`Cell`) and rows of their texts."""
    split = _PIPE_SPLIT_RE.split
    cache: dict[str, Cell] = {}
    get = cache.get

    match = _SIMPLE_NUMBER_RE.match
    fields_set = set(_CELL_FIELDS_SET)  # shared: a frozen model's fields-set is never changed

    def new(text: str) -> Cell:
        """``_fast_cell(text)``, inlined: most of a long table's time goes here."""
        m = match(text)
        if m is None:
            cell = Cell.parse(text)
        else:
            frac = m.group(1)
            cell = _new(Cell)
            _setattr(
                cell,
                "__dict__",
                {"text": text, "value": float(text), "decimals": len(frac) if frac else 0, "percent": False},
            )
            _set_fields_set(cell, fields_set)
            _set_extra(cell, None)
            _set_private(cell, None)
        cache[text] = cell
        return cell

    padding = [""] * ncols
    rows: list[list[Cell]] = []
    text_rows: list[list[str]] = []
    for j in range(start, end):
        text = lines[j].strip()
        # GFM splits at pipes not escaped by a backslash; without one, str.split is the same and faster
        texts = [c.strip() for c in (split(text) if "\\" in text else text.split("|"))]
        if text[:1] == "|":
            del texts[0]
        if len(texts) > 1 and text[-1:] == "|" and text[-2:] != "\\|" and texts[-1] == "":
            del texts[-1]
        if len(texts) != ncols:
            if len(texts) < ncols:
                texts.extend(padding[: ncols - len(texts)])
            else:
                del texts[ncols:]
        rows.append([get(t) or new(t) for t in texts])
        text_rows.append(texts)
    return rows, text_rows


def _parse_framework_versions(
    lines: list[str], items: list[tuple[int, int]]
) -> list[FrameworkVersion] | None:
    out = []
    for start, end in items:
        text = _item_text(lines, start, end)
        if text is None or "\n" in text:
            return None
        parts = text.strip().rsplit(None, 1)
        if len(parts) != 2:
            return None
        out.append(FrameworkVersion.model_construct(name=parts[0], version=parts[1]))
    return out


# --------------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------------


def _check_is_text(text: str) -> None:
    if len(text) > MAX_CARD_BYTES:
        raise InputTooLargeError(
            f"input is {len(text) / 1048576:.1f} M characters; cards larger than "
            f"{MAX_CARD_BYTES // 1048576} MiB are not read"
        )
    if not text.strip():
        raise NotACardError("input is empty (or only whitespace): not a model card")
    head = text[:8192]
    if "\x00" in head:
        raise NotACardError("input is binary data (NUL bytes), not a model card")


def parse_card(text: str | bytes) -> Card:
    """Parse a model card's Markdown (with optional YAML front matter) into a :class:`Card`.

    Raises :class:`~cardsmith.errors.NotACardError` for input that is not a card (empty, binary,
    not UTF-8) and :class:`~cardsmith.errors.ParseError` for a broken card (unclosed or invalid front
    matter, front matter that is not a mapping).
    """
    with gc_paused():
        return _parse_card(text)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block (enabled again after, if it was).

    A long results table makes hundreds of thousands of small objects that cannot form cycles; the
    collector would scan them over and over while they are parsed and while the rules run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_card(text: str | bytes) -> Card:
    if isinstance(text, (bytes, bytearray)):
        text = decode_text(bytes(text))
    if not isinstance(text, str):
        raise ParseError(f"expected the card's text, got {type(text).__name__}")
    text = text.removeprefix("\ufeff")
    _check_is_text(text)
    notes: list[str] = []
    lines = split_lines(text)
    first_eol = re.search(r"\r\n|\r|\n", text)
    newline = first_eol.group(0) if first_eol else "\n"
    trailing_newline = text.endswith(("\n", "\r"))

    metadata, body_start = _parse_front_matter(lines, notes)
    blocks: list[Block] = []
    if metadata is not None:
        blocks.append(_block("metadata", "".join(lines[:body_start]), metadata_snapshot(metadata)))
    body = lines[body_start:]
    card_fields: dict[str, Any] = {}
    spans: list[tuple[int, int, str]] = []  # (start, end, kind) in body line numbers
    heading_starts: set[int] = set()

    if body:
        tokens = _markdown().parse("".join(body))
        _scan_tokens(tokens, body, spans, heading_starts, card_fields, notes)

    card = Card.model_construct(
        metadata=metadata if metadata is not None else Metadata.model_construct(),
        title=card_fields.get("title"),
        base_model=card_fields.get("base_model"),
        dataset_name=card_fields.get("dataset_name"),
        headline=card_fields.get("headline", []),
        hyperparameters=card_fields.get("hyperparameters"),
        results=card_fields.get("results"),
        framework_versions=card_fields.get("framework_versions", []),
        blocks=blocks,
        newline=newline,
        trailing_newline=trailing_newline,
        notes=notes,
    )
    card.__pydantic_fields_set__ = set(Card.model_fields)

    # Lay the body out as blocks: generated parts at their spans, text in between, split at headings.
    spans.sort()
    pos = 0
    for start, end, kind in spans:
        _add_text_blocks(blocks, body, pos, start, heading_starts)
        if kind == "results" and card.results is not None:  # part_snapshot's, from the texts parsed
            snapshot: Any = {"columns": list(card.results.columns), "rows": card_fields["_results_texts"]}
        else:
            snapshot = part_snapshot(card, kind)
        blocks.append(_block(kind, "".join(body[start:end]), snapshot))
        pos = end
    _add_text_blocks(blocks, body, pos, len(body), heading_starts)
    return card


def _add_text_blocks(
    blocks: list[Block], body: list[str], start: int, end: int, heading_starts: set[int]
) -> None:
    if start >= end:
        return
    cut = start
    for i in range(start + 1, end):
        if i in heading_starts:
            blocks.append(_block("text", "".join(body[cut:i])))
            cut = i
    blocks.append(_block("text", "".join(body[cut:end])))


def _scan_tokens(
    tokens: list[Token],
    body: list[str],
    spans: list[tuple[int, int, str]],
    heading_starts: set[int],
    fields: dict[str, Any],
    notes: list[str],
) -> None:
    """Walk the top-level tokens and record the spans of the generated parts."""
    top = [(i, t) for i, t in enumerate(tokens) if t.level == 0 and t.map is not None]
    section = ""  # normalised title of the current heading
    taken: set[str] = set()
    pending_lead: tuple[str, int] | None = None  # (kind, line) of a lead-in line awaiting its list
    for n, (i, tok) in enumerate(top):
        assert tok.map is not None
        start, end = tok.map
        if tok.type == "heading_open":
            heading_starts.add(start)
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            title = inline.content.strip() if inline is not None else ""
            section = heading_key(title)
            pending_lead = None
            if tok.tag == "h1" and "title" not in taken:
                taken.add("title")
                fields["title"] = title
                spans.append((start, end, "title"))
            continue
        if tok.type == "paragraph_open":
            pending_lead = None
            para = [strip_eol(body[j]) for j in range(start, end)]
            if "intro" not in taken:
                for j, line in enumerate(para):
                    intro = _find_intro(line)
                    if intro is None:
                        continue
                    taken.add("intro")
                    base = intro.base
                    fields["base_model"] = base.strip() or None if base is not None else None
                    ds = intro.dataset
                    if ds is not None:
                        ds = ds.strip().strip("*_`").strip()
                        if ds in ("None", ""):
                            ds = None
                    fields["dataset_name"] = ds
                    if intro.start == 0 and line[intro.end :].strip() == "":
                        spans.append((start + j, start + j + 1, "intro"))
                    break
            last = para[-1].strip() if para else ""
            if "headline" not in taken and (italic := _italic_headline(para)) is not None:
                # "*- Loss: 0.12*\" lines under the lead: an emphasised headline, read (the text is kept as written)
                taken.add("headline")
                fields["headline"] = italic
                lead_at = next(j for j, line in enumerate(para) if line.strip() == HEADLINE_LEAD)
                spans.append((start + lead_at, _trim_end(body, start, end), "headline"))
                continue
            if last == HEADLINE_LEAD and "headline" not in taken:
                pending_lead = ("headline", end - 1)
            elif (
                "headline" not in taken
                and len(last) <= 200
                and last.lower().startswith(HEADLINE_LEAD_OPENING)
                and not any(n.startswith(HEADLINE_NOT_READ) for n in notes)
            ):
                notes.append(f"{HEADLINE_NOT_READ} {last!r}, not the Trainer's {HEADLINE_LEAD!r}")
            elif last == HYPERPARAMETERS_LEAD and "hyperparameters" not in taken:
                pending_lead = ("hyperparameters", end - 1)
            continue
        if tok.type == "bullet_list_open":
            lead = pending_lead
            pending_lead = None
            items = _list_items(tokens, i)
            if lead is not None and all(_is_blank(body[j]) for j in range(lead[1] + 1, start)):
                kind, lead_line = lead
                pairs = _parse_key_values(body, items)
                if pairs is not None and pairs:
                    if kind == "headline":
                        headline = _parse_headline(pairs)
                        if headline is not None:
                            taken.add(kind)
                            fields["headline"] = headline
                            spans.append((lead_line, _trim_end(body, start, end), kind))
                    else:
                        taken.add(kind)
                        fields["hyperparameters"] = _parse_hyperparameters(pairs, notes)
                        spans.append((lead_line, _trim_end(body, start, end), kind))
                continue
            if section == "framework versions" and "framework_versions" not in taken:
                versions = _parse_framework_versions(body, items)
                if versions:
                    taken.add("framework_versions")
                    fields["framework_versions"] = versions
                    spans.append((start, _trim_end(body, start, end), "framework_versions"))
            continue
        pending_lead = None
        if (
            tok.type == "table_open"
            and section in ("training results", "training result")
            and "results" not in taken
        ):
            taken.add("results")
            fields["results"], fields["_results_texts"] = _parse_table(body, start, end)
            spans.append((start, end, "results"))


def _trim_end(body: list[str], start: int, end: int) -> int:
    """A list's span without the blank lines markdown-it counts into its last item."""
    while end > start + 1 and _is_blank(body[end - 1]):
        end -= 1
    return end


# --------------------------------------------------------------------------------------------------
# Files and sections
# --------------------------------------------------------------------------------------------------


def card_file(path: str | Path) -> Path:
    """The card file a path names: the file itself, or a model folder's ``README.md``.

    A missing path, a folder without a README.md, or something that is not a regular file is a
    clear :class:`ParseError`.
    """
    p = Path(path)
    if p.is_dir():
        readme = p / "README.md"
        if readme.is_symlink():
            check_within(readme, p)  # a folder's card never reads a file outside the folder
        if not readme.is_file():
            raise ParseError(
                f"{path}: folder has no README.md (a folder without a README.md holds no model card)"
            )
        return readme
    if not p.exists():
        raise ParseError(f"{path}: no such file or folder")
    if not p.is_file():
        raise ParseError(f"{path}: not a regular file")
    return p


def load_card(path: str | Path) -> Card:
    """Read a card: a Markdown file, a model folder (its ``README.md``), or a ``ModelCard`` JSON dump."""
    p = card_file(path)
    if p.suffix.lower() == ".json":
        text = read_text(p)
        load_json(text, source=str(p))  # bounded nesting before the model validates it
        try:
            return Card.model_validate_json(text)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "top level"
            raise ParseError(
                f"{p} is not a cardsmith ModelCard JSON ({exc.error_count()} error(s); {where}: {first.get('msg')})"
            ) from None
    text = read_text(p)
    try:
        return parse_card(text)
    except ParseError as exc:
        raise type(exc)(f"{p}: {exc}") from None
