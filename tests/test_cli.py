"""`codec-rt` as a user runs it: real files on disk, exit codes, one-line errors, nothing lost."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True, cwd=cwd)


def test_encode_info_decode_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "speech.flac"
    shutil.copy(DATA / "speech_fr_16k.flac", src)
    r = run("encode", str(src), "-o", str(tmp_path / "s.cra"))
    assert r.returncode == 0, r.stderr
    assert "kbps" in r.stderr
    r = run("info", str(tmp_path / "s.cra"))
    assert r.returncode == 0, r.stderr
    info = dict(line.split(None, 1) for line in r.stdout.splitlines())
    size = (tmp_path / "s.cra").stat().st_size
    assert int(info["bytes"]) == size and info["mode"] == "tonal_band_phase"  # the default point's
    seconds = sf.info(str(src)).frames / 16000
    assert float(info["kbps"]) == pytest.approx(8 * size / seconds / 1000, abs=1e-3)
    r = run("decode", str(tmp_path / "s.cra"), "-o", str(tmp_path / "out.wav"))
    assert r.returncode == 0, r.stderr
    a, b = sf.info(str(src)), sf.info(str(tmp_path / "out.wav"))
    assert (b.frames, b.channels, b.samplerate) == (a.frames, a.channels, a.samplerate)
    # Outputs get ordinary permissions, not the private mode of the temporary file they were written to.
    (tmp_path / "plain").write_bytes(b"")
    for f in ("s.cra", "out.wav"):
        assert (tmp_path / f).stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_stereo_music_round_trip(tmp_path: Path) -> None:
    assert run("encode", str(DATA / "music_44k_stereo.ogg"), "-o", str(tmp_path / "m.cra")).returncode == 0
    assert run("decode", str(tmp_path / "m.cra"), "-o", str(tmp_path / "m.flac")).returncode == 0
    i = sf.info(str(tmp_path / "m.flac"))
    assert (i.channels, i.samplerate, i.frames) == (2, 44100, sf.info(str(DATA / "music_44k_stereo.ogg")).frames)


def _is_user_error(r: subprocess.CompletedProcess[str]) -> bool:
    return r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "s.cra"
    out.write_bytes(b"precious")
    r = run("encode", str(DATA / "speech_fr_16k.flac"), "-o", str(out))
    assert _is_user_error(r) and "--force" in r.stderr
    assert out.read_bytes() == b"precious"
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", str(out), "--force").returncode == 0
    assert out.read_bytes()[:4] == b"CRTB"


def test_never_overwrites_the_input(tmp_path: Path) -> None:
    src = tmp_path / "x.wav"
    sf.write(str(src), np.zeros(1000, np.float32), 16000)
    before = src.read_bytes()
    r = run("encode", str(src), "-o", str(src), "--force")
    assert _is_user_error(r) and src.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ("encode", "missing.wav", "-o", "x.cra"),
        ("encode", ".", "-o", "x.cra"),
        ("decode", "missing.cra", "-o", "x.wav"),
        ("info", "not_a_blob.txt"),
        ("decode", "not_a_blob.txt", "-o", "x.wav"),
        ("encode", "not_a_blob.txt", "-o", "x.cra"),
        ("encode", "speech.flac", "-o", "x.cra", "--provider", "cuda"),
        ("encode", "speech.flac", "-o", "no/such/dir/x.cra"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    (tmp_path / "not_a_blob.txt").write_text("hello\n")
    shutil.copy(DATA / "speech_fr_16k.flac", tmp_path / "speech.flac")
    before = set(tmp_path.iterdir())
    r = run(*args, cwd=tmp_path)
    assert _is_user_error(r), (r.returncode, r.stderr)
    assert set(tmp_path.iterdir()) == before  # no partial output


def test_corrupt_blob_leaves_no_output(tmp_path: Path) -> None:
    blob = tmp_path / "s.cra"
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", str(blob)).returncode == 0
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x40
    blob.write_bytes(bytes(data))
    r = run("decode", str(blob), "-o", str(tmp_path / "out.wav"))
    assert _is_user_error(r) and "checksum" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.cra"]


def test_eval_writes_reconstructions_residuals_and_figures(tmp_path: Path) -> None:
    r = run("eval", str(DATA / "speech_fr_16k.flac"), "--out-dir", str(tmp_path / "ev"), "--json",
            str(tmp_path / "ev.json"))
    assert r.returncode == 0, r.stderr
    figures = json.loads((tmp_path / "ev.json").read_text())
    for mode in ("predicted", "store_phase"):
        f = figures["modes"][mode]
        for key in ("snr_db", "si_sdr_db", "lsd_db", "kbps", "compression_ratio", "blob_bytes", "pesq_wb", "stoi"):
            assert key in f
        assert f["compression_ratio"] > 1 or mode == "store_phase"
        for kind in ("recon", "residual"):
            out = tmp_path / "ev" / f"speech_fr_16k.{mode}.{kind}.wav"
            assert sf.info(str(out)).frames == sf.info(str(DATA / "speech_fr_16k.flac")).frames
    assert figures["modes"]["store_phase"]["lsd_db"] < figures["modes"]["predicted"]["lsd_db"]


def test_eval_refuses_a_json_path_that_is_one_of_its_wavs(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    r = run("eval", str(DATA / "speech_fr_16k.flac"), "--out-dir", str(tmp_path / "ev"), "--json",
            str(tmp_path / "ev" / "speech_fr_16k.predicted.recon.wav"), "--force")
    assert _is_user_error(r) and "is one of eval's own outputs" in r.stderr, r.stderr
    assert list((tmp_path / "ev").iterdir()) == []


def test_eval_refuses_bits_for_a_range_coded_model_before_making_its_folder(tmp_path: Path) -> None:
    from codec_rt import ladder

    r = run("eval", str(DATA / "speech_fr_16k.flac"), "--out-dir", str(tmp_path / "ev"), "--bits", "5",
            "--model", str(ladder.select()))
    assert _is_user_error(r) and "range-coded" in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fault", ["second mode", "figures file"])
def test_eval_that_fails_part_way_leaves_no_outputs(tmp_path: Path, fault: str,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A mode that fails after another has been coded, or a write that fails after the wavs: exit 2 and
    nothing of the run on disk, not the first mode's reconstructions beside an error (in-process, to fail
    where a user's disk or input would)."""
    from codec_rt import cli
    from codec_rt.codec import Codec
    from codec_rt.errors import CodecError, OutputError

    decode, calls = Codec.decode, []

    def failing_decode(self: Codec, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if fault == "second mode" and len(calls) == 2:
            raise CodecError("the second mode failed")
        return decode(self, *args, **kwargs)

    def failing_write(out: Path, data: bytes) -> None:
        raise OutputError(f"{out}: cannot write (No space left on device)")

    monkeypatch.setattr(Codec, "decode", failing_decode)
    if fault == "figures file":
        monkeypatch.setattr(cli, "write_bytes", failing_write)
    monkeypatch.setattr(sys, "argv", ["codec-rt", "eval", str(DATA / "speech_fr_16k.flac"), "--out-dir",
                                      str(tmp_path / "ev"), "--json", str(tmp_path / "ev.json")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2 and "codec-rt: error:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_eval_of_clips_too_short_to_score_says_so_without_a_traceback(tmp_path: Path) -> None:
    """PESQ needs 0.25 s, STOI about 0.4 s with speech: their figures are None with a line that says why (STOI
    used to crash on a few samples and print 0.000 for a short clip), and no figure at all for no samples."""
    pytest.importorskip("pystoi", reason="STOI is the metrics extra's")
    x, sr = sf.read(str(DATA / "speech_fr_16k.flac"), dtype="float32")
    for n in (0, 10, 4000):
        sf.write(str(tmp_path / f"c{n}.wav"), x[:n], sr)
        r = run("eval", str(tmp_path / f"c{n}.wav"), "--out-dir", str(tmp_path / f"e{n}"), "--json",
                str(tmp_path / f"e{n}.json"))
        assert r.returncode == 0 and "Traceback" not in r.stderr and "Warning" not in r.stderr, r.stderr
        figures = json.loads((tmp_path / f"e{n}.json").read_text())["modes"]["predicted"]
        assert figures["stoi"] is None
        assert (figures["snr_db"] is None) == (n == 0)
        if n:
            assert "STOI could not score" in r.stderr


def test_version_prints_the_installed_package_version() -> None:
    from importlib.metadata import version

    import codec_rt

    r = run("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"codec-rt {version('codec-rt')}\n"
    assert codec_rt.__version__ == version("codec-rt")


def test_decode_phase_start_picks_where_the_iterations_start(tmp_path: Path) -> None:
    from codec_rt import Codec

    blob = tmp_path / "s.cra"
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", str(blob)).returncode == 0
    outs = {}
    for start in (None, "gradient", "predicted"):
        out = tmp_path / f"{start}.wav"
        r = run("decode", str(blob), "-o", str(out), *(["--phase-start", start] if start else []))
        assert r.returncode == 0, r.stderr
        outs[start] = sf.read(str(out), dtype="float32")[0]
    assert np.array_equal(outs[None], outs["gradient"])  # the shipped models' default (LADDER.md stage 9)
    api, _ = Codec.load(bitrate=12).decode(blob.read_bytes(), phase_start=0)
    assert np.abs(outs["predicted"] - api[0]).max() < 2e-4  # the API's option, through 16-bit samples
    assert np.abs(outs["predicted"] - outs[None]).max() > 0.01
    r = run("decode", str(blob), "-o", str(tmp_path / "x.wav"), "--phase-start", "graph")
    assert _is_user_error(r) and "--phase-start" in r.stderr
