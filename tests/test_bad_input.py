"""Every row of docs/BAD_INPUT.md, through the real command line (`python -m codec_rt`, a fresh process).

A row is either coded (encode then decode succeed; the decoded file has the input's exact length, channel
count and rate) or refused (exit code 2, one line on stderr, no traceback, and the folder holds exactly the
files it held before: no output, no temporary file). A last test holds the document and this file to the
same list of rows.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from codec_rt import AudioError, Codec, CodecError
from codec_rt.decoder import StreamDecoder
from codec_rt.encoder import StreamEncoder
from codec_rt.phase_gradient import PhaseStart

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
DOC = REPO / "docs" / "BAD_INPUT.md"
RNG = np.random.default_rng(5)
RATES = (8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codec_rt", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def noise(frames: int, channels: int = 1, level: float = 0.3) -> np.ndarray:
    return RNG.uniform(-level, level, (frames, channels)).astype(np.float32)


def wav(name: str, data: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> Callable[[Path, Codec], None]:
    def make(tmp: Path, codec: Codec) -> None:
        sf.write(str(tmp / name), data, rate, subtype=subtype)

    return make


# ---------------------------------------------------------------- audio that is coded

@dataclass
class Coded:
    id: str
    make: Callable[[Path, Codec], None]
    input: str
    expect: tuple[int, int, int]  # frames, channels, rate of the decoded file
    check: Callable[[np.ndarray], bool] | None = None


def _truncated_wav(tmp: Path, codec: Codec) -> None:
    sf.write(str(tmp / "full.wav"), noise(4000, 2), 48000, subtype="PCM_24")
    data = (tmp / "full.wav").read_bytes()
    (tmp / "full.wav").unlink()
    (tmp / "cut.wav").write_bytes(data[: 44 + 6 * 1500 + 4])  # 1500 whole frames and part of one more


def _sizes_zero_wav(tmp: Path, codec: Codec) -> None:
    """A recorder stopped before it wrote its header's sizes: RIFF and data sizes 0, 3000 samples after them."""
    sf.write(str(tmp / "in.wav"), noise(3000, 2), 16000, subtype="PCM_16")
    data = bytearray((tmp / "in.wav").read_bytes())
    data[4:8] = data[40:44] = bytes(4)
    (tmp / "in.wav").write_bytes(bytes(data))


