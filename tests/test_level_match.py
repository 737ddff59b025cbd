"""The level match (docs/FORMAT.md 7.2): the encoder stores the gain that brings the decoded level to the
input's, found by running the decoder graph on its own codes; nothing else in the blob moves."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from codec_rt import Codec, StreamEncoder, entropy, packets
from codec_rt.level import Loudness

RATE = 16000


def chord(seconds: float = 3.0) -> npt.NDArray[np.float32]:
    """C-E-G, as the fidelity suite's chord (benchmarks/fidelity.py): [1, N] float32."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (262, 330, 392))
    return np.asarray(x, np.float32)[None]


def steady_level_db(y: npt.NDArray[np.float32], x: npt.NDArray[np.float32]) -> float:
    """The decoded level over the input's, in dB, over the middle second (away from onset and end)."""
    mid = slice(RATE, 2 * RATE)
    return float(10 * np.log10(np.mean(np.square(y[0, mid], dtype=np.float64)) /
                               np.mean(np.square(x[0, mid], dtype=np.float64))))


def contents(codec: Codec, data: bytes) -> tuple[list[float], list[npt.NDArray[np.int32]], object]:
    header, pkts = packets.read_packets(data)
    assert codec.model.entropy is not None
    gains = [ch.gain for p in pkts for ch in p.channels]
    symbols = [entropy.decode(ch.coded, codec.model.entropy, p.steps) for p in pkts for ch in p.channels]
    return gains, symbols, header


@pytest.fixture(scope="module")
def codec3() -> Codec:
    return Codec.load(bitrate=3)


def test_the_3_kbps_chord_keeps_its_level(codec3: Codec) -> None:
    x = chord()
    unmatched = steady_level_db(codec3.decode(codec3.encode(x, RATE, framed=True, level_match=False))[0], x)
    matched = steady_level_db(codec3.decode(codec3.encode(x, RATE, framed=True))[0], x)
    assert abs(unmatched) > 2.0  # the model alone: -2.4 dB over all, its loudest miss -3.9 (docs/fidelity.md)
    assert abs(matched) < 1.0, f"{matched:+.2f} dB"


@pytest.mark.parametrize("framed", [True, False])
def test_only_the_gains_move(codec3: Codec, framed: bool) -> None:
    x = chord()
    on = contents(codec3, codec3.encode(x, RATE, framed=framed))
    off = contents(codec3, codec3.encode(x, RATE, framed=framed, level_match=False))
    assert on[2] == off[2]
    for a, b in zip(on[1], off[1], strict=True):
        np.testing.assert_array_equal(a, b)
    ratios_db = 20 * np.log10(np.array(on[0]) / np.array(off[0]))
    assert np.abs(ratios_db).max() <= 20 * np.log10(2.0) + 1e-4  # at most a factor 2 either way
    np.testing.assert_allclose(ratios_db / 0.25, np.round(ratios_db / 0.25), atol=1e-3)  # on the 0.25 dB grid
    assert np.abs(ratios_db).max() >= 0.25


def test_silence_keeps_the_gain_applied(codec3: Codec) -> None:
    x = np.zeros((1, 2 * RATE), np.float32)
    assert codec3.encode(x, RATE, framed=True) == codec3.encode(x, RATE, framed=True, level_match=False)


def test_a_stream_pushed_in_chunks_writes_the_files_bytes(codec3: Codec) -> None:
    x = chord()
    level = Loudness()
    level.add(x)
    enc = StreamEncoder(codec3, RATE, 1, level=level)
    data = b"".join(enc.push(x[:, i : i + 3217]) for i in range(0, x.shape[1], 3217)) + enc.flush()
    assert data == codec3.encode(x, RATE, framed=True)


