"""docs/FORMAT.md is enough to decode codec-rt's blobs: `spec_reader`, written from its text alone (NumPy,
zlib, json, onnxruntime for the decoder graph; no constriction, no codec-rt code), reads every golden blob
(all versions, coders, layouts and modes) and blobs of every shipped model exactly as codec-rt does: header,
stream lengths, CRCs, symbols (range-decoded with the spec's arithmetic, and re-encoded to the same bytes),
codes, scales, gains and stored phase. Decoded to audio by section 6, they match codec-rt's decoder within
the tolerances of section 10. `ref_read` is the one place that calls codec-rt's reader.
"""

from __future__ import annotations

import re
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from spec_reader.audio import decode_audio, features, lsd, postfilter, power
from spec_reader.container import SpecError, check_against_model, read_blob
from spec_reader.model import load_model
from spec_reader.rangecoder import range_decode, range_encode

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
DOC = REPO / "docs" / "FORMAT.md"
GOLDEN = sorted(DATA.glob("golden_v*.cra"))
SHIPPED = sorted(p.parent for p in (REPO / "runtime" / "codec_rt" / "models").glob("*/decoder.onnx"))


def ref_read(data: bytes, model_dir: Path) -> tuple[dict[str, Any], list[list[tuple[Any, ...]]]]:
    """codec-rt's header and, per packet and channel,
    (gain, symbols or codes, scales, phase codes)."""
    from codec_rt import entropy, packets
    from codec_rt.model import Model

    header, pkts = packets.read_packets(data)
    tables = Model.load(model_dir).entropy
    out = []
    for p in pkts:
        chans = []
        for ch in p.channels:
            latent = entropy.decode(ch.coded, tables, p.steps) if tables is not None else ch.codes
            chans.append((ch.gain, latent, ch.scales, ch.phase_codes))
        out.append(chans)
    return header.to_dict(), out


def assert_matches_codec_rt(data: bytes, model_dir: Path) -> dict[str, Any]:
    """The spec reader's header, symbols, codes, scales, gains and phase codes equal codec-rt's, and the
    spec's range encoder rewrites every section's bytes exactly. Returns the header."""
    m = load_model(model_dir)
    h, packets = read_blob(data)
    check_against_model(h, m)
    ref_h, ref_packets = ref_read(data, model_dir)
    for key in ("mode", "bits", "phase_bits", "coder", "sample_rate", "channels", "latent_channels", "latent_bins",
                "n_bins", "num_samples", "n_frames", "latent_steps", "model_id", "minor", "layout", "time_stride",
                "packet_steps", "pre_skip"):
        assert h[key] == ref_h[key], key
    assert len(packets) == len(ref_packets) == -(-h["latent_steps"] // (h["packet_steps"] or h["latent_steps"]))
    for pk, ref_pk in zip(packets, ref_packets, strict=True):
        for sec, (gain, latent, scales, phase) in zip(pk.sections, ref_pk, strict=True):
            assert sec.gain == gain
            if h["coder"]:
                v = range_decode(sec.coded, m, pk.steps)
                np.testing.assert_array_equal(v, latent)
                assert range_encode(v, m) == sec.coded
            else:
                np.testing.assert_array_equal(sec.codes, latent)
                np.testing.assert_array_equal(sec.scales, scales)
            if h["mode"] == 1:
                np.testing.assert_array_equal(sec.phase, phase)
    return h


# ---------------------------------------------------------------------------------------------- tests


def doc_golden_headers() -> dict[str, bytes]:
    """Section 9's hex dumps: file name -> the bytes shown (64; 80 in 1.5, 96 from 1.6 on)."""
    text = DOC.read_text()
    block = text[text.index("## 9 Golden header bytes") : text.index("## 10 Conformance")]
    out: dict[str, bytes] = {}
    name = ""
    for line in block.splitlines():
        if mt := re.match(r"(golden_v\S+\.cra):", line):
            name, out[mt[1]] = mt[1], b""
        elif mt := re.match(r"\d{4}: ((?:[0-9a-f]{2} ?){16})$", line):
            out[name] += bytes.fromhex(mt[1])
    return out


def test_the_doc_shows_the_golden_header_bytes_of_every_version() -> None:
    shown = doc_golden_headers()
    assert {int(re.match(r"golden_v1_(\d+)_", n)[1]) for n in shown} == set(range(13))  # type: ignore[index]
    for name, head in shown.items():
        assert len(head) in (64, 80, 96, 112, 128) and (DATA / name).read_bytes()[: len(head)] == head, name


@cache
def golden_model_dirs() -> dict[str, Path]:
    """The tiny models of tests/data/ by model id, read once."""
    return {load_model(d).model_id: d for d in sorted(DATA.glob("golden_model*"))}


def golden_model_dir(data: bytes) -> Path:
    """The tiny model of tests/data/ that wrote golden blob `data`: the one of its model id (4.1)."""
    return golden_model_dirs()[read_blob(data)[0]["model_id"]]


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_reads_as_codec_rt_reads_it(path: Path) -> None:
    data = path.read_bytes()
    h = assert_matches_codec_rt(data, golden_model_dir(data))
    # the speech with -0.5 times it on the right, as mid and side (1.4 on; the causal pair one by one, 1.9)
    stereo = "_stereo_" in path.name
    mid_side = stereo and "_causal_" not in path.name
    assert (h["num_samples"], h["sample_rate"], h["channels"], h["stereo"]) == (16000, 16000, 1 + stereo, mid_side)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_blob_decodes_to_its_reference_audio(path: Path) -> None:
    """Section 6 with refinement, postfilter and high-pass off (how the references were made), within section
    10."""
    data = path.read_bytes()
    y = decode_audio(data, load_model(golden_model_dir(data)), iters=0, contrast=1.0, highpass=False)
    ref = np.load(path.with_suffix(".npy"))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))


