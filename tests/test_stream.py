"""Streaming (stream.py, the framed layout): a stream equals whole-file coding, a cut stream decodes its prefix,
reset() and explicit state work, and the model's time context is what the graphs really use."""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import (
    ChecksumError,
    Codec,
    CodecError,
    StreamDecoder,
    StreamEncoder,
    TruncatedError,
    entropy,
    packets,
)
from codec_rt.config import ModelConfig
from codec_rt.grid import stream_latency_ms
from codec_rt.level import Loudness

DATA = Path(__file__).parent / "data"
MODELS = {"fixed": DATA / "golden_model", "range": DATA / "golden_model_range"}


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, int]:
    """3 s of real speech, mono 16 kHz."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32", always_2d=True)
    return np.ascontiguousarray(x[:48000].T), sr


@pytest.fixture(scope="module")
def codecs() -> dict[str, Codec]:
    return {name: Codec.load(path) for name, path in MODELS.items()}


def live(codec: Codec, x: np.ndarray, sr: int) -> bytes:
    """What a live stream writes of `x` (no first pass: each packet's gain its own), fed in one piece."""
    enc = StreamEncoder(codec, sr, x.shape[0])
    return enc.push(x) + enc.flush()


def push_in_pieces(enc: StreamEncoder, x: np.ndarray, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.shape[1]:
        n = int(rng.choice([1, 7, 320, 4000, 20000]))
        out.append(enc.push(x[:, i : i + n]))
        i += n
    return b"".join(out) + enc.flush()


def decode_in_pieces(dec: StreamDecoder, data: bytes, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < len(data):
        n = int(rng.choice([1, 13, 500, 3000]))
        out.append(dec.push(data[i : i + n]))
        i += n
    pushed = [y for y in out if y.size]
    return np.concatenate(pushed + [dec.flush()], axis=1), pushed


@pytest.mark.parametrize("coder", MODELS)
@pytest.mark.parametrize("mode", ["predicted", "store_phase"])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_a_stream_in_any_pieces_equals_whole_file_coding(codecs: dict[str, Codec], clip: tuple[np.ndarray, int],
                                                         coder: str, mode: str, rate: int) -> None:
    codec = codecs[coder]
    x, sr = clip
    if rate != sr:  # stereo at 44.1 kHz: resampled in and out by the streaming resampler
        import soxr

        x = np.ascontiguousarray(soxr.resample(np.stack([x[0], 0.5 * x[0]]).T, sr, rate).T.astype(np.float32))
    whole = codec.encode(x, rate, mode=mode, framed=True, packet_steps=5)
    level = Loudness()  # the file's level, which Codec.encode measures first
    level.add(x)
    streamed = push_in_pieces(StreamEncoder(codec, rate, x.shape[0], mode=mode, packet_steps=5, level=level), x,
                              seed=1)
    assert streamed == whole  # bit for bit: the same symbols, gains, frames
    y, out_rate = codec.decode(whole)
    assert (out_rate, y.shape) == (rate, x.shape)
    y2, _ = decode_in_pieces(StreamDecoder(codec), whole, seed=2)
    assert y2.shape == y.shape
    np.testing.assert_allclose(y2, y, rtol=0, atol=1e-4)
    assert np.array_equal(y2, y)  # in fact identical: the same blocks, the same arithmetic


def test_framed_symbols_are_the_whole_file_symbols_bit_for_bit(codecs: dict[str, Codec],
                                                              clip: tuple[np.ndarray, int]) -> None:
    """Quiet speech: every frame's level gain and the whole file's clamp to the same maximum, so the only
    difference left is framing; each frame's window covers the encoder's receptive field, and both layouts
    code the same signal (the lead-in, the audio, the lead-out: FORMAT.md 7.1), so the symbols are the
    whole-file graph's, bit for bit, and so is the decoded audio (with the gains applied stored: the level
    match, FORMAT.md 7.7, sets each packet's from its own decoded level)."""
    codec = codecs["range"]
    x, sr = clip
    quiet = x * np.float32(1e-4)
    framed = codec.encode(quiet, sr, framed=True, packet_steps=4, level_match=False)
    whole = codec.encode(quiet, sr, level_match=False)
    tables = codec.model.entropy
    assert tables is not None
    h, frames = packets.read_packets(framed)
    hw, [section] = packets.read(whole)
    assert h.pre_skip == h.post_skip == hw.pre_skip == hw.post_skip == 16 * codec.config.hop
    assert {ch.gain for fr in frames for ch in fr.channels} == {section.gain}
    symbols = np.concatenate([entropy.decode(fr.channels[0].coded, tables, fr.steps) for fr in frames], axis=-1)
    np.testing.assert_array_equal(symbols, entropy.decode(section.coded, tables, hw.latent_steps))
    assert len(frames) > 5 and (h.num_samples, h.n_frames, h.latent_steps) == (
        hw.num_samples, hw.n_frames, hw.latent_steps)
    np.testing.assert_array_equal(codec.decode(framed)[0], codec.decode(whole)[0])


@pytest.mark.parametrize("coder", MODELS)
def test_graph_windows_with_the_configured_context_are_exact(codecs: dict[str, Codec],
                                                            clip: tuple[np.ndarray, int], coder: str) -> None:
    """ModelConfig.encoder_frames / decoder_steps: windows cut with them reproduce the whole-file graphs
    exactly; one step less of context does not (so the context is not overstated either)."""
    from codec_rt import stft

    codec = codecs[coder]
    cfg = codec.config
    feats = stft.to_features(stft.stft(clip[0] * 3, cfg.n_fft, cfg.hop))
    z = codec.model.encode(feats)
    t_all, l_all = feats.shape[-1], z.shape[-1]
    j0, j1 = 40, 47
    t0, t1 = cfg.encoder_frames(j0, j1)
    w0, w1 = t0 // 4 * 4, -(-t1 // 4) * 4
    assert np.array_equal(codec.model.encode(feats[..., w0:w1])[..., j0 - w0 // 4 : j1 - w0 // 4], z[..., j0:j1])
    assert not np.array_equal(codec.model.encode(feats[..., w0 + 4 : w1])[..., j0 - w0 // 4 - 1 : j1 - w0 // 4 - 1],
                              z[..., j0:j1])
    y = codec.model.decode(z)[..., :t_all]
    a, b = cfg.decoder_steps(160, 200)
    assert 0 < a and b < l_all
    assert np.array_equal(codec.model.decode(z[..., a:b])[..., 160 - 4 * a : 200 - 4 * a], y[..., 160:200])
    assert not np.array_equal(codec.model.decode(z[..., a + 1 : b])[..., 160 - 4 * (a + 1) : 200 - 4 * (a + 1)],
                              y[..., 160:200])


def test_causal_context_matches_a_causal_model() -> None:
    torch = pytest.importorskip("torch")
    from models import SpecAutoencoder

    cfg = ModelConfig(channels=2, hidden=4, time_downsamples=0, causal=1)
    torch.manual_seed(0)
    model = SpecAutoencoder(cfg).eval()
    x = torch.randn(1, 2, cfg.n_bins, 60)
    with torch.no_grad():
        z = model.encoder(x)
        x2 = x.clone()
        x2[..., 30] += 1.0
        changed = (model.encoder(x2) - z).abs().amax(dim=(0, 1, 2)).nonzero().flatten()
        assert changed.min().item() == 30 and changed.max().item() == cfg.encoder_frames(0, 1)[1] - 1 - \
            cfg.encoder_frames(0, 1)[0] + 30
        y = model.decoder(z)
        z2 = z.clone()
        z2[..., 30] += 1.0
        hit = (model.decoder(z2) - y).abs().amax(dim=(0, 1, 2)).nonzero().flatten()
        assert (hit.min().item(), hit.max().item()) == (30, 30 - cfg.decoder_steps(0, 1)[0])
    assert cfg.lookahead_frames == 0 and cfg.latency_ms == pytest.approx(1000 * cfg.n_fft / cfg.sample_rate)


def test_latencies() -> None:
    shipped = ModelConfig(channels=6, default_bits=5)
    assert shipped.lookahead_frames == 30 and shipped.latency_ms == pytest.approx(272.0)
    causal = ModelConfig(n_fft=320, hop=160, time_downsamples=0, causal=1)
    assert causal.latency_ms == pytest.approx(20.0)
    # Streaming adds the frame and the decoder's block: more than the model alone, less than a few blocks.
    assert shipped.latency_ms < stream_latency_ms(shipped, 31) < 4000
    assert stream_latency_ms(causal, 1, block_frames=2, margin_frames=2) < 100
    # A causal model streamed frame by frame without Griffin-Lim adds nothing to its window.
    assert stream_latency_ms(causal, 1, block_frames=1, margin_frames=1, phase_iters=0) == pytest.approx(20.0)


@pytest.mark.parametrize("coder", MODELS)
def test_a_cut_stream_decodes_its_prefix_with_a_warning(codecs: dict[str, Codec], clip: tuple[np.ndarray, int],
                                                        coder: str, caplog: pytest.LogCaptureFixture) -> None:
    codec = codecs[coder]
    x, sr = clip
    data = codec.encode(x, sr, framed=True, packet_steps=4)
    full, _ = codec.decode(data)
    _, frames = packets.read_packets(data)
    cut = frames[20].offset + 10  # 20 whole frames (80 latent steps, 2.5 blocks), and 10 bytes of the next
    with pytest.raises(TruncatedError):
        codec.decode(data[:cut])  # the whole-blob API is strict
    dec = StreamDecoder(codec)
    with caplog.at_level(logging.WARNING):
        y, pushed = decode_in_pieces(dec, data[:cut], seed=3)
    assert dec.truncated and "cut after packet 19" in caplog.text and "20 whole packets" in caplog.text
    steps = 20 * 4
    pre_skip = packets.read_packets(data)[0].pre_skip  # the lead-in is not audio
    assert y.shape == (1, (steps * 4 - 1) * codec.config.hop - pre_skip)  # up to the last whole frame's
    early = np.concatenate(pushed, axis=1) if pushed else np.zeros((1, 0), np.float32)
    assert early.shape[1] > 0
    np.testing.assert_array_equal(early, full[:, : early.shape[1]])  # what came out before the cut is final
    # the rest approximates the full decode (only the last block knows no right context): 10 dB under it
    rms = lambda v: float(np.sqrt(np.mean(np.square(v))))  # noqa: E731
    assert rms(y - full[:, : y.shape[1]]) < 0.3 * rms(full[:, : y.shape[1]])


def test_a_damaged_packet_is_named_and_the_packets_before_it_decode(codecs: dict[str, Codec],
                                                                  clip: tuple[np.ndarray, int]) -> None:
    codec = codecs["fixed"]
    data = bytearray(codec.encode(*clip, framed=True, packet_steps=4))
    _, frames = packets.read_packets(bytes(data))
    data[frames[8].offset + 20] ^= 0x40
    dec = StreamDecoder(codec)
    with pytest.raises(ChecksumError, match=f"packet 8 \\(byte {frames[8].offset}\\)"):
        dec.push(bytes(data))
    assert dec.packets == 8


def test_reset_starts_a_new_stream(codecs: dict[str, Codec], clip: tuple[np.ndarray, int]) -> None:
    codec = codecs["range"]
    x, sr = clip
    a, b = x[:, :20000], x[:, 20000:]
    enc = StreamEncoder(codec, sr, 1)
    enc.push(a)
    enc.reset()  # midway: forget a
    assert push_in_pieces(enc, b, seed=4) == live(codec, b, sr)
    with pytest.raises(CodecError, match="flushed"):
        enc.push(a)
    enc.reset()
    assert push_in_pieces(enc, a, seed=5) == live(codec, a, sr)
    dec = StreamDecoder(codec)
    first = codec.encode(a, sr, framed=True)
    dec.push(first[: len(first) // 2])
    dec.reset()
    y, _ = decode_in_pieces(dec, codec.encode(b, sr, framed=True), seed=6)
    np.testing.assert_array_equal(y, codec.decode(codec.encode(b, sr, framed=True))[0])


def test_explicit_state_can_be_swapped_and_copied(codecs: dict[str, Codec], clip: tuple[np.ndarray, int]) -> None:
    """One encoder object, two interleaved streams by swapping their states in and out; and a copied state
    forks a stream."""
    codec = codecs["fixed"]
    x, sr = clip
    a, b = x[:, :30000], x[::-1, 10000:40000].copy()
    enc = StreamEncoder(codec, sr, 1)
    states = {"a": enc.initial_state(), "b": enc.initial_state()}
    out = {"a": b"", "b": b""}
    for i in range(0, 30000, 3000):
        for name, sig in (("a", a), ("b", b)):
            enc.state = states[name]
            out[name] += enc.push(sig[:, i : i + 3000])
    for name in out:
        enc.state = states[name]
        out[name] += enc.flush()
    assert out["a"] == live(codec, a, sr) and out["b"] == live(codec, b, sr)
    enc.reset()
    head = enc.push(a[:, :15000])
    fork = copy.deepcopy(enc.state)
    rest = enc.push(a[:, 15000:]) + enc.flush()
    enc.state = fork
    assert enc.push(a[:, 15000:]) + enc.flush() == rest and head + rest == out["a"]


@pytest.mark.parametrize("n", [0, 1, 300, 513, 16001])
def test_any_length_round_trips_exactly(codecs: dict[str, Codec], clip: tuple[np.ndarray, int], n: int) -> None:
    codec = codecs["range"]
    x = clip[0][:, :n]
    for rate in (16000, 48000):
        data = codec.encode(x, rate, framed=True, packet_steps=3)
        y, _ = decode_in_pieces(StreamDecoder(codec), data, seed=n)
        assert y.shape == (1, n)
        np.testing.assert_array_equal(y, codec.decode(data)[0])


def test_bad_chunks_and_options_are_codec_errors(codecs: dict[str, Codec]) -> None:
    codec = codecs["fixed"]
    enc = StreamEncoder(codec, 16000, 2)
    for bad in (np.zeros((1, 10), np.float32), np.zeros((2, 10), np.int16), np.full((2, 3), np.nan, np.float32)):
        with pytest.raises(CodecError):
            enc.push(bad)
    for kwargs in ({"packet_steps": 0}, {"mode": "lossless"}, {"bits": 17}):
        with pytest.raises(CodecError):
            StreamEncoder(codec, 16000, 1, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        StreamEncoder(codecs["range"], 16000, 1, bits=5)
    with pytest.raises(CodecError):
        StreamEncoder(codec, 500, 1)
    with pytest.raises(CodecError):
        StreamDecoder(codec, phase_iters=-1)
    # a count given as a fraction, a float or a bool is a mistake, refused with its name, not rounded
    for name, value in [("block_frames", 1.5), ("block_frames", 0), ("margin_frames", -1), ("margin_frames", 2.0),
                        ("phase_iters", 2.5), ("phase_iters", True)]:
        with pytest.raises(CodecError, match=name):
            StreamDecoder(codec, **{name: value})  # type: ignore[arg-type]
    for steps in (2.5, 4.0, True):
        with pytest.raises(CodecError, match="packet_steps"):
            StreamEncoder(codec, 16000, 1, packet_steps=steps)  # type: ignore[arg-type]
    assert StreamDecoder(codec, block_frames=np.int64(16)).block_frames == 16
