"""``python -m cardsmith`` in a subprocess, for the black-box tests of hostile input (#15).

A subprocess makes a hang a timeout and a traceback visible; its output is kept as bytes, since
some tests check that it is valid UTF-8.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from locations import HARDENING

import cardsmith

GOOD = (HARDENING / "good_card.md").read_text(encoding="utf-8")
BAD = (HARDENING / "loss_equals_metric.md").read_text(encoding="utf-8")
#: The checkout whose ``cardsmith`` the tests import (put first on the child's ``PYTHONPATH``).
ROOT = Path(cardsmith.__file__).resolve().parent.parent


def body_of(card: str) -> str:
    """The card without its front matter."""
    return card.split("\n---\n", 1)[1]


def cs(
    *args: str | Path,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m cardsmith ARGS``; output kept as bytes (item 12 checks that it is valid UTF-8)."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")])
    full_env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return subprocess.run(
        [sys.executable, "-m", "cardsmith", *map(os.fsdecode, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        timeout=timeout,
        check=False,
        input=None if input is None else input.encode(),
    )
