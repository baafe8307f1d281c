#!/usr/bin/env bash
# Set up the environment and run every check CI runs: lint, format, the import graph, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check cardsmith tests bench examples scripts fixtures
.venv/bin/ruff format --check cardsmith tests bench examples scripts fixtures
.venv/bin/python scripts/import_graph.py --quiet --max-floors 8
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
