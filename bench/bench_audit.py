"""Benchmark of the offline audit: start-up cost and cost per additional card.

(a) wall time of ``cardsmith audit ONE-CARD`` against ``python -c "import pydantic, markdown_it, yaml"``
    (the floor any pydantic + markdown-it + YAML tool pays): goal at most 1.5x, medians of many runs;
(b) time per additional card when auditing the whole corpus in one call: goal at most 5 ms/card.

Both commands run as fresh processes with a warm bytecode cache (``PYTHONPYCACHEPREFIX`` in a
temporary folder; ``PYTHONDONTWRITEBYTECODE`` is dropped), as an installed package would.

By default the ``cardsmith`` console script next to this interpreter is timed (in a development
checkout, the editable install); ``--installed`` first installs this checkout the way
``pip install cardsmith`` would (a regular, non-editable install, into a temporary folder on
``PYTHONPATH``) and times that; ``--cardsmith EXE`` times another executable. (Measured on the
development machine: the editable and the regular install start equally fast.)

    python bench/bench_audit.py [--runs 30] [--corpus ../shared/corpus/cards] [--card CARD] [--installed]

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
CARDSMITH_EXE: str | None = None


def install_regular(target: Path) -> str:
    """``pip install --no-deps --target TARGET .``: this checkout as a regular install; its script."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return str(target / "bin" / "cardsmith")


def cardsmith_cmd() -> list[str]:
    """The installed console script next to this interpreter (what users run), else the module."""
    if CARDSMITH_EXE:
        return [CARDSMITH_EXE]
    script = Path(sys.executable).with_name("cardsmith")
    if script.exists():
        return [str(script)]
    found = shutil.which("cardsmith")
    return [found] if found else [sys.executable, "-m", "cardsmith"]


def timed2(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}): {err.decode()[-500:]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> float:
    return timed2(cmd, env)[0]


def median_of(cmd: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(timed(cmd, env) for _ in range(runs))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="repetitions per measurement (median)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of *.md cards")
    ap.add_argument("--card", type=Path, default=DEFAULT_CARD, help="the single card of (a)")
    ap.add_argument(
        "--installed",
        action="store_true",
        help="time a regular (non-editable) install of this checkout, as pip install gives it",
    )
    ap.add_argument("--cardsmith", help="the cardsmith executable to time")
    args = ap.parse_args(argv)
    global CARDSMITH_EXE
    CARDSMITH_EXE = args.cardsmith
    if args.card is None or not args.card.is_file():
        raise SystemExit("no card to benchmark (--card)")
    cards = sorted(str(p) for p in args.corpus.glob("*.md")) if args.corpus.is_dir() else []

    with tempfile.TemporaryDirectory(prefix="cardsmith-bench-") as cache:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
        if args.installed:
            target = Path(cache) / "site"
            CARDSMITH_EXE = install_regular(target)
            env["PYTHONPATH"] = os.pathsep.join([str(target), *filter(None, [env.get("PYTHONPATH")])])
        base = [sys.executable, "-c", "import pydantic, markdown_it, yaml"]
        one = cardsmith_cmd() + ["audit", str(args.card)]
        for _ in range(3):  # warm the bytecode and file caches
            timed(base, env)
            timed(one, env)
        base_times, one_times, base_cpu, one_cpu = [], [], [], []
        for _ in range(args.runs):  # interleaved, so that load changes hit both alike
            wall, cpu = timed2(base, env)
            base_times.append(wall)
            base_cpu.append(cpu)
            wall, cpu = timed2(one, env)
            one_times.append(wall)
            one_cpu.append(cpu)
        t_base, t_one = statistics.median(base_times), statistics.median(one_times)
        c_base, c_one = statistics.median(base_cpu), statistics.median(one_cpu)
        rows = [
            (
                '`python -c "import pydantic, markdown_it, yaml"`',
                f"{t_base * 1000:.0f} ms",
                f"CPU {c_base * 1000:.0f} ms",
            ),
            (
                "`cardsmith audit` one card",
                f"{t_one * 1000:.0f} ms",
                f"{t_one / t_base:.2f}x (goal <= 1.5x); CPU {c_one * 1000:.0f} ms, {c_one / c_base:.2f}x",
            ),
        ]
        per_card = None
        if len(cards) > 1:
            many = cardsmith_cmd() + ["audit", "--format", "json", *cards]
            timed(many, env)
            runs = max(3, args.runs // 5)
            t_many = median_of(many, env, runs)
            t_first = median_of(cardsmith_cmd() + ["audit", "--format", "json", cards[0]], env, runs)
            per_card = (t_many - t_first) / (len(cards) - 1)
            rows.append(
                (f"`cardsmith audit` {len(cards)} corpus cards, one call", f"{t_many * 1000:.0f} ms", "")
            )
            rows.append(("per additional card", f"{per_card * 1000:.2f} ms", "goal <= 5 ms"))

    how = "a regular install (--installed)" if args.installed else " ".join(cardsmith_cmd())
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, medians of {args.runs} runs; cardsmith: {how}"
    )
    print("(the goal is on wall time; CPU time is user + system time of the process)\n")
    print("| measurement | time | ratio / goal |")
    print("| --- | --- | --- |")
    for name, t, note in rows:
        print(f"| {name} | {t} | {note} |")
    ok = t_one / t_base <= 1.5 and (per_card is None or per_card <= 0.005)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
