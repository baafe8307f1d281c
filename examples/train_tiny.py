"""Train a tiny real BERT classifier with the Trainer and let cardsmith write its card.

Used by ``scripts/demo.sh``. The model, tokenizer and data are built locally (no Hub access) by the
test suite's factory ``tests/tiny.py``; the card is written by :class:`cardsmith.CardCallback` at the
end of training, and the evaluation split is saved with ``save_to_disk`` so that
``cardsmith verify OUT --rerun --dataset OUT-eval`` can reproduce the card's numbers.

    python examples/train_tiny.py OUT
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cardsmith import CardCallback
from tests.tiny import seq_datasets, train_seq


def main(out: str) -> None:
    out_dir = Path(out)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    data = seq_datasets(n_train=256, n_eval=96, seed=0)
    trainer = train_seq(
        out_dir,
        datasets=data,
        callbacks=[CardCallback()],
        eval_strategy="epoch",
        num_train_epochs=3,
        per_device_eval_batch_size=8,
    )
    trainer.save_model(str(out_dir))
    data["validation"].save_to_disk(str(out_dir) + "-eval")
    print(f"trained {out_dir}; card at {out_dir / 'README.md'}; eval data at {out_dir}-eval")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".demo/tiny")
