"""Units of the rerun task protocol and the single-pass tasks: no model is trained here."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from cardsmith.card.model import Cell
from cardsmith.errors import DatasetError
from cardsmith.rerun.claims import Claim, agrees, scale_of
from cardsmith.rerun.tasks.base import search


def claim(name: str, text: str, key: str) -> Claim:
    return Claim(name=name, cell=Cell.parse(text), source="headline", key=key)


def test_search_takes_the_first_candidate_that_reproduces_everything() -> None:
    claims = [claim("F1", "0.5000", "f1"), claim("Accuracy", "0.7000", "accuracy")]
    tried: list[str] = []

    def candidates():  # lazily consumed: nothing after the first complete candidate is computed
        for name, f1 in (("binary", 0.4), ("micro", 0.5), ("macro", 0.5), ("weighted", 0.1)):
            tried.append(name)
            yield {"averaging": name}, {"f1": f1, "accuracy": 0.7}

    settings, values, complete = search(claims, candidates(), 1e-4)
    assert settings == {"averaging": "micro"} and values["f1"] == 0.5 and complete
    assert tried == ["binary", "micro"]


def test_search_falls_back_to_the_closest_candidate() -> None:
    claims = [claim("F1", "0.5000", "f1"), claim("Precision", "0.6000", "precision")]
    candidates = [
        ({"averaging": "a"}, {"f1": 0.9, "precision": 0.9}),
        ({"averaging": "b"}, {"f1": 0.5, "precision": 0.61}),
    ]
    settings, _values, complete = search(claims, candidates, 1e-4)
    assert settings == {"averaging": "b"} and not complete


def test_error_rates_may_pass_one_on_either_scale() -> None:
    wer = claim("Wer", "1.0241", "wer")
    assert scale_of(wer, 1.0240963) == 1.0 and agrees(wer, 1.0240963, 1e-4)
    percent = claim("Wer", "102.41", "wer")
    assert scale_of(percent, 1.0240963) == 100.0 and agrees(percent, 1.0240963, 1e-4)
    small = claim("Wer", "21.69", "wer")
    assert scale_of(small, 0.2169) == 100.0 and not agrees(small, 0.2269, 1e-4)
    tiny = claim("Wer", "0.85", "wer")  # 0.85 %: a very good model, printed on the percent scale
    assert scale_of(tiny, 0.0085) == 100.0 and agrees(tiny, 0.0085, 1e-4) and not agrees(tiny, 0.0095, 1e-4)
    assert scale_of(tiny, 0.85) == 1.0 and scale_of(tiny) == 1.0
    accuracy = claim("Accuracy", "0.9126", "accuracy")
    assert scale_of(accuracy, 0.009126) == 1.0 and not agrees(accuracy, 0.009126, 1e-4)


def test_multi_hot_from_every_label_layout() -> None:
    from datasets import Dataset

    from cardsmith.rerun.tasks.multilabel import multi_hot

    config = {"id2label": {"0": "joy", "1": "anger", "2": "fear"}}
    dense = Dataset.from_dict({"text": ["a", "b"], "labels": [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]})
    ids = Dataset.from_dict({"text": ["a", "b"], "labels": [[0, 2], []]})
    names = Dataset.from_dict({"text": ["a", "b"], "labels": [["joy", "Fear"], []]})
    columns = Dataset.from_dict({"text": ["a", "b"], "joy": [1, 0], "anger": [0, 0], "fear": [1, 0]})
    expected = np.array([[1, 0, 1], [0, 0, 0]], dtype=np.float32)
    for ds in (dense, ids, names, columns):
        matrix, _origin = multi_hot(ds, config, None, "x")
        assert (matrix == expected).all()
    with pytest.raises(DatasetError, match="not one of the model's labels"):
        multi_hot(Dataset.from_dict({"text": ["a"], "labels": [["calm"]]}), config, None, "x")


def test_audio_is_read_without_torchcodec(tmp_path: Path) -> None:
    """Audio feature bytes, stereo mixed to mono, other rates resampled; undecodable bytes are one clear error."""
    import soundfile
    from datasets import Audio, Dataset

    from cardsmith.rerun.tasks.common import read_audio

    def wav(samples: np.ndarray, rate: int) -> bytes:
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
        return buffer.getvalue()

    mono = np.sin(np.arange(1600) / 10).astype("float32")
    stereo = np.stack([mono, -mono], axis=1)
    rows = [
        {"bytes": wav(mono, 16000), "path": "a.wav"},
        {"bytes": wav(stereo, 16000), "path": "b.wav"},
        {"bytes": wav(mono, 8000), "path": "c.wav"},
    ]
    ds = Dataset.from_dict({"audio": rows}).cast_column("audio", Audio(sampling_rate=16000))
    ds.save_to_disk(str(tmp_path / "ds"))
    from datasets import load_from_disk

    arrays, notes = read_audio(load_from_disk(str(tmp_path / "ds")), "audio", 16000, str(tmp_path / "ds"))
    assert np.allclose(arrays[0], mono, atol=1e-6)
    assert np.allclose(arrays[1], 0.0, atol=1e-6)  # (x + -x) / 2
    assert len(arrays[2]) == 3200  # 8 kHz -> 16 kHz
    assert any("mono" in n for n in notes) and any("resampled from 8000 Hz" in n for n in notes)
    broken = Dataset.from_dict({"audio": [{"bytes": b"not audio at all", "path": "x.mp4"}]})
    with pytest.raises(DatasetError, match="torchcodec"):
        read_audio(broken, "audio", 16000, "x")
