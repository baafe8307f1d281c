"""The ``local`` engine: a pool of worker processes on this machine, with failure isolation.

Why not ``concurrent.futures.ProcessPoolExecutor``: one crashed worker breaks the whole executor, and a
running task can be neither timed out nor killed. Nor ``multiprocessing``'s ``spawn``: it re-runs the
caller's main script in every worker. Here every worker is a fresh ``python -c`` process running
:func:`worker_main` with two pipes; the parent hands it a chunk of items when it asks for one, and it
sends back one result per item as it finishes. The parent watches every worker:

- a worker that dies (a segfault, ``os._exit``, the kernel's out-of-memory killer) is replaced; the item
  it was running gets an entry with the reason, the rest of its chunk runs again (one at a time);
- an item that runs past ``item_timeout`` seconds has its worker killed and replaced, and gets an entry
  "timed out";
- ``MemoryError`` and any exception inside an item are caught in the worker: that item's entry.

GPUs: when the machine has several (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi``), worker ``i`` sees only
GPU ``i mod n`` (set before anything in it imports torch). Each worker gets ``cpus / workers`` threads
(``OMP_NUM_THREADS`` and friends) unless they are set already. Workers ignore Ctrl-C: the parent stops
them, and a worker whose parent is gone exits at its next message.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from cardsmith.bulk.engines.base import EngineError, Feeder, ItemFunction, Prepare
from cardsmith.bulk.items import Item, Result, Settings, call_safely, failure

#: Message a worker sends when it has finished its chunk and wants another.
_READY = "ready"
#: Message a worker sends once it is set up and its imports are done: its items' clock starts then.
_STARTED = "started"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM")


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (without importing torch)."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g.strip() for g in given.split(",") if g.strip() and g.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return (
        [line.strip() for line in out.stdout.splitlines() if line.strip().isdigit()]
        if out.returncode == 0
        else []
    )


def describe_exit(code: int | None) -> str:
    """Why a worker process ended, in words."""
    if code is None:
        return "the worker process vanished"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"the worker process was killed ({name}; out of memory? the kernel's OOM killer sends it)"
        return f"the worker process crashed ({name})"
    return f"the worker process exited with code {code}"


def worker_main(read_fd: int, write_fd: int) -> None:
    """A worker process: take the path, the item function, its ``prepare`` and the settings, then run
    chunks until told to stop or the parent is gone (its pipe ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    try:
        path, fn, prepare, settings = _recv_setup(inbox)
    except (EOFError, OSError):
        return
    del path
    if prepare is not None:
        prepare(settings)  # e.g. the imports the items need: not counted against the first item's timeout
    try:
        outbox.send(_STARTED)
    except (BrokenPipeError, OSError):
        return
    while True:
        try:
            chunk = inbox.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for item in chunk:
            result = call_safely(fn, item, settings)
            try:
                outbox.send(result)
            except (BrokenPipeError, OSError):
                return
        try:
            outbox.send(_READY)
        except (BrokenPipeError, OSError):
            return


def _recv_setup(inbox: Connection) -> tuple[list[str], ItemFunction, Prepare | None, Settings]:
    """The first message: the parent's ``sys.path`` (set before the function is unpickled), then the rest."""
    import pickle
    import sys

    path = inbox.recv()
    sys.path[:] = list(path)
    fn, prepare, settings = pickle.loads(inbox.recv_bytes())
    return path, fn, prepare, settings


_BOOT = "from cardsmith.bulk.engines.local import worker_main; worker_main({read}, {write})"


class _Worker:
    def __init__(
        self, slot: int, process: subprocess.Popen[bytes], conn: Connection, outbox: Connection
    ) -> None:
        self.slot = slot
        self.process = process
        self.conn = conn  # results come in here; EOF when the process is gone
        self.outbox = outbox  # chunks go out here
        self.pending: deque[Item] = deque()
        self.since = time.monotonic()  # when the current item started (chunk sent or last result)
        self.stopping = False
        self.served = 0
        self.eof = False
        self.started = False  # set up and imports done (see _STARTED)


class LocalEngine:
    """A process pool that survives its items (see the module docstring)."""

    name = "local"

    def __init__(
        self, workers: int | None = None, item_timeout: float | None = None, gpus: list[str] | None = None
    ) -> None:
        self.workers = max(1, workers or cpu_count())
        self.item_timeout = item_timeout
        self._gpus = gpus

    def _env(self, slot: int, settings: Settings) -> dict[str, str]:
        env: dict[str, str] = {}
        threads = str(max(1, cpu_count() // self.workers))
        for name in _THREAD_VARIABLES:
            if name not in os.environ:
                env[name] = "false" if name == "TOKENIZERS_PARALLELISM" else threads
        if self._gpus is None:  # looked up once per engine (nvidia-smi is slow to start)
            self._gpus = visible_gpus() if settings.kind == "verify" else []
        gpus = self._gpus
        if len(gpus) > 1:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        return env

    def _start(self, slot: int, fn: ItemFunction, prepare: Prepare | None, settings: Settings) -> _Worker:
        import pickle
        import sys

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {**os.environ, **self._env(slot, settings)}
        try:
            stdout: Any = (
                sys.stderr.fileno()
            )  # a worker's stray prints must not mix with JSON lines on stdout
        except (AttributeError, ValueError, OSError):
            stdout = subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _BOOT.format(read=to_child_r, write=from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                env=env,
                close_fds=True,
            )
        except OSError as exc:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
                os.close(fd)
            raise EngineError(f"cannot start a worker process: {exc.strerror or exc}") from None
        os.close(to_child_r)
        os.close(from_child_w)
        outbox = Connection(to_child_w, readable=False)
        inbox = Connection(from_child_r, writable=False)
        worker = _Worker(slot, process, inbox, outbox)
        try:
            outbox.send(list(sys.path))
            outbox.send_bytes(pickle.dumps((fn, prepare, settings)))
        except (BrokenPipeError, OSError):
            pass  # it died at once: its pipe's end says so
        return worker

    def run(
        self,
        items: Iterable[Item],
        settings: Settings,
        *,
        fn: ItemFunction,
        prepare: Prepare | None = None,
        chunk: int = 1,
    ) -> Iterator[Result]:
        feeder = Feeder(items, chunk)
        workers: list[_Worker] = []
        idle_deaths = 0
        try:
            for slot in range(self.workers):
                work = feeder.next()
                if work is None:
                    break
                worker = self._start(slot, fn, prepare, settings)
                self._give(worker, work)
                workers.append(worker)
            while workers:
                ready = set(wait([w.conn for w in workers], timeout=self._wait_time(workers)))
                for worker in list(workers):
                    if worker.conn in ready:
                        yield from self._drain(worker, feeder)
                    if worker.stopping and not worker.pending:
                        self._retire(worker)
                        workers.remove(worker)
                        continue
                    timed_out = (
                        not worker.eof
                        and worker.started
                        and self.item_timeout is not None
                        and bool(worker.pending)
                        and time.monotonic() - worker.since > self.item_timeout
                    )
                    if not worker.eof and not timed_out:
                        continue
                    if timed_out:
                        reason = f"timed out after {self.item_timeout:g} s (--item-timeout)"
                    self._kill(worker)
                    if not timed_out:
                        reason = describe_exit(worker.process.returncode)
                    workers.remove(worker)
                    if worker.pending:
                        yield failure(worker.pending.popleft(), reason)
                        feeder.requeue(worker.pending)
                    elif worker.served == 0:
                        idle_deaths += 1
                        if idle_deaths > 2 * self.workers:
                            raise EngineError(f"the local engine's workers die as they start ({reason})")
                    work = feeder.next()
                    if work is not None:
                        replacement = self._start(worker.slot, fn, prepare, settings)
                        self._give(replacement, work)
                        workers.append(replacement)
        finally:
            for worker in workers:
                self._kill(worker)

    def _wait_time(self, workers: list[_Worker]) -> float:
        if self.item_timeout is None:
            return 5.0
        now = time.monotonic()
        left = [self.item_timeout - (now - w.since) for w in workers if w.pending and w.started]
        return max(0.01, min([5.0, *left]))

    def _give(self, worker: _Worker, work: list[Item]) -> None:
        worker.pending.extend(work)
        worker.since = time.monotonic()
        try:
            worker.outbox.send(work)
        except (BrokenPipeError, OSError):
            pass  # it died: its result pipe ends, and the items are still pending

    def _drain(self, worker: _Worker, feeder: Feeder) -> Iterator[Result]:
        """Read every message the worker has sent; hand it more work when it is ready."""
        while not worker.eof:
            try:
                if not worker.conn.poll():
                    return
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.eof = True
                return
            if message == _STARTED:
                worker.started = True
                worker.since = time.monotonic()
                continue
            if message == _READY:
                work = None if worker.stopping else feeder.next()
                if work is None:
                    worker.stopping = True
                    try:
                        worker.outbox.send(None)
                    except (BrokenPipeError, OSError):
                        pass
                else:
                    self._give(worker, work)
                continue
            if isinstance(message, Result) and worker.pending:
                worker.pending.popleft()
                worker.served += 1
                worker.since = time.monotonic()
                yield message

    def _retire(self, worker: _Worker) -> None:
        try:
            worker.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._kill(worker)

    @staticmethod
    def _kill(worker: _Worker) -> None:
        if worker.process.poll() is None:
            worker.process.kill()
        try:
            worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass
        for conn in (worker.conn, worker.outbox):
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        """Nothing to release between runs: each run starts and stops its own workers."""
