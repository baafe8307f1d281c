"""The ``cardsmith`` command line.

Exit codes (SPEC): 0 = no error-severity finding; 1 = at least one error finding (a failed
reproduction is one); 2 = the command could not do its job, with a one-line reason on stderr.
Heavy modules (the evaluator, huggingface_hub) are imported inside the commands that need them so
that ``cardsmith audit`` starts fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from cardsmith.cli.bulk import (
    audit_from_args,
    audit_from_options,
    json_lines,
    no_format_with_from,
    rerun_options,
    verify_from_args,
    verify_from_options,
)
from cardsmith.cli.commands import run_audit, run_hook, split_names
from cardsmith.cli.exits import FINDINGS, OK, exit_for
from cardsmith.cli.formats import FORMATS, print_reports
from cardsmith.rerun.tasks import TASK_NAMES
from cardsmith.version import __version__

FORMAT_CHOICE = click.Choice(FORMATS)
TASK_CHOICES = TASK_NAMES


def _emit_reports(reports: list[Any], fmt: str) -> int:
    print_reports(reports, fmt)
    return FINDINGS if any(r.has_errors for r in reports) else OK


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="cardsmith")
def app() -> None:
    """Write, audit and verify Hugging Face model cards."""


@app.command()
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True, help="Output format.")
@click.option("--select", multiple=True, help="Only these rules (names or codes, comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules (names or codes, comma-separated).")
@click.option(
    "--min-severity",
    type=click.Choice(["info", "warning", "error"]),
    default=None,
    help="Show only findings of this severity or higher (the exit code still follows the errors).",
)
@click.option("--quiet", "-q", is_flag=True, help="Show warnings and errors only (--min-severity warning).")
@audit_from_options
def audit(
    paths: tuple[str, ...],
    fmt: str,
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    min_severity: str | None,
    quiet: bool,
    **bulk: Any,
) -> None:
    """Audit card files or model folders (their README.md), offline.

    Each path stands alone: one that cannot be read gets an unreadable-card error in the report and
    the others are still audited (exit 1); exit 2 only when nothing at all could be read.
    --from SOURCE audits a whole dump or tree, one JSON line per card.
    """
    from_args = audit_from_args(paths, bulk)
    level = min_severity or ("warning" if quiet else "info")
    if from_args is not None:
        from cardsmith.bulk.run import audit_from

        no_format_with_from()
        sys.exit(
            audit_from(
                select=split_names(select),
                ignore=split_names(ignore),
                locate=json_lines,
                min_severity=level,
                **from_args,
            )
        )
    sys.exit(run_audit(list(paths), fmt, split_names(select), split_names(ignore), level))


@app.command()
@click.argument("repo", required=False)
@click.option("--revision", help="Branch, tag or commit of a Hub repository.")
@click.option("--rerun", is_flag=True, help="Re-evaluate the checkpoint and compare every claimed metric.")
@click.option(
    "--dataset", "dataset", help="Hub dataset id, save_to_disk folder, or .json/.jsonl/.csv/.parquet file."
)
@click.option("--dataset-config", help="Dataset configuration name.")
@click.option("--split", help="Dataset split to evaluate on.")
@click.option("--text-column", help="Text column (or two, comma-separated, for sentence pairs).")
@click.option("--label-column", help="Label column.")
@click.option("--image-column", help="Image column (image classification; default: image, img).")
@click.option(
    "--audio-column", help="Audio column (audio classification, speech recognition; default: audio)."
)
@click.option(
    "--task",
    type=click.Choice(list(TASK_CHOICES)),
    help="The task to rerun (default: inferred from config.json and the card).",
)
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True
)
@click.option("--dtype", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Examples per forward pass in the rerun (default 32); the loss is still grouped like the "
    "Trainer's batches of the card's eval_batch_size.",
)
@click.option("--max-examples", type=click.IntRange(min=1), help="Evaluate on at most N examples.")
@click.option("--write", is_flag=True, help="Record the reproduced results in the card (atomically).")
@click.option("--trust-remote-code", is_flag=True, help="Allow the repository's own code (auto_map) to run.")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default="text", show_default=True)
@click.option("--select", multiple=True, help="Only these rules.")
@click.option("--ignore", multiple=True, help="Skip these rules.")
@verify_from_options
def verify(
    repo: str | None, fmt: str, select: tuple[str, ...], ignore: tuple[str, ...], **options: Any
) -> None:
    """Audit a Hub repository or local model folder; with --rerun, reproduce its numbers.

    --from LIST verifies many (one JSON line each)."""
    from_args = verify_from_args(repo, options)
    if from_args is not None:
        from cardsmith.bulk.run import verify_from

        no_format_with_from()
        sys.exit(
            verify_from(
                select=split_names(select), ignore=split_names(ignore), locate=json_lines, **from_args
            )
        )
    from cardsmith.errors import WriteRefusedError
    from cardsmith.rerun.verify import verify_repo

    rerun = rerun_options(options)
    try:
        report = verify_repo(
            repo,
            select=split_names(select),
            ignore=split_names(ignore),
            revision=options["revision"],
            rerun=rerun,
            write=options["write"],
            trust_remote_code=options["trust_remote_code"],
        )
    except WriteRefusedError as exc:  # the report, then the one-line reason (exit 2)
        if exc.report is not None:
            _emit_reports([exc.report], fmt)
        raise
    sys.exit(_emit_reports([report], fmt))


@app.command()
@click.argument("source")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here (atomically); what a person wrote in an existing file is kept.",
)
@click.option(
    "--plot", is_flag=True, help="Also draw training curves (PNG beside the card; needs matplotlib)."
)
def render(source: str, output: Path | None, plot: bool) -> None:
    """Write the Markdown card for a card, a training output folder, or a card JSON."""
    from cardsmith.card.render import render_card
    from cardsmith.train.merge import merge_into, write_card
    from cardsmith.train.output_dir import load_source, training_state

    card = load_source(source)
    state = training_state(source)
    if output is None:
        if plot:
            raise click.UsageError("--plot needs -o FILE (the image is written beside the card)")
        if state is not None and Path(source).is_dir():  # the preview is what -o SOURCE/README.md writes
            card = merge_into(card, Path(source) / "README.md")
        click.echo(render_card(card), nl=False)
        return
    written = write_card(card, output, plot=plot, state=state)
    click.echo(f"wrote {written}", err=True)


@app.command()
@click.argument("card")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
def parse(card: str, fmt: str) -> None:
    """Show a card as the schema sees it."""
    from cardsmith.card.parse import load_card

    parsed = load_card(card)
    if fmt == "json":
        click.echo(parsed.model_dump_json(indent=2))  # with its blocks: `render card.json` gives it back
        return
    from cardsmith.cli.formats.text import print_card_summary

    print_card_summary(parsed)


@app.command()
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="Folder to write the JSON Schemas into.",
)
def schema(out: Path) -> None:
    """Write the JSON Schemas of the card and of the report."""
    from cardsmith.cli.schemas import write_schemas

    for path in write_schemas(out):
        click.echo(f"wrote {path}")


@app.command()
@click.argument("name", required=False)
@click.option(
    "--update-readme",
    "readme",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewrite the rule table between the rules:start/rules:end markers of this Markdown file.",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --update-readme: only check that the table is current (exit 1 if not).",
)
def rules(name: str | None, readme: Path | None, check: bool) -> None:
    """List the rules, or explain one (by name or code)."""
    from cardsmith.cli.rules_doc import print_rule, print_rules, update_readme_file

    if readme is not None:
        sys.exit(update_readme_file(readme, check=check))
    if name:
        print_rule(name)
    else:
        print_rules()


#: ``--repo DIR`` of the hook commands.
REPO_OPTION = click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The git repository.",
)


@app.group()
def hook() -> None:
    """The git pre-push hook."""


@hook.command("install")
@REPO_OPTION
@click.option(
    "--cards",
    "cards",
    multiple=True,
    help="Which files are cards (fnmatch glob, repeatable; default: README.md and *.md files "
    "with model-card front matter). Stored in the git config cardsmith.cards.",
)
def hook_install(repo: Path, cards: tuple[str, ...]) -> None:
    """Install the pre-push hook (an existing hook is kept and still runs)."""
    from cardsmith.hook.install import CHAINED_NAME, chained_state, install_hook

    path = install_hook(repo, cards=list(cards) or None)
    click.echo(f"installed cardsmith pre-push hook in {path}")
    kept = path.parent / CHAINED_NAME
    state = chained_state(path.parent)
    if state == "runs":
        click.echo(f"the pre-push hook that was there runs first (kept as {kept})")
    elif state == "not-executable":
        click.echo(
            f"the pre-push hook that was there is kept as {kept}; it is not executable, so git did not run it "
            "and it does not run now either (chmod +x it to run it first)"
        )
    elif state == "ours":
        click.echo(f"{kept} is a copy of cardsmith's own hook: it is skipped")
    click.echo("`git push --no-verify` skips the check; `cardsmith hook uninstall` removes the hook")


@hook.command("uninstall")
@REPO_OPTION
def hook_uninstall(repo: Path) -> None:
    """Remove the pre-push hook and put back the hook it kept (if any)."""
    from cardsmith.hook.install import hooks_dir, uninstall_hook

    done = uninstall_hook(repo)
    if done is None:
        click.echo(f"no cardsmith pre-push hook in {hooks_dir(repo)}: nothing changed")
        return
    path, restored = done
    click.echo(f"removed the cardsmith pre-push hook from {path.parent}")
    if restored is not None:
        click.echo(f"the pre-push hook that was there is back at {restored}")


@hook.command("run", hidden=True)
@click.argument("remote", required=False)
@click.argument("url", required=False)
def hook_run(remote: str | None, url: str | None) -> None:
    """Run by git's pre-push hook: audits the cards in the pushed commits (refs on stdin)."""
    sys.exit(run_hook(remote, url))


def main(argv: list[str] | None = None) -> int:
    """Console entry point: clean one-line errors, never a traceback (CARDSMITH_DEBUG=1 shows one)."""
    # pydantic scans every installed distribution's entry points for plugins the first time it
    # builds a validator; a command-line run has no use for them (set the variable to override).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app.main(args=argv, prog_name="cardsmith", standalone_mode=False)
    except BaseException as exc:  # noqa: BLE001 - the one error table decides (cardsmith.cli.exits)
        return exit_for(exc)
    return OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