def _square(frames: int) -> np.ndarray:
    return np.where((np.arange(frames) // 40) % 2 == 0, 1.0, -1.0).astype(np.float32)[:, None]


CODED = [
    Coded("zero-samples", wav("in.wav", np.zeros((0, 1), np.float32)), "in.wav", (0, 1, 16000)),
    Coded("one-sample", wav("in.wav", np.full((1, 1), 0.5, np.float32)), "in.wav", (1, 1, 16000)),
    Coded("shorter-than-a-frame", wav("in.wav", noise(300)), "in.wav", (300, 1, 16000)),
    Coded("silence", wav("in.wav", np.zeros((16000, 1), np.float32)), "in.wav", (16000, 1, 16000),
          lambda y: float(np.abs(y).max()) < 1e-3),
    Coded("dc", wav("in.wav", np.full((8000, 1), 0.5, np.float32)), "in.wav", (8000, 1, 16000)),
    Coded("full-scale-clipping", wav("in.wav", _square(8000)), "in.wav", (8000, 1, 16000)),
    Coded("8-channels", wav("in.wav", noise(2000, 8)), "in.wav", (2000, 8, 16000)),
    *[Coded(f"rates-8k-192k[{r}]", wav("in.wav", noise(r // 10), r), "in.wav", (r // 10, 1, r)) for r in RATES],
    Coded("pcm-24-bit", wav("in.wav", noise(4000, 2), 48000, "PCM_24"), "in.wav", (4000, 2, 48000)),
    Coded("float-wav", wav("in.wav", noise(4000, 1, 1.5), 22050, "FLOAT"), "in.wav", (4000, 1, 22050)),
    Coded("truncated-wav", _truncated_wav, "cut.wav", (1500, 2, 48000)),
    Coded("wav-size-zero", _sizes_zero_wav, "in.wav", (3000, 2, 16000)),
]


@pytest.mark.parametrize("row", CODED, ids=lambda r: r.id)
def test_coded(row: Coded, tmp_path: Path, codec: Codec) -> None:
    row.make(tmp_path, codec)
    enc = run("encode", row.input, "-o", "x.cra", cwd=tmp_path)
    assert enc.returncode == 0 and "Traceback" not in enc.stderr, enc.stderr
    dec = run("decode", "x.cra", "-o", "out.wav", cwd=tmp_path)
    assert dec.returncode == 0 and "Traceback" not in dec.stderr, dec.stderr
    i = sf.info(str(tmp_path / "out.wav"))
    assert (i.frames, i.channels, i.samplerate) == row.expect
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({row.input, "x.cra", "out.wav"})
    if row.check is not None:
        y, _ = sf.read(str(tmp_path / "out.wav"), always_2d=True)
        assert row.check(y)
    if row.id == "truncated-wav":
        assert "cut.wav is truncated" in enc.stderr and "coding the 1500 samples present" in enc.stderr
        assert enc.stderr.count("is truncated") == 1, enc.stderr  # the file is read twice, said once
    if row.id == "wav-size-zero":
        assert "in.wav: its header announces 0 bytes of audio, but 12000 bytes follow it" in enc.stderr
        assert enc.stderr.count("header announces") == 1, enc.stderr


# ---------------------------------------------------------------- everything that is refused

@dataclass
class Refused:
    id: str
    make: Callable[[Path, Codec], None]
    commands: list[tuple[str, ...]]
    message: str  # a piece of the one error line (a regular expression)


def nothing(tmp: Path, codec: Codec) -> None:
    pass


def text(name: str, content: bytes = b"hello, this is not audio\n") -> Callable[[Path, Codec], None]:
    def make(tmp: Path, codec: Codec) -> None:
        (tmp / name).write_bytes(content)

    return make


def blob(name: str = "s.cra", audio: np.ndarray | None = None, rate: int = 16000,
         edit: Callable[[bytes], bytes] | None = None) -> Callable[[Path, Codec], None]:
    def make(tmp: Path, codec: Codec) -> None:
        x = noise(1600).T if audio is None else audio
        data = codec.encode(np.ascontiguousarray(x), rate)
        (tmp / name).write_bytes(data if edit is None else edit(data))

    return make


def both(*makers: Callable[[Path, Codec], None]) -> Callable[[Path, Codec], None]:
    def make(tmp: Path, codec: Codec) -> None:
        for m in makers:
            m(tmp, codec)

    return make


def _truncated_flac(tmp: Path, codec: Codec) -> None:
    data = (DATA / "speech_fr_16k.flac").read_bytes()
    (tmp / "in.flac").write_bytes(data[: len(data) // 2])


def _flip(data: bytes) -> bytes:
    b = bytearray(data)
    b[len(b) // 2] ^= 0x10
    return bytes(b)


def _major_2(data: bytes) -> bytes:
    b = bytearray(data[:-4])
    b[4] = 2
    return bytes(b) + struct.pack("<I", zlib.crc32(bytes(b)))


def _forged_track_count(tmp: Path, codec: Codec) -> None:
    """A low-latency chord whose first packet with tracks after the one that starts them says one track more
    is alive than there is (its CRC re-sealed): well formed alone, refused by the decoder that holds them."""
    from codec_rt import packets, section, tracks

    t = np.arange(32000) / 16000
    chord = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (262.0, 330.0, 392.0)).astype(np.float32)[None]
    data = Codec.load(low_latency=True).encode(chord, 16000, framed=True, packet_steps=25)
    h, pk = packets.read_packets(data)
    k = next(i for i, p in enumerate(pk[:-1]) if p.channels[0].tracks is not None and p.channels[0].tracks[0])
    sec = bytearray(section.channel_section(pk[k].channels[0], h))
    at = len(sec) - len(tracks.to_bytes(pk[k].channels[0].tracks[1]))  # the track field ends the section
    sec[at] += 1 << 3  # its first 5 bits: the tracks alive
    body = packets.write_packet(k, bytes(sec), None, tracks=True)
    (tmp / "s.cra").write_bytes(data[: pk[k].offset] + body + data[pk[k + 1].offset :])


def _link(name: str, target: str) -> Callable[[Path, Codec], None]:
    def make(tmp: Path, codec: Codec) -> None:
        (tmp / name).symlink_to(target)

    return make


BLOB_COMMANDS = [("info", "s.cra"), ("decode", "s.cra", "-o", "out.wav")]

REFUSED = [
    Refused("nan-sample", wav("in.wav", np.array([[0.1], [np.nan], [0.2]], np.float32), subtype="FLOAT"),
            [("encode", "in.wav", "-o", "x.cra")], r"in\.wav: sample 1 of channel 0 is nan"),
    Refused("inf-sample", wav("in.wav", np.array([[0.1], [0.2], [-np.inf]], np.float32), subtype="FLOAT"),
            [("encode", "in.wav", "-o", "x.cra")], r"in\.wav: sample 2 of channel 0 is -inf"),
    Refused("double-beyond-float32", wav("in.wav", np.array([[0.1], [1e300]]), subtype="DOUBLE"),
            [("encode", "in.wav", "-o", "x.cra")], r"sample 1 of channel 0 is inf"),
    Refused("sample-beyond-32768", wav("in.wav", np.array([[0.1], [0.2], [-4e4]], np.float32), subtype="FLOAT"),
            [("encode", "in.wav", "-o", "x.cra")], r"in\.wav: sample 2 of channel 0 is -4e\+04, beyond \+-32768"),
    Refused("65-channels", wav("in.wav", noise(100, 65)), [("encode", "in.wav", "-o", "x.cra")],
            r"in\.wav: 65 channels; codec-rt codes 1\.\.64"),
    Refused("rate-below-1khz", wav("in.wav", noise(500), 500), [("encode", "in.wav", "-o", "x.cra")],
            r"in\.wav: sample rate 500 not in 1000\.\.768000 Hz"),
    Refused("rate-above-768khz", wav("in.wav", noise(1000), 1_000_000), [("encode", "in.wav", "-o", "x.cra")],
            r"sample rate 1000000 not in"),
    Refused("corrupt-audio", _truncated_flac, [("encode", "in.flac", "-o", "x.cra")],
            r"in\.flac: not a readable audio file \(.*lost sync"),
    Refused("non-audio-file", text("in.wav"), [("encode", "in.wav", "-o", "x.cra")],
            r"in\.wav: not a readable audio file"),
    Refused("empty-file", text("in.wav", b""), [("encode", "in.wav", "-o", "x.cra")],
            r"in\.wav: not a readable audio file"),
    Refused("directory", nothing, [("encode", ".", "-o", "x.cra"), ("decode", ".", "-o", "x.wav"), ("info", ".")],
            r"is a directory, not a file"),
    Refused("missing-path", nothing,
            [("encode", "no.wav", "-o", "x.cra"), ("decode", "no.cra", "-o", "x.wav"), ("info", "no.cra")],
            r"no\.(wav|cra): no such file"),
    Refused("device-file", nothing,
            [("encode", "/dev/zero", "-o", "x.cra"), ("decode", "/dev/zero", "-o", "x.wav"), ("info", "/dev/zero")],
            r"/dev/zero is not a regular file"),
    Refused("output-is-input", both(wav("in.wav", noise(100)), blob(), _link("link.wav", "in.wav")),
            [("encode", "in.wav", "-o", "in.wav", "--force"), ("decode", "s.cra", "-o", "s.cra", "--force"),
             ("encode", "in.wav", "-o", "link.wav", "--force"), ("encode", "link.wav", "-o", "./in.wav", "--force")],
            r"is the input file; refusing to overwrite it"),
    Refused("output-exists", both(wav("in.wav", noise(100)), blob(), text("x.cra"), text("x.wav")),
            [("encode", "in.wav", "-o", "x.cra"), ("decode", "s.cra", "-o", "x.wav")],
            r"x\.(cra|wav) exists; use --force to replace it"),
    Refused("output-folder-missing", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", "no/x.cra"), ("decode", "s.cra", "-o", "no/x.wav")],
            r"output folder no does not exist"),
    Refused("output-is-a-directory", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", ".", "--force"), ("decode", "s.cra", "-o", ".", "--force")],
            r"\. is a directory"),
    Refused("output-names-a-folder", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", "new/"), ("decode", "s.cra", "-o", "new/", "--force")],
            r"new/ names a folder; give a file name"),
    Refused("output-name-too-long", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", "a" * 252 + ".cra"), ("decode", "s.cra", "-o", "b" * 300 + ".wav")],
            r"cannot write \(File name too long"),
    Refused("unknown-output-extension", blob(), [("decode", "s.cra", "-o", "x.mp3")],
            r"x\.mp3: unknown audio extension; use \.wav, \.flac or \.ogg"),
    Refused("flac-over-8-channels", blob(audio=noise(800, 9).T), [("decode", "s.cra", "-o", "x.flac")],
            r"FLAC holds at most 8 channels, the audio has 9; write a \.wav"),
    Refused("ogg-over-200khz", blob(audio=noise(3840).T, rate=384000), [("decode", "s.cra", "-o", "x.ogg")],
            r"OGG holds at most 200000 Hz, the audio is at 384000 Hz"),
    Refused("flac-empty", blob(audio=np.zeros((1, 0), np.float32)), [("decode", "s.cra", "-o", "x.flac")],
            r"FLAC cannot hold an empty signal"),
    Refused("empty-blob", text("s.cra", b""), BLOB_COMMANDS, r"blob is 0 bytes"),
    Refused("truncated-blob", blob(edit=lambda d: d[: len(d) - 10]), BLOB_COMMANDS,
            r"blob is \d+ bytes, its header says \d+"),
    Refused("flipped-byte", blob(edit=_flip), BLOB_COMMANDS, r"checksum mismatch"),
    Refused("trailing-bytes", blob(edit=lambda d: d + b"\0"), BLOB_COMMANDS, r"1 unexpected bytes after the blob"),
    Refused("not-a-blob", text("s.cra"), BLOB_COMMANDS, r"not a codec-rt blob"),
    Refused("future-major-version", blob(edit=_major_2), BLOB_COMMANDS, r"blob format 2\.\d+; this runtime reads 1\.x"),
    Refused("forged-track-count", _forged_track_count, BLOB_COMMANDS,
            r"packet \d+ says \d+ tracks are alive, not \d+"),
    Refused("wrong-model", blob(), [("decode", "s.cra", "-o", "x.wav", "--model", str(DATA / "golden_model"))],
            r"encoded with model [0-9a-f]{16}, but the loaded model is c34e345da8f67bf8"),
    Refused("unknown-model", text("s.cra", (DATA / "golden_v1_0_predicted.cra").read_bytes()),
            [("decode", "s.cra", "-o", "x.wav")],
            r"encoded with model c34e345da8f67bf8, which is not shipped with this codec-rt \(shipped: [0-9a-f, ]+\); "
            r"pass its model directory with --model"),
    Refused("bitrate-below-ladder", wav("in.wav", noise(100)),
            [("encode", "in.wav", "-o", "x.cra", "--bitrate", "0.5")],
            r"no model at or below 0\.5 kbps; the ladder has"),
    Refused("bitrate-not-positive", wav("in.wav", noise(100)),
            [("encode", "in.wav", "-o", "x.cra", "--bitrate", b) for b in ("nan", "-3", "0")]
            + [("batch", "encode", ".", "-o", "dst", "--bitrate", "nan"), ("bench", "--bitrate", "nan")],
            r"bitrate must be a positive number of kbps, got (nan|-3\.0|0\.0)"),
    Refused("model-folder-missing", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", "x.cra", "--model", "nowhere"),
             ("decode", "s.cra", "-o", "x.wav", "--model", "nowhere")],
            r"model directory nowhere does not exist"),
    Refused("model-folder-is-a-file", both(wav("in.wav", noise(100)), blob()),
            [("encode", "in.wav", "-o", "x.cra", "--model", "in.wav"),
             ("decode", "s.cra", "-o", "x.wav", "--model", "s.cra")],
            r"model directory (in\.wav|s\.cra) is not a directory"),
]


@pytest.mark.parametrize("row", REFUSED, ids=lambda r: r.id)
def test_refused(row: Refused, tmp_path: Path, codec: Codec) -> None:
    row.make(tmp_path, codec)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for cmd in row.commands:
        r = run(*cmd, cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, (cmd, r.returncode, r.stderr)
        assert lines[0].startswith("codec-rt: error: ") and re.search(row.message, lines[0]), (cmd, lines[0])
        assert r.stdout == ""
        # Nothing written, nothing touched, no temporary file left.
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before, cmd


def test_wrong_model_names_both_ids_whatever_they_are(tmp_path: Path, codec: Codec) -> None:
    golden = Codec.load(DATA / "golden_model")
    blob()(tmp_path, codec)
    r = run("decode", "s.cra", "-o", "x.wav", "--model", str(DATA / "golden_model"), cwd=tmp_path)
    assert r.returncode == 2 and codec.model_id in r.stderr and golden.model_id in r.stderr


# ---------------------------------------------------------------- the API's own refusals

@pytest.mark.parametrize(
    "audio,rate,message",
    [
        (np.array([[0.0, 1e300]]), 16000, "beyond the float32 range"),
        (np.zeros((1, 10), np.float32), True, "sample rate"),
        (np.zeros((1, 10), np.float32), 999, "sample rate 999"),
        (np.zeros((0, 10), np.float32), 16000, "0 channels"),
        (np.array([[0.0, 1e30]], np.float32), 16000, r"samples of 1e\+30, beyond \+-32768"),
    ],
    ids=["api-float64-beyond-float32", "api-bool-rate", "api-rate-below-1khz", "api-zero-channels",
         "api-sample-beyond-32768"],
)
def test_api_refusals(codec: Codec, audio: np.ndarray, rate: int, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        codec.encode(audio, rate)


API_OPTIONS = ["api-fractional-rate", "api-bitrate-not-a-number", "api-threads-not-a-count",
               "api-band-outside-its-mode", "api-fractional-band", "api-packets-of-the-whole-layout",
               "api-blob-not-bytes", "api-contrast-not-a-number", "api-not-a-codec", "api-model-path-not-a-path",
               "api-workers-not-a-count", "api-channels-not-a-count", "api-loading-options-with-a-model",
               "api-provider-missing-at-once", "api-tracks-not-a-bool"]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda c, x: c.encode(x, 16000.5), "sample rate must be a whole number of Hz, got 16000.5"),
        (lambda c, x: Codec.load(bitrate="12"), "bitrate must be a positive number of kbps, got '12'"),
        (lambda c, x: Codec.load(threads=1.5), "threads must be a whole number, at least 1, got 1.5"),
        (lambda c, x: c.encode(x, 16000, mode="predicted", phase_bins=16, phase_bits=3),
         "phase_bins is for modes low_band_phase and tonal_band_phase"),
        (lambda c, x: c.encode(x, 16000, mode="low_band_phase", phase_bins=2.5), "phase_bins must be an integer"),
        (lambda c, x: c.encode(x, 16000, packet_steps=0), "packet_steps is for the framed layout"),
        (lambda c, x: StreamDecoder(c).push(5), "data must be bytes, got int"),  # bytes(5): five zero bytes
        (lambda c, x: c.decode(c.encode(x, 16000), contrast="1"), "contrast must be a number in 0.5..2, got '1'"),
        (lambda c, x: StreamEncoder("codec", 16000, 1), "expected a Codec or a Model, got str"),
        (lambda c, x: Codec.load(5), "model directory must be a path, got int"),
        (lambda c, x: StreamDecoder(c, workers=0), "workers must be an integer in 1..1024, got 0"),
        (lambda c, x: StreamEncoder(c, 16000, "1"), "channels must be a whole number in 1..64, got '1'"),
        (lambda c, x: StreamDecoder(c, provider="cuda"), "provider, threads and model_dir are for a StreamDecoder "
                                                          "that loads its model"),
        (lambda c, x: StreamDecoder(provider="tpu"), "unknown provider 'tpu'"),
        (lambda c, x: c.encode(x, 16000, tracks="yes"), "tracks must be True or False, got 'yes'"),
    ],
    ids=API_OPTIONS,
)
def test_api_refuses_options_that_would_be_ignored_or_cut(codec: Codec, call: Callable[[Codec, np.ndarray], object],
                                                          message: str) -> None:
    """Each of these used to be cut to an integer, ignored, or end in a TypeError or AttributeError from
    inside."""
    x = noise(1600).T.copy()
    with pytest.raises(CodecError, match=re.escape(message)):
        call(codec, x)


def test_whole_numbers_of_every_kind_are_rates_and_names_are_phase_starts(codec: Codec) -> None:
    x = noise(4000).T.copy()
    assert codec.encode(x, 16000.0) == codec.encode(x, np.float32(16000)) == codec.encode(x, 16000)
    for t in (0, -1, True):
        with pytest.raises(CodecError, match="threads must be"):
            Codec.load(threads=t)
    blob = codec.encode(x, 16000)
    assert np.array_equal(codec.decode(blob, phase_start="gradient")[0],
                          codec.decode(blob, phase_start=PhaseStart.GRADIENT)[0])
    assert np.array_equal(codec.decode(blob, phase_start="Predicted")[0], codec.decode(blob, phase_start=0)[0])
    with pytest.raises(CodecError, match="phase_start must be"):
        codec.decode(blob, phase_start="griffin")


# ---------------------------------------------------------------- the document and the tests agree

def test_every_row_of_the_document_has_a_test_and_back() -> None:
    doc_ids = set(re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(), re.MULTILINE))
    test_ids = {r.id.split("[")[0] for r in CODED} | {r.id for r in REFUSED}
    test_ids |= {"api-float64-beyond-float32", "api-bool-rate", "api-rate-below-1khz", "api-zero-channels",
                 "api-sample-beyond-32768"}
    test_ids |= set(API_OPTIONS)
    test_ids |= {"output-exists-force", "interrupted-write", "output-is-special"}  # tests/test_atomic_output.py
    test_ids |= {"wav-size-unknown", "not-audio-on-stdin"}  # tests/test_wav_headers.py
    assert doc_ids == test_ids
