"""A model directory's files as a user's disk holds them: damaged weights are refused, not decoded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import codec_rt
from codec_rt.errors import ModelError
from codec_rt.model import CHECKSUMS, Model, check_checksums

MODELS = Path(codec_rt.__file__).parent / "models"


def test_every_shipped_and_retired_model_has_its_sums_and_matches_them() -> None:
    dirs = [d for d in [*MODELS.iterdir(), *(MODELS / "retired").iterdir()] if (d / "decoder.onnx").is_file()]
    assert len(dirs) > 5 and all((d / CHECKSUMS).is_file() for d in dirs)
    for d in dirs:
        check_checksums(d)


def test_damaged_weights_are_a_model_error_not_other_audio(tmp_path: Path) -> None:
    """Bytes flipped inside decoder.onnx's weights kept it a valid graph with the same metadata (model id
    included), so it decoded other audio with exit 0; the directory's SHA256SUMS now catches it."""
    copy = tmp_path / "rd12k"
    shutil.copytree(MODELS / "rd12k", copy)
    data = bytearray((copy / "decoder.onnx").read_bytes())
    for i in range(200_000, 200_400):
        data[i] ^= 0x5A
    (copy / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"decoder\.onnx is damaged: its SHA-256 is"):
        Model.load(copy)
    (copy / CHECKSUMS).unlink()  # a model exported before the sums were written loads as before
    assert Model.load(copy).model_id == Model.load(MODELS / "rd12k").model_id


@pytest.mark.parametrize("line", ["abc  decoder.onnx", "0" * 64 + "  ../rd3k/decoder.onnx"])
def test_a_sums_file_that_is_not_one_is_refused(tmp_path: Path, line: str) -> None:
    copy = tmp_path / "m"
    shutil.copytree(MODELS / "rd3k", copy)
    sums = (copy / CHECKSUMS).read_text()
    (copy / CHECKSUMS).write_text(sums + line + "\n")
    with pytest.raises(ModelError, match="not a SHA256SUMS line"):
        Model.load(copy)
    # cut after its first line, or emptied: it would check nothing of the decoder
    for cut in (sums.splitlines()[0] + "\n", ""):
        (copy / CHECKSUMS).write_text(cut)
        with pytest.raises(ModelError, match=r"does not list (en|de)coder\.onnx"):
            Model.load(copy)
