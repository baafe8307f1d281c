"""Issue #15: every entry point that reads untrusted text takes time that grows at most linearly.

For each hostile shape (``growth_worker.SHAPES``) and each entry point it reaches, inputs of 1 KB,
10 KB, 100 KB and 1 MB are timed (best of several runs, in a separate worker process) and each
step's time ratio is compared with its size ratio: ``t(10 n) <= MARGIN * 10 * t(n)``. No wall-clock
limit is asserted; a step that takes far longer than linear growth allows is stopped (the worker is
killed) and reported as a failure, so a backtracking pattern fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cardsmith

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from growth_worker import CASES

SIZES = (1_000, 10_000, 100_000, 1_000_000)
#: at most this many runs of each size (the worker stops at the first one within linear growth)
REPS = {1_000: 3, 10_000: 3, 100_000: 3, 1_000_000: 3}
#: allowed excess over linear growth per 10x step (quadratic growth is 10x over, cubic 100x)
MARGIN = 3.0
#: times below this are timer and scheduler noise: a step is compared against at least this
FLOOR_S = 0.003


class Worker:
    """The worker process; restarted after a kill."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        root = str(Path(cardsmith.__file__).resolve().parent.parent)
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            TOKENIZERS_PARALLELISM="false",
        )
        return subprocess.Popen(
            [sys.executable, str(HERE / "growth_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    def ask(
        self, shape: str, entry: str, size: int, reps: int, allowed: float, deadline_s: float
    ) -> dict[str, object]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(
            json.dumps({"shape": shape, "entry": entry, "size": size, "reps": reps, "allowed": allowed})
            + "\n"
        )
        self.proc.stdin.flush()
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=deadline_s):
                self.close()
                return {"late": deadline_s}
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            return {"error": "the worker died"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def worker() -> object:
    w = Worker()
    yield w
    w.close()


@pytest.mark.parametrize(("shape", "entry"), [(s, e) for s, entries in CASES.items() for e in entries])
def test_time_grows_at_most_linearly(shape: str, entry: str, worker: Worker) -> None:
    times: list[tuple[int, float]] = []
    for size in SIZES:
        reps = REPS[size]
        if times:
            prev_size, prev = times[-1]
            allowed = max(prev, FLOOR_S) * (size / prev_size) * MARGIN
            # the worker stops after a run slower than allowed; a late answer is a failure
            deadline = 10.0 + min(3 * allowed, 60.0)
        else:
            allowed, deadline = 1e9, 60.0
        start = time.perf_counter()
        answer = worker.ask(shape, entry, size, reps, allowed, deadline)
        if "late" in answer:
            pytest.fail(
                f"{shape} via {entry}: {size} bytes still running after {time.perf_counter() - start:.1f} s "
                f"(linear growth allows {allowed:.3f} s per run); times so far {times}"
            )
        assert "error" not in answer, f"{shape} via {entry} at {size} bytes: {answer['error']}"
        best = float(answer["best"])  # type: ignore[arg-type]
        assert best <= allowed, (
            f"{shape} via {entry}: {size} bytes took {best:.3f} s, more than {MARGIN}x linear growth "
            f"from {times[-1][1]:.4f} s at {times[-1][0]} bytes (allowed {allowed:.3f} s); times {times}"
        )
        times.append((size, best))
