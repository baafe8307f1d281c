"""``cardsmith verify``: resolve a model, audit its card, and with ``rerun`` reproduce its numbers.

What is compared: the card's headline results ("It achieves the following results on the
evaluation set"), else the last row of its results table, else its ``model-index`` metrics. Each
claimed metric that cardsmith can recompute (loss, accuracy, precision, recall, F1, Matthews
correlation) is compared with the rerun within the card's printed rounding (``Cell.half_ulp``)
plus a small tolerance for nondeterminism:

* ``TOLERANCE`` (1e-4 absolute, on the 0-1 scale; the loss too) for fp32 reruns, which covers
  kernel and summation-order differences between devices (observed: below 1e-6 on CPU);
* ``HALF_TOLERANCE`` (1e-2) for ``--dtype bf16/fp16`` reruns, which are not exact.

A metric that disagrees is a ``metric-not-reproduced`` error; the loss, ``loss-not-reproduced``.
Precision/recall/F1 are tried under every averaging (binary, micro, macro, weighted) and the one
that reproduces the card is reported; token classification uses seqeval's overall scores.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cardsmith.audit.report import AuditReport, Finding, Location, ReproducedMetric, Reproduction
from cardsmith.card.model import Cell
from cardsmith.errors import ConfigError, ResolveError

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.card.model import Card
    from cardsmith.rerun.data import EvalData
    from cardsmith.rerun.resolve import ResolvedModel
    from cardsmith.rerun.run import EvalOutput

#: Extra absolute tolerance beyond the printed rounding, for fp32 reruns (0-1 scale).
TOLERANCE = 1e-4
#: Extra absolute tolerance for bf16/fp16 reruns.
HALF_TOLERANCE = 1e-2
#: The Trainer's default ``per_device_eval_batch_size``, used when the card does not print one.
TRAINER_DEFAULT_EVAL_BATCH_SIZE = 8

#: Columns and headline entries that are not evaluation metrics (progress, speed, sizes).
_NOT_METRICS = {"training loss", "epoch", "step", "steps", "runtime", "samples per second",
                "steps per second", "model preparation time", "gen len", "total flos", "learning rate",
                "grad norm"}


def _is_metric(name: str) -> bool:
    low = re.sub(r"[\s_]+", " ", name.strip().lower())
    for prefix in ("eval ", "validation ", "test "):
        low = low.removeprefix(prefix)
    return low not in _NOT_METRICS
_BOUNDED = {"accuracy", "precision", "recall", "f1"}


@dataclass
class Claim:
    """One number the card claims: its printed name, its printed cell, and where it was printed."""

    name: str
    cell: Cell
    source: str  # "headline", "table" or "model-index"
    key: str | None  # the canonical metric (cardsmith.rerun.metrics), None when not recomputable
    row: int | None = None


def claimed_metrics(card: Card) -> list[Claim]:
    """What the card claims for its final evaluation: headline, else last table row, else model-index."""
    from cardsmith.rerun.metrics import canonical_metric

    claims: list[Claim] = []
    if card.headline:
        for metric in card.headline:
            if metric.value.is_number and _is_metric(metric.name):
                claims.append(Claim(metric.name, metric.value, "headline", canonical_metric(metric.name)))
        if claims:
            return claims
    table = card.results
    if table is not None and table.rows:
        row = table.rows[-1]
        for idx, col in enumerate(table.columns):
            if not _is_metric(col) or idx >= len(row) or not row[idx].is_number:
                continue
            claims.append(Claim(col, row[idx], "table", canonical_metric(col), row=len(table.rows)))
        if claims:
            return claims
    for entry in card.metadata.model_index or []:
        for result in entry.results:
            for item in result.metrics:
                name = item.name or item.type
                if (not name or not _is_metric(name) or isinstance(item.value, bool)
                        or not isinstance(item.value, (int, float))):
                    continue
                cell = Cell.parse(repr(float(item.value)) if isinstance(item.value, float) else str(item.value))
                key = canonical_metric(name) or (canonical_metric(item.type) if item.type else None)
                claims.append(Claim(name, cell, "model-index", key))
            if claims:
                return claims
    return claims


def _scale(claim: Claim) -> float:
    """100 for a percent-scale claim of a bounded metric, else 1."""
    value = claim.cell.value
    if claim.cell.percent:
        return 100.0
    if claim.key in _BOUNDED and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    if claim.key == "matthews_correlation" and value is not None and 1.0 < abs(value) <= 100.0:
        return 100.0
    return 1.0


def _agrees(claim: Claim, reproduced: float, tolerance: float) -> bool:
    scale = _scale(claim)
    return claim.cell.agrees(reproduced * scale, extra=tolerance * scale)


def _location(claim: Claim) -> Location:
    if claim.source == "table":
        return Location(section="Training results", row=claim.row, column=claim.name)
    if claim.source == "model-index":
        return Location(section="model-index", column=claim.name)
    return Location(section="Headline", column=claim.name)


def _eval_batch_size(card: Card, batch_size: int | None) -> tuple[int, str]:
    hp = card.hyperparameters
    if hp is not None and hp.eval_batch_size:
        return int(hp.eval_batch_size), "the card's eval_batch_size"
    if batch_size:
        return int(batch_size), "--batch-size (the card prints no eval_batch_size)"
    return TRAINER_DEFAULT_EVAL_BATCH_SIZE, "the Trainer's default 8 (the card prints no eval_batch_size)"


def compare(
    claims: list[Claim],
    data: EvalData,
    output: EvalOutput,
    *,
    eval_batch_size: int,
    num_labels: int,
    tolerance: float,
) -> tuple[list[ReproducedMetric], list[tuple[Claim, ReproducedMetric]], str | None]:
    """Recompute every claimed metric; returns (metrics, failures, averaging)."""
    from cardsmith.rerun.data import TOKEN
    from cardsmith.rerun.metrics import PRF, classification_metrics, seqeval_metrics, trainer_loss

    computed: dict[str, float] = {}
    averaging: str | None = None
    loss = trainer_loss(output.loss_sums, output.loss_counts, eval_batch_size)
    computed["loss"] = loss
    if data.task == TOKEN:
        names = data.id2name
        preds = [[names.get(int(p), str(p)) for p in row] for row in output.predictions]
        refs = [[names.get(int(t), str(t)) for t in row] for row in output.references]
        computed.update(seqeval_metrics(preds, refs))
        if any(c.key in PRF for c in claims):
            averaging = "seqeval (micro over entities)"
    else:
        scores = classification_metrics(output.predictions, output.references, num_labels)
        computed["accuracy"] = scores["accuracy"]
        computed["matthews_correlation"] = scores["matthews_correlation"]
        prf_claims = [c for c in claims if c.key in PRF]
        if prf_claims:
            best: tuple[int, float, int] | None = None
            for rank, avg in enumerate(scores["f1"]):
                matches = sum(_agrees(c, scores[str(c.key)][avg], tolerance) for c in prf_claims)
                error = sum(abs(c.cell.value / _scale(c) - scores[str(c.key)][avg]) for c in prf_claims
                            if c.cell.value is not None)
                key = (-matches, error, rank)
                if best is None or key < best:
                    best = key
                    averaging = avg
            if averaging is not None:
                for k in PRF:
                    computed[k] = scores[k][averaging]
                if best is not None and -best[0] < len(prf_claims):
                    averaging = f"{averaging} (closest; no averaging reproduces every claim)"
    metrics: list[ReproducedMetric] = []
    failures: list[tuple[Claim, ReproducedMetric]] = []
    for claim in claims:
        claimed = claim.cell.value
        if claim.key is None or claim.key not in computed:
            metrics.append(ReproducedMetric(name=claim.name, claimed=claimed, reproduced=None, match=False,
                                            note="not recomputed by cardsmith"))
            continue
        value = computed[claim.key]
        scale = _scale(claim)
        ok = not math.isnan(value) and _agrees(claim, value, tolerance)
        note = None
        if scale != 1.0:
            note = "percent scale"
        if claim.key == "loss":
            note = f"Trainer batching, eval_batch_size {eval_batch_size}"
        metric = ReproducedMetric(name=claim.name, claimed=claimed, reproduced=value * scale, match=ok, note=note)
        metrics.append(metric)
        if not ok:
            failures.append((claim, metric))
    return metrics, failures, averaging


def _load_card(model: ResolvedModel) -> Card:
    from cardsmith.card.parse import load_card

    path = model.card_path
    if not path.is_file():
        raise ResolveError(f"{model.name}: no README.md (model card)")
    return load_card(path)


def verify_repo(
    repo: str,
    *,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    revision: str | None = None,
    rerun: bool = False,
    dataset: str | None = None,
    dataset_config: str | None = None,
    split: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    device: str = "auto",
    dtype: str = "fp32",
    batch_size: int | None = None,
    max_examples: int | None = None,
    write: bool = False,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> AuditReport:
    """Audit ``repo``'s card; with ``rerun``, re-evaluate the checkpoint and compare every claim.

    ``repo`` is a local folder or a Hub repo id (``revision`` for the latter). ``write`` (local
    folders only, with ``rerun``) records the reproduced results in the card, atomically.
    """
    from cardsmith.audit.engine import audit_card
    from cardsmith.audit.rules import resolve
    from cardsmith.rerun.resolve import resolve_model

    resolve(select)  # an unknown rule name fails before anything is loaded
    resolve(ignore)
    if write and not rerun:
        raise ConfigError("--write records a rerun's results; add --rerun")
    model = resolve_model(repo, revision=revision, weights=rerun, trust_remote_code=trust_remote_code)
    if write and not model.local:
        raise ConfigError("--write needs a local model folder (the Hub cache is not edited); clone the repo")
    card = _load_card(model)
    # A Hub snapshot: no [tool.cardsmith] lookup above the cache; it is reported by its repo id.
    config = None if model.local else {}
    produced: list[Finding] = []
    reproduction = None
    if rerun:
        reproduction, failures = rerun_card(
            model, card,
            dataset=dataset, dataset_config=dataset_config, split=split, text_column=text_column,
            label_column=label_column, device=device, dtype=dtype, batch_size=batch_size,
            max_examples=max_examples, trust_remote_code=trust_remote_code, progress=progress,
        )
        produced = reproduction_findings(card, reproduction, failures)
    report = audit_card(card, select=select, ignore=ignore, path=model.card_path, config=config,
                        produced=produced)
    if not model.local:
        report.path = repo
    report.reproduction = reproduction
    if write and reproduction is not None:
        write_reproduction(model, card, reproduction)
    return report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}" if abs(value) >= 1e-4 else f"{value:.3e}"


def reproduction_findings(
    card: Card,
    reproduction: Reproduction,
    failures: list[tuple[Claim, ReproducedMetric]],
) -> list[Finding]:
    """The ``loss-not-reproduced`` / ``metric-not-reproduced`` findings for a comparison's failures.

    ``failures`` is what :func:`compare` returns as its second item; ``reproduction`` names the data
    in the messages. Unfiltered and unsorted: the audit engine's policy (selection, ``[tool.cardsmith]``,
    inline suppressions) decides which are reported.
    """
    from cardsmith.audit.rules import finding

    out: list[Finding] = []
    for claim, metric in failures:
        name = "loss-not-reproduced" if claim.key == "loss" else "metric-not-reproduced"
        what = "evaluation loss" if claim.key == "loss" else claim.name
        message = (
            f"{claim.name} {claim.cell.text.strip()} ({claim.source}) is not reproduced: the rerun gives "
            f"{_fmt(metric.reproduced)} on {reproduction.dataset}"
            f"{'/' + reproduction.split if reproduction.split else ''} ({reproduction.examples} examples)"
        )
        if claim.key == "loss":
            message += f"; the {what} is computed as the Trainer does ({metric.note})"
        out.append(finding(name, message, _location(claim)))
    return out


def _reproduction(
    card: Card,
    data: EvalData,
    output: EvalOutput,
    *,
    eval_batch_size: int,
    num_labels: int,
    tolerance: float,
    dataset: str,
) -> tuple[Reproduction, list[tuple[Claim, ReproducedMetric]]]:
    """Compare the card's claims with an evaluation output; the ``Reproduction`` and the failures."""
    metrics, failures, averaging = compare(
        claimed_metrics(card), data, output, eval_batch_size=eval_batch_size,
        num_labels=num_labels, tolerance=tolerance,
    )
    reproduction = Reproduction(
        device=output.device,
        dataset=dataset,
        split=data.split,
        examples=output.examples,
        metrics=metrics,
        averaging=averaging,
        seconds=round(output.seconds, 3),
    )
    return reproduction, failures


