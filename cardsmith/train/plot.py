"""Training curves: loss and metrics per step (or epoch) into a PNG beside the card.

Needs the ``plot`` extra (``pip install "cardsmith[plot]"``: matplotlib). The figure is drawn with
matplotlib's object API on an Agg canvas, so no pyplot state or global backend is touched.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any

from cardsmith.card.io import atomic_write_bytes
from cardsmith.card.metric_names import column_role
from cardsmith.card.model import Card
from cardsmith.card.numbers import Cell, printed
from cardsmith.errors import MissingExtraError


def _numbers(cells: list[Any]) -> list[float | None]:
    """The values the cells print (a card built from a training log holds more digits than it shows:
    the picture is the card's, the same from the log as from the README written from it)."""
    out: list[float | None] = []
    for cell in cells:
        value = Cell.parse(printed(cell)).value if isinstance(cell, Cell) else None
        out.append(value if value is not None and math.isfinite(value) else None)
    return out


def _series(xs: list[float | None], ys: list[float | None]) -> tuple[list[float], list[float]]:
    pts = [(x, y) for x, y in zip(xs, ys) if x is not None and y is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def best_step_of(state: dict[str, Any] | None) -> int | None:
    """The best checkpoint's global step as a ``trainer_state.json`` records it (None when untracked)."""
    if not state:
        return None
    step = state.get("best_global_step")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0:
        return step
    ckpt = state.get("best_model_checkpoint")
    if isinstance(ckpt, str):
        m = re.search(r"checkpoint-(\d+)/*$", ckpt.replace("\\", "/"))
        if m:
            return int(m.group(1))
    return None


def plot_training_curves(
    card: Card,
    path: str | Path,
    *,
    state: dict[str, Any] | None = None,
    log_history: list[dict[str, Any]] | None = None,
) -> Path:
    """Draw the card's training curves into ``path`` (PNG, written atomically) and return it.

    The one plotting path of ``CardCallback(plot=True)`` and ``cardsmith render --plot``. ``state``
    is the run's ``trainer_state.json`` (or the live ``TrainerState`` as a dict): with it, the left
    panel shows every logged training loss (not only those at the evaluation rows) and the best
    checkpoint (``best_global_step``) is marked on both panels. Left: training and validation loss;
    right: the table's metric columns. The x axis is the step when the table has one, else the epoch.
    """
    if log_history is None and state is not None and isinstance(state.get("log_history"), list):
        log_history = [e for e in state["log_history"] if isinstance(e, dict)]
    best_step = best_step_of(state)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            'drawing training curves needs matplotlib: pip install "cardsmith[plot]"'
        ) from None

    table = card.results
    xname = "Step"
    xs: list[float | None] = []
    if table is not None and table.rows:
        step_col = table.column("Step")
        xs = _numbers(step_col) if step_col is not None else []
        if not any(x is not None for x in xs):
            epoch_col = table.column("Epoch")
            xs = _numbers(epoch_col) if epoch_col is not None else list(range(1, len(table.rows) + 1))
            xname = "Epoch" if epoch_col is not None else "Evaluation"

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax_loss = fig.add_subplot(1, 2, 1)
    ax_metric = fig.add_subplot(1, 2, 2)

    train_x: list[float] = []
    train_y: list[float] = []
    if log_history:
        key = "step" if xname == "Step" else "epoch"
        for entry in log_history:
            if (
                "loss" in entry
                and isinstance(entry.get(key), (int, float))
                and isinstance(entry["loss"], (int, float))
                and math.isfinite(entry["loss"])
            ):
                train_x.append(float(entry[key]))
                train_y.append(float(entry["loss"]))
    elif table is not None:
        col = table.column("Training Loss")
        if col is not None:
            train_x, train_y = _series(xs, _numbers(col))
    if train_x:
        ax_loss.plot(train_x, train_y, marker=".", label="Training Loss")
    if table is not None:
        col = table.column("Validation Loss")
        if col is not None:
            vx, vy = _series(xs, _numbers(col))
            if vx:
                ax_loss.plot(vx, vy, marker="o", label="Validation Loss")
    ax_loss.set_title("Loss")
    ax_loss.set_xlabel(xname)
    if ax_loss.lines:
        ax_loss.legend()

    if table is not None:
        has_val = any(column_role(n, has_val_loss_column=False) == "val_loss" for n in table.columns)
        for name in table.columns:
            if column_role(name, has_val_loss_column=has_val) != "metric":
                continue  # losses, progress and pseudo-metrics (runtime, Gen Len) are not metric curves
            col = table.column(name)
            mx, my = _series(xs, _numbers(col or []))
            if mx:
                ax_metric.plot(mx, my, marker="o", label=name)
    ax_metric.set_title("Evaluation metrics")
    ax_metric.set_xlabel(xname)
    if ax_metric.lines:
        ax_metric.legend()
    else:
        ax_metric.text(
            0.5, 0.5, "no evaluation metrics logged", ha="center", va="center", transform=ax_metric.transAxes
        )
    if best_step is not None:
        best_x: float | None = float(best_step) if xname == "Step" else None
        if best_x is None and log_history:
            best_x = next(
                (
                    float(e["epoch"])
                    for e in log_history
                    if e.get("step") == best_step and isinstance(e.get("epoch"), (int, float))
                ),
                None,
            )
        if best_x is not None:
            for ax in (ax_loss, ax_metric):
                ax.axvline(
                    best_x,
                    color="grey",
                    linestyle="--",
                    linewidth=1,
                    label=f"best checkpoint (step {best_step})",
                )
            ax_loss.legend()
            if ax_metric.lines[:-1]:
                ax_metric.legend()
    fig.tight_layout()

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return atomic_write_bytes(path, buffer.getvalue())
