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
echo "exit code: $? (1 = error findings)"

step "2. Train a tiny BERT with the Trainer; CardCallback writes and audits its card"
.venv/bin/python examples/train_tiny.py .demo/tiny || exit 2

step "3. Verify that card by rerunning the checkpoint"
$C verify .demo/tiny --rerun --dataset .demo/tiny-eval
status=$?
echo "exit code: $status (0 = every claimed number reproduced)"

step "4. Raise the claimed accuracy by 0.03 and verify again"
rm -rf .demo/tampered && cp -r .demo/tiny .demo/tampered
.venv/bin/python - <<'PY'
from cardsmith import ModelCard
from cardsmith.card.io import atomic_write_text
from cardsmith.card.model import Cell, HeadlineMetric
path = ".demo/tampered/README.md"
card = ModelCard.load(path)
for i, metric in enumerate(card.headline):
    if metric.name == "Accuracy" and metric.value.value is not None:
        card.headline[i] = HeadlineMetric(name=metric.name, value=Cell.parse(f"{metric.value.value + 0.03:.4f}"))
atomic_write_text(path, card.to_markdown())
PY
$C verify .demo/tampered --rerun --dataset .demo/tiny-eval
echo "exit code: $? (1 = a claimed number was refuted)"
exit $status
