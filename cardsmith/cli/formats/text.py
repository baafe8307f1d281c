"""Writing audit reports and rule documentation: text (rich on a terminal), JSON, SARIF 2.1.0.

- :func:`print_reports` prints a list of :class:`~cardsmith.audit.report.AuditReport` as ``text``
  (grouped per card, with row/column, severity colours on a terminal and a summary line), ``json``
  (``{"cards": [...]}`` exactly as SPEC) or ``sarif`` (SARIF 2.1.0 for code-scanning tools, with
  ``startLine`` pointing at the offending table row, headline line or hyperparameter).
- :func:`print_rules` / :func:`print_rule` document the rules; :func:`rules_markdown_table` is the
  README's rule table, and ``python -m cardsmith.cli.formats.text --readme [README.md]`` rewrites it between the
  ``<!-- rules:start -->`` and ``<!-- rules:end -->`` markers.

rich is only imported when writing to a terminal, so piped and JSON output stay fast.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cardsmith.audit.report import AuditReport, Location

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.audit.registry import Rule
    from cardsmith.card.model import ModelCard

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_COLOR = {"error": "bold red", "warning": "yellow", "info": "cyan"}
README_START = "<!-- rules:start -->"
README_END = "<!-- rules:end -->"



_MATCH_MARKUP = {"yes": "[green]yes[/green]", "NO": "[bold red]NO[/bold red]", "n/a": "[dim]n/a[/dim]"}


def _match_word(m: Any) -> str:
    """``yes``, ``NO``, or ``n/a`` for a claimed metric cardsmith does not recompute."""
    if m.match:
        return "yes"
    return "n/a" if m.reproduced is None else "NO"

def _stream(out: TextIO | None) -> TextIO:
    return out if out is not None else sys.stdout


def _is_tty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


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
    return (f"{n('error', 'error')}, {n('warning', 'warning')}, {n('info', 'info')} "
            f"in {cards} card{'' if cards == 1 else 's'}")


def where(loc: Location) -> str:
    """``Training results, row 4, Validation Loss`` (the parts that are known)."""
    parts = []
    if loc.section:
        parts.append(loc.section)
    if loc.row is not None:
        parts.append(f"row {loc.row}")
    if loc.column:
        parts.append(loc.column)
    return ", ".join(parts)


def format_text(reports: list[AuditReport]) -> str:
    """The plain text report (what a pipe gets)."""
    lines: list[str] = []
    for report in reports:
        lines.append(report.path or "<card>")
        if not report.findings:
            lines.append("  no findings")
        for f in report.findings:
            at = where(f.location)
            lines.append(f"  {f.severity:<7} {f.rule} {f.name}: {f.message}" + (f"  [{at}]" if at else ""))
        lines.extend(_reproduction_lines(report))
        lines.append("")
    lines.append(summary_line(reports))
    return "\n".join(lines) + "\n"


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
        out.append(f"    {m.name:<{width}}  {claimed:>10}  {got:>12}  {_match_word(m)}"
                   + (f"  ({m.note})" if m.note else ""))
    return out


def _print_rich(reports: list[AuditReport], out: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(file=out, highlight=False)
    for report in reports:
        console.print(f"[bold]{escape(report.path or '<card>')}[/bold]")
        if not report.findings:
            console.print("  [green]no findings[/green]")
        for f in report.findings:
            at = where(f.location)
            console.print(f"  [{_COLOR[f.severity]}]{f.severity:<7}[/] [dim]{f.rule}[/dim] {f.name}: "
                          f"{escape(f.message)}" + (f"  [dim]\\[{escape(at)}][/dim]" if at else ""))
        rep = report.reproduction
        if rep is not None:
            title = (f"reproduction on {rep.dataset}" + (f" [{rep.split}]" if rep.split else "")
                     + f", {rep.examples} examples, {rep.device}"
                     + (f", {rep.averaging} averaging" if rep.averaging else ""))
            table = Table(title=escape(title), title_justify="left")
            for col in ("metric", "claimed", "reproduced", "match"):
                table.add_column(col, justify="left" if col == "metric" else "right")
            for m in rep.metrics:
                table.add_row(escape(m.name), "-" if m.claimed is None else f"{m.claimed:g}",
                              "-" if m.reproduced is None else f"{m.reproduced:.6g}",
                              _MATCH_MARKUP[_match_word(m)])
            console.print(table)
        console.print()
    console.print(summary_line(reports))


def reports_json(reports: list[AuditReport]) -> dict[str, Any]:
    """``{"cards": [...]}`` as SPEC defines it."""
    return {"cards": [r.to_json_dict() for r in reports]}


def print_reports(reports: list[AuditReport], fmt: str, out: TextIO | None = None) -> None:
    """Print reports as ``text``, ``json`` or ``sarif``."""
    stream = _stream(out)
    if fmt in {"json", "sarif"}:
        import json  # not needed for text: a pre-push hook's audit starts without it

        data = reports_json(reports) if fmt == "json" else sarif_log(reports)
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "text":
        if _is_tty(stream):
            _print_rich(reports, stream)
        else:
            stream.write(format_text(reports))
    else:
        from cardsmith.errors import ConfigError

        raise ConfigError(f"unknown output format {fmt!r} (text, json or sarif)")
    stream.flush()


# --------------------------------------------------------------------------------------------------
# SARIF
# --------------------------------------------------------------------------------------------------


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def locate_line(lines: list[str], loc: Location) -> int | None:
    """1-based line of a finding's location in the card's source lines, when it can be found.

    Table rows: the row-th line after the results table's delimiter row. Headline metrics: the
    ``- Name: value`` line of the headline list. Hyperparameters: the ``- key: value`` line.
    model-index / metadata keys: the first line of the front matter naming them.
    """
    section = loc.section or ""
    if section == "Training results":
        header = None
        for i, line in enumerate(lines):
            if line.lstrip().startswith("|") or line.count("|") >= 2:
                cells = [_norm(c) for c in line.strip().strip("|").split("|")]
                if loc.column and _norm(loc.column) in cells and i + 1 < len(lines) and re.match(
                        r"^\s*\|?\s*:?-{2,}", lines[i + 1]):
                    header = i
                    break
        if header is None:
            return None
        if loc.row is None:
            return header + 1
        target = header + 1 + loc.row
        return target + 1 if target < len(lines) else None
    if section == "Headline" and loc.column:
        start = next((i for i, ln in enumerate(lines) if "following results" in ln.lower()), 0)
        for i in range(start, len(lines)):
            m = re.match(r"^\s*[-*]\s*([^:]+):", lines[i])
            if m and _norm(m.group(1)) == _norm(loc.column):
                return i + 1
        return start + 1 if start else None
    if section == "Headline":
        return next((i + 1 for i, ln in enumerate(lines) if "following results" in ln.lower()), None)
    if section == "Training hyperparameters" and loc.column:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*[-*]\s*{re.escape(loc.column)}\s*:", line):
                return i + 1
        return None
    if section in {"model-index", "Metadata"}:
        key = loc.column if section == "Metadata" and loc.column else "model-index"
        if section == "model-index" and loc.column:
            for i, line in enumerate(lines):
                if re.search(rf"name:\s*['\"]?{re.escape(loc.column)}['\"]?\s*$", line):
                    return i + 1
        for i, line in enumerate(lines):
            if line.startswith((f"{key}:", key.replace("-", "_") + ":")):
                return i + 1
        return 1
    if section == "Suppressions":
        return next((i + 1 for i, ln in enumerate(lines) if "cardsmith:" in ln and "disable" in ln), None)
    if section:
        for i, line in enumerate(lines):
            if re.match(r"^\s*#{1,6}\s", line) and _norm(line.lstrip().lstrip("#")) == _norm(section):
                return i + 1
    return None


def _artifact_uri(path: str | None) -> str:
    if not path:
        return "README.md"
    p = Path(path)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except ValueError:
        return p.resolve().as_uri() if p.is_absolute() else p.as_posix()


def _source_lines(path: str | None) -> list[str]:
    if not path:
        return []
    p = Path(path)
    if p.is_dir():
        p = p / "README.md"
    try:
        from cardsmith.card.io import read_text

        return read_text(p).splitlines()
    except Exception:  # noqa: BLE001 - locations are a best effort; the findings stand without them
        return []


def sarif_rule(rule: Rule) -> dict[str, Any]:
    parts = rule.sections
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": parts.get("What it does", rule.summary).replace("\n", " ")},
        "help": {"text": rule.doc, "markdown": rule_markdown(rule)},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": ["model-card"], "severity": rule.severity},
    }


def sarif_log(reports: list[AuditReport]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run, the registry as ``tool.driver.rules``, one result per finding."""
    from cardsmith import __version__
    from cardsmith.audit.registry import RULES
    from cardsmith.card.model import plain_dump

    index = {r.code: i for i, r in enumerate(RULES)}
    results = []
    for report in reports:
        lines = _source_lines(report.path)
        uri = _artifact_uri(report.path)
        for f in report.findings:
            physical: dict[str, Any] = {"artifactLocation": {"uri": uri}}
            line = locate_line(lines, f.location) if lines else None
            if line is not None:
                physical["region"] = {"startLine": line}
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.name}: {f.message}"},
                "locations": [{"physicalLocation": physical}],
                "properties": {"name": f.name, **plain_dump(f.location, exclude_none=True)},
            }
            if f.rule in index:
                result["ruleIndex"] = index[f.rule]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "cardsmith",
                "version": __version__,
                "informationUri": "https://github.com/cardsmith/cardsmith",
                "rules": [sarif_rule(r) for r in RULES],
            }},
            "results": results,
        }],
    }