def check_claims(
    card: Card,
    data: EvalData,
    output: EvalOutput,
    *,
    num_labels: int | None = None,
    batch_size: int | None = None,
    tolerance: float = TOLERANCE,
    dataset: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
) -> tuple[Reproduction, list[Finding]]:
    """Compare a card with an evaluation output that is already there (no model is loaded or run).

    The same comparison as ``verify --rerun``: :func:`claimed_metrics`, :func:`compare` at the card's
    ``eval_batch_size`` (else ``batch_size``, else the Trainer's default 8), then
    :func:`reproduction_findings`. ``num_labels`` defaults to the labels of ``data.id2name`` (else the
    largest label id seen, plus one); ``dataset`` (the name in messages) to ``data.name``.
    """
    if num_labels is None:
        if data.id2name:
            num_labels = max(data.id2name) + 1
        else:
            flat = [int(v) for v in (*output.predictions, *output.references)
                    if not isinstance(v, (list, tuple))]
            num_labels = max([1, *flat]) + 1
    eval_bs, _why = _eval_batch_size(card, batch_size)
    reproduction, failures = _reproduction(card, data, output, eval_batch_size=eval_bs, num_labels=num_labels,
                                           tolerance=tolerance, dataset=dataset or data.name)
    from cardsmith.audit.engine import Policy

    policy = Policy(card, select=select, ignore=ignore, config={})
    return reproduction, policy.apply(reproduction_findings(card, reproduction, failures), whole_audit=False)


