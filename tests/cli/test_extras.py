"""Without the eval extra (no torch/transformers), the light core still works and the heavy features
say which extra to install, as cardsmith's own error, never an ImportError traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from locations import REPO

ROOT = REPO
SEED = ROOT / "fixtures" / "seeds" / "seed-004-distilbert-base-uncased-finetuned-conll2003" / "README.md"

# A meta-path finder that makes torch and transformers look uninstalled in the child process.
_HIDE_EXTRAS = textwrap.dedent(
    """
    import sys

    class _NoExtras:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "transformers"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name.split(".")[0])
            return None

    sys.meta_path.insert(0, _NoExtras())
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _HIDE_EXTRAS + textwrap.dedent(code)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_card_callback_without_transformers_names_the_extra() -> None:
    proc = _run(
        """
        from cardsmith.errors import MissingExtraError
        try:
            from cardsmith import CardCallback
        except MissingExtraError as exc:
            print("missing:", exc)
        else:
            print("imported", CardCallback)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert 'missing: CardCallback needs transformers: pip install "cardsmith[eval]"' in proc.stdout


def test_light_core_audits_and_rerun_refuses_cleanly_without_torch(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "README.md").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (model / "config.json").write_text(
        '{"architectures": ["DistilBertForTokenClassification"], "model_type": "distilbert"}',
        encoding="utf-8",
    )
    (model / "model.safetensors").write_bytes(b"\x00" * 16)
    proc = _run(
        f"""
        import sys
        from cardsmith.cli.app import main
        print("audit", main(["audit", {str(SEED)!r}, "--format", "json"]))
        print("verify", main(["verify", {str(model)!r}, "--rerun"]))
        sys.stdout.flush()
        """
    )
    assert "Traceback" not in proc.stderr
    assert "audit 0" in proc.stdout
    assert "verify 2" in proc.stdout
    assert 'pip install "cardsmith[eval]"' in proc.stderr
