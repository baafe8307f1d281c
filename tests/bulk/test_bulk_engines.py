"""Both engines, for real: every item gets its entry, whatever kills or stalls its worker.

The local engine runs real worker processes; the Ray engine runs on a real local Ray cluster (2 CPUs,
one for the session). The failing items crash, get SIGKILL-ed, run out of memory, time out or raise
inside those workers (``faults.py``); the other items are real cards, audited for real, and their
lines must be exactly those of the adapter run in this process.
"""

from __future__ import annotations

import json
import os
from typing import Any

from bulk_data import ROOT

from cardsmith.bulk.engines.local import LocalEngine
from cardsmith.bulk.items import Item, Result, Settings
from cardsmith.bulk.run import run_item

SEEDS = sorted((ROOT / "fixtures" / "seeds").glob("*/README.md"))
FAULTS = {
    "crash/1": "crashed",
    "killed/1": "killed",
    "oom/1": "out of memory",
    "slow/1": "timed out after 15 s",
    "raise/1": "internal error: RuntimeError: boom",
}
RAY_FAULTS = {**FAULTS, "crash/1": "crashed", "killed/1": "crashed"}


def _items() -> list[Item]:
    assert SEEDS
    cards = [Item(id=f"card/{i}", text=p.read_text(encoding="utf-8")) for i, p in enumerate(SEEDS * 3)]
    faults = [Item(id=name, text="") for name in FAULTS]
    # faults spread among the cards, so that chunks hold both
    return cards[:3] + faults[:2] + cards[3:8] + faults[2:] + cards[8:]


def _check(results: list[Result], items: list[Item], expected: dict[str, str]) -> None:
    ids = [r.id for r in results]
    assert sorted(ids) == sorted(i.id for i in items), "every item has exactly one entry"
    by_id = {r.id: r for r in results}
    settings = Settings()
    for item in items:
        result = by_id[item.id]
        if item.id in expected:
            entry = json.loads(result.line)
            assert result.failed and expected[item.id] in entry["error"], (item.id, entry["error"])
            assert entry["id"] == item.id and entry["findings"] == []
        else:
            assert not result.failed
            assert result.line == run_item(item, settings).line


def test_local_engine_isolates_crashes_kills_oom_timeouts_and_exceptions() -> None:
    from bulk_faults import faulty

    items = _items()
    engine = LocalEngine(workers=2, item_timeout=15)  # generous: a loaded CI machine
    results = list(engine.run(items, Settings(), fn=faulty, chunk=4))
    _check(results, items, FAULTS)
    by_id = {r.id: json.loads(r.line)["error"] for r in results if r.failed}
    assert "SIGABRT" in by_id["crash/1"] and "SIGKILL" in by_id["killed/1"]


def test_ray_engine_isolates_the_same_failures(ray_cluster: str) -> None:
    from bulk_faults import faulty

    from cardsmith.bulk.engines.ray_engine import RayEngine

    items = _items()
    engine = RayEngine(workers=2, item_timeout=15)  # generous: a loaded CI machine
    results = list(engine.run(items, Settings(), fn=faulty, chunk=4))
    engine.close()
    import ray

    assert ray.is_initialized(), "an engine leaves a cluster it did not start running"
    _check(results, items, RAY_FAULTS)


def test_local_engine_gives_each_worker_its_own_gpu(monkeypatch: Any) -> None:
    from bulk_faults import slow_probe

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    engine = LocalEngine(workers=2, gpus=["0", "1"])
    items = [Item(id=f"probe/{i}") for i in range(6)]
    seen = [json.loads(r.line) for r in engine.run(items, Settings(kind="verify"), fn=slow_probe)]
    assert len(seen) == 6
    gpu_of = {entry["pid"]: entry["gpu"] for entry in seen}
    assert len(gpu_of) == 2, "two worker processes shared the items"
    assert sorted(gpu_of.values()) == ["0", "1"], "one GPU per worker"
    assert all(entry["threads"] == str(max(1, (len(os.sched_getaffinity(0))) // 2)) for entry in seen)