def rerun_card(
    model: ResolvedModel,
    card: Card,
    *,
    dataset: str | None = None,
    dataset_config: str | None = None,
    split: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    device: str = "auto",
    dtype: str = "fp32",
    batch_size: int | None = None,
    max_examples: int | None = None,
    trust_remote_code: bool = False,
    progress: bool = True,
) -> tuple[Reproduction, list[tuple[Claim, ReproducedMetric]]]:
    """Re-evaluate the checkpoint on the card's (or the given) data and compare the claims."""
    from cardsmith.rerun.run import quiet_libraries, require_eval_extra, run_evaluation, task_of

    require_eval_extra()
    from cardsmith.rerun.data import load_split, prepare
    from cardsmith.rerun.resolve import check_remote_code, read_config

    config = read_config(model)
    check_remote_code(model, config, trust_remote_code=trust_remote_code)
    task = task_of(config)
    with quiet_libraries():
        ds, source = load_split(dataset, card=card, config=dataset_config, split=split)
        data = prepare(ds, source, task, config, text_column=text_column, label_column=label_column,
                       max_examples=max_examples)
        output = run_evaluation(model.path, data, device=device, dtype=dtype, batch_size=batch_size,
                                trust_remote_code=trust_remote_code, progress=progress)
    eval_bs, _why = _eval_batch_size(card, batch_size)
    tolerance = TOLERANCE if dtype == "fp32" else HALF_TOLERANCE
    from cardsmith.rerun.data import model_labels

    id2label, _ = model_labels(config)
    name = source.name + (f" ({source.config})" if source.config else "")
    return _reproduction(card, data, output, eval_batch_size=eval_bs, num_labels=max(id2label) + 1,
                         tolerance=tolerance, dataset=name)


