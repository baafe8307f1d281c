"""The ``text`` format: findings grouped per card with row and column, and a summary line.

On a terminal it is drawn with rich (severity colours, a reproduction table); piped, it is plain
text. rich is imported only for a terminal, so a pre-push hook's audit stays fast.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from cardsmith.audit.findings import Location
from cardsmith.audit.report import AuditReport
from cardsmith.card.io import printable
from cardsmith.card.model import Card

_COLOR = {"error": "bold red", "warning": "yellow", "info": "cyan"}


_MATCH_MARKUP = {"yes": "[green]yes[/green]", "NO": "[bold red]NO[/bold red]", "n/a": "[dim]n/a[/dim]"}


def _match_word(m: Any) -> str:
    """``yes``, ``NO``, or ``n/a`` for a claimed metric cardsmith does not recompute."""
    if m.match:
        return "yes"
    return "n/a" if m.reproduced is None else "NO"


def stream_of(out: TextIO | None) -> TextIO:
    return out if out is not None else sys.stdout


def is_tty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def summary_line(reports: list[AuditReport]) -> str:
    """``2 errors, 1 warning, 3 info in 5 cards``."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for r in reports:
        for f in r.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1

    def n(k: str, word: str) -> str:
        c = counts[k]
        return f"{c} {word}{'' if c == 1 or word == 'info' else 's'}"

    cards = len(reports)
    return (
        f"{n('error', 'error')}, {n('warning', 'warning')}, {n('info', 'info')} "
        f"in {cards} card{'' if cards == 1 else 's'}"
    )


def where(loc: Location, line: int | None = None) -> str:
    """``line 57, Training results, row 4, Validation Loss`` (the parts that are known)."""
    parts = [f"line {line}"] if line is not None else []
    if loc.section:
        parts.append(loc.section)
    if loc.row is not None:
        parts.append(f"row {loc.row}")
    if loc.column:
        parts.append(loc.column)
    return ", ".join(parts)


def _locator(report: AuditReport) -> Any:
    """A function from a finding's location to its 1-based line in the card file (or ``None``)."""
    if not report.findings:
        return lambda loc: None
    from cardsmith.cli.formats.locate import LineIndex, source_lines

    src = source_lines(report.path)
    return LineIndex(src).locate if src else (lambda loc: None)


def format_text(reports: list[AuditReport]) -> str:
    """The plain text report (what a pipe gets)."""
    lines: list[str] = []
    for report in reports:
        lines.append(report.path or "<card>")
        if not report.findings:
            lines.append("  no findings")
        locate = _locator(report)
        for f in report.findings:
            at = where(f.location, locate(f.location))
            lines.append(f"  {f.severity:<7} {f.rule} {f.name}: {f.message}" + (f"  [{at}]" if at else ""))
        lines.extend(_reproduction_lines(report))
        lines.append("")
    lines.append(summary_line(reports))
    return printable("\n".join(lines) + "\n")  # card text and file names: no escape sequences


def _reproduction_lines(report: AuditReport) -> list[str]:
    rep = report.reproduction
    if rep is None:
        return []
    head = f"  reproduction on {rep.dataset}" + (f" [{rep.split}]" if rep.split else "")
    head += f", {rep.examples} examples, {rep.device}"
    if rep.averaging:
        head += f", {rep.averaging} averaging"
    out = [head]
    width = max([len(m.name) for m in rep.metrics] + [6])
    out.append(f"    {'metric':<{width}}  {'claimed':>10}  {'reproduced':>12}  match")
    for m in rep.metrics:
        claimed = "-" if m.claimed is None else f"{m.claimed:g}"
        got = "-" if m.reproduced is None else f"{m.reproduced:.6g}"
        out.append(
            f"    {m.name:<{width}}  {claimed:>10}  {got:>12}  {_match_word(m)}"
            + (f"  ({m.note})" if m.note else "")
        )
    return out


def print_rich(reports: list[AuditReport], out: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape as rich_escape
    from rich.table import Table

    console = Console(file=out, highlight=False)

    def escape(text: str) -> str:  # markup and control characters from cards and file names
        return rich_escape(printable(text))

    for report in reports:
        console.print(f"[bold]{escape(report.path or '<card>')}[/bold]")
        if not report.findings:
            console.print("  [green]no findings[/green]")
        locate = _locator(report)
        for f in report.findings:
            at = where(f.location, locate(f.location))
            console.print(
                f"  [{_COLOR[f.severity]}]{f.severity:<7}[/] [dim]{f.rule}[/dim] {f.name}: "
                f"{escape(f.message)}" + (f"  [dim]\\[{escape(at)}][/dim]" if at else "")
            )
        rep = report.reproduction
        if rep is not None:
            title = (
                f"reproduction on {rep.dataset}"
                + (f" [{rep.split}]" if rep.split else "")
                + f", {rep.examples} examples, {rep.device}"
                + (f", {rep.averaging} averaging" if rep.averaging else "")
            )
            table = Table(title=escape(title), title_justify="left")
            for col in ("metric", "claimed", "reproduced", "match"):
                table.add_column(col, justify="left" if col == "metric" else "right")
            for m in rep.metrics:
                table.add_row(
                    escape(m.name),
                    "-" if m.claimed is None else f"{m.claimed:g}",
                    "-" if m.reproduced is None else f"{m.reproduced:.6g}",
                    _MATCH_MARKUP[_match_word(m)],
                )
            console.print(table)
        console.print()
    console.print(summary_line(reports))


def card_summary(card: Card) -> str:
    """A short human-readable view of a parsed card."""
    lines = [f"title:        {card.title or '-'}"]
    lines.append(f"base model:   {card.base_model or card.metadata.base_model or '-'}")
    lines.append(f"dataset:      {card.dataset_name or ', '.join(card.metadata.datasets) or '-'}")
    lines.append(f"license:      {card.metadata.license or '-'}")
    if card.headline:
        lines.append("headline:     " + ", ".join(f"{m.name} {m.value.text.strip()}" for m in card.headline))
    hp = card.hyperparameters
    if hp is not None:
        shown = [
            f"{k}={getattr(hp, k)}"
            for k in ("learning_rate", "train_batch_size", "num_epochs", "training_steps")
            if getattr(hp, k, None) is not None
        ]
        lines.append("training:     " + (", ".join(shown) or "-"))
    if card.results is not None and card.results.columns:
        table = card.results
        lines.append(f"results:      {len(table.rows)} rows x {len(table.columns)} columns")
        widths = [
            max([len(c)] + [len(r[i].text.strip()) for r in table.rows if i < len(r)])
            for i, c in enumerate(table.columns)
        ]
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(table.columns, widths)))
        for row in table.rows:
            lines.append("  " + "  ".join(cell.text.strip().ljust(w) for cell, w in zip(row, widths)))
    if card.framework_versions:
        lines.append("frameworks:   " + ", ".join(f"{v.name} {v.version}" for v in card.framework_versions))
    mi = card.metadata.model_index
    if mi is not None:
        n = sum(len(r.metrics) for e in mi for r in e.results)
        lines.append(f"model-index:  {len(mi)} entr{'y' if len(mi) == 1 else 'ies'}, {n} metric values")
    for note in card.notes:
        lines.append(f"note:         {note}")
    return "\n".join(lines) + "\n"


def print_card_summary(card: Card, out: TextIO | None = None) -> None:
    stream = stream_of(out)
    stream.write(printable(card_summary(card)))
    stream.flush()
