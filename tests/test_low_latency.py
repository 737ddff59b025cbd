"""The shipped low-latency model: causal, at most 20 ms of algorithmic latency, and a live stream of 20 ms
chunks that plays each chunk as it is encoded, with the bytes and samples of whole-file coding."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import Codec, StreamDecoder, StreamEncoder, ladder, metrics
from codec_rt.grid import causal_features, causal_window_start, stream_latency_ms

DATA = Path(__file__).parent / "data"
CHUNK = 320  # 20 ms at 16 kHz


@pytest.fixture(scope="module")
def ll() -> Codec:
    return Codec.load(low_latency=True)


def test_the_low_latency_point_is_causal_and_within_20_ms(ll: Codec) -> None:
    (point,) = [p for p in ladder.points() if p.low_latency]
    assert ll.model_id == point.model_id and ll.config.causal == 1
    assert ll.config.lookahead_frames == 0 and ll.config.latency_ms <= 20.0
    # The other ladder never picks it, whatever the bitrate.
    assert all(ladder.select(p.kbps) != point.path for p in ladder.points() if not p.low_latency)


def test_a_live_stream_plays_each_chunk_as_it_goes(ll: Codec, speech: tuple[np.ndarray, int]) -> None:
    x, sr = speech
    cfg = ll.config
    frames = CHUNK // cfg.hop  # one chunk per frame of the blob and per decoder block
    enc = StreamEncoder(ll, sr, 1, packet_steps=frames)
    dec = StreamDecoder(ll, block_frames=frames, margin_frames=0)
    sent, outs, backlog = b"", [], 0
    for i in range(0, x.shape[1], CHUNK):
        data = enc.push(x[:, i : i + CHUNK])
        outs.append(dec.push(data))
        sent += data
        backlog = max(backlog, min(i + CHUNK, x.shape[1]) - sum(o.shape[1] for o in outs))
    data = enc.flush()
    outs += [dec.push(data), dec.flush()]
    y = np.concatenate(outs, axis=1)
    # The bytes of the audio pushed in one piece, and the samples of whole-blob decoding (which decodes in
    # big blocks: causal blocks join exactly).
    blob = sent + data
    one = StreamEncoder(ll, sr, 1, packet_steps=frames)
    assert blob == one.push(x) + one.flush()
    assert np.allclose(y, ll.decode(blob)[0], atol=1e-4)
    # What is still inside the codec after a push: the model's window plus the chunk being gathered.
    latency = stream_latency_ms(cfg, frames, frames, 0)
    assert latency <= cfg.latency_ms + 1000 * CHUNK / sr
    assert backlog <= latency * sr / 1000
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    assert metrics.stoi(x, y, sr) > 0.6


def test_cli_low_latency_round_trip(tmp_path: Path) -> None:
    src = DATA / "speech_fr_16k.flac"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True)

    r = run("encode", str(src), "-o", str(tmp_path / "s.cra"), "--low-latency")
    assert r.returncode == 0, r.stderr
    info = dict(line.split(None, 1) for line in run("info", str(tmp_path / "s.cra")).stdout.splitlines())
    assert info["model_id"] == Codec.load(low_latency=True).model_id and float(info["latency_ms"]) <= 20.0
    r = run("decode", str(tmp_path / "s.cra"), "-o", str(tmp_path / "s.wav"))
    assert r.returncode == 0, r.stderr
    assert sf.info(str(tmp_path / "s.wav")).frames == sf.info(str(src)).frames


@pytest.mark.parametrize("sizes", [[1], [5], [3, 17, 2]])
def test_the_decoder_graph_gives_each_frame_the_same_bits_however_the_frames_are_asked_for(
        ll: Codec, sizes: list[int]) -> None:
    """A live stream asks for a few frames at a time, with only the latent steps up to them; whole-file decoding
    for big blocks. Each frame comes from the same fixed window either way, so from the same bits (the causal
    phase recursion would amplify a last-bit difference), and the windows are the graph over the whole."""
    rng = np.random.default_rng(4)
    cfg, model = ll.config, ll.model
    z = rng.standard_normal((1, cfg.channels, cfg.latent_bins, 90)).astype(np.float32)
    whole = causal_features(cfg, model.decode, z, 0, 0, 90)
    parts, t = [], 0
    while t < 90:
        n = min(sizes[len(parts) % len(sizes)], 90 - t)
        z0 = causal_window_start(cfg, t)  # what a stream still holds: from the window's first step to its last
        parts.append(causal_features(cfg, model.decode, z[..., z0 : t + n], z0, t, t + n))
        t += n
    assert np.array_equal(np.concatenate(parts, axis=-1), whole)
    np.testing.assert_allclose(whole, model.decode(z), atol=1e-4)
