"""The rate-quality benchmark: alignment, scoring, Ogg packet accounting, and the whole harness on a tiny case.
Parts that need opusenc or c2enc skip where those tools are missing."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from benchmarks import baselines, rate_quality
from benchmarks.baselines import ogg_crc, ogg_packet_sizes, ogg_page, opus_audio_bytes
from benchmarks.clips import load_set
from benchmarks.scoring import METRICS, align, codec_lag, estimate_lag, refine, score
from codec_rt import metrics
from codec_rt.ladder import select

DATA = Path(__file__).parent / "data"
HAVE_PESQ = importlib.util.find_spec("pesq") is not None
HAVE_STOI = importlib.util.find_spec("pystoi") is not None
needs_opus = pytest.mark.skipif(not baselines.have_opus(), reason="opusenc/opusdec not installed")


def _delay(x: np.ndarray, lag: int) -> np.ndarray:
    """x delayed by `lag` samples (advanced when negative), same length."""
    if lag >= 0:
        return np.concatenate([np.zeros(lag, x.dtype), x[: x.shape[0] - lag]])
    return np.concatenate([x[-lag:], np.zeros(-lag, x.dtype)])


@pytest.mark.parametrize("lag", [0, 37, -23, 240])
def test_alignment_recovers_a_known_delay(speech: tuple[np.ndarray, int], lag: int) -> None:
    x = speech[0][0]
    rng = np.random.default_rng(0)
    deg = (0.8 * _delay(x, lag) + 0.01 * rng.standard_normal(x.shape[0])).astype(np.float32)
    assert estimate_lag(x, deg, max_lag=800) == lag
    r, d = align(x, _delay(x, lag), lag)
    assert r.shape == d.shape == (x.shape[0] - abs(lag),)
    np.testing.assert_array_equal(r, d)


def test_alignment_is_bounded_and_silence_gives_zero(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    assert abs(estimate_lag(x, _delay(x, 1000), max_lag=800)) <= 800  # a longer delay is not searched
    assert estimate_lag(x, np.zeros_like(x), max_lag=800) == 0


def test_codec_lag_pools_clips_so_one_misleading_clip_does_not_decide(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    rng = np.random.default_rng(2)
    parts = [x[i : i + 16000] for i in (0, 16000, 32000)]
    pairs = [(p, (_delay(p, 40) + 0.3 * rng.standard_normal(p.shape[0])).astype(np.float32)) for p in parts]
    pairs.append((parts[0], _delay(parts[1], -100)))  # unrelated audio: its own peak is somewhere else
    lag, peaks = codec_lag(pairs, max_lag=800)
    assert lag == 40 and peaks[:3] == [40, 40, 40] and peaks[3] != 40
    assert codec_lag([], 800) == (0, [])


def test_codec_lag_finds_the_delay_of_a_codec_that_synthesizes_its_own_phase(speech: tuple[np.ndarray, int]) -> None:
    """Our decoders rebuild the phase (Griffin-Lim): the output keeps the input's spectrogram, not its
    waveform. Resynthesized here with random phase, the delay is still found (to the envelope's 2 ms)."""
    from codec_rt import stft

    x = speech[0][0]
    rng = np.random.default_rng(4)
    pairs = []
    for i in (0, 16000, 32000, 48000):
        part = x[i : i + 16000]
        spec = stft.stft(part[None], 512, 128)
        spec = np.abs(spec) * np.exp(2j * np.pi * rng.random(spec.shape))
        pairs.append((part, _delay(stft.istft(spec, 512, 128, part.shape[0])[0].astype(np.float32), 200)))
    lag, _ = codec_lag(pairs, max_lag=800)
    assert abs(lag - 200) <= 16


def test_refine_finds_a_fractional_delay_and_align_undoes_it(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    n = x.shape[0]
    spec = np.fft.rfft(x.astype(np.float64), 2 * n)
    for true in (0.3, -0.6, 12.25):  # deg[n] = x(n - true): band-limited fractional delay
        deg = np.fft.irfft(spec * np.exp(-2j * np.pi * np.arange(spec.shape[0]) * true / (2 * n)), 2 * n)[:n]
        deg = deg.astype(np.float32)
        lag = refine(x, deg, estimate_lag(x, deg, max_lag=800))
        assert lag == pytest.approx(true, abs=0.1)
        r, d = align(x, deg, true)
        assert metrics.si_sdr(r[None], d[None]) > 40.0  # the exact shift undoes it (edges aside)
        r, d = align(x, deg, round(true))
        assert metrics.si_sdr(r[None], d[None]) < 30.0  # a nearest-integer shift does not


def test_a_sets_figures_do_not_depend_on_which_other_sets_ran(speech: tuple[np.ndarray, int]) -> None:
    """Each set gets its own integer lag: a codec that delays music more than speech (or a set with a
    different lag) must not move the speech figures, so a speech-only run scores what a full run does."""
    from benchmarks.baselines import Coded
    from benchmarks.clips import Clip

    x = speech[0][0][:48000]
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 16000)).astype(np.float32)

    def run(a: np.ndarray) -> Coded:  # speech 8 samples late, the other set 120 (as a codec by content)
        lag = 8 if a is x else 120
        noise = np.random.default_rng(lag).standard_normal(a.shape[0])
        y = (_delay(a, lag) + 0.003 * noise).astype(np.float32)
        return Coded(y, 100, 100)

    sp = Clip("s.flac", "s.flac", 0.0, x)
    other = [Clip(f"m{i}.flac", f"m{i}.flac", 0.0, (tone + 0.1 * x).astype(np.float32)) for i in range(3)]
    alone = rate_quality.run_point(run, {"speech": [sp]}, 0.05, per_clip_lag=False)["speech"]
    both = rate_quality.run_point(run, {"speech": [sp], "music": other}, 0.05, per_clip_lag=False)
    assert alone["lag_ms"]["integer"] == both["speech"]["lag_ms"]["integer"] == 0.5  # 8 samples
    assert both["music"]["lag_ms"]["integer"] == 7.5
    assert alone["mean"] == both["speech"]["mean"]


