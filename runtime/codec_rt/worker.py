"""A batch worker (`codec-rt batch`): codes job after job with models loaded once, in whatever process an
engine runs it (a process of the local pool, a Ray actor), through the same code as `codec-rt encode` and
`decode` (`transcode.py`), so a file's blob is the same bytes whatever the engine or worker count.

A file that fails becomes a `Result` with its error; nothing a file does stops the worker. Each output is
written atomically; the temporary files a killed worker left for an output are removed before it is
coded again.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import corpus
from .blob import BlobHeader
from .codec import Codec
from .corpus import Job
from .errors import AudioError, CodecError, FormatError, InputError, UnsupportedVersionError
from .files import check_output
from .model import Model
from .phase_gradient import PhaseStart
from .transcode import decode_file, encode_file

OK, SKIPPED, ERROR = "ok", "skipped", "error"


@dataclass(frozen=True)
class Settings:
    """What every worker of a batch needs (picklable: it is sent to worker processes and Ray actors).

    decode: the direction. model_dir: encode: the model directory (a ladder point, or --model); decode:
    --model, or None for the shipped model each blob names. provider: "cpu" or "cuda". threads:
    onnxruntime intra-op threads per worker (1: workers, not threads, use the cores; the blobs are the same
    bytes for any count, tests/test_determinism.py). phase_iters, contrast, phase_start: decode options
    (`Codec.decode`; None: the model's defaults). joint_stereo: two channels as mid/side, or not; None:
    chosen per file (`Codec.encode`). bits: a fixed-width model's latent bits (None: the model's default).
    mode: the encode mode (the ladder point's, `ladder.LadderPoint.mode`). rate_lambda: its rate-aware
    rounding (the ladder point's; `entropy.rate_aware_symbols`). phase_bins, phase_bits: the mode's band
    (the ladder point's, in its own mode; None: the model's defaults).
    """

    decode: bool
    model_dir: str | None
    provider: str = "cpu"
    threads: int = 1
    phase_iters: int | None = None
    contrast: float | None = None
    phase_start: PhaseStart | None = None
    joint_stereo: bool | None = None
    bits: int | None = None
    mode: str = "predicted"
    rate_lambda: float = 0.0
    phase_bins: int | None = None
    phase_bits: int | None = None


@dataclass(frozen=True)
class Result:
    """One line of the results file (JSON): the source as named, its output, "ok" / "skipped" / "error",
    the output's size in bytes, the audio's seconds, the blob's bitrate in kbps, the seconds the coding
    took (`wall_s`, 0 when skipped), the error (one line) of a failed file, and the warnings coding it
    gave (a WAV header that lies, ...: one line each, joined by "; ").

    bad_input: for a file that failed because of what it holds (not audio, bad samples, a damaged blob),
    the source's `corpus.stamp` (size, mtime): a rerun reports it again without coding it until it
    changes (or `--force`). Other failures (an output that cannot be written, a worker that died) are
    retried by every rerun."""

    path: str
    output: str
    status: str
    bytes: int = 0
    seconds: float = 0.0
    kbps: float | None = None
    wall_s: float = 0.0
    error: str | None = None
    warning: str | None = None
    bad_input: list[int] | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["seconds"] = round(self.seconds, 6)
        d["kbps"] = None if self.kbps is None else round(self.kbps, 4)
        d["wall_s"] = round(self.wall_s, 4)
        return json.dumps(d)


def failed(job: Job, error: str, wall_s: float = 0.0, bad_input: bool = False) -> Result:
    """A failed job's Result; `bad_input`: the failure is the source's own (see `Result.bad_input`)."""
    return Result(job.name, str(job.out), ERROR, wall_s=wall_s, error=" ".join(error.split()),
                  bad_input=corpus.stamp(job.src) if bad_input else None)


def _remove_leftovers(out: Path) -> None:
    """Remove the temporary files (`files.atomic_write`) a killed worker left for `out`."""
    with contextlib.suppress(OSError):
        for p in out.parent.glob(f".{glob.escape(out.name)}.*.part{glob.escape(out.suffix)}"):
            p.unlink(missing_ok=True)


class _Collect(logging.Handler):
    """The warnings logged while one file is coded."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = " ".join(record.getMessage().split())
        self.lines.append(text.removeprefix("warning: "))


class Worker:
    """Codes jobs with `settings`; its models are loaded on first use and kept (decode: one per model id)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._codecs: dict[str, Codec] = {}

    def _codec(self, key: str | None) -> Codec:
        """The codec of model directory `settings.model_dir`, else of the shipped model id `key`."""
        s = self.settings
        k = s.model_dir or key or ""
        if k not in self._codecs:
            if s.model_dir is not None:
                self._codecs[k] = Codec(Model.load(s.model_dir, s.provider, s.threads), s.mode, s.rate_lambda,
                                        phase_bins=s.phase_bins, phase_bits=s.phase_bits)
            else:
                self._codecs[k] = Codec.for_model_id(k, s.provider, s.threads)
        return self._codecs[k]

    def load(self) -> None:
        """Load the encoder's model now (a worker's start), so the first file does not wait for it."""
        if not self.settings.decode or self.settings.model_dir is not None:
            self._codec(None)

    def code(self, job: Job) -> Result:
        """Code one job -> its Result; never raises for a file's failure (a CodecError, an OSError, or any
        other exception: a bug that one file triggers must not stop the batch)."""
        t0 = time.perf_counter()
        collect, logger = _Collect(), logging.getLogger("codec_rt")
        logger.addHandler(collect)
        propagate, logger.propagate = logger.propagate, False
        try:
            result = self._code(job, t0)
        except CodecError as e:
            # what the file holds, not what is around it: failing again until the file changes
            own = isinstance(e, (AudioError, FormatError, InputError)) and not isinstance(e, UnsupportedVersionError)
            result = failed(job, str(e), time.perf_counter() - t0, bad_input=own)
        except MemoryError:
            result = failed(job, "out of memory", time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - reported in the results file, with its type
            result = failed(job, f"{type(e).__name__}: {e}", time.perf_counter() - t0)
        finally:
            logger.removeHandler(collect)
            logger.propagate = propagate
        return replace(result, warning="; ".join(collect.lines)) if collect.lines else result

    def _code(self, job: Job, t0: float) -> Result:
        if job.error is not None:
            return failed(job, job.error)
        try:
            job.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return failed(job, f"cannot create the folder {job.out.parent} ({e.strerror or e})")
        out = check_output(job.out, True, (job.src,))
        _remove_leftovers(out)
        if not self.settings.decode:
            done = encode_file(job.src, out, self._codec(None), bits=self.settings.bits,
                               joint_stereo=self.settings.joint_stereo)
            return Result(job.name, str(out), OK, done.output_bytes, done.seconds, done.kbps,
                          time.perf_counter() - t0)

        def codec_for(header: BlobHeader) -> Codec:
            return self._codec(header.model_id)

        s = self.settings
        done = decode_file(job.src, out, codec_for, phase_iters=s.phase_iters, contrast=s.contrast,
                           phase_start=s.phase_start)
        if done.truncated:  # a batch's outputs are whole files: the prefix of a cut blob is not kept
            out.unlink(missing_ok=True)
            return failed(job, f"{job.name}: the blob is cut short ({done.samples} samples before the cut)",
                          time.perf_counter() - t0, bad_input=True)
        blob_bytes = job.src.stat().st_size
        kbps = 8 * blob_bytes / done.seconds / 1000 if done.seconds else None
        return Result(job.name, str(out), OK, out.stat().st_size, done.seconds, kbps, time.perf_counter() - t0)
