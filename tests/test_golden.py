"""Golden blobs of every format version keep decoding to their stored reference, forever.

They were written by scripts/make_golden.py with the tiny models in tests/data/: golden_model/ (fixed-width,
format 1.0) and golden_model_range/ (range-coded, format 1.1); from format 1.2 on, both in the framed layout;
from 1.3 on, also golden_model_context/ (range-coded with context tables, coder 2).
"""

from pathlib import Path

import numpy as np
import pytest

from codec_rt import Codec, blob, packets
from codec_rt.config import Coder

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(DATA.glob("golden_v*.cra"))


def test_there_is_a_golden_blob_of_the_current_version() -> None:
    assert any(f"v{blob.MAJOR}_{blob.MINOR}_" in p.name for p in GOLDEN)


def golden_codec(data: bytes) -> Codec:
    header, _ = blob.read_header(data)
    dirs = {Coder.FIXED: "golden_model", Coder.RANGE: "golden_model_range",
            Coder.CONTEXT: "golden_model_context"}
    return Codec.load(DATA / dirs[header.coder])


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_decodes_to_its_reference(path: Path) -> None:
    codec = golden_codec(path.read_bytes())
    y, sr = codec.decode(path.read_bytes(), phase_iters=0, contrast=1.0)
    ref = np.load(path.with_suffix(".npy"))
    assert sr == 16000 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_reencodes_to_the_same_bytes(path: Path) -> None:
    import soundfile as sf

    codec = golden_codec(path.read_bytes())
    header, _ = packets.read(path.read_bytes())
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    if header.minor != blob.MINOR:
        pytest.skip("written by an older minor version; only decoding is promised")
    framing = {"framed": True, "packet_steps": header.packet_steps} if header.framed else {}
    data = codec.encode(np.ascontiguousarray(x[16000:32000].T), sr, mode=header.mode_name, **framing)
    assert data == path.read_bytes()


@pytest.mark.parametrize("path", [p for p in GOLDEN if blob.read_header(p.read_bytes())[0].framed],
                         ids=lambda p: p.stem)
def test_golden_framed_blob_streams_to_its_reference(path: Path) -> None:
    """A stream decoder fed the golden bytes a few at a time gives the reference too."""
    from codec_rt import StreamDecoder

    data = path.read_bytes()
    dec = StreamDecoder(golden_codec(data), phase_iters=0, contrast=1.0)
    y = np.concatenate([dec.push(data[i : i + 777]) for i in range(0, len(data), 777)] + [dec.flush()], axis=1)
    ref = np.load(path.with_suffix(".npy"))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))
