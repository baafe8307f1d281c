"""CS16x: the front matter as huggingface_hub and the Hub read it (errors: the Hub drops what it cannot read)."""

from __future__ import annotations

from collections.abc import Iterator

from cardsmith.audit.registry import METADATA, MODEL_INDEX, AuditContext, Hit, place, rule

#: The keys this family looks at (``model-index`` and the keys the Hub reads).
_KEYS = ("model-index", "license", "datasets", "base_model", "pipeline_tag", "language")


@rule(
    "model-index-invalid",
    "CS160",
    "error",
    "`model-index` or other Hub metadata is not valid for huggingface_hub / the Hub",
)
def model_index_invalid(ctx: AuditContext) -> Iterator[Hit]:
    """
    What it does:
        Asks huggingface_hub itself: parses ``model-index`` with
        ``huggingface_hub.repocard_data.model_index_to_eval_results`` and ``ModelCardData`` (what
        ``huggingface_hub.ModelCard.load`` does), and checks ``license``, ``datasets``,
        ``base_model``, ``pipeline_tag`` and ``language`` against the types ``ModelCardData``
        declares.
    Why is this bad:
        ``huggingface_hub.ModelCard.load`` refuses the card ("Invalid model_index ... KeyError
        'task'"), the Hub drops its metadata, and the evaluation results never show on the model
        page or in leaderboards.
    Example:
        model-index:
        - name: my-model
          results:
          - dataset: {name: imdb, type: imdb}
            metrics: [{type: accuracy, value: 0.93}]
    """
    data = ctx.card.metadata.data
    if not data or not any(key in data for key in _KEYS):
        return
    from cardsmith.audit.hub_metadata import hub_metadata_problems

    for key, message in hub_metadata_problems(data):
        yield (
            message,
            place(section=MODEL_INDEX) if key == "model-index" else place(section=METADATA, column=key),
        )
