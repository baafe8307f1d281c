"""Where the items of a bulk run come from, streamed: never the whole input in memory.

``cardsmith audit --from SOURCE``:

- a Parquet dump (a ``.parquet`` file, or a folder holding ``*.parquet`` files directly or in ``data/``,
  the Hub dataset layout): read in pyarrow record batches of the two columns needed;
- a JSONL dump (``.jsonl``/``.ndjson``): one JSON object per line;
- a folder tree: every ``*.md`` file below it, in sorted order; the id is the path below the folder
  (``org/name/README.md`` -> ``org/name``);
- any other file: a text list of card paths or model folders, one per line (``#`` comments).

A dump's card column defaults to the first of ``card``, ``text``, ``readme``, ``content``, and its id
column to the first of ``modelId``, ``model_id``, ``id``, ``repo_id``, ``repo``, ``name`` (the public Hub card
dumps have ``modelId`` and ``card``); without an id column the id is the row number.

``cardsmith verify --from LIST``: a ``.csv`` with a ``repo`` column, a ``.jsonl`` of objects with ``repo``,
or a text file of one repo id or folder per line; a CSV/JSONL line's other fields are its own verify
options (``dataset``, ``split``...). A line that cannot be read becomes an entry with its reason.

Ids are unique within a run: the second ``x`` is ``x#2`` (so ``--resume`` knows which one is done).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardsmith.bulk.items import Item
from cardsmith.errors import ConfigError

CARD_COLUMNS = ("card", "text", "readme", "content")
ID_COLUMNS = ("modelId", "model_id", "id", "repo_id", "repo", "name")
#: Rows per pyarrow record batch read from a Parquet dump.
BATCH_ROWS = 256
#: Longest JSONL line read (a card is at most 8 MiB; its JSON escaping can double that).
MAX_LINE = 20 * 1024 * 1024


@dataclass
class Source:
    """A streamed source: ``items()`` yields :class:`Item`; ``total`` is known up front when cheap."""

    kind: str  # "parquet", "jsonl", "tree", "paths", "list"
    location: Path
    total: int | None = None
    files: tuple[Path, ...] = ()
    card_column: str | None = None
    id_column: str | None = None

    def items(self) -> Iterator[Item]:
        raw = {
            "parquet": self._parquet_items,
            "jsonl": self._jsonl_items,
            "tree": self._tree_items,
            "paths": self._path_items,
            "list": self._list_items,
        }[self.kind]()
        return unique_ids(raw)

    # ---- dumps -----------------------------------------------------------------------------------

    def _parquet_items(self) -> Iterator[Item]:
        import pyarrow.parquet as pq

        row = 0
        columns = [c for c in (self.id_column, self.card_column) if c is not None]
        for file in self.files:
            with pq.ParquetFile(file) as handle:
                for batch in handle.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                    cards = batch.column(self.card_column).to_pylist()
                    ids = batch.column(self.id_column).to_pylist() if self.id_column else [None] * len(cards)
                    for item_id, text in zip(ids, cards):
                        row += 1
                        yield dump_item(item_id, text, row)

    def _jsonl_items(self) -> Iterator[Item]:
        with open(self.location, "rb") as handle:
            number = 0
            while True:
                raw = handle.readline(MAX_LINE)
                if not raw:
                    return
                number += 1
                if not raw.endswith(b"\n") and len(raw) >= MAX_LINE:
                    while raw and not raw.endswith(b"\n"):  # skip the rest of an overlong line
                        raw = handle.readline(MAX_LINE)
                    yield Item(id=f"line-{number}", error=f"line {number} is longer than {MAX_LINE} bytes")
                    continue
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except (ValueError, UnicodeDecodeError) as exc:
                    yield Item(id=f"line-{number}", error=f"line {number} is not valid JSON: {exc}")
                    continue
                if not isinstance(row, dict):
                    yield Item(id=f"line-{number}", error=f"line {number} is not a JSON object")
                    continue
                card_column = self.card_column or _pick(row.keys(), CARD_COLUMNS)
                id_column = self.id_column or _pick(row.keys(), ID_COLUMNS)
                item_id = row.get(id_column) if id_column else None
                if card_column is None or card_column not in row:
                    yield Item(
                        id=str(item_id) if item_id is not None else f"line-{number}",
                        error=f"line {number} has no card column ({self.card_column or 'card'})",
                    )
                    continue
                yield dump_item(item_id, row.get(card_column), number)

    # ---- files -----------------------------------------------------------------------------------

    def _tree_items(self) -> Iterator[Item]:
        root = self.location
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.lower().endswith(".md"):
                    continue
                path = Path(folder) / name
                rel = path.relative_to(root).as_posix()
                item_id = rel.removesuffix("/README.md")
                yield Item(id=item_id, path=str(path))

    def _path_items(self) -> Iterator[Item]:
        for line in _text_lines(self.location):
            yield Item(id=line, path=line)

    def _list_items(self) -> Iterator[Item]:
        suffix = self.location.suffix.lower()
        if suffix == ".csv":
            yield from self._csv_items()
        elif suffix in {".jsonl", ".ndjson"}:
            yield from self._jsonl_list_items()
        else:
            for line in _text_lines(self.location):
                yield Item(id=line, path=line)

    def _csv_items(self) -> Iterator[Item]:
        with open(self.location, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "repo" not in [f.strip() for f in reader.fieldnames]:
                raise ConfigError(
                    f"{self.location}: a CSV list needs a 'repo' column "
                    f"(it has: {', '.join(reader.fieldnames or []) or 'no header'})"
                )
            for number, row in enumerate(reader, start=2):
                clean = {str(k).strip(): v for k, v in row.items() if k is not None}
                if None in row:
                    yield Item(
                        id=(clean.get("repo") or f"line-{number}").strip(),
                        error=f"line {number} has more fields than the header",
                    )
                    continue
                yield _list_item(clean, number)

    def _jsonl_list_items(self) -> Iterator[Item]:
        with open(self.location, encoding="utf-8") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except ValueError as exc:
                    yield Item(id=f"line-{number}", error=f"line {number} is not valid JSON: {exc}")
                    continue
                if not isinstance(row, dict):
                    yield Item(id=f"line-{number}", error=f"line {number} is not a JSON object")
                    continue
                yield _list_item(row, number)


def _list_item(row: dict[str, Any], number: int) -> Item:
    repo = row.get("repo")
    if not isinstance(repo, str) or not repo.strip():
        return Item(id=f"line-{number}", error=f"line {number} names no repo")
    options = {k: v for k, v in row.items() if k != "repo" and v is not None and v != ""}
    return Item(id=repo.strip(), path=repo.strip(), options=options)


def dump_item(item_id: Any, text: Any, row: int) -> Item:
    name = str(item_id) if item_id is not None and str(item_id) != "" else f"row-{row}"
    if text is None:
        return Item(id=name, text="")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return Item(id=name, error="the card is not UTF-8 text")
    if not isinstance(text, str):
        return Item(id=name, error=f"the card column holds {type(text).__name__}, not text")
    return Item(id=name, text=text)


def _text_lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith("#"):
                yield line


def _pick(names: Any, candidates: tuple[str, ...]) -> str | None:
    present = list(names)
    for candidate in candidates:
        if candidate in present:
            return candidate
    lowered = {n.lower(): n for n in present if isinstance(n, str)}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def unique_ids(items: Iterator[Item]) -> Iterator[Item]:
    """The items with unique ids: a repeated ``x`` becomes ``x#2``, ``x#3``... in source order."""
    seen: dict[str, int] = {}
    for item in items:
        count = seen.get(item.id, 0) + 1
        seen[item.id] = count
        if count == 1:
            yield item
            continue
        new_id = f"{item.id}#{count}"
        while new_id in seen:
            count += 1
            new_id = f"{item.id}#{count}"
        seen[new_id] = 1
        yield Item(id=new_id, text=item.text, path=item.path, options=item.options, error=item.error)


