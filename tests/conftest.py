from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def speech() -> tuple[np.ndarray, int]:
    """Real speech (asterisk fr_CA_f_June, the held-out development voice), `[1, N] float32` at 16 kHz."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


@pytest.fixture(scope="session")
def music() -> tuple[np.ndarray, int]:
    """Real music (Wesnoth soundtrack excerpt), stereo 44.1 kHz, `[2, N] float32`."""
    x, sr = sf.read(DATA / "music_44k_stereo.ogg", dtype="float32", always_2d=True)
    return np.ascontiguousarray(x.T), sr


@pytest.fixture(scope="session")
def codec():  # type: ignore[no-untyped-def]
    """The fixed-width 32 kbps model (the one with `bits`); the ladder's points have tests/test_ladder.py."""
    from codec_rt import Codec
    from codec_rt.ladder import FIXED_MODEL_DIR

    return Codec.load(FIXED_MODEL_DIR)
