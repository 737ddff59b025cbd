"""Mode low_band_phase (format 1.8): the low band's phase in the blob, the rest predicted around it.

Its header field and sections round-trip, each bad value is refused by name, the low-latency point
holds its low band frame by frame, and through the shipped 12 kbps point it brings back what no predicted
phase can: a chord whose partials lie two STFT bins apart (docs/fidelity.md), and speech closer to the
input."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import Codec, FormatError, StreamDecoder, packets, section
from codec_rt.blob import BlobHeader
from codec_rt.config import Coder, Layout, Mode
from codec_rt.section import ChannelData

DATA = Path(__file__).parent / "data"
STEPS, STRIDE = 2, 4


def make(phase_bins: int = 3, mode: int = Mode.LOW_BAND_PHASE, minor: int = 8) -> tuple[BlobHeader, bytes]:
    """A framed, range-coded blob of 3 packets (2, 2 and 1 latent steps) with the phase of `phase_bins`
    of its 9 bins, 7 bits each; fields as given, unchecked."""
    rng = np.random.default_rng(4)
    h = BlobHeader(mode=mode, bits=0, phase_bits=7, sample_rate=16000, channels=1, latent_channels=3,
                   latent_bins=5, n_bins=9, num_samples=0, n_frames=0, latent_steps=0, model_id="0123456789abcdef",
                   coder=Coder.RANGE, minor=minor, layout=Layout.FRAMED, time_stride=STRIDE, packet_steps=STEPS,
                   phase_bins=phase_bins)
    out = [h.pack(0)]
    for k, frames in enumerate((8, 8, 2)):
        rows = phase_bins if mode == Mode.LOW_BAND_PHASE else 9
        ch = ChannelData(1.0, np.zeros(0, np.float32), None, rng.integers(0, 128, (rows, frames)).astype(np.uint16),
                         rng.bytes(8))
        out.append(packets.write_packet(k, section.channel_section(ch, h), (1234, 18, 5) if k == 2 else None))
    return h, b"".join(out)


def test_the_low_band_round_trips_packet_by_packet() -> None:
    h, data = make()
    assert h.header_size == 96 and len(h.pack(0)) == 96
    got, frames = packets.read_packets(data)
    assert got.mode == Mode.LOW_BAND_PHASE and got.phase_bins == 3 and got.mode_name == "low_band_phase"
    assert [f.channels[0].phase_codes.shape for f in frames] == [(3, 8), (3, 8), (3, 2)]


def _reseal_phase_bins(data: bytes, value: int) -> bytes:
    """The blob with header field phase_bins (byte 88) set to `value`, its own CRC-32 renewed."""
    b = bytearray(data)
    struct.pack_into("<II", b, 88, value, zlib.crc32(struct.pack("<I", value)))
    return bytes(b)


@pytest.mark.parametrize("value,match", [(0, "phase_bins 0 not in 1..n_bins"), (10, "phase_bins 10 not in")])
def test_phase_bins_outside_the_bins_is_refused_by_name(value: int, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        packets.read_packets(_reseal_phase_bins(make()[1], value))


def test_the_mode_needs_format_1_8_and_phase_bins_needs_the_mode() -> None:
    with pytest.raises(FormatError, match="format 1.7 has no mode low_band_phase"):
        BlobHeader(**(make()[0].to_dict() | {"minor": 7, "phase_bins": 0})).validate()
    with pytest.raises(FormatError, match="phase_bins must be 0 outside modes low_band_phase and tonal_band_phase"):
        packets.read_packets(make(phase_bins=3, mode=Mode.STORE_PHASE)[1])


def test_the_low_latency_point_holds_the_low_band_without_adding_latency(speech: tuple[np.ndarray, int]) -> None:
    """A causal model codes the bins up to 450 Hz at 3 bits (7 x 3 x 250 frames a second: 5.25 kbps more),
    with no lead-in (its latency stays its window); a stream decoded in small pieces is the file's decode,
    and speech comes back more intelligible (docs/TRAINING.md, "The low band's phase at low latency")."""
    x, sr = speech
    codec = Codec.load(low_latency=True)
    plain = codec.encode(x, sr, framed=True, mode="predicted")
    low = codec.encode(x, sr, framed=True, mode="low_band_phase")
    h, _ = packets.read(low)
    assert (h.minor, h.phase_bins, h.phase_bits, h.pre_skip) == (12, 7, 3, 0)  # 1.12: the point's tracks
    assert 5.05 < 8 * (len(low) - len(plain)) / (x.shape[1] / sr) / 1000 < 5.55
    y, _ = codec.decode(low)
    dec = StreamDecoder(codec)
    pieces = [dec.push(low[i : i + 40]) for i in range(0, len(low), 40)] + [dec.flush()]
    np.testing.assert_array_equal(np.concatenate([p for p in pieces if p.shape[1]], axis=1), y)
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    from codec_rt import metrics

    assert metrics.stoi(x, y, sr) > metrics.stoi(x, codec.decode(plain)[0], sr) + 0.02


def _chord() -> np.ndarray:
    t = np.arange(3 * 16000) / 16000
    return np.asarray(sum(0.15 * np.sin(2 * np.pi * f * t) for f in (262, 330, 392)), np.float32)[None]


def test_a_chord_comes_back_with_the_low_band_in_the_blob() -> None:
    """C-E-G, partials two bins apart: the predicted phase loses one by over 10 dB (docs/fidelity.md); with
    the low band's phase stored every partial keeps its level within 2 dB and its pitch (1.8; 1.10 dithered)."""
    fidelity = pytest.importorskip("benchmarks.fidelity", reason="the fidelity suite's measures")
    case = next(c for c in fidelity.cases() if c.name == "chord C-E-G")
    codec = Codec.load(bitrate=12)
    data = codec.encode(case.audio, 16000, mode="low_band_phase", framed=True)
    header, _ = packets.read(data)
    assert (header.minor, header.phase_bins, header.phase_bits) == (10, 22, 4)
    y, _ = codec.decode(data)
    m = fidelity.measure(case, y.astype(np.float64))
    assert abs(m["level_db"]) < 2.0 and m["spur_db"] < -30.0 and abs(m["pitch_cents"]) < 5.0
    predicted = fidelity.measure(case, codec.decode(codec.encode(case.audio, 16000, mode="predicted", framed=True))[0]
                                 .astype(np.float64))
    assert predicted["level_db"] < -10.0


