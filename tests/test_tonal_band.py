"""Mode tonal_band_phase (format 1.11): the low band's phase on straight paths where the sound is steady.

Its header field and bands round-trip, each bad value is refused by name, its paths meet their anchors in
every runtime's integers, and through the shipped 12 kbps model it brings back what no predicted phase can
(a chord two STFT bins apart, a low tone's pitch) while speech, which it seldom holds, costs no more."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import Codec, CodecError, FormatError, StreamEncoder, blob, packets, section, tonal
from codec_rt.blob import BlobHeader
from codec_rt.config import Coder, Layout, Mode
from codec_rt.level import Loudness
from codec_rt.section import ChannelData

DATA = Path(__file__).parent / "data"
RATE = 16000


def header(**over: int) -> BlobHeader:
    """A framed, range-coded mode-3 header: 9 bins, the lowest 4 in the band at 3 bits, a stride of 2."""
    fields = dict(mode=Mode.TONAL_BAND_PHASE, bits=0, phase_bits=3, sample_rate=RATE, channels=1, latent_channels=3,
                  latent_bins=5, n_bins=9, num_samples=0, n_frames=0, latent_steps=0, model_id="0123456789abcdef",
                  coder=Coder.RANGE, minor=11, layout=Layout.FRAMED, time_stride=4, packet_steps=2, phase_bins=4,
                  phase_stride=2)
    return BlobHeader(**(fields | over))


def band(flags: list[int], rows: int = 4, edge: int = 3, cycle: int = 8) -> tonal.Band:
    """A band with these flags, every anchor code 1, every edge and cycle code as given."""
    f = np.array(flags, bool)
    held, anchors = int(f.sum()), tonal.anchor_count(f)
    return tonal.Band(f, np.full(held, edge, np.uint16), np.ones((anchors, rows), np.uint16),
                      np.full((held, rows), cycle, np.uint16))


def stream(h: BlobHeader, bands: list[tonal.Band], frames: tuple[int, ...] = (8, 8, 2)) -> bytes:
    """Packets of `frames` frames (steps of 4), each with its band; the last ends the stream of 18 frames."""
    out = [h.pack(0)]
    for k, b in enumerate(bands):
        ch = ChannelData(1.0, np.zeros(0, np.float32), None, None, bytes(8), b)
        out.append(packets.write_packet(k, section.channel_section(ch, h), (1234, 18, 5) if k == len(bands) - 1
                                        else None, band=True))
    return b"".join(out)


def test_the_band_round_trips_packet_by_packet() -> None:
    h = header()
    assert h.header_size == 104 and len(h.pack(0)) == 104 and h.band_rows == 4 and h.phase_rows == 0
    data = stream(h, [band([1, 1, 0, 1]), band([0, 1, 1, 1]), band([0])])
    got, pk = packets.read_packets(data)
    assert got.mode_name == "tonal_band_phase" and got.phase_stride == 2
    flags = [p.channels[0].band.flags.tolist() for p in pk]  # type: ignore[union-attr]
    assert flags == [[True, True, False, True], [False, True, True, True], [False]]
    assert [p.channels[0].band.anchors.shape for p in pk] == [(5, 4), (4, 4), (0, 4)]  # type: ignore[union-attr]


def test_paths_meet_their_anchors_and_turn_at_one_frequency() -> None:
    # A partial 0.3 bins above bin 2, stride 8, 5 bits: anchors a stride apart, the turns between as coded.
    n_fft, hop, k, stride, bits = 512, 128, 2, 8, 5
    levels = 1 << bits
    phase = 2 * np.pi * (k + 0.3) * hop / n_fft * np.arange(17) + 0.4
    codes = np.rint((np.angle(np.exp(1j * phase)) + np.pi) * levels / (2 * np.pi)).astype(np.int64) % levels
    spec = np.zeros((4, 17), np.complex64)
    spec[k] = np.exp(1j * phase)
    b = tonal.analyse(np.concatenate([spec, spec]), 3, 0, 0, 17, stride, bits, hop, n_fft, 16)
    assert b.flags.tolist() == [False, False, False]  # three fitting intervals in a row are needed; there are two
    b = tonal.Band(np.array([True, True]), np.array([2, 2], np.uint16),
                   np.stack([np.full(3, c, np.uint16) for c in codes[[0, 8, 16]]]), np.full((2, 3), 8, np.uint16))
    d = (codes[8] - codes[0]) % levels
    turns = (phase[8] - phase[0]) / (2 * np.pi)
    want = int(np.rint(turns - d / levels)) - int(tonal.base_turns(np.array([0, 0, d]), stride, hop, n_fft, bits)[2])
    b.cycles[:, 2] = want + tonal.CYCLE_OFFSET
    paths, held = tonal.paths(b, 0, 16, stride, bits, hop, n_fft, False)
    assert held[:17].tolist() == [3] * 17
    for t in (0, 8, 16):
        assert paths[k, t] == np.float32(-np.pi + 2 * np.pi * codes[t] / levels)
    err = np.angle(np.exp(1j * (paths[k, :9].astype(np.float64) - phase[:9])))
    assert np.abs(err).max() < 2 * np.pi / levels  # within a code of the partial all the way


@pytest.mark.parametrize(("over", "field"), [
    ({"phase_stride": 1}, "phase_stride 1 not in 2..64"), ({"phase_stride": 65}, "phase_stride 65 not in"),
    ({"phase_bits": 9}, "phase_bits 9 not in 1..8 in mode tonal_band_phase"),
    ({"phase_bins": 0}, "phase_bins 0 not in 1..n_bins"), ({"minor": 10}, "format 1.10 has no phase_stride"),
    ({"mode": Mode.PREDICTED, "phase_bits": 0, "phase_bins": 0}, "phase_stride must be 0 outside"),
])
def test_each_bad_header_field_is_refused_by_name(over: dict[str, int], field: str) -> None:
    with pytest.raises(FormatError, match=field):
        header(**over).validate()


def test_an_older_minor_has_no_such_mode() -> None:
    with pytest.raises(FormatError, match="format 1.10 has no mode tonal_band_phase"):
        header(minor=10, phase_stride=0).validate()


def _reseal_stride(data: bytes, value: int) -> bytes:
    b = bytearray(data)
    struct.pack_into("<II", b, 96, value, zlib.crc32(struct.pack("<I", value)))
    b[60:64] = struct.pack("<I", zlib.crc32(bytes(b[:60])))
    return bytes(b)


def test_hand_made_bad_bytes_are_refused_where_the_spec_says() -> None:
    h = header()
    good = stream(h, [band([1, 0, 0, 0]), band([0, 0, 0, 0]), band([0])])
    packets.read_packets(good)
    with pytest.raises(FormatError, match="phase_stride 0 not in 2..64"):
        packets.read_packets(_reseal_stride(good, 0))
    bad = bytearray(good)
    bad[97] ^= 1  # phase_stride's byte without its CRC-32
    with pytest.raises(FormatError, match="phase_stride"):
        packets.read_packets(bytes(bad))
    five = header(phase_bins=5)  # edges of 3 bits: a code can name a sixth bin
    with pytest.raises(FormatError, match="edge 6 is past its 5 bins"):
        packets.read_packets(stream(five, [band([1, 0, 0, 0], rows=5, edge=5), band([0] * 4, rows=5),
                                           band([0], rows=5)]))
    with pytest.raises(FormatError, match="ends inside a channel section's tonal band"):
        cut = BlobHeader(**(h.to_dict() | {"phase_bins": 4}))
        one = section.channel_section(ChannelData(1.0, np.zeros(0, np.float32), None, None, bytes(8),
                                                  band([1, 1, 1, 1])), cut)
        section.parse_sections(one[:-3], 0, len(one) - 3, cut, 2, 8)
    # the last packet's interval 8 would end at frame 18; the stream's last is 17
    with pytest.raises(FormatError, match="interval 8 is held past the stream's last frame"):
        packets.read_packets(stream(h, [band([0] * 4), band([0] * 4), band([1])]))
    with pytest.raises(FormatError, match="held past the stream's last frame"):
        tonal.paths(band([1]), 16, 2, 2, 3, 128, 512, True)


# ------------------------------------------------------------------------------------ through the shipped model


def tones(freqs: tuple[float, ...], seconds: float = 1.5, level: float = 0.15) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * sum(np.sin(2 * np.pi * f * t) for f in freqs)).astype(np.float32)[None]


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec.load(bitrate=12)


def _components_db(y: np.ndarray, freqs: tuple[float, ...]) -> float:
    """Energy away from the tones (beyond 15 Hz of each) over the tones', dB, on the steady middle."""
    mid = y[len(y) // 4 : 3 * len(y) // 4] * np.hanning(len(y) // 2)
    spec = np.abs(np.fft.rfft(mid, 8 * len(mid))) ** 2
    f = np.fft.rfftfreq(8 * len(mid), 1 / RATE)
    near = np.zeros(f.shape, bool)
    for t in freqs:
        near |= np.abs(f - t) < 15
    return float(10 * np.log10(spec[~near & (f < 4000)].sum() / spec[near].sum()))


def test_a_chord_two_bins_apart_comes_back_where_the_predicted_phase_loses_it(codec: Codec) -> None:
    chord = (261.63, 329.63, 392.0)
    x = tones(chord)
    held, _ = codec.decode(codec.encode(x, RATE, mode="tonal_band_phase", framed=True))
    predicted, _ = codec.decode(codec.encode(x, RATE, mode="predicted", framed=True))
    assert _components_db(held[0], chord) < -30 < _components_db(predicted[0], chord)
    level = 10 * np.log10(np.mean(held[0, 4000:-4000] ** 2) / np.mean(x[0, 4000:-4000] ** 2))
    assert abs(level) < 2


def test_a_low_tone_keeps_its_pitch(codec: Codec) -> None:
    x = tones((100.0,), level=0.25)
    y, _ = codec.decode(codec.encode(x, RATE, mode="tonal_band_phase", framed=True))
    mid = y[0, 6000:-6000] * np.hanning(len(y[0]) - 12000)
    spec = np.abs(np.fft.rfft(mid, 64 * len(mid)))
    f = np.fft.rfftfreq(64 * len(mid), 1 / RATE)
    peak = f[np.argmax(np.where(np.abs(f - 100) < 20, spec, 0))]
    assert abs(1200 * np.log2(peak / 100.0)) < 1  # cents; predicted: +5.5 (docs/fidelity.md)


def test_speech_is_seldom_held_and_costs_next_to_nothing(codec: Codec) -> None:
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    data = codec.encode(x.T, sr, mode="tonal_band_phase", framed=True)
    base = codec.encode(x.T, sr, mode="predicted", framed=True)
    h, pk = packets.read_packets(data)
    bands = [p.channels[0].band for p in pk]
    held = sum(int(b.flags.sum()) for b in bands if b is not None)
    assert held < 0.05 * sum(p.n_frames for p in pk) / h.phase_stride and h.minor == blob.TONAL_MINOR
    assert sum(b is None for b in bands) >= len(bands) // 2  # a packet that holds nothing says so in its flags
    # its header's 16 bytes more (1.7's 88), and what it holds
    assert len(data) <= len(base) + 16 + held * (h.phase_bins * (2 * h.phase_bits + 4) + 5)


def test_a_stream_pushed_in_pieces_writes_the_file_encoders_bytes(codec: Codec) -> None:
    x = np.concatenate([tones((440.0, 660.0), 1.2), tones((220.0,), 0.8)], axis=1)
    whole = codec.encode(x, RATE, mode="tonal_band_phase", framed=True)
    level = Loudness()
    level.add(x)
    enc = StreamEncoder(codec, RATE, 1, mode="tonal_band_phase", level=level)
    out = b"".join(enc.push(x[:, i : i + 1234]) for i in range(0, x.shape[1], 1234)) + enc.flush()
    assert out == whole


def test_an_interval_of_an_earlier_packet_held_past_the_end_is_refused_by_every_reader(tmp_path: Path) -> None:
    # Packets of 6 frames, a stride of 8: packet 0's interval 0 covers frames [0, 8], but the stream ends
    # after frame 7 (the last packet holds frames 6 and 7); the whole-file reader (info), the streaming
    # decoder and the command line refuse it.
    import subprocess
    import sys

    h = header(time_stride=3, phase_stride=8)
    out = [h.pack(0)]
    for k, (b, totals) in enumerate(((band([1]), None), (None, (1000, 8, 3)))):
        ch = ChannelData(1.0, np.zeros(0, np.float32), None, None, bytes(8), b)
        out.append(packets.write_packet(k, section.channel_section(ch, h), totals, band=b is not None))
    data = b"".join(out)
    with pytest.raises(FormatError, match="interval 0 is held past the stream's last frame"):
        packets.read_packets(data)
    (tmp_path / "b.cra").write_bytes(data)
    r = subprocess.run([sys.executable, "-m", "codec_rt", "info", str(tmp_path / "b.cra")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "held past the stream's last frame" in r.stderr, r.stderr


def test_the_band_flag_belongs_to_mode_3() -> None:
    h = header(mode=Mode.LOW_BAND_PHASE, phase_stride=0)
    ch = ChannelData(1.0, np.zeros(0, np.float32), None, np.zeros((4, 8), np.uint16), bytes(8))
    data = h.pack(0) + packets.write_packet(0, section.channel_section(ch, h), (1, 8, 2), band=True)
    with pytest.raises(FormatError, match="unknown flags 0x03"):
        packets.read_packets(data)


def test_a_causal_model_refuses_the_mode() -> None:
    ll = Codec.load(low_latency=True)
    with pytest.raises(CodecError, match="needs a non-causal model"):
        ll.encode(tones((440.0,)), RATE, mode="tonal_band_phase")
