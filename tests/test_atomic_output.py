"""Nothing lost: a failure, Ctrl-C or SIGTERM while an output is written leaves no partial file and no
temporary file, and an existing output stays exactly as it was (docs/BAD_INPUT.md, last rows)."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from codec_rt import Codec, files
from codec_rt.errors import OutputError

AUDIO = np.random.default_rng(0).uniform(-0.3, 0.3, (1, 4000)).astype(np.float32)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _half_then(exc: BaseException):  # type: ignore[no-untyped-def]
    """A stand-in for soundfile.SoundFile.write that writes the samples, cuts the file in half on disk, then
    fails with `exc`."""
    real = sf.SoundFile.write

    def write(self: sf.SoundFile, data: np.ndarray) -> None:
        real(self, data)
        self.flush()
        size = os.path.getsize(self.name)
        with open(self.name, "r+b") as f:
            f.truncate(size // 2)
        raise exc

    return write


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt(),
                                 SystemExit(143), RuntimeError("anything else")],
                         ids=["disk-full", "ctrl-c", "exit", "bug"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_interrupted_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException,
                           existing: bool) -> None:
    out = tmp_path / "out.wav"
    if existing:
        out.write_bytes(b"precious")
    before = _listing(tmp_path)
    monkeypatch.setattr(sf.SoundFile, "write", _half_then(exc))
    expected = OutputError if isinstance(exc, OSError) else type(exc)
    with pytest.raises(expected) as e:
        files.write_audio(out, AUDIO, 16000)
    if isinstance(exc, OSError):
        assert "No space left on device" in str(e.value) and str(out) in str(e.value)
    assert _listing(tmp_path) == before


def test_interrupted_write_of_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "x.cra"
    out.write_bytes(b"precious")

    def fail(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OutputError, match="cannot write"):
        files.write_bytes(out, b"new content")
    assert _listing(tmp_path) == {"x.cra": b"precious"}


def test_a_full_disk_under_libsndfile_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libsndfile reports a failed write as "System error."; on a full disk the message says what it is."""
    monkeypatch.setattr(sf.SoundFile, "write", _half_then(sf.LibsndfileError(2)))
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: SimpleNamespace(free=0))
    with pytest.raises(OutputError, match="no space left on device"):
        files.write_audio(tmp_path / "out.flac", AUDIO, 16000)
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: SimpleNamespace(free=10**9))
    with pytest.raises(OutputError, match="System error"):  # space left: libsndfile's own words
        files.write_audio(tmp_path / "out.flac", AUDIO, 16000)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="Permission denied"):
        files.write_bytes(tmp_path / "x.cra", b"data")
    assert list(tmp_path.iterdir()) == []


