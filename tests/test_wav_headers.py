"""WAV headers that lie about their length, as files and on stdin (docs/BAD_INPUT.md): sizes of 0 with audio
after them (a recorder stopped before it wrote them) are read to the end with a warning, sizes larger than
the audio (a truncated file) are read to the last whole sample with a warning, and the sizes streaming
writers put for an unknown length (0xFFFFFFFF, codec-rt's own `decode -o -`) are read to the end silently.
Also: what is refused on stdin is named `<stdin>`, never a Python object."""

from __future__ import annotations

import io
import logging
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt.audio_in import STDIN_BLOCKS_PER_SECOND, AudioReader
from codec_rt.files import AudioWriter

SR = 16000


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=300)


def wav_bytes(x: np.ndarray, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    b = io.BytesIO()
    sf.write(b, x, SR, format=fmt, subtype=subtype)
    return b.getvalue()


def with_sizes(data: bytes, riff: int | None, size: int) -> bytes:
    """`data` with its data chunk's size (RF64: the ds64 data size) and, if given, its RIFF size replaced."""
    b = bytearray(data)
    if b[:4] == b"RF64":
        b[28:36] = struct.pack("<Q", size)
    else:
        at = b.index(b"data") + 4
        b[at: at + 4] = struct.pack("<I", size)
        if riff is not None:
            b[4:8] = struct.pack("<I", riff)
    return bytes(b)


def tone(n: int, channels: int) -> np.ndarray:
    t = np.sin(2 * np.pi * 440 * np.arange(n) / SR)
    return np.stack([0.3 * t * (-1) ** c for c in range(channels)], 1).astype(np.float32)


def read(data: bytes, tmp: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """The samples `AudioReader` gives for `data` as a file or on stdin, `[N, C]`."""
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        name = "-"
    else:
        name = str(tmp / "in.wav")
        Path(name).write_bytes(data)
    with AudioReader(name, block=5000) as r:
        return r.read_all().T


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("fmt", ["WAV", "WAVEX", "RF64"])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
@pytest.mark.parametrize("channels", [1, 2])
def test_sizes_of_zero_with_audio_after_them_read_all_of_it_with_a_warning(
        subtype: str, fmt: str, channels: int, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    good = wav_bytes(tone(2 * SR, channels), subtype, fmt)
    expected, _ = sf.read(io.BytesIO(good), dtype="float32", always_2d=True)
    y = read(with_sizes(good, 0, 0), tmp_path, source, monkeypatch)
    assert y.shape == (2 * SR, channels) and np.array_equal(y, expected)
    name = "<stdin>" if source == "stdin" else "in.wav"
    (w,) = warnings(caplog)
    assert name in w and "header announces 0 bytes of audio" in w and f"coding the {2 * SR} samples" in w


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("fmt", ["WAV", "RF64"])
def test_a_size_larger_than_the_audio_reads_what_is_there_with_a_warning(
        fmt: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    good = wav_bytes(tone(SR, 2), "PCM_24", fmt)
    y = read(with_sizes(good, None, 10**7), tmp_path, source, monkeypatch)
    assert y.shape == (SR, 2)
    (w,) = warnings(caplog)
    assert "is truncated: its header announces 10000000 bytes of audio" in w and f"coding the {SR} samples" in w


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("size", [0xFFFFFFFF, 0xFFFFFFFF - 36, 0x7FFFFFFF - 44], ids=hex)
def test_the_sizes_of_a_stream_of_unknown_length_read_to_the_end_silently(
        size: int, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    y = read(with_sizes(wav_bytes(tone(SR, 1)), 0xFFFFFFFF, size), tmp_path, source, monkeypatch)
    assert y.shape == (SR, 1) and warnings(caplog) == []


def test_codec_rts_own_stream_header_reads_back_silently(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for channels in (1, 2, 7):
        out = io.BytesIO()
        w = AudioWriter(out, channels, SR)  # length unknown: the header says so
        w.write(tone(3000, channels).T)
        w.close()
        y = read(out.getvalue(), tmp_path, "stdin", monkeypatch)
        assert y.shape == (3000, channels) and warnings(caplog) == []


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("after", [b"", b"LIST\x04\x00\x00\x00INFO", b"\x07"], ids=["nothing", "a-chunk", "a-byte"])
def test_an_empty_wav_stays_empty(after: bytes, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  caplog: pytest.LogCaptureFixture) -> None:
    """0 bytes of audio and no audio after them (a chunk, or less than one sample) is no lie."""
    y = read(wav_bytes(np.zeros((0, 1), np.float32)) + after, tmp_path, source, monkeypatch)
    assert y.shape == (0, 1) and warnings(caplog) == []


@pytest.mark.parametrize("size", [0xFFFFFFFF, 0, 10**6], ids=hex)
def test_stdin_is_read_as_it_arrives(size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live pipe (a recorder): the first block comes before the writer closes it, whatever its header says."""
    r_fd, w_fd = os.pipe()
    data = with_sizes(wav_bytes(tone(SR, 1)), 0xFFFFFFFF, size)
    os.write(w_fd, data[:10000])  # the header and 4978 samples; the pipe stays open
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(r_fd, "rb")))
    first, counts = threading.Event(), []

    def read_all() -> None:
        with AudioReader("-", block=1000) as r:
            for b in r.blocks():
                counts.append(b.shape[1])
                first.set()

    t = threading.Thread(target=read_all, daemon=True)
    t.start()
    arrived = first.wait(30)
    os.close(w_fd)
    t.join(30)
    assert arrived, "the first block waited for the end of stdin"
    assert counts[0] == min(1000, SR // STDIN_BLOCKS_PER_SECOND)  # a live stream's blocks: 20 ms at most
    assert sum(counts) == (10000 - 44) // 2


# ---------------------------------------------------------------- the command line

def _recorder_wav() -> bytes:
    """2 s of a 440 Hz tone after a header whose RIFF and data sizes are 0 (as ../shared/cases writes it)."""
    pcm = (0.3 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR) * 32767).astype("<i2").tobytes()
    return (b"RIFF" + struct.pack("<I", 0) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, SR, 2 * SR, 2, 16)
            + b"data" + struct.pack("<I", 0) + pcm)


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_cli_codes_the_audio_after_sizes_of_zero(source: str, tmp_path: Path) -> None:
    data = _recorder_wav()
    if source == "file":
        (tmp_path / "rec.wav").write_bytes(data)
        enc = run("encode", "rec.wav", "-o", "x.cra", cwd=tmp_path)
    else:
        enc = run("encode", "-", "-o", "x.cra", cwd=tmp_path, stdin=data)
    err = enc.stderr.decode()
    assert enc.returncode == 0 and "2.00 s" in err, err
    name = "rec.wav" if source == "file" else "<stdin>"
    assert f"warning: {name}: its header announces 0 bytes of audio, but 64000 bytes follow it" in err
    assert err.count("header announces") == 1, err  # a file is read twice (its level first), warned of once
    dec = run("decode", "x.cra", "-o", "out.wav", cwd=tmp_path)
    assert dec.returncode == 0, dec.stderr
    assert sf.info(str(tmp_path / "out.wav")).frames == 2 * SR


def test_cli_warns_of_a_truncated_wav_on_stdin(tmp_path: Path) -> None:
    data = with_sizes(wav_bytes(tone(SR, 1)), None, 4 * SR)
    enc = run("encode", "-", "-o", "x.cra", cwd=tmp_path, stdin=data)
    err = enc.stderr.decode()
    assert enc.returncode == 0 and "1.00 s" in err
    assert "<stdin> is truncated: its header announces 64000 bytes of audio, the stream holds 32000" in err


def test_cli_reads_its_own_stream_of_unknown_length_silently(tmp_path: Path) -> None:
    sf.write(str(tmp_path / "in.wav"), tone(SR, 2), SR)
    assert run("encode", "in.wav", "-o", "x.cra", cwd=tmp_path).returncode == 0
    dec = run("decode", "-", "-o", "-", cwd=tmp_path, stdin=(tmp_path / "x.cra").read_bytes())
    assert dec.returncode == 0 and struct.unpack("<I", dec.stdout[40:44])[0] >= 0xFFFF0000  # length unknown
    enc = run("encode", "-", "-o", "y.cra", cwd=tmp_path, stdin=dec.stdout)
    assert enc.returncode == 0 and "warning" not in enc.stderr.decode() and "1.00 s" in enc.stderr.decode()


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n", tone(SR, 1).tobytes()],
                         ids=["empty", "text", "raw-pcm"])
def test_cli_refuses_what_is_not_audio_on_stdin_naming_stdin(content: bytes, tmp_path: Path) -> None:
    r = run("encode", "-", "-o", "x.cra", cwd=tmp_path, stdin=content)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0] == "codec-rt: error: <stdin>: not a readable audio file (Format not recognised.)"
    assert list(tmp_path.iterdir()) == []
