"""Shared fixtures of the bulk tests: a Parquet dump of real cards, tiny checkpoints, a Ray cluster.

The dump is made at test time from ``../shared/corpus`` (156 real cards, copied 7 times under new ids,
plus rows that cannot be audited): the cards themselves never enter the repository. Without the
corpus these tests skip, and fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # bulk_data, bulk_faults: importable here and in the engines' workers

from bulk_data import BROKEN_ROWS, COPIES, ROOT, UNCLOSED_ROW, corpus_cards


@pytest.fixture(scope="session")
def dump(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``{"path": dump.parquet, "ids": [...], "texts": {id: text}}``: >= 1,000 real cards in 4 row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cards = corpus_cards()
    ids: list[str] = []
    texts: list[str | None] = []
    for copy in range(COPIES):
        for card in cards:
            ids.append(f"corpus-{copy}/{card.stem}")
            texts.append(card.read_text(encoding="utf-8", errors="replace"))
    ids.extend([*BROKEN_ROWS, UNCLOSED_ROW[0]])
    texts.extend([*BROKEN_ROWS.values(), UNCLOSED_ROW[1]])
    folder = tmp_path_factory.mktemp("dump")
    path = folder / "cards.parquet"
    table = pa.table({"modelId": ids, "card": texts, "downloads": list(range(len(ids)))})
    pq.write_table(table, path, row_group_size=300)
    return {"path": path, "ids": ids, "texts": dict(zip(ids, texts))}


@pytest.fixture(scope="session")
def ray_cluster() -> Any:
    """A real local Ray cluster with 2 CPUs, started once for the session; yields its address."""
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    path = os.pathsep.join(
        [
            str(ROOT),
            str(Path(__file__).resolve().parent),
            *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p],
        ]
    )
    # Ray's workers (and the raylet) inherit the environment: they import this checkout's cardsmith.
    os.environ["PYTHONPATH"] = path
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=True,
        logging_level="ERROR",
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _train(root: Path, datasets: Any, train: Any) -> Path:
    """A tiny checkpoint trained with the real Trainer (``train`` on ``datasets(...)``: ``tiny``'s
    sequence or token task), its card, and its validation split saved beside it."""
    from cardsmith import ModelCard

    data = datasets(n_train=96, n_eval=30)
    trainer = train(
        root / "run", datasets=data, per_device_eval_batch_size=5, save_strategy="no", num_train_epochs=2
    )
    model = root / "model"
    trainer.save_model(str(model))
    (model / "README.md").write_text(ModelCard.from_trainer(trainer).to_markdown(), encoding="utf-8")
    data["validation"].save_to_disk(str(root / "validation"))
    return model


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny checkpoints trained with the real Trainer, and a CSV list of them to verify.

    ``seq`` and ``tok`` reproduce; ``seq-claims-more`` is ``seq`` with a card that claims a higher
    accuracy (a real metric-not-reproduced); ``seq-broken-weights`` has a truncated model.safetensors
    (its rerun fails); ``no-such-model`` does not exist.
    """
    import shutil

    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("models")
    import tiny

    seq = _train(root / "seq", tiny.seq_datasets, tiny.train_seq)
    tok = _train(root / "tok", tiny.tok_datasets, tiny.train_tok)
    more = root / "seq-claims-more"
    shutil.copytree(seq, more)
    card = (more / "README.md").read_text(encoding="utf-8")
    head, sep, tail = card.partition("- Accuracy: ")
    assert sep, "the trained card has a headline accuracy"
    value, _, rest = tail.partition("\n")
    claimed = "0.9999" if float(value) < 0.99 else "0.5"
    (more / "README.md").write_text(head + sep + claimed + "\n" + rest, encoding="utf-8")
    broken = root / "seq-broken-weights"
    shutil.copytree(seq, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    missing = root / "no-such-model"
    rows = [
        ("seq", seq, root / "seq" / "validation"),
        ("tok", tok, root / "tok" / "validation"),
        ("more", more, root / "seq" / "validation"),
        ("broken", broken, root / "seq" / "validation"),
        ("missing", missing, root / "seq" / "validation"),
    ]
    listing = root / "models.csv"
    lines = ["repo,dataset,max_examples"] + [f"{path},{data}," for _name, path, data in rows]
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"list": listing, "repos": {name: str(path) for name, path, _ in rows}}
