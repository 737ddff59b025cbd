"""The streaming command line: pipes (`-` in and out), the framed layout by default, a cut blob decodes its
prefix with a warning (and one with nothing decodable is refused), a damaged packet is refused with nothing
written, a whole-layout blob of any format version decodes from a file and from stdin."""

from __future__ import annotations

import select
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import codec_rt
from codec_rt import Codec, StreamEncoder, blob, packets
from codec_rt.config import Coder, Layout

DATA = Path(__file__).parent / "data"


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], cwd=cwd, input=stdin, capture_output=True,
                          timeout=300)


def test_pipes_give_the_bytes_and_samples_of_files(tmp_path: Path) -> None:
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    sf.write(str(tmp_path / "in.wav"), x[:40000], sr, subtype="PCM_16")
    assert run("encode", "in.wav", "-o", "file.cra", cwd=tmp_path).returncode == 0
    piped = run("encode", "-", "-o", "-", cwd=tmp_path, stdin=(tmp_path / "in.wav").read_bytes())
    assert piped.returncode == 0, piped.stderr
    data = (tmp_path / "file.cra").read_bytes()
    # A file is read twice, its level first (as Codec.encode does); a pipe is coded as a live stream.
    codec = Codec.load()
    pcm = sf.read(str(tmp_path / "in.wav"), dtype="float32", always_2d=True)[0].T
    enc = StreamEncoder(codec, sr, 1)
    assert piped.stdout == enc.push(pcm) + enc.flush()
    assert data == codec.encode(pcm, sr, framed=True) and blob.read_header(data)[0].framed
    flac = run("encode", "-", "-o", "-", cwd=tmp_path, stdin=(DATA / "speech_fr_16k.flac").read_bytes())
    assert flac.returncode == 0
    assert packets.read(flac.stdout)[0].num_samples == sf.info(str(DATA / "speech_fr_16k.flac")).frames
    assert run("decode", "file.cra", "-o", "file.wav", cwd=tmp_path).returncode == 0
    out = run("decode", "-", "-o", "-", cwd=tmp_path, stdin=data)
    assert out.returncode == 0 and out.stdout[:4] == b"RIFF"
    (tmp_path / "piped.wav").write_bytes(out.stdout)
    a, _ = sf.read(str(tmp_path / "file.wav"), dtype="int16")
    b, _ = sf.read(str(tmp_path / "piped.wav"), dtype="int16")
    assert len(a) == 40000 and np.array_equal(a, b)