def test_a_packets_match_decodes_the_codes_it_stores() -> None:
    """Fixed width: a packet's steps are quantized with its own scales, as its section stores them, not with
    its window's (the steps either side are context, coded apart), so the decoder graph in the match sees
    what the decoder will."""
    from codec_rt import latent, stft
    from codec_rt.quantize import dequantize, quantize

    codec = Codec.load(fixed_width=True)
    x = np.concatenate([0.1 * chord(1.0), chord(1.0)], axis=1)  # a window louder after the packet
    header = latent.header_for(codec.model, latent.coding_options(codec.config), RATE, 1, packet_steps=8)
    window = codec.model.encode(stft.to_features(stft.stft(x, codec.config.n_fft, codec.config.hop)))
    own = (40, 48)
    seen = latent.decoded_latent(codec.model, header, window, own=own)

    def coded(z: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return np.stack([dequantize(*quantize(c, header.bits), header.bits) for c in z])

    np.testing.assert_array_equal(seen[..., 40:48], coded(window[..., 40:48]))
    np.testing.assert_array_equal(seen[..., :40], coded(window[..., :40]))
    np.testing.assert_array_equal(seen[..., 48:], coded(window[..., 48:]))
    assert not np.array_equal(seen[..., 40:48], coded(window)[..., 40:48])  # the window's scales differ


def test_the_match_in_blocks_is_the_whole_graphs(monkeypatch: pytest.MonkeyPatch, codec3: Codec) -> None:
    """The whole layout runs the decoder graph 32 steps' frames at a time with their receptive field (bounded
    memory): the same gains as one run over the whole latent."""
    from codec_rt import latent

    x = chord(4.0)
    blocked = codec3.encode(x, RATE)
    monkeypatch.setattr(latent, "MATCH_BLOCK_STEPS", 100_000)
    assert codec3.encode(x, RATE) == blocked
    monkeypatch.setattr(latent, "MATCH_BLOCK_STEPS", 3)
    assert codec3.encode(x, RATE) == blocked


def test_spectral_flatness_tells_noise_from_tones_and_speech(speech: tuple[np.ndarray, int]) -> None:
    """White noise measures near 1 and a steady tone near 0; a second of speech in between, under the
    causal match's bound (FORMAT.md 7.7)."""
    from codec_rt import latent, stft

    def flatness(x: npt.NDArray[np.float64]) -> float:
        feats = stft.to_features(stft.stft(x[None].astype(np.float32), 256, 64))
        return latent.spectral_flatness(feats[:, 0], 0, feats.shape[-1])

    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    assert flatness(0.05 * rng.standard_normal(RATE)) > 0.9
    assert flatness(0.5 * np.sin(2 * np.pi * 1000 * t)) < 1e-3
    x, sr = speech
    assert sr == RATE and flatness(x[0, RATE : 2 * RATE].astype(np.float64)) < latent.MATCH_FLATNESS


def test_a_causal_models_sections_are_matched_unless_noise_like() -> None:
    """The low-latency model stores a tone's matched gain (its level within 1 dB, 1.8 dB low unmatched) and
    the gain applied for noise, whose level a gain moved from packet to packet would step (FORMAT.md 7.7); with
    the point's tracks (1.12) a packet that holds them keeps the gain applied too, as the track carries the
    tone's level (FORMAT.md 7.8)."""
    ll = Codec.load(low_latency=True)
    t = np.arange(3 * RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)[None]
    noise = (0.05 * np.random.default_rng(1).standard_normal(3 * RATE)).astype(np.float32)[None]
    for x, tracks, moves in ((tone, False, True), (noise, False, False), (tone, True, False)):
        _, matched = packets.read_packets(ll.encode(x, RATE, framed=True, tracks=tracks))
        _, applied = packets.read_packets(ll.encode(x, RATE, framed=True, level_match=False, tracks=tracks))
        differ = [a.channels[0].gain != b.channels[0].gain for a, b in zip(matched, applied, strict=True)]
        assert any(differ) == moves, differ
    for tracks in (False, True):
        y, _ = ll.decode(ll.encode(tone, RATE, framed=True, tracks=tracks))
        assert abs(steady_level_db(y, tone)) < 1
