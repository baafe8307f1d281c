"""Item functions that fail the way real items do, for the engine tests (they run in real workers).

An item's id says what happens: ``crash`` aborts the process (SIGABRT), ``killed`` is SIGKILL-ed (what
the kernel's out-of-memory killer does), ``oom`` asks for a petabyte (a real MemoryError), ``slow``
sleeps past any timeout, ``raise`` raises; any other item is audited for real.
"""

from __future__ import annotations

import os
import signal
import time

from cardsmith.bulk.items import Item, Result, Settings
from cardsmith.bulk.run import run_item


def faulty(item: Item, settings: Settings) -> Result:
    kind = item.id.split("/")[0]
    if kind == "crash":
        os.abort()
    if kind == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "oom":
        bytearray(1 << 50)
    if kind == "slow":
        time.sleep(120)
    if kind == "raise":
        raise RuntimeError("boom")
    return run_item(item, settings)


def slow_probe(item: Item, settings: Settings) -> Result:
    """What a worker sees: its GPU, its threads, its process id (slow enough that both workers get items)."""
    import json

    time.sleep(0.3)
    return Result(
        id=item.id,
        line=json.dumps(
            {
                "id": item.id,
                "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "threads": os.environ.get("OMP_NUM_THREADS"),
                "pid": os.getpid(),
            }
        ),
    )