# --------------------------------------------------------------------------------------------------
# --write
# --------------------------------------------------------------------------------------------------

_SECTION_RE = re.compile(r"^##\s+Reproduction\s*$", re.IGNORECASE)
_HEADING_RE = re.compile(r"^(#{1,6})\s")


def reproduction_section(reproduction: Reproduction, newline: str = "\n") -> str:
    """The ``## Reproduction`` section: where and how the numbers were re-run, and what came out."""
    split = f", split `{reproduction.split}`" if reproduction.split else ""
    lines = [
        "## Reproduction",
        "",
        f"Re-evaluated with `cardsmith verify --rerun` on `{reproduction.dataset}`{split} "
        f"({reproduction.examples} examples, device {reproduction.device}"
        + (f", {reproduction.seconds:.1f} s" if reproduction.seconds is not None else "")
        + ")"
        + (f"; precision/recall/F1 averaging: {reproduction.averaging}" if reproduction.averaging else "")
        + ".",
        "",
        "| Metric | Claimed | Reproduced | Match |",
        "|:-------|--------:|-----------:|:-----:|",
    ]
    for m in reproduction.metrics:
        claimed = "" if m.claimed is None else f"{m.claimed:g}"
        reproduced = "" if m.reproduced is None else f"{m.reproduced:.4f}"
        mark = "yes" if m.match else ("n/a" if m.reproduced is None else "no")
        lines.append(f"| {m.name} | {claimed} | {reproduced} | {mark} |")
    return newline.join(lines) + newline


