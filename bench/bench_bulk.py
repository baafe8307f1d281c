"""Throughput of ``cardsmith audit --from`` over a Parquet dump: one process, the local engine, Ray.

The dump is made from ``../shared/corpus`` (its 156 real cards, copied ``--copies`` times under new ids)
in a temporary folder; the cards never enter the repository. Measured, on the same dump and the same
output format (one JSON line per card, written and flushed as it arrives):

- ``one process``: the adapter (``cardsmith.bulk.run.run_item``) over the streamed dump in this
  process, no pool: what the audit costs without any engine;
- ``--engine local --workers N``: the process pool;
- ``--engine ray --workers N``: Ray Data on a local Ray cluster, once with the cluster's start-up
  (what ``--engine ray`` without ``--address`` pays) and on a cluster already running (``--address``).

The modes take turns and every figure is the best of ``--repeats`` runs (on a shared machine the best
run is the one least disturbed). CPU seconds per card (all processes) give the projection for more cores and machines.

    python bench/bench_bulk.py [--copies 20] [--workers 2] [--repeats 3] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CARDSMITH_TEST_CORPUS") or REPO.parent / "shared" / "corpus")
sys.path.insert(0, str(REPO))


def make_dump(folder: Path, copies: int) -> tuple[Path, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cards = sorted((CORPUS / "cards").glob("*.md"))
    if not cards:
        raise SystemExit(f"no corpus at {CORPUS}")
    texts = [c.read_text(encoding="utf-8", errors="replace") for c in cards]
    ids = [f"copy-{k}/{c.stem}" for k in range(copies) for c in cards]
    path = folder / "dump.parquet"
    pq.write_table(pa.table({"modelId": ids, "card": texts * copies}), path, row_group_size=1000)
    return path, len(ids)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process and its waited-for children) of ``run``."""
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    run()
    return time.perf_counter() - wall0, cpu_seconds() - cpu0


def one_process(dump: Path, output: Path) -> None:
    from cardsmith.bulk.items import Settings
    from cardsmith.bulk.run import run_item
    from cardsmith.bulk.sources import open_audit_source

    settings = Settings()
    with open(output, "wb") as handle:
        for item in open_audit_source(dump).items():
            handle.write((run_item(item, settings).line + "\n").encode())
            handle.flush()


def engine_run(dump: Path, output: Path, engine: str, workers: int, address: str | None = None) -> None:
    from cardsmith.bulk.run import audit_from

    output.unlink(missing_ok=True)
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            audit_from(dump, output=output, engine=engine, workers=workers, address=address, progress=False)
        finally:
            sys.stdout = stdout


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(runs, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="cardsmith-bench-bulk-") as tmp:
        folder = Path(tmp)
        dump, cards = make_dump(folder, args.copies)
        out = folder / "out.jsonl"
        rows: list[tuple[str, float, float | None]] = []
        load = os.getloadavg()[0]
        ray_start = None
        if not args.no_ray:
            import ray

            # What --engine ray without --address pays: a local cluster started (and stopped) for the run.
            wall, _cpu = timed(lambda: engine_run(dump, out, "ray", args.workers))
            rows.append((f"--engine ray --workers {args.workers}, cluster started for the run", wall, None))
            began = time.perf_counter()
            ray.init(
                num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR"
            )
            ray_start = time.perf_counter() - began
            engine_run(dump, out, "ray", args.workers)  # the cluster's workers, warmed up
        # The modes take turns, so that a change in the machine's load hits them alike; best of each.
        runs: dict[str, list[tuple[float, float]]] = {}
        local = f"--engine local --workers {args.workers}"
        warm = f"--engine ray --workers {args.workers}, cluster running"
        reference: list[str] = []
        for _ in range(args.repeats):
            runs.setdefault("one process (no engine)", []).append(timed(lambda: one_process(dump, out)))
            reference = sorted(out.read_text().splitlines())
            runs.setdefault(local, []).append(timed(lambda: engine_run(dump, out, "local", args.workers)))
            assert sorted(out.read_text().splitlines()) == reference, "the local engine's lines differ"
            if not args.no_ray:
                runs.setdefault(warm, []).append(timed(lambda: engine_run(dump, out, "ray", args.workers)))
                assert sorted(out.read_text().splitlines()) == reference, "the Ray engine's lines differ"
        if not args.no_ray:
            import ray

            ray.shutdown()
        ordered = [(name, *best(found)) for name, found in runs.items()]
        # Ray's workers are not this process's children: their CPU time is not counted here.
        rows = [(name, wall, None if "ray" in name else cpu) for name, wall, cpu in ordered] + rows
        load = max(load, os.getloadavg()[0])
    base = rows[0][1]
    print(f"{cards} cards, {args.workers} workers, {os.cpu_count()} CPUs, load average up to {load:.1f}")
    print("| run | wall (s) | cards/s | speed-up | CPU ms/card |")
    print("|:----|---------:|--------:|---------:|------------:|")
    for name, wall, cpu in rows:
        per_card = "-" if cpu is None else f"{1000 * cpu / cards:.2f}"
        print(f"| {name} | {wall:.2f} | {cards / wall:.0f} | {base / wall:.2f}x | {per_card} |")
    if ray_start is not None:
        print(f"Ray local cluster start-up: {ray_start:.1f} s")
    print(json.dumps({"cards": cards, "rows": rows, "ray_start": ray_start}))


if __name__ == "__main__":
    main()