def test_a_cut_blob_decodes_its_prefix_with_a_warning(tmp_path: Path) -> None:
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    sf.write(str(tmp_path / "in.wav"), x, sr, subtype="PCM_16")
    assert run("encode", "in.wav", "-o", "s.cra", cwd=tmp_path).returncode == 0
    data = (tmp_path / "s.cra").read_bytes()
    _, pkts = packets.read_packets(data)
    (tmp_path / "cut.cra").write_bytes(data[: pkts[2].offset + 100])
    r = run("decode", "cut.cra", "-o", "cut.wav", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 0 and "codec-rt: warning: blob is cut after packet 1" in err and "cut short" in err
    assert 0 < sf.info(str(tmp_path / "cut.wav")).frames < len(x)
    info = run("info", "cut.cra", cwd=tmp_path)
    assert info.returncode == 2 and info.stderr.decode().strip().startswith("codec-rt: error: blob is cut after")


def test_a_damaged_packet_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", "s.cra", cwd=tmp_path).returncode == 0
    data = bytearray((tmp_path / "s.cra").read_bytes())
    _, pkts = packets.read_packets(bytes(data))
    data[pkts[-1].offset + 30] ^= 0x01
    (tmp_path / "s.cra").write_bytes(bytes(data))
    r = run("decode", "s.cra", "-o", "out.wav", cwd=tmp_path)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "checksum mismatch" in lines[0] and "packet 3" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.cra"]


def test_layout_whole_writes_the_oldest_format_that_holds_it(tmp_path: Path) -> None:
    """1.6 with a non-causal model's lead-in and lead-out (FORMAT.md 7.5), 1.11 with a tonal band (the
    points' own mode), 1.12 with tracks (the low-latency point's); without any (the causal model on its own,
    with no point's options) 1.1, every 1.x reader's, or 1.3 for context coding (coder 2)."""
    lead = 16 * 128
    causal = str(Path(codec_rt.__file__).parent / "models" / "ll12k")
    for name, point, want in (("fixed", ["--bits", "5", "--mode", "predicted"], (6, Coder.FIXED, lead)),
                              ("12", ["--bitrate", "12"], (11, Coder.CONTEXT, lead)),
                              ("ll", ["--low-latency", "--mode", "predicted"], (12, Coder.CONTEXT, 0)),
                              ("causal", ["--model", causal, "--mode", "predicted"], (3, Coder.CONTEXT, 0))):
        r = run("encode", str(DATA / "speech_fr_16k.flac"), "-o", f"w{name}.cra", "--layout", "whole", *point,
                cwd=tmp_path)
        assert r.returncode == 0
        h, _ = packets.read((tmp_path / f"w{name}.cra").read_bytes())
        assert (h.minor, h.coder, h.pre_skip, h.layout) == (*want, Layout.WHOLE) and h.post_skip == h.pre_skip


def test_a_whole_layout_blob_decodes_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    """Every point, whatever its header size (56 bytes in 1.1, 64 in 1.3) and however short the blob."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    sf.write(str(tmp_path / "in.wav"), x[:8000], sr, subtype="PCM_16")
    for point in (["--bitrate", "3"], ["--bitrate", "12"], ["--bits", "5"], ["--low-latency"]):
        enc = run("encode", "in.wav", "-o", "w.cra", "--layout", "whole", "--force", *point, cwd=tmp_path)
        assert enc.returncode == 0
        r = run("decode", "w.cra", "-o", "w.wav", "--force", cwd=tmp_path)
        assert r.returncode == 0, (point, r.stderr)
        assert sf.info(str(tmp_path / "w.wav")).frames == 8000
        piped = run("decode", "-", "-o", "-", cwd=tmp_path, stdin=(tmp_path / "w.cra").read_bytes())
        assert piped.returncode == 0 and piped.stdout[:4] == b"RIFF", (point, piped.stderr)


def test_a_blob_cut_before_one_sample_decodes_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="float32")
    sf.write(str(tmp_path / "one.wav"), x[:sr], sr, subtype="PCM_16")
    assert run("encode", "one.wav", "-o", "s.cra", cwd=tmp_path).returncode == 0
    data = (tmp_path / "s.cra").read_bytes()
    for cut in (len(data) // 2, 64, 70):
        (tmp_path / "cut.cra").write_bytes(data[:cut])
        r = run("decode", "cut.cra", "-o", "cut.wav", cwd=tmp_path)
        lines = r.stderr.decode().strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("codec-rt: error: "), (cut, lines)
        assert not (tmp_path / "cut.wav").exists()
        piped = run("decode", "-", "-o", "-", cwd=tmp_path, stdin=data[:cut])
        assert piped.returncode == 2 and "error" in piped.stderr.decode()


def test_stdout_that_fails_is_one_line_and_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """A full disk behind stdout is a one-line error (exit 2); a reader that goes away (`| head`) ends the
    command quietly, without a traceback, for encode and for decode."""
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", "s.cra", cwd=tmp_path).returncode == 0
    jobs = {"decode": ["decode", "s.cra", "-o", "-"], "encode": ["encode", str(DATA / "music_44k_stereo.ogg"),
                                                                "-o", "-"]}
    for name, args in jobs.items():
        if Path("/dev/full").exists():
            with open("/dev/full", "wb") as full:
                r = subprocess.run([sys.executable, "-m", "codec_rt", *args], cwd=tmp_path, stdout=full,
                                   stderr=subprocess.PIPE, timeout=300)
            lines = r.stderr.decode().strip().splitlines()
            assert r.returncode == 2 and lines == ["codec-rt: error: stdout: cannot write (No space left on device)"]
        p = subprocess.Popen([sys.executable, "-m", "codec_rt", *args], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        assert p.stdout is not None and p.stderr is not None
        p.stdout.read(100)
        p.stdout.close()  # the reader goes away
        err = p.stderr.read().decode()
        rc = p.wait(timeout=300)  # a short output may all fit in the pipe before it closes: rc 0 then
        assert "Traceback" not in err and "Exception" not in err and (rc != 0 or name == "encode"), (name, err)


def test_info_reads_stdin(tmp_path: Path) -> None:
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", "s.cra", cwd=tmp_path).returncode == 0
    data = (tmp_path / "s.cra").read_bytes()
    r = run("info", "-", cwd=tmp_path, stdin=data)
    assert r.returncode == 0 and f"bytes            {len(data)}" in r.stdout.decode()
    bad = run("info", "-", cwd=tmp_path, stdin=b"not a blob at all")
    assert bad.returncode == 2 and bad.stderr.decode().startswith("codec-rt: error: not a codec-rt blob")


@pytest.mark.parametrize(("offset", "field"), [(64, "pre_skip"), (72, "post_skip")])
def test_info_refuses_a_blob_whose_lengths_its_model_refuses(tmp_path: Path, offset: int, field: str) -> None:
    """A 1.7 blob whose pre_skip or post_skip (resealed under its own CRC) disagrees with its frame count:
    decode refuses it, and so does info, in one line and exit 2, rather than print it as good."""
    assert run("encode", str(DATA / "speech_fr_16k.flac"), "-o", "s.cra", "--mode", "predicted",
               cwd=tmp_path).returncode == 0
    data = bytearray((tmp_path / "s.cra").read_bytes())
    assert data[5] == 7 and struct.unpack_from("<I", data, offset)[0] == 2048, field  # format 1.7, its lead
    struct.pack_into("<I", data, offset, 4096)
    struct.pack_into("<I", data, offset + 4, zlib.crc32(bytes(data[offset : offset + 4])))
    (tmp_path / "bad.cra").write_bytes(bytes(data))
    for cmd in (["info", "bad.cra"], ["decode", "bad.cra", "-o", "bad.wav"]):
        r = run(*cmd, cwd=tmp_path)
        err = r.stderr.decode()
        assert r.returncode == 2 and "does not match the model" in err and "Traceback" not in err, (cmd, err)
    assert not (tmp_path / "bad.wav").exists()


def test_encode_warns_of_what_it_cannot_do_as_asked(tmp_path: Path) -> None:
    """--stereo mid-side on a mono file, and a blob named like audio: coded, with a one-line warning each."""
    r = run("encode", str(DATA / "speech_fr_16k.flac"), "-o", "s.wav", "--stereo", "mid-side", cwd=tmp_path)
    err = r.stderr.decode()
    assert r.returncode == 0 and "mid/side codes a pair" in err and "s.wav will hold a codec-rt blob" in err
    assert blob.read_header((tmp_path / "s.wav").read_bytes())[0].stereo == 0


def _arrives_while_open(args: list[str], head: bytes, more: int, cwd: Path) -> bytes:
    """Start `codec-rt ARGS`, write `head` to its stdin and keep stdin open -> the bytes its stdout gives
    (at least `more`) before stdin ends; fails if they have not come within a minute."""
    proc = subprocess.Popen([sys.executable, "-m", "codec_rt", *args], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(head)
        proc.stdin.flush()
        got = b""
        while len(got) < more:
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"{args}: {len(got)} bytes out after a minute with the input still open"
            piece = proc.stdout.read1(1 << 16)
            assert piece, f"{args}: ended before stdin did"
            got += piece
        return got
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="select on pipes is POSIX")
def test_a_live_low_latency_stream_comes_out_as_it_goes_in(tmp_path: Path) -> None:
    """arecord | codec-rt encode - -o - --low-latency | codec-rt decode - -o - | aplay (docs/STREAMING.md):
    each stage gives what it has while its input is still open. The encoder read 65536-sample blocks and
    the decoder 64 KiB of blob (45 s of audio at 12 kbps) before giving anything."""
    x, sr = sf.read(DATA / "speech_fr_16k.flac", dtype="int16")
    seconds = x[: 3 * sr].tobytes()  # the CLI's packets are 1 s (1508 ms latency, docs/STREAMING.md)
    wav_head = (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt "
                + struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16)
                + b"data" + struct.pack("<I", 0xFFFFFFFF))  # what arecord writes to a pipe
    blob_start = _arrives_while_open(["encode", "-", "-o", "-", "--low-latency"], wav_head + seconds, 400, tmp_path)
    audio = _arrives_while_open(["decode", "-", "-o", "-"], blob_start, 44 + 2 * 1600, tmp_path)
    assert audio[:4] == b"RIFF" and len(audio) >= 44 + 2 * 1600  # 0.1 s of audio from a stream still open
