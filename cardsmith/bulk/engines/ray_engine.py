"""The ``ray`` engine: the same items as Ray tasks on a cluster (``pip install "cardsmith[scale]"``).

- ``address``: ``auto`` (the cluster this machine belongs to, started with ``ray start``), ``ray://host:10001``
  (Ray Client), ``host:6379`` (a head node's GCS); ``None`` starts a local cluster for the run (with
  ``workers`` CPUs, default all) and stops it at the end. An already initialised Ray (a notebook, a test)
  is used as it is.
- Each item (or chunk of cards) is one task with ``num_cpus=1`` and, for a verify ``--rerun`` on a
  cluster that has GPUs, ``num_gpus=1`` (``gpus_per_item`` overrides); no retries, so that a crashing
  item is reported once: a crashed worker, Ray's out-of-memory killer and ``item_timeout`` (the task is
  cancelled with ``force=True``, which kills its worker) give the item an entry with the reason. A chunk
  that fails runs again one item per task, so only the culprit gets the failure.
- At most ``workers`` tasks are in flight (default: the cluster's CPUs), so the source streams.
- :meth:`RayEngine.run_parquet`: the audit of a Parquet dump with Ray Data (``read_parquet`` of the two
  columns, ``map_batches`` of the audit, results streamed back to the driver that writes them).

The code must be importable on the cluster's workers: install cardsmith there (a local cluster inherits
this process's environment).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cardsmith.bulk.engines.base import EngineError, Feeder, ItemFunction, Prepare
from cardsmith.bulk.items import Item, Result, Settings, call_safely, failure
from cardsmith.errors import MissingExtraError

#: Ray Data's block size for a dump audit.
BLOCK_BYTES = 256 * 1024


def _ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise MissingExtraError('--engine ray needs Ray: pip install "cardsmith[scale]"') from None
    return ray


def _run_chunk(
    fn: ItemFunction,
    prepare: Prepare | None,
    chunk: list[Item],
    settings: Settings,
    clock: Any = None,
    key: int = 0,
) -> list[Result]:
    """The body of one Ray task: the items of a chunk, one after the other (it tells ``clock`` it began)."""
    if clock is not None:
        if prepare is not None:
            prepare(settings)  # e.g. a fresh worker's imports: not the item's time
        clock.start.remote(key)
    return [call_safely(fn, item, settings) for item in chunk]


class _Clock:
    """A Ray actor that notes when each task really began (not when it was queued), for ``item_timeout``."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}

    def start(self, key: int) -> None:
        self.started[key] = time.time()

    def read(self, keys: list[int]) -> dict[int, float]:
        return {key: self.started.pop(key) for key in keys if key in self.started}


def reason_of(exc: BaseException) -> str:
    """A Ray failure in words."""
    ray = _ray()
    errors = ray.exceptions
    if isinstance(exc, errors.OutOfMemoryError):
        return "out of memory (Ray's memory monitor killed the task's worker)"
    if isinstance(exc, errors.WorkerCrashedError):
        return "the worker process crashed (Ray: WorkerCrashedError)"
    if isinstance(exc, errors.TaskCancelledError):
        return "cancelled"
    if isinstance(exc, errors.NodeDiedError):
        return "the node running it died"
    if isinstance(exc, errors.RayTaskError):
        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
        return f"internal error: {type(cause).__name__}: {' '.join(str(cause).split())[:500]}"
    return f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}"


