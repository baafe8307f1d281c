"""The pipeline of a bulk run: a source's items through an engine into the output file.

:func:`execute` runs the item function it is given over the items (those already written are
skipped on ``--resume``), appends each result as it arrives, shows progress, writes the summary,
and stops on Ctrl-C or SIGTERM with what was written kept. It does not know what an item does:
that is :mod:`cardsmith.bulk.run`'s (the audit and the verify of an item).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from cardsmith.bulk.engines import ItemFunction, Prepare, make_engine
from cardsmith.bulk.items import Result, Settings, dumps_entry
from cardsmith.bulk.output import JsonlOutput, ProgressBar, print_summary, write_summary
from cardsmith.bulk.sources import Source
from cardsmith.errors import ConfigError

#: Lists and dumps up to this size are counted up front for the progress bar.
_COUNT_LIMIT = 64 * 1024 * 1024


def _total(source: Source) -> int | None:
    if source.total is not None or source.kind not in {"paths", "list", "jsonl"}:
        return source.total
    try:
        if source.location.stat().st_size > _COUNT_LIMIT:
            return None
        with open(source.location, "rb") as handle:
            count = 0
            for raw in handle:
                text = raw.strip()
                if text and not (source.kind != "jsonl" and text.startswith(b"#")):
                    count += 1
    except OSError:
        return None
    if source.kind == "list" and source.location.suffix.lower() == ".csv":
        count -= 1  # the header
    return max(0, count)


def execute(
    source: Source,
    settings: Settings,
    *,
    fn: ItemFunction,
    prepare: Prepare | None = None,
    output: Path | None,
    summary: Path | None,
    engine: str,
    workers: int | None,
    resume: bool,
    address: str | None,
    item_timeout: float | None,
    progress: bool | None,
    chunk: int,
    what: str,
) -> int:
    """Run ``fn`` over the items of ``source`` (``prepare`` once per worker); the command's exit code:
    0 = no item with an error-severity finding or a failure, 1 = at least one, 130 = interrupted."""
    if workers is not None and workers < 1:
        raise ConfigError("--workers must be at least 1")
    if item_timeout is not None and item_timeout <= 0:
        raise ConfigError("--item-timeout must be a positive number of seconds")
    if engine == "local" and workers is None and settings.kind == "verify" and settings.rerun:
        from cardsmith.bulk.engines.local import visible_gpus

        gpus = visible_gpus()
        if gpus:  # reruns on GPUs: one worker per GPU unless --workers says otherwise
            workers = len(gpus)
    runner = make_engine(engine, workers=workers, item_timeout=item_timeout, address=address)
    out = JsonlOutput(output, resume=resume)
    skipped = out.resumed
    total = _total(source)
    bar = ProgressBar(f"{'audit' if settings.kind == 'audit' else 'verify'} {what}", total, enabled=progress)
    bar.skip(skipped)
    began = time.monotonic()
    done_this_run = 0
    interrupted = False
    results: Iterator[Result] | None = None
    previous = _stop_on_sigterm()
    try:
        if engine == "ray" and source.kind == "parquet" and source.id_column is not None:
            results = _unique(
                runner.run_parquet(
                    source.files,
                    fn=fn,
                    card_column=str(source.card_column),
                    id_column=source.id_column,
                    settings=settings,
                    skip=set(out.done),
                ),
                out.done,
            )
        else:
            pending = (item for item in source.items() if item.id not in out.done)
            results = runner.run(pending, settings, fn=fn, prepare=prepare, chunk=chunk)
        for result in results:
            out.write(result)
            bar.advance(result)
            done_this_run += 1
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if results is not None and hasattr(results, "close"):
            results.close()
        bar.close()
        out.close()
        runner.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    seconds = time.monotonic() - began
    data = out.summary.to_dict(
        engine=engine,
        workers=runner.workers,
        seconds=round(seconds, 3),
        processed=done_this_run,
        rate=round(done_this_run / seconds, 2) if seconds > 0 else None,
        skipped=skipped,
        interrupted=interrupted,
        output=str(output) if output is not None else None,
    )
    print_summary(data, sys.stderr if output is None else sys.stdout)
    if summary is not None:
        write_summary(summary, data)
    if interrupted:
        return 130
    return 1 if data["cards_with_errors"] else 0


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """SIGTERM (what schedulers and ``kill`` send) stops a run as Ctrl-C does: workers stopped, summary
    written, exit 130. The handler it replaces is returned (None off the main thread: left alone)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _sigterm)


def _unique(results: Iterator[Result], done: set[str]) -> Iterator[Result]:
    """Results whose id was already written in this run (a dump with a repeated id) get ``#2``, ``#3``..."""
    for result in results:
        if result.id not in done:
            yield result
            continue
        count = 2
        while f"{result.id}#{count}" in done:
            count += 1
        new_id = f"{result.id}#{count}"
        entry = json.loads(result.line)
        entry["id"] = new_id
        yield replace(result, id=new_id, line=dumps_entry(entry))
