"""The bitrate ladder through the CLI: `--bitrate` picks the highest point at or below it, the blob names that
model, `info` prints its actual kbps, and `decode` finds the model by itself."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf

from codec_rt import Codec, CodecError, ModelError, ModelMismatchError, ladder

DATA = Path(__file__).parent / "data"
POINTS = ladder.points()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True)


def test_ladder_json_names_the_models_it_ships() -> None:
    d = json.loads((ladder.MODELS_DIR / "ladder.json").read_text())
    assert d["default_kbps"] in [p.kbps for p in POINTS]
    for p in POINTS:
        for role in ("encoder", "decoder"):
            session = ort.InferenceSession(str(p.path / f"{role}.onnx"), providers=["CPUExecutionProvider"])
            meta = session.get_modelmeta().custom_metadata_map
            assert meta["codec_rt.model_id"] == p.model_id


@pytest.mark.parametrize("point", POINTS, ids=lambda p: f"{p.kbps:g}k")
def test_bitrate_picks_the_point_and_decode_finds_its_model(point: ladder.LadderPoint, tmp_path: Path) -> None:
    # A request a little above the point still picks it (nearest at or below).
    src, out = str(DATA / "speech_fr_16k.flac"), str(tmp_path / "s.cra")
    extra = ["--low-latency"] if point.low_latency else ["--bits", "5"] if point.fixed_width else []
    r = run("encode", src, "-o", out, "--bitrate", f"{point.kbps + 0.5:g}", *extra)
    assert r.returncode == 0, r.stderr
    info = dict(line.split(None, 1) for line in run("info", str(tmp_path / "s.cra")).stdout.splitlines())
    assert info["model_id"] == point.model_id
    size = (tmp_path / "s.cra").stat().st_size
    seconds = sf.info(str(DATA / "speech_fr_16k.flac")).frames / 16000
    assert float(info["kbps"]) == pytest.approx(8 * size / seconds / 1000, abs=1e-3)
    r = run("decode", str(tmp_path / "s.cra"), "-o", str(tmp_path / "s.wav"))
    assert r.returncode == 0, r.stderr
    assert sf.info(str(tmp_path / "s.wav")).frames == sf.info(str(DATA / "speech_fr_16k.flac")).frames


def test_a_bitrate_below_the_ladder_is_a_one_line_error(tmp_path: Path) -> None:
    r = run("encode", str(DATA / "speech_fr_16k.flac"), "-o", str(tmp_path / "s.cra"), "--bitrate",
            f"{POINTS[0].kbps / 2:g}")
    assert r.returncode == 2 and "no model at or below" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "s.cra").exists()


def test_bitrate_climbs_the_range_coded_ladder_and_bits_pick_the_fixed_width_model(tmp_path: Path) -> None:
    """A fixed-width point codes at the bits asked for: `--bitrate` never lands on it, however high (it is not
    the better model at its rate), and `--bits` alone picks it."""
    coded = [p for p in POINTS if not p.low_latency and not p.fixed_width]
    fixed = [p for p in POINTS if p.fixed_width]
    assert coded and fixed
    assert Codec.load(bitrate=10 * max(p.kbps for p in POINTS)).model_id == coded[-1].model_id
    src, out = str(DATA / "speech_fr_16k.flac"), tmp_path / "s.cra"
    r = run("encode", src, "-o", str(out), "--bits", "4")
    assert r.returncode == 0, r.stderr
    info = dict(line.split(None, 1) for line in run("info", str(out)).stdout.splitlines())
    assert info["model_id"] == fixed[-1].model_id
    r = run("encode", src, "-o", str(tmp_path / "ll.cra"), "--bits", "4", "--low-latency")
    assert r.returncode == 2 and "no low-latency fixed-width model" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "ll.cra").exists()


def test_model_and_bitrate_together_are_refused() -> None:
    with pytest.raises(CodecError, match="not both"):
        Codec.load(POINTS[0].path, bitrate=POINTS[0].kbps)


def test_a_blob_of_an_unshipped_model_names_its_id(speech: tuple[np.ndarray, int]) -> None:
    data = Codec.load(DATA / "golden_model_range").encode(speech[0], speech[1])
    with pytest.raises(ModelMismatchError, match="9b07ca76980781c7"):
        Codec.for_blob(data)


@pytest.mark.parametrize("point", POINTS, ids=lambda p: f"{p.kbps:g}k")
def test_each_point_keeps_speech_intelligible(point: ladder.LadderPoint, speech: tuple[np.ndarray, int]) -> None:
    """A floor that a broken model or pipeline (STOI ~0.5) fails; the benchmark holds the real figures."""
    from codec_rt import metrics

    x, sr = speech
    codec = Codec.for_point(point)
    data = codec.encode(x, sr)
    y, _ = codec.decode(data)
    assert y.shape == x.shape
    assert 8 * len(data) / (x.shape[1] / sr) / 1000 < 1.5 * point.kbps
    pytest.importorskip("pystoi", reason="STOI needs the metrics extra (pystoi)")
    assert metrics.stoi(x, y, sr) > 0.7


def test_the_24_kbps_point_is_the_12_kbps_model_with_the_low_band_in_the_blob(tmp_path: Path) -> None:
    """`--bitrate 24` codes the 12 kbps model in mode low_band_phase (format 1.8; 1.10 dithers its codes);
    `--mode` still wins."""
    src = str(DATA / "speech_fr_16k.flac")
    twelve, top = Codec.load(bitrate=12), Codec.load(bitrate=24)
    assert (top.model_id, top.mode, twelve.mode) == (twelve.model_id, "low_band_phase", "tonal_band_phase")
    assert (top.phase_bins, top.phase_bits) == (None, None)  # the model's: 700 Hz at 4 bits

    def info(*extra: str) -> dict[str, str]:
        out = tmp_path / "s.cra"
        r = run("encode", src, "-o", str(out), "--force", *extra)
        assert r.returncode == 0, r.stderr
        return dict(line.split(None, 1) for line in run("info", str(out)).stdout.splitlines())

    lbp, plain = info("--bitrate", "24"), info("--bitrate", "24", "--mode", "predicted")
    assert (lbp["mode"], lbp["format"], lbp["model_id"]) == ("low_band_phase", "1.10", twelve.model_id)
    assert (plain["mode"], plain["format"]) == ("predicted", "1.7")
    assert 16.0 < float(lbp["kbps"]) < 26.0 and float(plain["kbps"]) < 14.0
    assert [p.model_id for p in ladder.models()].count(twelve.model_id) == 1


def test_the_18_kbps_point_is_the_12_kbps_model_with_a_narrower_band(tmp_path: Path) -> None:
    """`--bitrate 18` (up to 23) codes the 12 kbps model with the phase of the bins up to 500 Hz at 3 bits, a
    blob of format 1.10 between the 12 and 24 kbps points' in rate; `--bitrate 16` falls to the 12 kbps point
    since the 16 kbps model retired (it coded 17.3 kbps)."""
    src = str(DATA / "speech_fr_16k.flac")
    twelve = Codec.load(bitrate=12)
    for k in (18, 23):
        point = Codec.load(bitrate=k)
        assert (point.model_id, point.mode, point.phase_bins, point.phase_bits) == \
            (twelve.model_id, "low_band_phase", 16, 3)
    assert Codec.load(bitrate=16).mode == "tonal_band_phase"
    kbps = {}
    for k in (12, 18, 24):
        out = tmp_path / f"{k}.cra"
        r = run("encode", src, "-o", str(out), "--bitrate", str(k))
        assert r.returncode == 0, r.stderr
        info = dict(line.split(None, 1) for line in run("info", str(out)).stdout.splitlines())
        kbps[k] = float(info["kbps"])
    assert info["format"] == "1.10"
    assert kbps[12] + 4 < kbps[18] < kbps[24] - 4, kbps


def refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str, value: object, match: str,
            **also: object) -> None:
    """The shipped ladder with its first point's `key` set to `value` (and the keys `also`) is refused as
    unreadable."""
    d = json.loads((ladder.MODELS_DIR / "ladder.json").read_text())
    d["points"][0] |= {key: value, **also}
    (tmp_path / "ladder.json").write_text(json.dumps(d))
    monkeypatch.setattr(ladder, "MODELS_DIR", tmp_path)
    ladder._read.cache_clear()
    try:
        with pytest.raises(ModelError, match=match):
            ladder.points()
    finally:
        monkeypatch.undo()
        ladder._read.cache_clear()


def test_a_point_with_an_unknown_mode_is_a_broken_ladder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    refused(monkeypatch, tmp_path, "mode", "wishful", "unreadable.*wishful")


def test_the_10_kbps_point_is_the_12_kbps_model_rounded_for_rate(tmp_path: Path) -> None:
    """`--bitrate 10` codes the 12 kbps model with rate-aware rounding (`entropy.rate_aware_symbols`): a
    blob the 12 kbps point's readers decode, between the 6 and 12 kbps points in rate and in quality, where
    before a request of 10 fell to the 6 kbps point. Without its lambda it writes the 12 kbps point's bytes."""
    from codec_rt import metrics

    src = DATA / "speech_fr_16k.flac"
    x, sr = sf.read(str(src), dtype="float32", always_2d=True)
    ten, twelve = Codec.load(bitrate=10), Codec.load(bitrate=12)
    assert (ten.model_id, ten.mode) == (twelve.model_id, twelve.mode) and ten.rate_lambda > 0 == twelve.rate_lambda
    assert ten.encode(x.T, sr, rate_lambda=0.0) == twelve.encode(x.T, sr)
    kbps, decoded = {}, {}
    for k in (6, 10, 12):
        out = tmp_path / f"{k}.cra"
        r = run("encode", str(src), "-o", str(out), "--bitrate", str(k))
        assert r.returncode == 0, r.stderr
        info = dict(line.split(None, 1) for line in run("info", str(out)).stdout.splitlines())
        kbps[k] = float(info["kbps"])
        assert run("decode", str(out), "-o", str(tmp_path / f"{k}.wav")).returncode == 0
        decoded[k] = sf.read(str(tmp_path / f"{k}.wav"), dtype="float32", always_2d=True)[0].T
    assert info["format"] == "1.11"  # the tonal band of the points below 18 kbps
    assert kbps[6] < kbps[10] < 10.5 < kbps[12]
    pytest.importorskip("pesq", reason="PESQ needs the metrics extra (pesq)")
    scores = {k: metrics.pesq_wb(x.T, y, sr) for k, y in decoded.items()}
    assert scores[6] < scores[10] < scores[12]