class RayEngine:
    """Ray tasks on an existing cluster, or on a local one started for the run."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        item_timeout: float | None = None,
        gpus_per_item: float | None = None,
    ) -> None:
        self.address = address
        self.item_timeout = item_timeout
        self.gpus_per_item = gpus_per_item
        self._requested_workers = workers
        self.workers = workers or 0
        self._owned = False
        self.started_in: float | None = None

    # ---- the cluster ---------------------------------------------------------------------------------

    def connect(self) -> Any:
        ray = _ray()
        if ray.is_initialized():
            self._set_workers(ray)
            return ray
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        began = time.monotonic()
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "configure_logging": True,
        }
        if self.address is None:
            kwargs["num_cpus"] = self._requested_workers or os.cpu_count() or 1
        else:
            kwargs["address"] = self.address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local cluster"
            raise EngineError(
                f"cannot start or reach Ray at {where}: {' '.join(str(exc).split())[:300]}"
            ) from None
        self._owned = True
        self.started_in = time.monotonic() - began
        self._set_workers(ray)
        return ray

    def _set_workers(self, ray: Any) -> None:
        if self._requested_workers:
            self.workers = self._requested_workers
        else:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self._owned:
            ray = _ray()
            if ray.is_initialized():
                ray.shutdown()
            self._owned = False

    def _gpus(self, ray: Any, settings: Settings) -> float:
        if self.gpus_per_item is not None:
            return self.gpus_per_item
        if settings.kind == "verify" and settings.rerun and ray.cluster_resources().get("GPU", 0) >= 1:
            return 1.0
        return 0.0

    # ---- items as tasks ---------------------------------------------------------------------------------

    def run(
        self,
        items: Iterable[Item],
        settings: Settings,
        *,
        fn: ItemFunction,
        prepare: Prepare | None = None,
        chunk: int = 1,
    ) -> Iterator[Result]:
        ray = self.connect()
        task = ray.remote(_run_chunk).options(
            num_cpus=1, num_gpus=self._gpus(ray, settings), max_retries=0, retry_exceptions=False
        )
        feeder = Feeder(items, chunk)
        fn_ref = ray.put(fn)
        prepare_ref = ray.put(prepare)
        settings_ref = ray.put(settings)
        clock = ray.remote(_Clock).options(num_cpus=0).remote() if self.item_timeout is not None else None
        inflight: dict[Any, tuple[list[Item], int]] = {}
        began: dict[int, float] = {}  # task key -> when it started running (wall clock)
        keys = 0
        try:
            while True:
                while len(inflight) < self.workers:
                    work = feeder.next()
                    if work is None:
                        break
                    keys += 1
                    inflight[task.remote(fn_ref, prepare_ref, work, settings_ref, clock, keys)] = (work, keys)
                if not inflight:
                    return
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0 if clock is None else 0.5)
                for ref in done:
                    work, key = inflight.pop(ref)
                    began.pop(key, None)
                    try:
                        results = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - a task's failure is its items' entries
                        if len(work) > 1:
                            feeder.requeue(work)  # again one by one: only the culprit fails
                            continue
                        yield failure(work[0], reason_of(exc))
                        continue
                    yield from results
                if clock is not None and self.item_timeout is not None:
                    yield from self._expire(ray, clock, inflight, began, feeder)
        finally:
            for ref in inflight:
                with contextlib.suppress(Exception):  # best effort at shutdown
                    ray.cancel(ref, force=True)
            if clock is not None:
                with contextlib.suppress(Exception):
                    ray.kill(clock)

    def _expire(
        self,
        ray: Any,
        clock: Any,
        inflight: dict[Any, tuple[list[Item], int]],
        began: dict[int, float],
        feeder: Feeder,
    ) -> Iterator[Result]:
        """Cancel (killing its worker) every task that has run past ``item_timeout`` per item."""
        assert self.item_timeout is not None
        waiting = [key for _work, key in inflight.values() if key not in began]
        if waiting:
            began.update(ray.get(clock.read.remote(waiting)))
        now = time.time()
        for ref, (work, key) in list(inflight.items()):
            if key in began and now - began[key] > self.item_timeout * len(work):
                ray.cancel(ref, force=True)
                del inflight[ref]
                began.pop(key, None)
                if len(work) > 1:
                    feeder.requeue(work)
                    continue
                yield failure(work[0], f"timed out after {self.item_timeout:g} s (--item-timeout)")

    # ---- a Parquet dump with Ray Data --------------------------------------------------------------------

    def run_parquet(
        self,
        files: Iterable[Path],
        *,
        fn: ItemFunction,
        card_column: str,
        id_column: str,
        settings: Settings,
        skip: set[str],
        batch_rows: int = 64,
    ) -> Iterator[Result]:
        """Run ``fn`` (the audit) over a Parquet dump with Ray Data; ids in ``skip`` (done before ``--resume``)
        are left out."""
        self.connect()
        from ray import data as ray_data

        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        paths = [str(p) for p in files]
        if not paths:
            raise EngineError("no Parquet files to read")
        # Small blocks (about 100 cards of 2-4 KB): many map tasks for the CPUs, and lines reach the
        # output file as each block is done, not at the end of a big one.
        context.target_max_block_size = BLOCK_BYTES
        dataset = ray_data.read_parquet(paths).select_columns([id_column, card_column])
        limit: dict[str, Any] = {"concurrency": self._requested_workers} if self._requested_workers else {}
        dataset = dataset.map_batches(
            _audit_batch,
            batch_format="pyarrow",
            batch_size=batch_rows,
            num_cpus=1,
            **limit,
            fn_kwargs={
                "fn": fn,
                "card_column": card_column,
                "id_column": id_column,
                "settings": settings,
                "skip": frozenset(skip),
            },
        )
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            yield from _results_of(batch)


def _audit_batch(
    batch: Any,
    *,
    fn: ItemFunction,
    card_column: str,
    id_column: str,
    settings: Settings,
    skip: frozenset[str],
) -> Any:
    """Ray Data ``map_batches``: one pyarrow batch of cards in, their lines out."""
    import json

    import pyarrow as pa

    from cardsmith.bulk.sources import dump_item

    ids: list[str] = []
    lines: list[str] = []
    failed: list[bool] = []
    findings: list[str] = []
    for number, (item_id, text) in enumerate(
        zip(batch.column(id_column).to_pylist(), batch.column(card_column).to_pylist())
    ):
        item = dump_item(item_id, text, number)
        if item.id in skip:
            continue
        result = call_safely(fn, item, settings)
        ids.append(result.id)
        lines.append(result.line)
        failed.append(result.failed)
        findings.append(json.dumps(result.findings))
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "line": pa.array(lines, pa.string()),
            "failed": pa.array(failed, pa.bool_()),
            "findings": pa.array(findings, pa.string()),
        }
    )


def _results_of(batch: Any) -> Iterator[Result]:
    import json

    for item_id, line, failed, findings in zip(
        batch.column("id").to_pylist(),
        batch.column("line").to_pylist(),
        batch.column("failed").to_pylist(),
        batch.column("findings").to_pylist(),
    ):
        yield Result(
            id=item_id, line=line, failed=bool(failed), findings=tuple(tuple(f) for f in json.loads(findings))
        )  # type: ignore[misc]