def test_damage_is_refused_where_the_spec_says() -> None:
    from codec_rt import packets
    from codec_rt.errors import CodecError

    data = (DATA / "golden_v1_3_context_store_phase.cra").read_bytes()
    whole = (DATA / "golden_v1_1_predicted.cra").read_bytes()
    cases = {
        "header byte": (data[:20] + bytes([data[20] ^ 1]) + data[21:], "ChecksumError"),
        "packet byte": (data[:100] + bytes([data[100] ^ 1]) + data[101:], "ChecksumError"),
        "cut": (data[:-5], "TruncatedError"),
        "trailing": (data + b"\0", "FormatError"),
        "whole payload byte": (whole[:70] + bytes([whole[70] ^ 1]) + whole[71:], "ChecksumError"),
        "major": (whole[:4] + b"\x02" + whole[5:], "UnsupportedVersionError"),
        "coder 2 in 1.1": (whole[:11] + b"\x02" + whole[12:], "FormatError"),
    }
    for name, (bad, kind) in cases.items():
        with pytest.raises(SpecError) as got:
            read_blob(bad)
        assert got.value.kind == kind, name
        with pytest.raises(CodecError) as ref:
            packets.read_packets(bad)
        assert type(ref.value).__name__ == kind, name


@pytest.fixture(scope="module")
def shipped_blobs() -> dict[str, dict[str, bytes]]:
    """Each shipped model's blobs of the first 2 s of the test speech, whole and framed."""
    from codec_rt import Codec

    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    out = {}
    for d in SHIPPED:
        codec = Codec.load(d)
        clip = np.ascontiguousarray(x[: 2 * sr].T)
        out[d.name] = {"whole": codec.encode(clip, sr), "framed": codec.encode(clip, sr, framed=True)}
    return out


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_blobs_read_as_codec_rt_reads_them(model_dir: Path, shipped_blobs: Any) -> None:
    for layout, data in shipped_blobs[model_dir.name].items():
        h = assert_matches_codec_rt(data, model_dir)
        assert h["layout"] == (layout == "framed") and h["channels"] == 1 and h["sample_rate"] == 16000
        # a lead-in and a lead-out (7.1): framed 1.7, the gains smoothed (6.2), whole 1.6 (7.5); a causal
        # model has neither: framed 1.4, whole the oldest minor that reads it
        causal = load_model(model_dir).cfg["causal"]
        whole_minor = (3 if h["coder"] == 2 else 1) if causal else 6
        assert h["minor"] == ((4 if causal else 7) if layout == "framed" else whole_minor)
        lead = 16 * load_model(model_dir).cfg["hop"] if h["minor"] >= 6 else 0
        assert (h["pre_skip"], h["post_skip"]) == (lead, lead)
        assert h["gain_smoothing"] == (1 if h["minor"] >= 7 else 0)


