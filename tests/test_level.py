"""The stream's level holds a file's packet gains together (docs/FORMAT.md 7.6), so that a quiet background
keeps its level beside loud packets; a live stream, which cannot measure it first, keeps each packet's own."""

from __future__ import annotations

import numpy as np

from codec_rt import Codec, StreamEncoder, packets
from codec_rt.audio import to_coded
from codec_rt.config import Stereo
from codec_rt.level import REFERENCE_SPAN, Loudness, input_gain, packet_gains

RATE = 16000


def background_with_bursts() -> np.ndarray:
    """6 s of a 300 Hz tone at -33.5 dBFS with loud noise bursts in the 2nd and 4th seconds."""
    t = np.arange(6 * RATE) / RATE
    x = np.sqrt(2) * 10 ** (-33.5 / 20) * np.sin(2 * np.pi * 300 * t)
    rng = np.random.default_rng(0)
    for a in (1.3, 3.3):
        i = int(a * RATE)
        x[i : i + 6400] += 0.2 * rng.standard_normal(6400)
    return x[None].astype(np.float32)


def test_the_level_is_the_same_read_whole_or_in_blocks_and_knows_mid_and_side() -> None:
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((2, 48000))).astype(np.float32)
    x[1] = -0.5 * x[0] + 0.01 * x[1] + 0.2  # mostly anti-phase, with an offset the gain must ignore
    whole, blocks = Loudness(), Loudness()
    whole.add(x)
    for i in range(0, x.shape[1], 4999):
        blocks.add(x[:, i : i + 4999])
    for stereo in (Stereo.INDEPENDENT, Stereo.MID_SIDE):
        g = whole.gains(stereo)
        np.testing.assert_allclose(g, blocks.gains(stereo), rtol=1e-12)
        np.testing.assert_allclose(g, input_gain(to_coded(x, stereo)), rtol=1e-5)  # the stream's own gain
    silent = Loudness()
    silent.add(np.zeros((1, 100), np.float32))
    assert silent.gains()[0] == 64.0  # the gain's ceiling, as a silent packet's


def test_a_packet_gain_is_the_streams_within_a_factor_of_two_of_its_own() -> None:
    own = np.array([4.0, 1.0, 0.1, 0.6], np.float32)
    got = packet_gains(own, np.array([1.0, 1.0, 1.0, 0.5]))
    want = np.array([2.0, 1.0, 0.2, 0.5])  # clipped to a factor 2 of its own, else the stream's
    assert got.dtype == np.float32 and np.all(np.abs(20 * np.log10(got / want)) <= 0.125 + 1e-6)
    np.testing.assert_array_equal(packet_gains(own, None), own)
    assert REFERENCE_SPAN == 2.0
    # channels that differ only in level keep their gains' ratio: they are coded alike
    left = packet_gains(np.float32([0.3]), np.array([0.21]))[0]
    right = packet_gains(np.float32([0.3 / 0.6]), np.array([0.21 / 0.6]))[0]
    assert abs(right / left - 1 / 0.6) < 1e-6


def test_a_file_holds_its_packet_gains_together_and_a_live_stream_does_not() -> None:
    """The gains applied (FORMAT.md 7.6; the level match, 7.7, moves those stored by a factor 2 at most)."""
    codec = Codec.load(bitrate=12)
    x = background_with_bursts()
    enc = StreamEncoder(codec, RATE, 1, level_match=False)
    live = enc.push(x) + enc.flush()
    for data, widest in ((codec.encode(x, RATE, framed=True, level_match=False), REFERENCE_SPAN), (live, None)):
        gains = [p.channels[0].gain for p in packets.read_packets(data)[1]]
        spread = max(gains) / min(gains)
        if widest is None:
            assert spread > 2.0, gains  # each packet's own: the bursts' packets well under the others
        else:
            assert spread < widest, gains
        y, _ = codec.decode(data)
        assert y.shape == x.shape


def test_a_level_of_nothing_or_of_other_channels_is_not_used() -> None:
    import pytest

    from codec_rt import CodecError

    codec = Codec.load(bitrate=12)
    empty = Loudness()
    empty.add(np.zeros((1, 0), np.float32))
    enc = StreamEncoder(codec, RATE, 1, level=empty)
    assert enc.reference is None
    y, _ = codec.decode(enc.push(np.zeros((1, 0), np.float32)) + enc.flush())
    assert y.shape == (1, 0)
    stereo = Loudness()
    stereo.add(np.zeros((2, 100), np.float32))
    with pytest.raises(CodecError, match="2 channel"):
        StreamEncoder(codec, RATE, 1, level=stereo)


def test_a_packet_gain_stays_in_the_range_a_blob_may_hold() -> None:
    """A quiet packet's own gain at the top of the range, times up to 2 towards the stream's, once came out at
    64.5: `codec-rt encode` wrote the blob and `decode` refused it (a steady 0.5 DC at 44.1 kHz, 0.8 s)."""
    from codec_rt.level import MAX_GAIN, MIN_GAIN

    own = np.array([63.0, 1 / 63, 1.0], np.float32)
    gains = packet_gains(own, np.array([200.0, 1 / 200, 1.0]))
    assert gains.tolist() == [MAX_GAIN, np.float32(MIN_GAIN), 1.0]
    codec = Codec.load(bitrate=12)
    for rate, n in ((44100, 35280), (48000, 38400)):
        for dc in (0.5, -0.5):
            x = np.full((1, n), dc, np.float32)
            data = codec.encode(x, rate, framed=True)
            assert all(MIN_GAIN <= ch.gain <= MAX_GAIN for p in packets.read_packets(data)[1] for ch in p.channels)
            y, sr = codec.decode(data)
            assert (y.shape, sr) == (x.shape, rate)
