"""Resolve a model: a local folder, or a Hub repository through ``huggingface_hub``.

Only what an evaluation needs is fetched (``snapshot_download`` with ``allow_patterns``): the card,
the config, the tokenizer files and the safetensors weights. The local cache (``HF_HUB_CACHE`` /
``HF_HOME``) and ``HF_HUB_OFFLINE=1`` are respected; both are read when a model is resolved, not at
import time. Pickle weights (``*.bin``) are never downloaded nor loaded, and repository code
(``auto_map``) is never imported unless the caller allows it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardsmith.errors import CardsmithError, ResolveError, UntrustedInputError

#: The card alone (an audit without a rerun).
CARD_PATTERNS: list[str] = ["README.md", "config.json"]
#: Everything an evaluation may read: card, configs, tokenizer files, safetensors weights.
EVAL_PATTERNS: list[str] = [
    "README.md",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "*.model",
    "*.tiktoken",
    "preprocessor_config.json",
    "processor_config.json",
    "*.safetensors",
    "*.safetensors.index.json",
]
#: Extra files fetched only with ``--trust-remote-code``.
REMOTE_CODE_PATTERNS: list[str] = ["*.py"]

#: File names that hold pickled weights: never loaded.
PICKLE_SUFFIXES: tuple[str, ...] = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")

_TRUE = {"1", "on", "yes", "true"}


@dataclass
class ResolvedModel:
    """Where a model's files are on disk, and where they came from."""

    path: Path
    repo_id: str | None = None
    revision: str | None = None
    commit: str | None = None
    local: bool = True
    files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """How reports name the model: the repo id, or the folder."""
        return self.repo_id or str(self.path)

    @property
    def card_path(self) -> Path:
        return self.path / "README.md"


def is_offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as set now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().lower() in _TRUE


def hub_cache_dir() -> str | None:
    """The Hub cache folder as the environment says now (``HF_HUB_CACHE``, else ``HF_HOME/hub``)."""
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if cache:
        return os.path.expanduser(cache)
    home = os.environ.get("HF_HOME")
    if home:
        return os.path.join(os.path.expanduser(home), "hub")
    return None


def resolve_model(
    repo: str,
    *,
    revision: str | None = None,
    weights: bool = True,
    trust_remote_code: bool = False,
) -> ResolvedModel:
    """Find a model's files: ``repo`` is a local folder or a Hub repo id.

    ``weights=False`` fetches only the card and config (an audit); ``weights=True`` fetches what an
    evaluation needs and checks that safetensors weights are there. Raises :class:`ResolveError`
    for a missing folder, repository or revision, and :class:`UntrustedInputError` for a repository
    whose only weights are pickles.
    """
    local = Path(repo).expanduser()
    if local.is_dir():
        if revision:
            raise ResolveError(f"--revision applies to Hub repositories; {repo} is a local folder")
        resolved = ResolvedModel(path=local.resolve(), local=True, files=_list_files(local))
        if weights:  # transformers reads whatever the folder holds: no file of it may lead elsewhere
            from cardsmith.card.io import check_within

            for rel in resolved.files:
                check_within(local / rel, local)
    elif local.exists():
        raise ResolveError(f"{repo} is a file; give a model folder or a Hub repo id")
    else:
        resolved = _resolve_hub(repo, revision=revision, weights=weights, trust_remote_code=trust_remote_code)
    if weights:
        check_weights(resolved)
    return resolved


def _list_files(folder: Path) -> list[str]:
    out: list[str] = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(folder).parts:
            out.append(path.relative_to(folder).as_posix())
    return out