@pytest.mark.parametrize("model_dir", SHIPPED, ids=lambda p: p.name)
def test_shipped_model_audio_conforms(model_dir: Path, shipped_blobs: Any) -> None:
    """Section 10: refinement off, sample by sample (with the model's postfilter contrast); refinement on,
    Griffin-Lim by log-spectral distance to codec-rt's block decoder, and either refinement by how well the
    audio fits the decoded magnitude, against how well codec-rt's does."""
    from codec_rt import Codec

    codec, m = Codec.load(model_dir), load_model(model_dir)
    n_fft, hop = m.cfg["n_fft"], m.cfg["hop"]
    data = shipped_blobs[model_dir.name]["framed"]
    ref, _ = codec.decode(data, phase_iters=0)
    y = decode_audio(data, m, iters=0)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))
    ref, _ = codec.decode(data)
    y = decode_audio(data, m)
    h, packets = read_blob(data)
    logmag, _, g, _ = features(m, h, packets, 0)
    target = (np.exp(postfilter(logmag, m.contrast).astype(np.float32)) / g).astype(np.float64) ** 2
    # the audio's frames (codec-rt's lead-in and lead-out are whole frames)
    target = target[:, h["pre_skip"] // hop : target.shape[1] - h["post_skip"] // hop]
    fit_ref, fit = lsd(target, power(ref[0], n_fft, hop)), lsd(target, power(y[0], n_fft, hop))
    assert abs(fit - fit_ref) < 0.2
    if not m.cfg["causal"]:
        assert lsd(power(ref[0], n_fft, hop), power(y[0], n_fft, hop)) < 0.5


def shipped(name: str) -> Path:
    """A shipped point's folder, in the package codec_rt is imported from (the wheel's, in the clean-install job)."""
    from codec_rt.ladder import MODELS_DIR

    return Path(MODELS_DIR) / name


def with_gain_smoothing(data: bytes, r: int) -> bytes:
    """A 1.7 blob with its gain_smoothing set to `r`, under a CRC made right again (4.1)."""
    out = bytearray(data)
    struct.pack_into("<I", out, 80, r)
    struct.pack_into("<I", out, 84, zlib.crc32(bytes(out[80:84])))
    return bytes(out)


@pytest.mark.parametrize("r", [0, 1, 2])
def test_gains_that_step_at_packet_boundaries_decode_as_the_spec_says(r: int) -> None:
    """6.2 from 1.7: a quiet background between loud bursts gets packet gains 3.6 dB apart (7.6); the spec
    reader's per-frame average of the log-gain gives codec-rt's samples (refinement off), for every
    gain_smoothing a reader must take, not only the one codec-rt writes."""
    from codec_rt import Codec, packets

    model_dir = shipped("rd12k")
    codec, m = Codec.load(model_dir), load_model(model_dir)
    s, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    x = 0.01 * np.random.default_rng(0).standard_normal(6 * sr)  # noise at -40 dBFS, speech at 1.3 s and 3.3 s
    for at in (1.3, 3.3):
        x[int(at * sr) : int(at * sr) + 6400] += 0.5 * s[:6400] / np.abs(s[:6400]).max()
    written = codec.encode(x[None].astype(np.float32), sr, framed=True)
    h, sections = packets.read(written)
    gains = [sec.gain for sec in sections]
    assert h.gain_smoothing == 1 and 20 * np.log10(max(gains) / min(gains)) > 3
    data = with_gain_smoothing(written, r)
    ref, _ = codec.decode(data, phase_iters=0)
    y = decode_audio(data, m, iters=0)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))


