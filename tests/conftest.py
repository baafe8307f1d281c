"""Test-session environment: no Hub access, and no writes outside temporary folders.

The machine that runs the suite (and CI) has no Hugging Face Hub access, so the Hub libraries are put
offline before any of them is imported; the `datasets` cache (written when tests load .json/.csv
files) goes to a temporary folder instead of the user's ~/.cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if "HF_DATASETS_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="cardsmith-tests-datasets-")
    os.environ["HF_DATASETS_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
