"""One file coded, streamed: the code path of `codec-rt encode` and `codec-rt decode`, and of every file of
`codec-rt batch` (`batch.py`), so a file's blob is the same bytes whichever command wrote it.

The input is read in blocks and the output written as it is produced: to a temporary file renamed into
place once complete (`files.atomic_write`), or to standard output (`out=None`), so memory stays bounded
for any length. Errors are `CodecError`s naming the file (docs/BAD_INPUT.md).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from . import packets
from .audio import StereoEnergy
from .audio_in import AudioReader
from .blob import BlobHeader
from .codec import Codec
from .decoder import StreamDecoder
from .encoder import StreamEncoder
from .errors import AudioError
from .files import STDIN_NAME, STDIO, AudioWriter, Sink, Stdout, atomic_write, check_audio_output, open_binary
from .level import Loudness
from .phase_gradient import PhaseStart

log = logging.getLogger(__name__)
# Audio a decoder push covers: what it holds at once (a read of 64 KiB is 3 minutes at 3 kbps), and long
# enough that its blocks keep the workers busy (shorter pushes cost wall time: docs/STREAMING.md, memory).
PUSH_SECONDS = 30.0
FIRST_PUSH_BYTES = 4096  # before the blob has shown its rate: 11 s at 3 kbps, 1.4 s at 24

# progress(total samples or None, what) -> a context that yields advance(samples)
Progress = Callable[[int | None, str], AbstractContextManager[Callable[[int], None]]]


@contextlib.contextmanager
def no_progress(total: int | None, what: str) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


@dataclass(frozen=True)
class Coded:
    """What coding one file did."""

    name: str  # the input as messages name it (a path, or <stdin>)
    output_bytes: int  # bytes written (decode: the audio's samples x channels x 2, as 16-bit PCM)
    samples: int  # audio samples per channel read (encode) or written (decode)
    sample_rate: int  # Hz
    channels: int
    truncated: bool = False  # decode: the blob was cut short and is decoded up to the cut

    @property
    def seconds(self) -> float:
        """Audio seconds."""
        return self.samples / self.sample_rate if self.sample_rate else 0.0

    @property
    def kbps(self) -> float | None:
        """The blob's bitrate (encode), kbps; None for no audio."""
        return 8 * self.output_bytes / self.seconds / 1000 if self.seconds > 0 else None


class _Counting:
    """A binary output that counts what goes through it."""

    def __init__(self, f: Sink) -> None:
        self.f, self.n = f, 0

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.n += len(data)


def _emit(out: Path | None, write: Callable[[Sink], None]) -> None:
    """Run `write(file)` into `out` atomically (a temporary file renamed into place), or into stdout (None)."""
    if out is None:
        stdout = Stdout()
        write(stdout)
        stdout.flush()
        return

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            write(f)

    atomic_write(out, _write)


def _first_pass(input: str | Path) -> tuple[StereoEnergy, Loudness] | None:
    """A first reading of a file: its stereo energies (whether mid/side suits a pair, `audio.StereoEnergy`)
    and its level (`level.Loudness`, which holds the packets' gains near the file's). None for stdin, which
    cannot be read twice."""
    if str(input) == STDIO:
        return None
    energy, level = StereoEnergy(), Loudness()
    with AudioReader(input, warn=False) as reader:  # the second reading warns
        for block in reader.blocks():
            if reader.channels == 2:
                energy.add(block)
            level.add(block)
    return energy, level