def test_a_causal_model_refuses_gains_it_would_have_to_smooth() -> None:
    """4.2: gain_smoothing needs a non-causal model; codec-rt and the spec reader refuse it alike."""
    from codec_rt import Codec, blob
    from codec_rt.errors import FormatError

    model_dir = shipped("ll12k")
    codec = Codec.load(model_dir)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    data = codec.encode(np.ascontiguousarray(x[:sr].T), sr, framed=True)
    assert data[5] == 4  # a causal model writes 1.4: no lead, no smoothing
    head = blob.BlobHeader(**(blob.read_header(data)[0].to_dict() | {"minor": 7, "gain_smoothing": 1}))
    bad = head.pack(0) + data[64:]
    with pytest.raises(SpecError) as got:
        check_against_model(read_blob(bad)[0], load_model(model_dir))
    assert got.value.kind == "FormatError"
    with pytest.raises(FormatError, match="gain_smoothing"):
        codec.decode(bad)


def test_a_causal_pair_coded_one_by_one_keeps_one_phase_as_the_spec_says() -> None:
    """6.5, causal, channels coded one by one: a talker panned right at half the left's level (the right's own
    noise 60 dB down) keeps its channels correlated through the low-latency point, in codec-rt and in the spec
    reader (each channel rebuilt apart, they came back uncorrelated: 0.00)."""
    from codec_rt import Codec

    model_dir = shipped("ll12k")
    codec = Codec.load(model_dir)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    left = x[: 2 * sr, 0]
    pair = np.stack([left, 0.5 * left + 1e-3 * np.random.default_rng(0).standard_normal(left.size)]).astype(np.float32)
    data = codec.encode(pair, sr, framed=True, joint_stereo=False)
    for y in (codec.decode(data)[0], decode_audio(data, load_model(model_dir))):
        assert np.corrcoef(y[0], y[1])[0, 1] > 0.95


@pytest.mark.parametrize("channels", [1, 2])
def test_the_low_latency_low_band_decodes_as_the_spec_says(channels: int) -> None:
    """6.3 with a causal model: the blob's low band held through each frame's RTISI, the rest advanced as
    predicted; mono and a pair coded one by one (its joint holds the first channel's low band). Without
    iterations sample by sample; with the model's, both follow the input's waveform below 400 Hz."""
    from codec_rt import Codec

    model_dir = shipped("ll12k")
    codec, m = Codec.load(model_dir), load_model(model_dir)
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    left = x[: 2 * sr, 0]
    clip = np.stack([left, 0.5 * left][:channels]).astype(np.float32)
    data = codec.encode(clip, sr, framed=True, mode="low_band_phase", joint_stereo=False)
    h, _ = read_blob(data)
    assert (h["minor"], h["mode"], h["phase_bins"], h["phase_bits"], h["pre_skip"]) == (10, 2, 7, 3, 0)
    ref, _ = codec.decode(data, phase_iters=0)
    y = decode_audio(data, m, iters=0)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))

    def low_band_snr(out: np.ndarray) -> float:
        band = slice(1, int(400 * clip.shape[1] / sr))
        want, got = np.fft.rfft(clip[-1])[band], np.fft.rfft(out[-1])[band]
        return float(10 * np.log10(np.sum(np.abs(want) ** 2) / np.sum(np.abs(want - got) ** 2)))

    ref, _ = codec.decode(data)
    y = decode_audio(data, m)
    plain = codec.decode(codec.encode(clip, sr, framed=True, joint_stereo=False))[0]
    assert min(low_band_snr(ref), low_band_snr(y)) > 6.0 > low_band_snr(plain)
