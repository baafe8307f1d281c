"""``cardsmith verify``: resolve a model, audit its card, and with ``rerun`` reproduce its numbers.

The orchestration only: :mod:`cardsmith.rerun.resolve` finds the model (a folder or the Hub cache),
:mod:`cardsmith.rerun.data` loads the evaluation split, :mod:`cardsmith.rerun.tasks` runs the task,
:mod:`cardsmith.rerun.claims` compares every claim within its printed rounding, the audit engine's
policy decides what is reported, and :mod:`cardsmith.rerun.write` records what was proved (``--write``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cardsmith.audit.findings import Finding
from cardsmith.audit.report import AuditReport, ReproducedMetric, Reproduction
from cardsmith.card.model import Card
from cardsmith.errors import ConfigError, DatasetError, ResolveError, UntrustedInputError, WriteRefusedError
from cardsmith.rerun.claims import (
    HALF_TOLERANCE,
    TOLERANCE,
    Claim,
    eval_batch_size,
    reproduce,
)
from cardsmith.rerun.findings import reproduction_findings
from cardsmith.rerun.options import RerunOptions
from cardsmith.rerun.write import SUBSET_NOTE, write_refusal, write_reproduction

if TYPE_CHECKING:  # pragma: no cover
    from cardsmith.rerun.resolve import ResolvedModel


def _load_card(model: ResolvedModel) -> Card:
    from cardsmith.card.parse import load_card

    path = model.card_path
    if not path.is_file():
        raise ResolveError(f"{model.name}: no README.md (model card)")
    return load_card(path.parent)  # the folder's card: a README.md linking out of it is refused


def verify_repo(
    repo: str,
    *,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
    revision: str | None = None,
    rerun: RerunOptions | None = None,
    write: bool = False,
    trust_remote_code: bool = False,
) -> AuditReport:
    """Audit ``repo``'s card; with ``rerun`` (its options), re-evaluate the checkpoint and compare
    every claim.

    ``repo`` is a local folder or a Hub repo id (``revision`` for the latter). ``write`` (local
    folders only, with ``rerun``) records the reproduced results in the card, atomically.
    """
    from cardsmith.audit.engine import audit_card, resolve
    from cardsmith.rerun.resolve import resolve_model

    resolve(select)  # an unknown rule name fails before anything is loaded
    resolve(ignore)
    if write and rerun is None:
        raise ConfigError("--write records a rerun's results; add --rerun")
    model = resolve_model(
        repo, revision=revision, weights=rerun is not None, trust_remote_code=trust_remote_code
    )
    if write and not model.local:
        raise ConfigError("--write needs a local model folder (the Hub cache is not edited); clone the repo")
    if write and model.card_path.is_symlink():
        raise UntrustedInputError(
            f"{model.card_path} is a symbolic link; --write does not write through links (nothing was run)"
        )
    card = _load_card(model)
    # A Hub snapshot: no [tool.cardsmith] lookup above the cache; it is reported by its repo id.
    config = None if model.local else {}
    produced: list[Finding] = []
    reproduction = None
    failures: list[tuple[Claim, ReproducedMetric]] = []
    if rerun is not None and not rerun.dataset:
        from cardsmith.rerun.data import card_dataset

        if card_dataset(card) is None:  # said before torch and the model are loaded
            raise DatasetError(
                "the card names no evaluation dataset (no model-index dataset, no datasets metadata); "
                "pass --dataset"
            )
    if rerun is not None:
        reproduction, failures = rerun_card(model, card, rerun, trust_remote_code=trust_remote_code)
        produced = reproduction_findings(card, reproduction, failures)
    report = audit_card(
        card, select=select, ignore=ignore, path=model.card_path, config=config, produced=produced
    )
    if not model.local:
        report.path = repo
    report.reproduction = reproduction
    if write and rerun is not None and reproduction is not None:
        refusal = write_refusal(reproduction, failures)
        if refusal is not None:
            raise WriteRefusedError(f"--write refused, the card is unchanged: {refusal}", report=report)
        write_reproduction(
            model, card, reproduction, dataset=rerun.dataset, dataset_config=rerun.dataset_config
        )
    return report


def rerun_card(
    model: ResolvedModel,
    card: Card,
    options: RerunOptions,
    *,
    trust_remote_code: bool = False,
) -> tuple[Reproduction, list[tuple[Claim, ReproducedMetric]]]:
    """Re-evaluate the checkpoint on the card's (or the given) data and compare the claims.

    The task is ``task`` (a ``--task`` name), else inferred from ``config.json`` and the card
    (:func:`cardsmith.rerun.tasks.infer_task`); it runs through the task protocol of
    :mod:`cardsmith.rerun.tasks.base`.
    """
    from cardsmith.rerun.run import quiet_libraries, require_eval_extra

    require_eval_extra()
    from cardsmith.errors import DatasetError
    from cardsmith.rerun.claims import claimed_metrics
    from cardsmith.rerun.data import load_split
    from cardsmith.rerun.resolve import check_remote_code, read_config
    from cardsmith.rerun.tasks import architecture, get_task, infer_task
    from cardsmith.rerun.tasks.base import TaskContext

    config = read_config(model)
    check_remote_code(model, config, trust_remote_code=trust_remote_code)
    runner = get_task(options.task or infer_task(config, card), model=architecture(config))
    eval_bs, _why = eval_batch_size(card, options.batch_size)
    tolerance = TOLERANCE if options.dtype == "fp32" else HALF_TOLERANCE
    with quiet_libraries():
        ds, source = load_split(
            options.dataset, card=card, config=options.dataset_config, split=options.split
        )
        full = len(ds)
        if options.max_examples is not None and options.max_examples < len(ds):
            ds = ds.select(range(options.max_examples))
        if len(ds) == 0:
            raise DatasetError(f"{source.name}: the evaluation split is empty")
        ctx = TaskContext(
            model_path=model.path,
            config=config,
            card=card,
            claims=claimed_metrics(card),
            dataset=ds,
            source=source,
            eval_batch_size=eval_bs,
            device=options.device,
            dtype=options.dtype,
            batch_size=options.batch_size,
            tolerance=tolerance,
            columns=options.columns,
            trust_remote_code=trust_remote_code,
            progress=options.progress,
        )
        result = runner.run(ctx)
    name = source.name + (f" ({source.config})" if source.config else "")
    reproduction, failures = reproduce(
        card, result, task=runner.name, tolerance=tolerance, dataset=name, split=source.split
    )
    if full > result.examples:
        # A subset's numbers are not the card's: shown, never compared (no finding, no --write).
        note = f"{SUBSET_NOTE} ({result.examples} of {full} examples): not compared with the card"
        reproduction.metrics = [
            m.model_copy(update={"match": False, "note": note}) for m in reproduction.metrics
        ]
        failures = []
    return reproduction, failures