def encode_file(
    input: str | Path,
    out: Path | None,
    codec: Codec | Callable[[], Codec],
    *,
    bits: int | None = None,
    mode: str | None = None,
    whole: bool = False,
    joint_stereo: bool | None = None,
    progress: Progress = no_progress,
) -> Coded:
    """Encode the audio file `input` (`-`: standard input) into the blob `out` (None: standard output).

    codec: the codec, or a function that loads it (called once the input has opened, so an unreadable
    input fails before a model is loaded). mode: as `Codec.encode` (None: the codec's). The framed layout
    (what `StreamEncoder` writes) by default;
    `whole`: the whole layout, the audio read whole first. joint_stereo: two channels as mid/side, or each
    on its own; None: as `Codec.encode` chooses, from a first reading of a file (stdin: each on its own).
    The framed layout of a file is what `Codec.encode(framed=True)` writes of its audio: a first reading
    measures its level too (stdin: each packet's gain its own, as a live stream's).
    `out` must have passed `files.check_output`. Raises AudioError, InputError, OutputError, CodecError.
    """
    first = None if whole else _first_pass(input)  # the whole layout reads the file whole: Codec.encode chooses
    if joint_stereo is None and first is not None:
        joint_stereo = first[0].mid_side
    with AudioReader(input) as reader:
        if joint_stereo and reader.channels != 2:
            log.warning("warning: %s has %d channel(s): mid/side codes a pair, so they are coded one by one",
                        reader.name, reader.channels)
        c = codec if isinstance(codec, Codec) else codec()
        counted: list[_Counting] = []
        if whole:
            audio = reader.read_all()
            try:
                data = c.encode(audio, reader.sample_rate, bits=bits, mode=mode, joint_stereo=joint_stereo)
            except AudioError as e:
                raise AudioError(f"{reader.name}: {e}") from None

            def write(f: Sink) -> None:
                counted.append(_Counting(f))
                counted[-1].write(data)
        else:
            try:
                enc = StreamEncoder(c, reader.sample_rate, reader.channels, mode=mode, bits=bits,
                                    joint_stereo=bool(joint_stereo), level=None if first is None else first[1])
            except AudioError as e:
                raise AudioError(f"{reader.name}: {e}") from None

            def write(f: Sink) -> None:
                counted.append(_Counting(f))
                with progress(reader.num_samples, "encoding") as advance:
                    for block in reader.blocks():
                        counted[-1].write(enc.push(block))
                        advance(block.shape[1])
                    counted[-1].write(enc.flush())

        _emit(out, write)
        return Coded(reader.name, counted[-1].n, reader.samples_read, reader.sample_rate, reader.channels)


def decode_file(
    input: str | Path,
    out: Path | None,
    codec_for: Callable[[BlobHeader], Codec],
    *,
    phase_iters: int | None = None,
    contrast: float | None = None,
    phase_start: PhaseStart | None = None,
    progress: Progress = no_progress,
) -> Coded:
    """Decode the blob `input` (`-`: standard input) into the audio file `out` (its format by extension;
    None: a WAV on standard output), decoded as it is read; a framed blob cut short decodes up to the cut,
    with a warning (`Coded.truncated`).

    phase_iters, contrast, phase_start: as `Codec.decode` (None: the model's defaults).
    codec_for(header): the codec for the blob (called once its header is read and checked). `out` must have
    passed `files.check_output`. Raises FormatError (and subclasses), ModelMismatchError, InputError,
    OutputError.
    """
    from_stdin = str(input) == STDIO
    f = open_binary(input)
    try:
        src = packets.open_blob(f, seekable=not from_stdin)
        header = src.header
        total = header.num_samples if header.n_frames else None
        if out is not None:  # refuse what the output format cannot hold before decoding
            check_audio_output(out, header.channels, header.sample_rate, 1 if total is None else total)
        codec = codec_for(header)
        codec.check_compatible(header)
        dec = StreamDecoder(codec, phase_iters=phase_iters, contrast=contrast, phase_start=phase_start)
        written: list[int] = []

        def write(target: Sink | Path) -> None:
            writer = AudioWriter(target, header.channels, header.sample_rate, total, out_name=out)
            fed = decoded = 0

            def push_size() -> int:  # PUSH_SECONDS of audio at the rate the blob has shown so far (a pipe's too)
                if not decoded:
                    return FIRST_PUSH_BYTES
                return int(min(max(fed * header.sample_rate / decoded * PUSH_SECONDS, FIRST_PUSH_BYTES),
                               packets.READ_SIZE))

            with progress(total, "decoding") as advance:
                for piece in src.pieces(push_size):
                    y = dec.push(piece)
                    fed, decoded = fed + len(piece), decoded + y.shape[1]
                    writer.write(y)
                    advance(y.shape[1])
                y = dec.flush()
                writer.write(y)
                advance(y.shape[1])
            writer.close()
            written.append(writer.samples_written)

        if out is None:
            stdout = Stdout()
            write(stdout)
            stdout.flush()
        else:
            atomic_write(out, write)
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    n = written[-1]
    name = STDIN_NAME if from_stdin else str(input)
    return Coded(name, n * header.channels * 2, n, header.sample_rate, header.channels, dec.truncated)