def test_identical_signals_score_perfectly(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    s = score(x, x.copy())
    assert s["lag_ms"] == 0.0
    assert s["lsd"] == 0.0 and s["mel"] == 0.0
    assert s["si_sdr"] > 100.0
    if HAVE_PESQ:
        assert s["pesq_wb"] == pytest.approx(4.644, abs=1e-3)  # the top of the P.862.2 scale
    if HAVE_STOI:
        assert s["stoi"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # pesq normalizes by a zero peak
def test_a_degraded_signal_scores_worse_and_silence_is_nan_not_a_crash(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    noisy = (x + 0.05 * np.random.default_rng(1).standard_normal(x.shape[0])).astype(np.float32)
    s = score(x, noisy)
    assert 5.0 < s["si_sdr"] < 30.0 and s["lsd"] > 1.0 and s["mel"] > 1.0
    silent = score(np.zeros_like(x), np.zeros_like(x))  # PESQ finds no utterance: NaN, counted later
    if HAVE_PESQ:
        assert np.isnan(silent["pesq_wb"])
    assert set(METRICS) <= set(silent)


def test_ogg_crc_is_the_ogg_polynomial() -> None:
    # CRC-32 with polynomial 0x04C11DB7, init 0, no reflection, no final xor: the check value of "123456789".
    assert ogg_crc(b"123456789") == 0x89A1897F


def _raw_page(lacing: list[int], body: bytes, seqno: int, flags: int = 0) -> bytes:
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, 0, 7, seqno, 0, len(lacing))
    page = bytearray(header + bytes(lacing) + body)
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def test_ogg_accounting_sums_audio_packets_and_skips_the_headers() -> None:
    head, tags = b"OpusHead" + bytes(11), b"OpusTags" + bytes(292)  # 19 and 300 bytes (tags span 2 segments)
    audio = [bytes([i]) * n for i, n in enumerate([30, 255, 510, 1, 77])]  # 255 and 510 end with a 0 lace
    big = bytes(600)  # a packet continued from one page onto the next
    stream = (
        ogg_page([head], serial=7, seqno=0, granule=0, flags=2)
        + ogg_page([tags], serial=7, seqno=1, granule=0)
        + ogg_page(audio, serial=7, seqno=2, granule=960)
        + _raw_page([255, 255], big[:510], seqno=3)  # unfinished: both laces are 255
        + _raw_page([90, 40], big[510:] + bytes(40), seqno=4, flags=1)  # continuation, then a 40-byte packet
    )
    sizes = ogg_packet_sizes(stream)
    assert sizes == [19, 300, 30, 255, 510, 1, 77, 600, 40]
    assert opus_audio_bytes(stream) == 30 + 255 + 510 + 1 + 77 + 600 + 40
    bad = bytearray(stream)
    bad[-1] ^= 1
    with pytest.raises(ValueError, match="checksum"):
        ogg_packet_sizes(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        ogg_packet_sizes(stream[:-5])
    with pytest.raises(ValueError, match="unfinished"):
        ogg_packet_sizes(stream[: -len(_raw_page([90, 40], bytes(130), seqno=4, flags=1))])


@needs_opus
def test_opusenc_output_accounting(speech: tuple[np.ndarray, int]) -> None:
    x = speech[0][0]
    coded = baselines.opus_round_trip(x, 12)
    # 12 kbps hard CBR in 20 ms frames is exactly 30 bytes a packet; the container costs the rest of the file.
    seconds = x.shape[0] / 16000
    n_packets = coded.bytes // 30
    assert coded.bytes == 30 * n_packets
    assert seconds / 0.02 <= n_packets <= seconds / 0.02 + 4
    assert coded.file_bytes > coded.bytes + 19
    assert coded.audio.shape == x.shape and coded.audio.dtype == np.float32


def test_harness_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    (tmp_path / "speech").mkdir()
    (tmp_path / "music").mkdir()
    shutil.copy(DATA / "speech_fr_16k.flac", tmp_path / "speech")
    shutil.copy(DATA / "music_44k_stereo.ogg", tmp_path / "music")
    codecs = ["ours"] + (["opus"] if baselines.have_opus() else []) + (["codec2"] if baselines.have_codec2() else [])
    out = tmp_path / "out"
    rate_quality.main([
        "--speech", str(tmp_path / "speech"), "--music", str(tmp_path / "music"), "--limit", "1",
        "--music-limit", "1", "--clip-seconds", "3", "--codecs", ",".join(codecs), "--opus-kbps", "12",
        "--codec2-modes", "3200", "--out", str(out),
    ])
    r = json.loads((out / "results.json").read_text())
    assert r["schema"] == rate_quality.SCHEMA and r["sample_rate"] == 16000
    assert [c["name"] for c in r["clips"]["speech"]] == ["speech_fr_16k.flac"]
    assert r["clips"]["music"][0]["seconds"] == pytest.approx(3.0, abs=1e-3)
    assert sorted(dict.fromkeys(p["codec"] for p in r["points"])) == sorted(codecs)
    for p in r["points"]:
        assert {"codec", "setting", "nominal_kbps", "label", "kbps", "sets"} <= set(p)
        for set_name in ("speech", "music"):
            s = p["sets"][set_name]
            assert set(s["mean"]) == set(METRICS) == set(s["nan"])
            (clip,) = s["clips"]
            assert clip["kbps"] == pytest.approx(8 * clip["bytes"] / clip["seconds"] / 1000)
            assert s["kbps"] == pytest.approx(clip["kbps"])
            # one integer lag per codec point and set, refined per clip by less than a sample (1/16 ms)
            lag = s["lag_ms"]["integer"]
            assert abs(clip["lag_ms"] - lag) <= 1 / 16 and abs(lag) <= 50.0
            assert s["mean"]["lsd"] is not None and s["mean"]["mel"] is not None
    by_codec = {p["codec"]: p for p in r["points"]}
    if "opus" in by_codec:
        assert by_codec["opus"]["sets"]["speech"]["kbps"] == pytest.approx(12.0, rel=0.05)
        assert by_codec["opus"]["sets"]["speech"]["file_kbps"] > by_codec["opus"]["sets"]["speech"]["kbps"]
    if "codec2" in by_codec:
        assert by_codec["codec2"]["sets"]["speech"]["kbps"] == pytest.approx(3.2, rel=0.05)
    md = (out / "results.md").read_text()
    assert "| codec | setting | actual kbps | PESQ-WB | STOI |" in md and "## music" in md
    assert md.count("\n| ours |") == 2 * sum(p["codec"] == "ours" for p in r["points"])
    assert (out / "rate_quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_candidate_directory_is_scored_beside_the_ladder(tmp_path: Path) -> None:
    """`--model NAME=DIR`: a model off the ladder is measured in the same run, under its own name and id; the
    shipped 3 kbps point's own directory scores exactly as its ladder point does in a bare directory's mode
    (predicted; the point codes a tonal band)."""
    (tmp_path / "speech").mkdir()
    shutil.copy(DATA / "speech_fr_16k.flac", tmp_path / "speech")
    out = tmp_path / "out"
    rate_quality.main([
        "--speech", str(tmp_path / "speech"), "--music", "", "--limit", "1", "--clip-seconds", "3",
        "--codecs", "", "--model", f"cand={select(3.0, False, False)}", "--out", str(out),
    ])
    (p,) = json.loads((out / "results.json").read_text())["points"]
    assert p["codec"] == "cand" and p["nominal_kbps"] is None
    run, model_id = rate_quality.ours.round_trip(3.0, mode="predicted")
    assert p["model_id"] == model_id
    (clip,) = load_set(tmp_path / "speech", 1, 1.5, 3.0)
    assert p["sets"]["speech"]["clips"][0]["bytes"] == run(clip.audio).bytes
    with pytest.raises(SystemExit, match="NAME=DIR"):
        rate_quality.candidate("just-a-dir")