# --------------------------------------------------------------------------------------------------
# Rule documentation
# --------------------------------------------------------------------------------------------------


def rule_markdown(rule: Rule) -> str:
    parts = rule.sections
    example = parts.get("Example", "")
    return (f"**{rule.name}** ({rule.code}, {rule.severity}): {rule.summary}\n\n"
            f"{parts.get('What it does', '')}\n\n**Why is this bad?** {parts.get('Why is this bad', '')}\n\n"
            f"**Example**\n\n```\n{example}\n```\n")


def print_rules(out: TextIO | None = None) -> None:
    """List every rule: code, name, severity, summary."""
    from cardsmith.audit.registry import RULES

    stream = _stream(out)
    width = max(len(r.name) for r in RULES)
    for r in RULES:
        extra = "" if r.produced_by == "audit" else f" [{r.produced_by}]"
        stream.write(f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {r.summary}{extra}\n")
    stream.flush()


def print_rule(name: str, out: TextIO | None = None) -> None:
    """Explain one rule (by name or code); unknown -> :class:`UnknownRuleError`."""
    from cardsmith.audit.registry import get_rule

    r = get_rule(name)
    stream = _stream(out)
    stream.write(f"{r.name} ({r.code}, {r.severity})\n\n{r.summary}\n\n")
    for head, body in r.sections.items():
        stream.write(f"{head}:\n")
        stream.write("".join(f"    {ln}\n" if ln.strip() else "\n" for ln in body.splitlines()))
        stream.write("\n")
    if r.produced_by == "evaluator":
        stream.write("Produced by `cardsmith verify --rerun`.\n")
    elif r.produced_by == "engine":
        stream.write("Produced by the audit engine from inline suppression comments.\n")
    stream.flush()


def rules_markdown_table() -> str:
    """The README's rule table, generated from the registry."""
    from cardsmith.audit.registry import RULES

    rows = ["| code | name | severity | fires when |", "| --- | --- | --- | --- |"]
    for r in RULES:
        summary = r.summary.replace("|", "\\|")
        rows.append(f"| {r.code} | `{r.name}` | {r.severity} | {summary} |")
    return "\n".join(rows) + "\n"


def update_readme(text: str) -> str:
    """``text`` with the rule table replaced between the README markers (which must exist)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        from cardsmith.errors import ConfigError

        raise ConfigError(f"README has no {README_START} ... {README_END} markers")
    return text[: start + len(README_START)] + "\n" + rules_markdown_table() + text[end:]


# --------------------------------------------------------------------------------------------------
# cardsmith parse --format text
# --------------------------------------------------------------------------------------------------


def card_summary(card: ModelCard) -> str:
    """A short human-readable view of a parsed card."""
    lines = [f"title:        {card.title or '-'}"]
    lines.append(f"base model:   {card.base_model or card.metadata.base_model or '-'}")
    lines.append(f"dataset:      {card.dataset_name or ', '.join(card.metadata.datasets) or '-'}")
    lines.append(f"license:      {card.metadata.license or '-'}")
    if card.headline:
        lines.append("headline:     " + ", ".join(f"{m.name} {m.value.text.strip()}" for m in card.headline))
    hp = card.hyperparameters
    if hp is not None:
        shown = [f"{k}={getattr(hp, k)}" for k in ("learning_rate", "train_batch_size", "num_epochs",
                                                     "training_steps") if getattr(hp, k, None) is not None]
        lines.append("training:     " + (", ".join(shown) or "-"))
    if card.results is not None and card.results.columns:
        table = card.results
        lines.append(f"results:      {len(table.rows)} rows x {len(table.columns)} columns")
        widths = [max([len(c)] + [len(r[i].text.strip()) for r in table.rows if i < len(r)])
                  for i, c in enumerate(table.columns)]
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


def print_card_summary(card: ModelCard, out: TextIO | None = None) -> None:
    stream = _stream(out)
    stream.write(card_summary(card))
    stream.flush()


def main(argv: list[str] | None = None) -> int:
    """``python -m cardsmith.cli.formats.text --readme [README.md] [--check]``: rewrite (or check) the table."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "--readme":
        sys.stderr.write("usage: python -m cardsmith.cli.formats.text --readme [README.md] [--check]\n")
        return 2
    check = "--check" in args
    rest = [a for a in args[1:] if a != "--check"]
    path = Path(rest[0]) if rest else Path("README.md")
    text = path.read_text(encoding="utf-8")
    new = update_readme(text)
    if check:
        if new != text:
            sys.stderr.write(f"{path}: rule table is out of date (python -m cardsmith.cli.formats.text --readme)\n")
            return 1
        return 0
    if new != text:
        from cardsmith.card.io import atomic_write_text

        atomic_write_text(path, new)
        sys.stderr.write(f"updated the rule table in {path}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
