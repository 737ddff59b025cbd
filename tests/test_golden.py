"""Golden blobs of every format version keep decoding to their stored reference, forever.

They were written by scripts/make_golden.py with the tiny models in tests/data/: golden_model/ (fixed-width,
format 1.0) and golden_model_range/ (range-coded, format 1.1); from format 1.2 on, both in the framed layout;
from 1.3 on, also golden_model_context/ (range-coded with context tables, coder 2); from 1.9 on,
golden_model_causal/ (a causal model).

Re-encoding a golden's source gives its exact bytes only on the runtime that wrote it (data/golden_env.json,
see golden_env.py); everywhere else it gives the same header and the same codes up to rare one-code flips.
"""

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from golden_env import mismatches

from codec_rt import Codec, StreamEncoder, blob, entropy, packets
from codec_rt.config import Coder

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(DATA.glob("golden_v*.cra"))


def test_there_is_a_golden_blob_of_the_current_version() -> None:
    assert any(f"v{blob.MAJOR}_{blob.MINOR}_" in p.name for p in GOLDEN)


@cache
def golden_codecs() -> dict[str, Codec]:
    """The tiny golden models by model id, loaded once."""
    return {c.model_id: c for c in (Codec.load(d) for d in sorted(DATA.glob("golden_model*")))}


def golden_codec(data: bytes) -> Codec:
    """The tiny model that wrote golden blob `data`, found by the model id its header names."""
    header, _ = blob.read_header(data)
    return golden_codecs()[header.model_id]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_decodes_to_its_reference(path: Path) -> None:
    codec = golden_codec(path.read_bytes())
    y, sr = codec.decode(path.read_bytes(), phase_iters=0, contrast=1.0, highpass=False)
    ref = np.load(path.with_suffix(".npy"))
    assert sr == 16000 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))


def reencode(path: Path) -> tuple[Codec, bytes]:
    """The golden model and its encoding, today, of the golden's source (the second second of the test speech;
    stereo goldens: with -0.5 times it on the right, scripts/make_golden.py), in the golden's mode, stored
    bins and bits (the encoder's defaults may move: 1.9's causal golden has 8 bins, codec-rt now codes 7)
    and layout (framed: as a live stream), with the gain applied stored (`level_match=False`, as
    scripts/make_golden.py writes them: the level match moves the gains alone, tests/test_level_match.py)
    and max-norm scales (`fitted_scales=False`: the fitted ones move the fixed width's scales and codes alone,
    tests/test_quantize.py)."""
    import soundfile as sf

    codec = golden_codec(path.read_bytes())
    header, _ = packets.read(path.read_bytes())
    if header.minor != newest_minor(header.mode_name, bool(header.track_frames)):
        pytest.skip("written by an older minor version; only decoding is promised")
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    src = np.ascontiguousarray(x[16000:32000].T)
    src = src if header.channels == 1 else np.concatenate([src, -0.5 * src])
    if header.mode_name == "tonal_band_phase" or header.track_frames:  # make_golden.py's TONES: a chord
        t = np.arange(src.shape[1]) / sr
        src = src + (0.45 * np.sin(2 * np.pi * 440.0 * t) + 0.45 * np.sin(2 * np.pi * 554.37 * t)).astype(np.float32)
    stored = {"phase_bins": header.phase_bins or None, "phase_bits": header.phase_bits or None}
    if header.framed:  # written as a live stream writes it: each packet's own gain (FORMAT.md 7.6)
        enc = StreamEncoder(codec, sr, header.channels, mode=header.mode_name, packet_steps=header.packet_steps,
                            joint_stereo=bool(header.stereo), level_match=False, fitted_scales=False,
                            tracks=bool(header.track_frames), **stored)
        data = enc.push(src) + enc.flush()
    else:
        data = codec.encode(src, sr, mode=header.mode_name, joint_stereo=bool(header.stereo), level_match=False,
                            fitted_scales=False, tracks=bool(header.track_frames), **stored)
    return codec, data


def newest_minor(mode: str, tracks: bool = False) -> int:
    """The newest minor of the goldens of `mode` (with sinusoidal tracks or without): a writer writes the
    oldest minor that holds a blob, so 1.8 (mode low_band_phase) left the other modes' newest at 1.7, and
    1.12 (tracks) left blobs without tracks where they were."""
    return max(int(p.name.split("_")[2]) for p in GOLDEN
               if p.stem.endswith("_" + mode) and ("_tracks_" in p.name) == tracks)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_reencodes_to_the_same_bytes(path: Path) -> None:
    _, data = reencode(path)
    if differences := mismatches():
        pytest.skip("byte-exact only where the goldens were written: " + "; ".join(differences))
    assert data == path.read_bytes()


def contents(data: bytes, codec: Codec) -> tuple[blob.BlobHeader, npt.NDArray[np.float64], npt.NDArray[np.int64],
                                                  npt.NDArray[np.int64]]:
    """A blob's header, gains and scales, latent codes (coder 0) or symbols (range coders), and phase codes."""
    header, pkts = packets.read_packets(data)
    floats, latent, phase = [], [], []
    for packet in pkts:
        for ch in packet.channels:
            floats += [ch.gain, *ch.scales]
            if header.coder == Coder.FIXED:
                assert ch.codes is not None
                latent.append(ch.codes.ravel())
            else:
                assert codec.model.entropy is not None
                latent.append(entropy.decode(ch.coded, codec.model.entropy, packet.steps).ravel())
            if ch.phase_codes is not None:
                phase.append(ch.phase_codes.ravel())
    ints = [np.concatenate(a).astype(np.int64) if a else np.zeros(0, np.int64) for a in (latent, phase)]
    return header, np.array(floats, np.float64), ints[0], ints[1]


def assert_rare_flips(got: npt.NDArray[np.int64], ref: npt.NDArray[np.int64], modulo: int = 0) -> None:
    """At most one value in 1000 (at least one) differs, each by one code (around the circle for phase codes)."""
    assert got.shape == ref.shape
    diff = np.abs(got - ref)
    if modulo:
        diff = np.minimum(diff, modulo - diff)
    assert diff.max(initial=0) <= 1, f"a code moved by {diff.max()}"
    assert np.count_nonzero(diff) <= max(1, ref.size // 1000), f"{np.count_nonzero(diff)} of {ref.size} codes moved"


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_reencodes_to_the_same_codes_up_to_rounding_flips(path: Path) -> None:
    """On any supported runtime and CPU: a value exactly on a rounding boundary may land on either side."""
    codec, data = reencode(path)
    header, floats, latent, phase = contents(data, codec)
    ref_header, ref_floats, ref_latent, ref_phase = contents(path.read_bytes(), codec)
    assert header == ref_header
    np.testing.assert_allclose(floats, ref_floats, rtol=1e-4)  # gains and coder 0's scales
    assert latent.size > 0
    assert_rare_flips(latent, ref_latent)
    assert_rare_flips(phase, ref_phase, modulo=1 << header.phase_bits)


@pytest.mark.parametrize("path", [p for p in GOLDEN if blob.read_header(p.read_bytes())[0].framed],
                         ids=lambda p: p.stem)
def test_golden_framed_blob_streams_to_its_reference(path: Path) -> None:
    """A stream decoder fed the golden bytes a few at a time gives the reference too."""
    from codec_rt import StreamDecoder

    data = path.read_bytes()
    dec = StreamDecoder(golden_codec(data), phase_iters=0, contrast=1.0, highpass=False)
    y = np.concatenate([dec.push(data[i : i + 777]) for i in range(0, len(data), 777)] + [dec.flush()], axis=1)
    ref = np.load(path.with_suffix(".npy"))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))