def _resolve_hub(repo: str, *, revision: str | None, weights: bool, trust_remote_code: bool) -> ResolvedModel:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError:
        raise ResolveError(f"{repo}: no such folder, and not a valid Hub repo id") from None

    patterns = list(EVAL_PATTERNS if weights else CARD_PATTERNS)
    if trust_remote_code and weights:
        patterns += REMOTE_CODE_PATTERNS
    offline = is_offline()
    where = f"{repo}" + (f" at revision {revision}" if revision else "")
    try:
        folder = snapshot_download(
            repo,
            revision=revision,
            cache_dir=hub_cache_dir(),
            allow_patterns=patterns,
            local_files_only=offline,
        )
    except RevisionNotFoundError:
        raise ResolveError(f"{repo}: revision {revision!r} not found on the Hub") from None
    except GatedRepoError:
        raise ResolveError(f"{repo}: gated repository; log in (hf auth login) with access to it") from None
    except RepositoryNotFoundError:
        raise ResolveError(
            f"{repo}: no such local folder, and no such repository on the Hub (or it is private)"
        ) from None
    except LocalEntryNotFoundError:
        how = "HF_HUB_OFFLINE is set" if offline else "the Hub could not be reached"
        raise ResolveError(f"{where}: no such local folder, not in the local Hub cache, and {how}") from None
    except (OSError, ValueError) as exc:
        raise ResolveError(f"{where}: cannot be downloaded ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # noqa: BLE001 - HTTP errors of every kind: one clear line
        raise ResolveError(
            f"{where}: cannot be downloaded ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    path = Path(folder)
    return ResolvedModel(
        path=path,
        repo_id=repo,
        revision=revision,
        commit=path.name,
        local=False,
        files=_hub_files(repo, path.name, path, offline=offline),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _hub_files(repo: str, commit: str, snapshot: Path, *, offline: bool) -> list[str]:
    """The repository's file list: from the Hub when reachable, else what the cache holds."""
    if not offline:
        try:
            from huggingface_hub import HfApi

            return sorted(HfApi().list_repo_files(repo, revision=commit))
        except Exception:  # noqa: BLE001 - unreachable Hub: the cache's view is what there is
            return _list_files(snapshot)
    return _list_files(snapshot)


def check_weights(model: ResolvedModel) -> None:
    """Refuse a model without safetensors weights; name pickle-only repositories as such."""
    if any(model.path.glob("*.safetensors")):
        return
    names = model.files or _list_files(model.path)
    if any(n.lower().endswith(PICKLE_SUFFIXES) for n in names):
        raise UntrustedInputError(
            f"{model.name}: only pickle weights (.bin); cardsmith loads safetensors only"
        )
    raise ResolveError(f"{model.name}: no model weights (*.safetensors) found")


#: Largest config.json / tokenizer_config.json read (real ones are a few KiB; id2label of a big
#: classifier a few hundred KiB).
MAX_CONFIG_JSON_BYTES = 16 * 1024 * 1024


def read_config(model: ResolvedModel) -> dict[str, Any]:
    """``config.json`` as a dict (read as plain JSON: nothing is imported)."""
    path = model.path / "config.json"
    if not path.is_file():
        raise ResolveError(f"{model.name}: no config.json")
    from cardsmith.card.io import read_json

    try:  # bounded size and nesting, a regular file, no link out of the model's folder
        data = read_json(path, limit=MAX_CONFIG_JSON_BYTES, within=model.path)
    except CardsmithError as exc:
        raise ResolveError(f"{model.name}: config.json cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ResolveError(f"{model.name}: config.json is not a JSON object")
    check_config_bounds(model.name, data)
    return data


#: Sane limits on sizes a config.json asks for, checked before anything is allocated: transformers
#: builds ``id2label`` for ``num_labels`` and sizes the embedding from ``vocab_size``.
MAX_LABELS = 100_000
MAX_VOCAB = 10_000_000
MAX_DIMENSION = 1_000_000


def check_config_bounds(name: str, config: dict[str, Any]) -> None:
    """Refuse a config.json whose sizes would exhaust memory (``num_labels: 1000000000``)."""
    limits = {
        "num_labels": MAX_LABELS,
        "vocab_size": MAX_VOCAB,
        "hidden_size": MAX_DIMENSION,
        "intermediate_size": MAX_DIMENSION,
        "max_position_embeddings": MAX_DIMENSION * 10,
        "num_hidden_layers": 10_000,
        "num_attention_heads": 100_000,
    }
    for key, limit in limits.items():
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value > limit or value < 0:
            raise ResolveError(
                f"{name}: config.json asks for {key} = {value:,}, beyond the sane limit of {limit:,}; not loaded"
            )
    for key in ("id2label", "label2id"):
        labels = config.get(key)
        if isinstance(labels, (dict, list)) and len(labels) > MAX_LABELS:
            raise ResolveError(
                f"{name}: config.json has {len(labels):,} {key} entries (limit {MAX_LABELS:,})"
            )


def check_remote_code(model: ResolvedModel, config: dict[str, Any], *, trust_remote_code: bool) -> None:
    """Refuse a repository that needs its own code (``auto_map``, unknown architectures) unless trusted.

    Reads ``config.json`` and ``tokenizer_config.json`` as JSON only; no repository file is imported.
    """
    if trust_remote_code:
        return
    reasons: list[str] = []
    if config.get("auto_map"):
        reasons.append("config.json has auto_map")
    tok_path = model.path / "tokenizer_config.json"
    if tok_path.is_file():
        from cardsmith.card.io import read_json

        try:
            tok = read_json(tok_path, limit=MAX_CONFIG_JSON_BYTES, within=model.path)
        except CardsmithError:
            tok = {}
        if isinstance(tok, dict) and tok.get("auto_map"):
            reasons.append("tokenizer_config.json has auto_map")
    if not reasons:
        model_type = config.get("model_type")
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

        if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING_NAMES:
            reasons.append(f"model_type {model_type!r} is not one transformers knows")
    if reasons:
        raise UntrustedInputError(
            f"{model.name}: the model needs its repository's own code ({'; '.join(reasons)}); "
            "cardsmith does not run it without --trust-remote-code"
        )