# A real signal, delivered to a real `codec-rt decode` process while it writes its output.
_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import soundfile as sf
    # Ctrl-C as on a terminal, even when this test runs where SIGINT is ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # and a terminal's hang-up, even under nohup
    real = sf.write
    def write(path, data, rate, **kw):
        real(path, data[: len(data) // 2], rate, **kw)  # half the output is on disk, under its temporary name
        os.kill(os.getpid(), signal.SIG{sig})
        real(path, data, rate, **kw)
    sf.write = write
    real_block = sf.SoundFile.write
    def write_block(self, data):  # the streaming decoder writes block by block
        real_block(self, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIG{sig})
        real_block(self, data[len(data) // 2 :])
    sf.SoundFile.write = write_block
    sys.argv = ["codec-rt", "decode", "s.cra", "-o", "out.wav", "--force"]
    from codec_rt.cli import main
    main()
    """
)


@pytest.mark.parametrize("sig", ["INT", "TERM", "HUP"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_interrupted_write_by_a_signal(tmp_path: Path, codec: Codec, sig: str, existing: bool) -> None:
    (tmp_path / "s.cra").write_bytes(codec.encode(AUDIO, 16000))
    if existing:
        (tmp_path / "out.wav").write_bytes(b"precious")
    before = _listing(tmp_path)
    r = subprocess.run([sys.executable, "-c", _SCRIPT.format(sig=sig)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    # the shell's convention: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM, 129 for a closed terminal)
    assert r.returncode == 128 + getattr(signal, f"SIG{sig}") and r.stderr.strip() == "codec-rt: interrupted", r.stderr
    assert _listing(tmp_path) == before


def test_output_exists_force(tmp_path: Path) -> None:
    sf.write(str(tmp_path / "in.wav"), AUDIO.T, 16000)
    (tmp_path / "x.cra").write_bytes(b"old")
    r = subprocess.run([sys.executable, "-m", "codec_rt", "encode", "in.wav", "-o", "x.cra", "--force"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "x.cra").read_bytes()[:4] == b"CRTB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "x.cra"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_output_is_refused_not_replaced(tmp_path: Path, codec: Codec) -> None:
    """The rename into place would replace a device or a pipe with a plain file (as root, `-o /dev/null
    --force` would replace the system's): refused, even with --force, and the pipe stays a pipe."""
    (tmp_path / "s.cra").write_bytes(codec.encode(AUDIO, 16000))
    sf.write(str(tmp_path / "in.wav"), AUDIO.T, 16000)
    os.mkfifo(tmp_path / "pipe.wav")
    for cmd in (["encode", "in.wav", "-o", "pipe.wav", "--force"], ["decode", "s.cra", "-o", "pipe.wav", "--force"],
                ["decode", "s.cra", "-o", "pipe.wav"]):
        r = subprocess.run([sys.executable, "-m", "codec_rt", *cmd], cwd=tmp_path, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip() == ("codec-rt: error: pipe.wav is not a regular file (a device, pipe or socket); "
                                    "write a file, or to stdout with -o -")
    assert stat.S_ISFIFO((tmp_path / "pipe.wav").stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "pipe.wav", "s.cra"]


def test_an_output_name_of_255_bytes_is_written(tmp_path: Path) -> None:
    """The longest name a folder holds (255 bytes on Linux filesystems) is a valid output: the temporary
    file beside it takes a shortened name, not one over the limit."""
    out = tmp_path / ("a" * 251 + ".wav")
    files.write_audio(out, AUDIO, 16000)
    assert sf.info(str(out)).frames == AUDIO.shape[1]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("sig", ["INT", "TERM", "HUP"])
def test_a_signal_while_a_pipe_is_read_publishes_nothing(tmp_path: Path, sig: str) -> None:
    """`producer | codec-rt encode - -o out.cra`, signalled while it waits for more input: the signal lands
    inside libsndfile's read callback, where cffi swallowed it as the input's end, and a cut blob was renamed
    into place with exit 0. Now: the signal's exit code, no output, no temporary file."""
    rate = 16000
    pcm = (0.3 * np.sin(np.arange(6 * rate) / 5) * 32767).astype("<i2").tobytes()
    head = (b"RIFF" + (0xFFFFFFFF).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
            + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + rate.to_bytes(4, "little")
            + (2 * rate).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
            + b"data" + (0xFFFFFFFF).to_bytes(4, "little"))
    # Ctrl-C and a hang-up as on a terminal (this test may run where they are ignored)
    script = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
              " signal.signal(signal.SIGHUP, signal.SIG_DFL); sys.argv = ['codec-rt', 'encode', '-', '-o', 'out.cra'];"
              " from codec_rt.cli import main; main()")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.write(head + pcm)  # 6 s, more than a pipe holds: written once the encoder is reading
    proc.stdin.flush()
    time.sleep(3)  # it has coded what came and waits in libsndfile's read for more
    proc.send_signal(getattr(signal, f"SIG{sig}"))
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 128 + getattr(signal, f"SIG{sig}"), err
    proc.stdin.close()
    assert "codec-rt: interrupted" in err and list(tmp_path.iterdir()) == [], (err, list(tmp_path.iterdir()))