def test_speech_costs_the_low_band_and_comes_closer(speech: tuple[np.ndarray, int]) -> None:
    """About 11 kbps more (22 bins x 4 bits x 125 frames a second, lead-in and lead-out included) for a
    decoded signal whose low band follows the input's waveform."""
    x, sr = speech
    codec = Codec.load(bitrate=12)
    plain = codec.encode(x, sr, framed=True)
    low = codec.encode(x, sr, mode="low_band_phase", framed=True)
    seconds = x.shape[1] / sr
    extra = 8 * (len(low) - len(plain)) / seconds / 1000
    assert 10.5 < extra < 12.5

    def low_band_snr(data: bytes) -> float:
        y = codec.decode(data)[0][0]
        spec_x, spec_y = np.fft.rfft(x[0]), np.fft.rfft(y)
        band = slice(1, int(600 * x.shape[1] / sr))  # the waveform below 600 Hz
        err = np.sum(np.abs(spec_x[band] - spec_y[band]) ** 2)
        return float(10 * np.log10(np.sum(np.abs(spec_x[band]) ** 2) / err))

    assert low_band_snr(low) > 5.0 > low_band_snr(plain)


def test_the_cli_writes_and_reads_the_mode(tmp_path: Path, speech: tuple[np.ndarray, int]) -> None:
    src, out, back = tmp_path / "in.wav", tmp_path / "x.cra", tmp_path / "back.wav"
    sf.write(src, speech[0].T, speech[1])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True)

    assert run("encode", str(src), "-o", str(out), "--mode", "low_band_phase").returncode == 0
    info = run("info", str(out))
    assert info.returncode == 0 and "low_band_phase" in info.stdout and "1.10" in info.stdout
    assert run("decode", str(out), "-o", str(back)).returncode == 0
    assert sf.info(back).frames == speech[0].shape[1]


