#!/usr/bin/env bash
# The main job on built-in examples: audit the five bundled seed cards, train a tiny real checkpoint
# with the Trainer (its card written by CardCallback), rerun it to prove the card, and show that a
# tampered number is refuted.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 2
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
C=.venv/bin/cardsmith
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Audit the five seed cards (seed 001 and seed 000 are broken on purpose)"
$C audit fixtures/seeds/*/README.md
seeds=$?
echo "exit code: $seeds (1 = error findings, as expected)"

step "2. Train a tiny BERT with the Trainer; CardCallback writes and audits its card"
.venv/bin/python examples/train_tiny.py .demo/tiny || { echo "demo FAILED: training did not finish"; exit 1; }

step "3. Verify that card by rerunning the checkpoint"
$C verify .demo/tiny --rerun --dataset .demo/tiny-eval
verified=$?
echo "exit code: $verified (0 = every claimed number reproduced)"

step "4. Raise the claimed accuracy by 0.03 and verify again"
rm -rf .demo/tampered && cp -r .demo/tiny .demo/tampered
.venv/bin/python - <<'PY'
import re
from pathlib import Path
path = Path(".demo/tampered/README.md")
text = path.read_text(encoding="utf-8")
line = re.search(r"^- Accuracy: ([0-9.]+)$", text, re.MULTILINE)
path.write_text(text.replace(line.group(0), f"- Accuracy: {float(line.group(1)) + 0.03:.4f}", 1), encoding="utf-8")
PY
$C verify .demo/tampered --rerun --dataset .demo/tiny-eval
tampered=$?
echo "exit code: $tampered (1 = a claimed number was refuted)"

echo
if [ "$seeds" -eq 1 ] && [ "$verified" -eq 0 ] && [ "$tampered" -eq 1 ]; then
    echo "demo succeeded: the broken seed cards were flagged, the trained card was reproduced, the tampered number was refuted"
    exit 0
fi
echo "demo FAILED: seed audit exit $seeds (want 1), verify exit $verified (want 0), tampered verify exit $tampered (want 1)"
exit 1