@pytest.mark.parametrize("bad", [-0.1, "much", None, True, "0.3", 1e308])
def test_a_point_with_a_bad_rate_lambda_is_a_broken_ladder(bad: object, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    refused(monkeypatch, tmp_path, "rate_lambda", bad, "unreadable.*rate_lambda")


@pytest.mark.parametrize(("key", "bad"), [("phase_bins", 0), ("phase_bins", 1.5), ("phase_bins", "16"),
                                          ("phase_bins", 1 << 16), ("phase_bits", 17), ("phase_bits", True),
                                          ("phase_bits", float("nan")), ("phase_bins", float("inf"))])
def test_a_point_with_a_bad_band_is_a_broken_ladder(key: str, bad: object, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    refused(monkeypatch, tmp_path, key, bad, f"unreadable.*{key}", mode="low_band_phase")


def test_a_band_written_as_a_whole_float_is_read_as_javascript_reads_it(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    d = json.loads((ladder.MODELS_DIR / "ladder.json").read_text())
    d["points"][0] |= {"mode": "low_band_phase", "phase_bins": 16.0, "phase_bits": 3}
    (tmp_path / "ladder.json").write_text(json.dumps(d))
    monkeypatch.setattr(ladder, "MODELS_DIR", tmp_path)
    ladder._read.cache_clear()
    try:
        first = ladder.points()[0]
        assert (first.phase_bins, first.phase_bits) == (16, 3) and type(first.phase_bins) is int
    finally:
        monkeypatch.undo()
        ladder._read.cache_clear()


def test_a_band_at_a_point_without_one_is_a_broken_ladder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    refused(monkeypatch, tmp_path, "phase_bins", 16, "unreadable.*only at a point with a band", mode="predicted")


def test_a_codec_codes_its_points_band_in_mode_low_band_phase(speech: tuple[np.ndarray, int]) -> None:
    """A codec carries its point's low band (`Codec.phase_bins`, `Codec.phase_bits`) into mode
    low_band_phase, by `encode` in either layout and by a `StreamEncoder`; arguments win, and mode
    store_phase keeps its own bits."""
    from codec_rt.blob import read_header
    from codec_rt.encoder import StreamEncoder

    x, sr = speech[0][:, :16000], speech[1]
    twelve = Codec.load(bitrate=12)
    band = Codec(twelve.model, "low_band_phase", phase_bins=16, phase_bits=3)

    def coded(data: bytes) -> tuple[int, int]:
        h = read_header(data)[0]
        return h.phase_bins, h.phase_bits

    for framed in (False, True):
        assert coded(band.encode(x, sr, framed=framed)) == (16, 3)
        assert coded(band.encode(x, sr, framed=framed, phase_bins=8, phase_bits=5)) == (8, 5)
        assert coded(twelve.encode(x, sr, framed=framed, mode="low_band_phase")) == (22, 4)
        assert coded(band.encode(x, sr, framed=framed, mode="store_phase")) == (0, 8)
    enc = StreamEncoder(band, sr, 1)
    assert coded(enc.push(x) + enc.flush()) == (16, 3)
