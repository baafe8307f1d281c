"""The output of a bulk run: one JSON line per item as it finishes, ``--resume``, and the summary.

- :class:`JsonlOutput` appends each line with one write and flushes it, so an interrupted run (Ctrl-C,
  ``kill -9``, a lost machine) loses nothing already written. A line cut in half by a kill is the
  last one; ``--resume`` drops it and runs that item again, and skips every id already in the file.
  Without ``--resume``, an output file that already holds entries is refused rather than overwritten.
- :class:`Summary` counts items, cards with errors, failed items and findings per rule; it is printed
  as a table at the end and written (atomically) to ``--summary FILE.json``. After ``--resume`` it
  covers the whole output file, earlier entries included.
- :class:`ProgressBar` is a rich progress bar on a terminal (done, failed, rate), silent otherwise.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

from cardsmith.bulk.items import Result, result_from_line
from cardsmith.errors import ConfigError

#: Failed items listed by id in the summary (the output file has them all).
MAX_LISTED_FAILURES = 1000


class Summary:
    """What a run found, item by item."""

    def __init__(self) -> None:
        self.items = 0
        self.failed = 0
        self.cards_with_errors = 0
        self.severities: Counter[str] = Counter()
        self.rule_findings: Counter[tuple[str, str, str]] = Counter()
        self.rule_cards: Counter[tuple[str, str, str]] = Counter()
        self.failures: list[dict[str, str]] = []
        self.reasons: Counter[str] = Counter()

    def add(self, result: Result) -> None:
        self.items += 1
        if result.failed:
            self.failed += 1
            reason = _reason_of(result.line)
            self.reasons[_reason_kind(reason)] += 1
            if len(self.failures) < MAX_LISTED_FAILURES:
                self.failures.append({"id": result.id, "error": reason})
        if result.has_errors:
            self.cards_with_errors += 1
        for key in set(result.findings):
            self.rule_cards[key] += 1
        for key in result.findings:
            self.rule_findings[key] += 1
            self.severities[key[2]] += 1

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        rules = [
            {
                "rule": code,
                "name": name,
                "severity": severity,
                "findings": count,
                "cards": self.rule_cards[(code, name, severity)],
            }
            for (code, name, severity), count in sorted(
                self.rule_findings.items(), key=lambda kv: (-kv[1], kv[0][0])
            )
        ]
        return {
            "items": self.items,
            "cards": self.items - self.failed,
            "failed": self.failed,
            "cards_with_errors": self.cards_with_errors,
            "findings": {
                "errors": self.severities["error"],
                "warnings": self.severities["warning"],
                "info": self.severities["info"],
            },
            "rules": rules,
            "failure_reasons": dict(self.reasons.most_common()),
            "failures": self.failures,
            **extra,
        }


def _reason_of(line: str) -> str:
    try:
        return str(json.loads(line).get("error", ""))
    except ValueError:
        return ""


def _reason_kind(reason: str) -> str:
    """A short class of failure for the summary: ``timed out``, ``crashed``, ``out of memory``..."""
    low = reason.lower()
    for key in ("timed out", "out of memory", "crashed", "killed", "internal error"):
        if key in low:
            return key
    return "error"


def write_summary(path: Path, data: dict[str, Any]) -> None:
    from cardsmith.card.io import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def print_summary(data: dict[str, Any], stream: IO[str]) -> None:
    """The summary table: counts, then findings per rule (rich on a terminal, plain text otherwise)."""
    head = (
        f"{data['items']} items: {data['cards']} cards audited, {data['cards_with_errors']} with errors, "
        f"{data['failed']} failed"
    )
    if data.get("seconds"):
        head += f"; {data['seconds']:.1f} s, {data.get('rate', 0):.1f} items/s this run"
    if data.get("skipped"):
        head += f" ({data['skipped']} already done, skipped)"
    if data.get("interrupted"):
        head += " (INTERRUPTED: run again with --resume to finish)"
    rows = [(r["rule"], r["name"], r["severity"], str(r["findings"]), str(r["cards"])) for r in data["rules"]]
    if _is_tty(stream):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=head, title_justify="left")
        for column, justify in (
            ("code", "left"),
            ("rule", "left"),
            ("severity", "left"),
            ("findings", "right"),
            ("cards", "right"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for row in rows:
            table.add_row(*row)
        console = Console(file=stream, highlight=False)
        console.print(table, markup=False)
        for reason, count in data["failure_reasons"].items():
            console.print(f"failed: {count} {reason}", markup=False)
        return
    lines = [head]
    if rows:
        widths = [
            max(len(r[i]) for r in [("code", "rule", "severity", "findings", "cards"), *rows])
            for i in range(5)
        ]
        for row in [("code", "rule", "severity", "findings", "cards"), *rows]:
            lines.append(
                "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
            )
    for reason, count in data["failure_reasons"].items():
        lines.append(f"failed: {count} {reason}")
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class JsonlOutput:
    """Append-only JSON lines, flushed one by one; ``resume`` reads what an earlier run wrote."""

    def __init__(self, path: Path | None, *, resume: bool = False) -> None:
        self.path = path
        self.done: set[str] = set()
        self.summary = Summary()
        self.resumed = 0
        self._handle: IO[bytes] | None = None
        if path is None:
            if resume:
                raise ConfigError("--resume needs --output FILE.jsonl (the file of the run to continue)")
            return
        if path.exists() and path.is_dir():
            raise ConfigError(f"{path}: is a folder (--output takes a .jsonl file)")
        if path.exists() and path.stat().st_size > 0:
            if not resume:
                raise ConfigError(
                    f"{path} already holds results: add --resume to continue that run, "
                    "or choose another --output"
                )
            self._read_existing(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "ab")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None

    def _read_existing(self, path: Path) -> None:
        """Collect the ids (and the summary) of the complete lines; cut a half-written last line."""
        keep = 0
        with open(path, "rb") as handle:
            offset = 0
            for raw in handle:
                end = offset + len(raw)
                if not raw.endswith(b"\n"):
                    break  # cut by an interruption: dropped below, the item runs again
                offset = end
                keep = end
                text = raw.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                try:
                    result = result_from_line(text)
                except (ValueError, TypeError):
                    continue  # not ours (or damaged): left as it is, not counted as done
                if result.id not in self.done:
                    self.done.add(result.id)
                    self.summary.add(result)
                    self.resumed += 1
        if keep < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(keep)

    def write(self, result: Result) -> None:
        data = (result.line + "\n").encode("utf-8")
        if self._handle is not None:
            self._handle.write(data)
            self._handle.flush()
        else:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        self.done.add(result.id)
        self.summary.add(result)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class ProgressBar:
    """Items done, failed and the rate, on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, description: str, total: int | None, *, enabled: bool | None = None) -> None:
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self._progress: Any = None
        if enabled is None:
            enabled = _is_tty(sys.stderr)
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/red]"),
            TextColumn("{task.fields[rate]} items/s"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total, failed=0, rate="-")
        self._progress.start()

    def advance(self, result: Result) -> None:
        self.done += 1
        if result.failed:
            self.failed += 1
        if self._progress is not None:
            elapsed = time.monotonic() - self.start
            rate = f"{self.done / elapsed:.1f}" if elapsed > 0 else "-"
            self._progress.update(self._task, advance=1, failed=self.failed, rate=rate)

    def skip(self, count: int) -> None:
        if self._progress is not None and count:
            self._progress.update(self._task, completed=count)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
