"""Every model a release ever shipped keeps decoding its blobs, found by its id: the retired models of
models/ladder.json each have blobs in tests/data/retired/ that the release that shipped them wrote (whole and
framed, in the format version that release wrote, 1.1 to 1.7), and they decode to what that release decoded
(refinement, postfilter and high-pass off). None of them is ever picked to encode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from codec_rt import Codec, CodecError, blob, ladder

DATA = Path(__file__).parent / "data" / "retired"
BLOBS = sorted(DATA.glob("*.cra"))


def test_every_retired_model_has_blobs_of_its_release() -> None:
    assert {r.model_id for r in ladder.retired()} == {p.name.split("_")[0] for p in BLOBS}
    assert not {r.model_id for r in ladder.retired()} & {p.model_id for p in ladder.points()}


@pytest.mark.parametrize("path", BLOBS, ids=lambda p: p.stem)
def test_a_blob_of_a_retired_model_decodes_as_its_release_decoded_it(path: Path) -> None:
    data = path.read_bytes()
    codec = Codec.for_blob(data)  # found by id among the retired models
    assert codec.model_id == path.name.split("_")[0] == blob.read_header(data)[0].model_id
    y, sr = codec.decode(data, phase_iters=0, contrast=1.0, highpass=False)
    ref = np.load(path.with_suffix(".npy"))
    assert sr == 16000 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))
    y_default, _ = codec.decode(data)  # and with every default, as `codec-rt decode` does
    assert y_default.shape == ref.shape and np.all(np.isfinite(y_default))


def test_no_bitrate_picks_a_retired_model() -> None:
    retired = {r.path for r in ladder.retired()}
    for kbps in (1.0, 2.5, 3, 6, 9, 12, 16, 18, 24, 32, 1000):
        for low_latency in (False, True):
            try:
                assert ladder.select(kbps, low_latency) not in retired
            except CodecError as e:  # no point at or below this rate
                assert "no " in str(e)
