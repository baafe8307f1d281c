"""``CardCallback``: an accurate, audited model card at the end of ``Trainer.train()``.

Usage::

    from cardsmith import CardCallback
    trainer = Trainer(..., callbacks=[CardCallback()])
    trainer.train()          # writes output_dir/README.md, audits it, prints the findings

How it interacts with the Trainer's own card
--------------------------------------------
``Trainer.push_to_hub()`` calls ``Trainer.create_model_card()``, which *overwrites*
``output_dir/README.md`` with the Trainer's template (every filled-in section lost) right before
uploading the folder. No callback event fires between that write and the upload, so re-writing
afterwards is impossible. ``CardCallback`` therefore replaces ``create_model_card`` on the
trainer instance it is attached to: the replacement builds cardsmith's card (same keywords:
``language``, ``license``, ``tags``, ``model_name``, ``finetuned_from``, ``tasks``, ``dataset``),
merges it into the existing README.md (what a person wrote is kept), audits it, and — like the
Trainer — lets a PEFT model add its own metadata. The trainer is found when the Trainer calls the
callback's ``on_init_end`` (and, for callbacks added later with ``trainer.add_callback``, at
``on_train_begin``/``on_push_begin``), by looking up the calling ``Trainer`` on the stack; call
:meth:`CardCallback.attach` to do it explicitly.

Stored record
-------------
The callback is an ``ExportableState``: every ``trainer_state.json`` the Trainer saves holds the
callback's record (hyperparameters, base model, dataset, task) under ``stateful_callbacks``, so
:func:`cardsmith.train.record.card_from_output_dir` rebuilds the same card from a checkpoint without
unpickling ``training_args.bin``.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ExportableState

from cardsmith.audit.engine import audit_card
from cardsmith.card.model import Card
from cardsmith.card.parse import load_card
from cardsmith.errors import CardsmithError
from cardsmith.train.from_trainer import dataset_record, live_num_labels, record_from_training
from cardsmith.train.output_dir import RECORD_CALLBACK_NAME
from cardsmith.train.record import TrainingRecord, build_card, eval_key_order

_CARD_OPTIONS = ("language", "license", "tags", "model_name", "finetuned_from", "tasks", "dataset")


def _find_trainer(max_depth: int = 16) -> Trainer | None:
    """The ``Trainer`` whose method is calling us (``self`` of an enclosing frame), if any."""
    frame = inspect.currentframe()
    try:
        current = frame.f_back if frame is not None else None
        for _ in range(max_depth):
            if current is None:
                return None
            candidate = current.f_locals.get("self")
            if isinstance(candidate, Trainer):
                return candidate
            current = current.f_back
        return None
    finally:
        del frame


class CardCallback(TrainerCallback, ExportableState):
    """Write ``output_dir/README.md`` (or ``path``) at the end of training, audit it, print findings.

    Args:
        plot: also draw ``training_curves.png`` beside the card and link it (needs matplotlib).
        path: where to write the card (default ``args.output_dir/README.md``).
        audit: audit the card after writing it and print the findings (default ``True``).
        **card_options: ``language``, ``license``, ``tags``, ``model_name``, ``finetuned_from``,
            ``tasks``, ``dataset`` — as ``Trainer.create_model_card`` takes them.

    After training, ``card`` is the card written, ``report`` its audit and ``written`` the path.
    Runs on the main process only (``state.is_world_process_zero``).
    """

    def __init__(
        self, plot: bool = False, path: str | None = None, audit: bool = True, **card_options: Any
    ) -> None:
        unknown = set(card_options) - set(_CARD_OPTIONS)
        if unknown:
            raise TypeError(f"CardCallback got unknown option(s): {', '.join(sorted(unknown))}")
        self.plot = plot
        self.path = str(path) if path is not None else None
        self.audit = audit
        self.card_options = card_options
        self.record: dict[str, Any] | None = None
        self.card: Card | None = None
        self.report: Any = None
        self.written: Path | None = None
        self._trainer: Trainer | None = None
        self._train_ended = False
        self._eval_dataset: Any = None

    # -- ExportableState -------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Stored by the Trainer in ``trainer_state.json`` (``stateful_callbacks.CardCallback``)."""
        return {
            "args": {"plot": self.plot, "path": self.path, "audit": self.audit, **self.card_options},
            "attributes": {"record": self.record},
        }

    # -- wiring ----------------------------------------------------------------------------------

    def attach(self, trainer: Trainer) -> CardCallback:
        """Bind to ``trainer``: its ``create_model_card`` (run by ``push_to_hub``) writes this card."""
        if self._trainer is trainer:
            return self
        self._trainer = trainer
        if getattr(trainer, "_cardsmith_card_callback", None) is None:
            original = trainer.create_model_card
            callback = self

            def create_model_card(*args: Any, **kwargs: Any) -> None:
                """cardsmith's card instead of the Trainer's template (see cardsmith.train.callback)."""
                if args:
                    kwargs = {
                        **dict(
                            zip(
                                (
                                    "language",
                                    "license",
                                    "tags",
                                    "model_name",
                                    "finetuned_from",
                                    "tasks",
                                    "dataset_tags",
                                    "dataset",
                                    "dataset_args",
                                ),
                                args,
                            )
                        ),
                        **kwargs,
                    }
                if not trainer.is_world_process_zero():
                    return
                callback._write_from_trainer(trainer, **kwargs)
                callback._peft_update(trainer)

            trainer._cardsmith_original_create_model_card = original  # type: ignore[attr-defined]
            trainer.create_model_card = create_model_card  # type: ignore[method-assign]
            trainer._cardsmith_card_callback = self  # type: ignore[attr-defined]
        return self

    def _bind_from_stack(self) -> None:
        if self._trainer is None:
            trainer = _find_trainer()
            if trainer is not None:
                self.attach(trainer)

    # -- events ----------------------------------------------------------------------------------

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._bind_from_stack()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._bind_from_stack()
        self._train_ended = False
        self._remember(args, state, kwargs)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        loader = kwargs.get("eval_dataloader")
        if self._eval_dataset is None and loader is not None:
            self._eval_dataset = getattr(loader, "dataset", None)
        if self.record is not None and not self.record.get("eval_key_order"):
            # trainer_state.json sorts keys: keep the logging order in the stored record.
            self.record["eval_key_order"] = eval_key_order(list(state.log_history))
            if self.record.get("dataset") is None and self._eval_dataset is not None:
                found = dataset_record(self._eval_dataset)
                self.record["dataset"] = found.model_dump(mode="json") if found else None
            callbacks = getattr(state, "stateful_callbacks", None)
            if isinstance(callbacks, dict):
                callbacks[RECORD_CALLBACK_NAME] = self.state()
        if self._train_ended and state.is_world_process_zero:
            # trainer.evaluate() after training: the card reports this evaluation.
            self._safe_write(args, state, kwargs)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._train_ended = True
        if not state.is_world_process_zero:
            return
        self._safe_write(args, state, kwargs)

    def _safe_write(self, args: Any, state: Any, kwargs: dict[str, Any]) -> None:
        """Training is over: a card that cannot be written is reported, never a lost run."""
        try:
            self._write(args, state, kwargs)
        except CardsmithError as exc:
            print(f"cardsmith: could not write the model card: {exc}", file=sys.stderr)

    def on_push_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._bind_from_stack()

    # -- building and writing --------------------------------------------------------------------

    def _datasets(self, kwargs: dict[str, Any]) -> tuple[Any, Any]:
        trainer = self._trainer
        eval_ds = getattr(trainer, "eval_dataset", None) if trainer is not None else None
        if isinstance(eval_ds, dict):
            eval_ds = next(iter(eval_ds.values()), None)
        if eval_ds is None:
            eval_ds = self._eval_dataset
        train_ds = getattr(trainer, "train_dataset", None) if trainer is not None else None
        if train_ds is None:
            loader = kwargs.get("train_dataloader")
            train_ds = getattr(loader, "dataset", None) if loader is not None else None
        return eval_ds, train_ds

    def _build_record(
        self, args: Any, state: Any, kwargs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> TrainingRecord:
        eval_ds, train_ds = self._datasets(kwargs)
        model = kwargs.get("model")
        if model is None and self._trainer is not None:
            model = self._trainer.model
        optimizer = kwargs.get("optimizer")
        if optimizer is None and self._trainer is not None:
            optimizer = self._trainer.optimizer
        record = record_from_training(
            args,
            model,
            state=state,
            eval_dataset=eval_ds,
            train_dataset=train_ds,
            optimizer=optimizer,
            **{**self.card_options, **(options or {})},
        )
        if record.dataset is None and eval_ds is None and train_ds is not None:
            record.dataset = dataset_record(train_ds)
        return record

    def _remember(
        self, args: Any, state: Any, kwargs: dict[str, Any], record: TrainingRecord | None = None
    ) -> None:
        record = record or self._build_record(args, state, kwargs)
        self.record = record.model_dump(mode="json")
        callbacks = getattr(state, "stateful_callbacks", None)
        if isinstance(callbacks, dict):
            callbacks[RECORD_CALLBACK_NAME] = self.state()

    def _target(self, args: Any) -> Path:
        if self.path is not None:
            return Path(self.path)
        return Path(args.output_dir) / "README.md"

    def _write(
        self, args: Any, state: Any, kwargs: dict[str, Any], options: dict[str, Any] | None = None
    ) -> Path:
        from cardsmith.train.merge import write_card

        record = self._build_record(args, state, kwargs, options)
        self._remember(args, state, kwargs, record)
        card = build_card(record, state)
        self.written = write_card(
            card,
            self._target(args),
            plot=self.plot,
            state={
                "log_history": list(state.log_history),
                "best_global_step": getattr(state, "best_global_step", None),
                "best_model_checkpoint": getattr(state, "best_model_checkpoint", None),
            },
        )
        self.card = load_card(self.written)
        self.num_labels = live_num_labels(kwargs.get("model"))
        if self.audit:
            self._audit()
        return self.written

    def _write_from_trainer(self, trainer: Trainer, **kwargs: Any) -> Path:
        options = {k: v for k, v in kwargs.items() if k in _CARD_OPTIONS and v is not None}
        if "dataset" not in options and kwargs.get("dataset_tags"):
            options["dataset"] = kwargs["dataset_tags"]
        return self._write(trainer.args, trainer.state, {"model": trainer.model}, options)

    def _peft_update(self, trainer: Trainer) -> None:
        """What ``Trainer.create_model_card`` does for PEFT models after writing the card."""
        card = self.card
        if card is None or card.metadata.get("library_name") != "peft":
            return
        model = trainer.accelerator.unwrap_model(trainer.model)
        update = getattr(model, "create_or_update_model_card", None)
        if callable(update):
            update(trainer.args.output_dir)

    def _audit(self) -> None:
        card = self.card
        if card is None:
            return
        # config.json is not written yet when training ends: the live model knows its labels
        self.report = audit_card(card, path=self.written, num_labels=getattr(self, "num_labels", None))
        findings = list(getattr(self.report, "findings", []) or [])
        where = self.written or "model card"
        if not findings:
            print(f"cardsmith: {where}: no findings", file=sys.stderr)
            return
        for finding in findings:
            loc = finding.location
            parts = [p for p in (loc.section, f"row {loc.row}" if loc.row else None, loc.column) if p]
            at = f" [{', '.join(parts)}]" if parts else ""
            print(
                f"cardsmith: {where}: {finding.severity} {finding.name} ({finding.rule}): "
                f"{finding.message}{at}",
                file=sys.stderr,
            )
