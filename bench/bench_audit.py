"""Benchmark of the offline audit: start-up cost and cost per additional card.

(a) wall time of ``cardsmith audit ONE-CARD`` against ``python -c "import pydantic, markdown_it, yaml"``
    (the floor any pydantic + markdown-it + YAML tool pays): goal at most 1.5x, medians of many runs;
(b) time per additional card when auditing the whole corpus in one call: goal at most 5 ms/card.

Both commands run as fresh processes with a warm bytecode cache (``PYTHONPYCACHEPREFIX`` in a
temporary folder; ``PYTHONDONTWRITEBYTECODE`` is dropped), as an installed package would.

    python bench/bench_audit.py [--runs 30] [--corpus ../shared/corpus/cards] [--card CARD]

Prints a Markdown table of the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "cards"
DEFAULT_CARD = next(iter(sorted((ROOT / "fixtures" / "seeds").glob("seed-004*/README.md"))), None)


def cardsmith_cmd() -> list[str]:
    """The installed console script next to this interpreter (what users run), else the module."""
    script = Path(sys.executable).with_name("cardsmith")
    if script.exists():
        return [str(script)]
    found = shutil.which("cardsmith")
    return [found] if found else [sys.executable, "-m", "cardsmith"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def median_of(cmd: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(timed(cmd, env) for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="repetitions per measurement (median)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of *.md cards")
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD, help="the single card of (a)")
    args = ap.parse_args(argv)
    if args.card is None or not args.card.is_file():
        raise SystemExit("no card to benchmark (--card)")
    cards = sorted(str(p) for p in args.corpus.glob("*.md")) if args.corpus.is_dir() else []

    with tempfile.TemporaryDirectory(prefix="cardsmith-bench-") as cache:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        base = [sys.executable, "-c", "import pydantic, markdown_it, yaml"]
        one = cardsmith_cmd() + ["audit", str(args.card)]
        for _ in range(3):  # warm the bytecode and file caches
            timed(base, env)
            timed(one, env)
        base_times, one_times = [], []
        for _ in range(args.runs):  # interleaved, so that load changes hit both alike
            base_times.append(timed(base, env))
            one_times.append(timed(one, env))
        t_base, t_one = statistics.median(base_times), statistics.median(one_times)
        rows = [
            ("`python -c \"import pydantic, markdown_it, yaml\"`", f"{t_base * 1000:.0f} ms", ""),
            ("`cardsmith audit` one card", f"{t_one * 1000:.0f} ms", f"{t_one / t_base:.2f}x (goal <= 1.5x)"),
        ]
        per_card = None
        if len(cards) > 1:
            many = cardsmith_cmd() + ["audit", "--format", "json", *cards]
            timed(many, env)
            runs = max(3, args.runs // 5)
            t_many = median_of(many, env, runs)
            t_first = median_of(cardsmith_cmd() + ["audit", "--format", "json", cards[0]], env, runs)
            per_card = (t_many - t_first) / (len(cards) - 1)
            rows.append((f"`cardsmith audit` {len(cards)} corpus cards, one call", f"{t_many * 1000:.0f} ms", ""))
            rows.append(("per additional card", f"{per_card * 1000:.2f} ms", "goal <= 5 ms"))

    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, medians of {args.runs} runs\n")
    print("| measurement | time | ratio / goal |")
    print("| --- | --- | --- |")
    for name, t, note in rows:
        print(f"| {name} | {t} | {note} |")
    ok = t_one / t_base <= 1.5 and (per_card is None or per_card <= 0.005)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
