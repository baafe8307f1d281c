"""The rules' documentation: ``cardsmith rules [NAME]`` and the README's generated rule table.

``cardsmith rules --update-readme README.md [--check]`` rewrites (or checks) the table between the
``<!-- rules:start -->`` and ``<!-- rules:end -->`` markers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from cardsmith.audit.engine import RULES, get_rule
from cardsmith.card.io import atomic_write_text, read_text
from cardsmith.cli.formats.text import stream_of

README_START = "<!-- rules:start -->"


README_END = "<!-- rules:end -->"


def print_rules(out: TextIO | None = None) -> None:
    """List every rule: code, name, severity, summary."""

    stream = stream_of(out)
    width = max(len(r.name) for r in RULES)
    for r in RULES:
        extra = "" if r.produced_by == "audit" else f" [{r.produced_by}]"
        stream.write(f"{r.code}  {r.name:<{width}}  {r.severity:<7}  {r.summary}{extra}\n")
    stream.flush()


def print_rule(name: str, out: TextIO | None = None) -> None:
    """Explain one rule (by name or code); unknown -> :class:`UnknownRuleError`."""

    r = get_rule(name)
    stream = stream_of(out)
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


def update_readme_file(path: Path, *, check: bool = False) -> int:
    """Rewrite (or with ``check``, only compare) the rule table of a Markdown file; 1 when it was stale."""
    text = read_text(path)
    new = update_readme(text)
    if check:
        if new != text:
            sys.stderr.write(f"{path}: rule table is out of date (cardsmith rules --update-readme {path})\n")
            return 1
        return 0
    if new != text:
        atomic_write_text(path, new)
        sys.stderr.write(f"updated the rule table in {path}\n")
    return 0