def test_the_mode_decodes_without_iterations_or_postfilter_unless_asked(speech: tuple[np.ndarray, int]) -> None:
    """FORMAT.md 6.3: the stored low band places the partials; a decoder given no phase_iters or contrast
    uses 0 and 1.0 whatever the model declares, and one given them uses them."""
    x, sr = speech
    codec = Codec.load(bitrate=12)
    data = codec.encode(x[:, :32000], sr, mode="low_band_phase", framed=True)
    y = codec.decode(data)[0]
    np.testing.assert_array_equal(y, codec.decode(data, phase_iters=0, contrast=1.0)[0])
    assert not np.array_equal(y, codec.decode(data, phase_iters=8, contrast=1.15)[0])


def _relabelled(data: bytes, minor: int) -> bytes:
    """`data` with its header's minor version set to `minor`, its header CRC made right again."""
    out = bytearray(data)
    out[5] = minor
    struct.pack_into("<I", out, 60, zlib.crc32(bytes(out[:60])))
    return bytes(out)


def test_a_causal_low_band_below_1_9_is_refused_by_name() -> None:
    """1.8 told decoders to refuse mode 2 with a causal model; 1.9 defines it. The 1.9 golden relabelled 1.8
    (its header CRC made right again) is refused, by codec-rt and by the spec's reader."""
    from spec_reader.audio import decode_audio
    from spec_reader.container import SpecError
    from spec_reader.model import load_model

    data = _relabelled((DATA / "golden_v1_9_causal_low_band_phase.cra").read_bytes(), 8)
    with pytest.raises(FormatError, match="format 1.8 has no mode low_band_phase with a causal model"):
        Codec.load(DATA / "golden_model_causal").decode(data)
    with pytest.raises(SpecError):
        decode_audio(data, load_model(DATA / "golden_model_causal"))


def _stored_phase(data: bytes, codec: Codec) -> np.ndarray:
    """The angles a blob's sections stand for, `[C, phase_rows, frames]`, as the decoder reads them."""
    from codec_rt import latent

    header, pkts = packets.read_packets(data)
    phases = [latent.decode(codec.model, header, p.channels, p.steps, p.index).phase for p in pkts]
    return np.concatenate([p for p in phases if p is not None], axis=-1)


def test_the_minor_says_whether_the_codes_are_dithered(speech: tuple[np.ndarray, int]) -> None:
    """The same codes stand for other angles from 1.10 on, each moved by (1/2 - u[r, t]) steps of FORMAT.md
    4.3's dither, t the stream's frame: the 1.8 golden read as 1.10 (packets of 8 steps), and a live
    low-latency stream (packets of one step, 4 frames) read as 1.9. So a 1.8 or 1.9 blob keeps decoding as
    it was written, and no packet restarts the dither (one-step packets would repeat a 4-frame one)."""
    from codec_rt import StreamEncoder
    from codec_rt.quantize import phase_dither

    x, sr = speech
    context, causal = Codec.load(DATA / "golden_model_context"), Codec.load(low_latency=True)
    golden = (DATA / "golden_v1_8_context_low_band_phase.cra").read_bytes()
    enc = StreamEncoder(causal, sr, 1, mode="low_band_phase", packet_steps=1, tracks=False)
    live = enc.push(x[:, : sr // 2]) + enc.flush()
    assert packets.read(live)[0].minor == 10
    pairs = ((context, golden, _relabelled(golden, 10)), (causal, _relabelled(live, 9), live))
    for codec, undithered, dithered in pairs:
        header = packets.read(dithered)[0]
        moved = _stored_phase(dithered, codec) - _stored_phase(undithered, codec)
        u = phase_dither(header.phase_bins, moved.shape[-1])
        np.testing.assert_allclose(moved[0], (0.5 - u) * 2 * np.pi / 2**header.phase_bits, atol=1e-5)