def _replace_section(blocks: list[Any], section: str, newline: str) -> list[Any]:
    """Replace an existing ``## Reproduction`` section in the card's text blocks, or append one."""
    from cardsmith.card.model import Block

    out: list[Any] = []
    replaced = False
    skipping = False
    for block in blocks:
        if block.kind != "text":
            if skipping:
                skipping = False
            out.append(block)
            continue
        kept: list[str] = []
        for line in block.text.splitlines(keepends=True):
            bare = line.rstrip("\r\n")
            if not replaced and _SECTION_RE.match(bare):
                kept.append(section)
                replaced = True
                skipping = True
                continue
            if skipping:
                heading = _HEADING_RE.match(bare)
                if heading and len(heading.group(1)) <= 2:
                    skipping = False
                    kept.append(newline)
                else:
                    continue
            kept.append(line)
        if kept:
            out.append(block.model_copy(update={"text": "".join(kept)}))
    if not replaced:
        tail = out[-1].text if out and out[-1].kind == "text" else ""
        lead = "" if tail.endswith(newline * 2) else (newline if tail.endswith(newline) else newline * 2)
        out.append(Block(kind="text", text=lead + section))
    return out


def _update_model_index(card: Card, reproduction: Reproduction) -> None:
    """Write the reproduced values into ``model-index`` (creating the result when there is none)."""
    from cardsmith.card.model import IndexDataset, IndexMetric, IndexResult, ModelIndexEntry
    from cardsmith.rerun.metrics import canonical_metric

    reproduced = [m for m in reproduction.metrics if m.reproduced is not None]
    if not reproduced:
        return
    entries = card.metadata.model_index
    if not entries:
        entries = [ModelIndexEntry(name=card.title or "model", results=[])]
    entry = entries[0]
    if not entry.results:
        dataset_name = reproduction.dataset.split(" (", 1)[0]
        entry.results.append(IndexResult(
            dataset=IndexDataset(name=dataset_name, type=dataset_name, split=reproduction.split), metrics=[]
        ))
    result = entry.results[0]
    if result.dataset is not None and reproduction.split and not result.dataset.split:
        result.dataset.split = reproduction.split
    for m in reproduced:
        key = canonical_metric(m.name)
        target = None
        for existing in result.metrics:
            names = {canonical_metric(existing.name or ""), canonical_metric(existing.type or "")}
            if key is not None and key in names:
                target = existing
                break
        if target is None:
            if key == "loss":
                continue  # model-index lists metrics; the loss stays in the section
            result.metrics.append(IndexMetric(name=m.name, type=key or m.name, value=m.reproduced))
        else:
            target.value = m.reproduced
    card.metadata.model_index = entries  # the renderer folds the typed model-index back into the YAML


def write_reproduction(model: ResolvedModel, card: Card, reproduction: Reproduction) -> None:
    """Record the rerun in the card file (model-index values and a ``## Reproduction`` section), atomically."""
    from cardsmith.card.io import atomic_write_text
    from cardsmith.card.render import render_card

    _update_model_index(card, reproduction)
    card.blocks = _replace_section(card.blocks, reproduction_section(reproduction, card.newline), card.newline)
    atomic_write_text(model.card_path, render_card(card))