# --------------------------------------------------------------------------------------------------
# Opening a source
# --------------------------------------------------------------------------------------------------


def _parquet_files(folder: Path) -> list[Path]:
    found = sorted(folder.glob("*.parquet"))
    if not found and (folder / "data").is_dir():
        found = sorted((folder / "data").rglob("*.parquet"))
    return found


def open_audit_source(
    source: str | Path, *, card_column: str | None = None, id_column: str | None = None
) -> Source:
    """The source of ``audit --from``; a missing source or a dump without the card column is an error."""
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"{source}: no such file or folder")
    suffix = path.suffix.lower()
    if path.is_dir():
        files = _parquet_files(path)
        if files:
            return _parquet_source(path, files, card_column, id_column)
        return Source(kind="tree", location=path)
    if suffix == ".parquet":
        return _parquet_source(path, [path], card_column, id_column)
    if suffix in {".jsonl", ".ndjson"}:
        return Source(kind="jsonl", location=path, card_column=card_column, id_column=id_column)
    if card_column or id_column:
        raise ConfigError("--card-column and --id-column name the columns of a Parquet or JSONL dump")
    return Source(kind="paths", location=path)


def _parquet_source(
    location: Path, files: list[Path], card_column: str | None, id_column: str | None
) -> Source:
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise ConfigError("reading a Parquet dump needs pyarrow: pip install pyarrow") from None
    total = 0
    names: list[str] | None = None
    for file in files:
        try:
            meta = pq.read_metadata(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
            raise ConfigError(f"{file}: not a readable Parquet file ({exc})") from None
        total += meta.num_rows
        if names is None:
            names = list(meta.schema.to_arrow_schema().names)
    names = names or []
    card = card_column or _pick(names, CARD_COLUMNS)
    ident = id_column or _pick(names, ID_COLUMNS)
    for given, what in ((card, "card"), (ident, "id")):
        if given is not None and given not in names:
            raise ConfigError(f"{location}: no {what} column {given!r} (columns: {', '.join(names)})")
    if card is None:
        raise ConfigError(
            f"{location}: which column holds the card? name it with --card-column "
            f"(columns: {', '.join(names)})"
        )
    return Source(
        kind="parquet", location=location, total=total, files=tuple(files), card_column=card, id_column=ident
    )


def open_verify_list(source: str | Path) -> Source:
    """The list of ``verify --from``: CSV, JSONL or a text file of repo ids / folders."""
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"{source}: no such file (verify --from takes a list: .csv, .jsonl or text)")
    return Source(kind="list", location=path)
