"""`codec-rt batch`: code a folder tree or a manifest of files (`corpus.py`) into a mirror folder, on the
local engine (`local_engine.py`, worker processes on this machine) or on Ray (`ray_engine.py`).

Nothing is lost: each output is written atomically by its worker; an output found complete and valid
(`corpus.blob_done`, `corpus.audio_done`) is skipped unless `force`, so a rerun does only what is left, and
a file at an output's path that no batch wrote (the output folder's ledger, LEDGER_NAME, does not list it
as it is) is never replaced unless `force`; a file that fails is recorded with its error and the batch goes on. A
file that failed for what it holds (`Result.bad_input`) is reported again by a rerun without being tried,
until it changes. Every file's
`Result` is appended to a results file (JSON lines, `worker.Result`) as it completes, so a batch stopped
halfway has them too.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from . import corpus, ladder
from .corpus import Job
from .errors import CodecError, OutputError
from .files import AUDIO_FORMATS
from .latent import coding_options
from .model import Model, check_provider, low_band_of
from .phase_gradient import PhaseStart
from .worker import ERROR, OK, SKIPPED, Result, Settings, failed

RESULTS_NAME = "batch_results.jsonl"
# Every output a batch wrote (or found done) into DST, appended and never cut: the results file is each
# run's own, so a run stopped halfway, or a decode run after an encode run into the same folder, left
# earlier runs' outputs unlisted, and the next run refused them as the user's files. JSON lines: an output's
# absolute path, claimed when its job starts (a run stopped between the rename into place and the result
# still owns it) and released if the job fails with nothing written. A path, not a
# file's size and time: a batch's own output damaged or cut since is coded again (docs/SCALE.md).
LEDGER_NAME = ".codec-rt-batch-outputs"


class Engine(Protocol):
    def run(self, jobs: Iterator[Job]) -> Iterator[Result]: ...


@dataclass
class Summary:
    """What a batch did: files per status, the audio seconds coded, wall time, the results file."""

    results: Path
    counts: dict[str, int] = field(default_factory=lambda: {OK: 0, SKIPPED: 0, ERROR: 0})
    audio_seconds: float = 0.0  # of the files coded in this run (not of those skipped)
    wall_s: float = 0.0
    failures: list[Result] = field(default_factory=list)  # the first few, for the report

    @property
    def files(self) -> int:
        return sum(self.counts.values())

    @property
    def rtf(self) -> float | None:
        """Real-time factor of the run: wall seconds per audio second coded."""
        return self.wall_s / self.audio_seconds if self.audio_seconds else None

    def add(self, r: Result) -> None:
        self.counts[r.status] = self.counts.get(r.status, 0) + 1
        if r.status == OK:
            self.audio_seconds += r.seconds
        elif r.status == ERROR and len(self.failures) < 20:
            self.failures.append(r)


@dataclass(frozen=True)
class Options:
    """A batch: `src` (folder or manifest) -> `dst` (folder), `decode` or encode.

    bitrate, low_latency, model, bits: the model and a fixed-width model's bits (encode: as `codec-rt encode`,
    where bits without a model pick the shipped fixed-width one; decode: `model` only, else the shipped model
    each blob names). mode: encode's mode ("predicted", "store_phase", "low_band_phase"; None: the point's,
    as `codec-rt encode --mode`). joint_stereo: two channels as mid/side, or not; None: per file (`Codec.encode`).
    phase_iters, contrast, phase_start: decode options (`Codec.decode`; None: the model's defaults).
    audio_format: decode's output extension (wav, flac, ogg). engine: "local" or "ray"; workers: processes
    or actors (local default: this machine's CPUs; Ray: the cluster's); address: the Ray cluster (None: one
    started for the run). results: the results file (default: DST/batch_results.jsonl).
    """

    src: Path
    dst: Path
    decode: bool = False
    bitrate: float | None = None
    low_latency: bool = False
    model: Path | None = None
    provider: str = "cpu"
    force: bool = False
    phase_iters: int | None = None
    contrast: float | None = None
    phase_start: PhaseStart | None = None
    joint_stereo: bool | None = None
    audio_format: str = "wav"
    engine: str = "local"
    workers: int | None = None
    address: str | None = None
    results: Path | None = None
    bits: int | None = None
    mode: str | None = None


def _settings(o: Options) -> tuple[Settings, str | None]:
    """The workers' settings and, for an encode, the id of its model (loaded here once, on the CPU: a
    wrong bitrate or model directory is a usage error before any work)."""
    if o.decode:
        if o.bitrate is not None or o.low_latency or o.bits is not None or o.mode is not None:
            raise CodecError("batch decode takes the model each blob names (or --model), not a bitrate, bits "
                             "or mode")
        if o.audio_format not in AUDIO_FORMATS:
            raise OutputError(f"unknown audio format {o.audio_format!r}; use wav, flac or ogg")
        if o.model is not None:
            Model.load(o.model, "cpu", 1)
        return Settings(True, None if o.model is None else str(o.model.absolute()), o.provider,
                        phase_iters=o.phase_iters, contrast=o.contrast, phase_start=o.phase_start), None
    if o.model is not None and (o.bitrate is not None or o.low_latency):
        raise CodecError("choose a model directory or a bitrate / low latency, not both")
    fixed_width = o.bits is not None and o.model is None
    point = ladder.LadderPoint.of_folder(o.model) if o.model is not None else \
        ladder.choose(o.bitrate, o.low_latency, fixed_width)
    mode = o.mode or point.mode
    loaded = Model.load(point.path.absolute(), "cpu", 1)
    bins, bits = low_band_of(point, mode, None, None)
    coding_options(loaded.config, o.bits, mode, bits, False, bins)  # a refused --bits or band before any work
    return Settings(False, str(point.path.absolute()), o.provider, joint_stereo=o.joint_stereo, bits=o.bits,
                    mode=mode, rate_lambda=point.rate_lambda, phase_bins=bins, phase_bits=bits), loaded.model_id


def _engine(o: Options, settings: Settings) -> Engine:
    if o.engine == "local":
        from .local_engine import LocalEngine

        check_provider(o.provider)  # here, not in each worker: one line, before any file

        return LocalEngine(settings, o.workers or _cpus())
    if o.engine == "ray":
        from .ray_engine import RayEngine

        return RayEngine(settings, o.workers, o.address)
    raise CodecError(f"unknown engine {o.engine!r}; use local or ray")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def jobs_total(o: Options) -> int:
    """How many files the batch lists (a second listing: for a progress bar's total)."""
    return corpus.count(corpus.list_jobs(o.src, o.dst, o.decode, _out_suffix(o)))


def _out_suffix(o: Options) -> str:
    return "." + o.audio_format if o.decode else corpus.BLOB_SUFFIX


def _known(results: Path, ledger: Path) -> tuple[dict[str, Result], set[str]]:
    """What a previous results file says: the files that cannot be coded as they are (`Result.bad_input`), by
    name; and the outputs a batch wrote (or found done), from the ledger (its last line for each) and the
    results file (a folder written before the ledger was kept has only that)."""
    bad: dict[str, Result] = {}
    written: set[str] = set()
    try:
        for line in ledger.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                (written.discard if d.get("released") else written.add)(str(d["output"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a line cut by a crash
    except (OSError, UnicodeDecodeError):
        pass
    try:
        with open(results, encoding="utf-8") as f:
            for line in f:
                try:
                    d = json.loads(line)
                    if d.get("status") == ERROR and isinstance(d.get("bad_input"), list):
                        bad[d["path"]] = Result(d["path"], d["output"], ERROR, error=d["error"],
                                                bad_input=[int(v) for v in d["bad_input"]])
                    elif d.get("status") in (OK, SKIPPED):
                        written.add(str(Path(d["output"]).resolve()))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a crash, or from another version: that file is tried again
    except (OSError, UnicodeDecodeError):
        pass
    return bad, written


def run(o: Options, on_result: Callable[[Result], None] = lambda r: None) -> Summary:
    """Run the batch `o`; `on_result(result)` is called for every file as it completes (progress).

    Raises a CodecError for what stops the whole batch before any file (no such SRC, DST not a folder,
    a bad model or option, Ray unreachable); a file's failure is a Result, never an exception.
    """
    if o.dst.exists() and not o.dst.is_dir():
        raise OutputError(f"{o.dst} is a file; the output must be a folder")
    settings, model_id = _settings(o)
    jobs = corpus.list_jobs(o.src, o.dst, o.decode, _out_suffix(o))
    engine = _engine(o, settings)
    try:
        o.dst.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {o.dst} ({e.strerror or e})") from None
    results = o.results or o.dst / RESULTS_NAME
    known_bad, written = _known(results, o.dst / LEDGER_NAME)
    known_bad = {} if o.force else known_bad
    try:
        sink = open(results, "w", encoding="utf-8")
        ledger = open(o.dst / LEDGER_NAME, "a", encoding="utf-8")
    except OSError as e:
        raise OutputError(f"{e.filename}: cannot write the batch's records ({e.strerror or e})") from None
    summary = Summary(results)
    t0 = time.perf_counter()
    started: dict[str, bool] = {}  # outputs of the jobs yielded: whether this run claimed them

    def own(out: Path, release: bool = False) -> None:
        """A ledger line: `out` claimed as the batch's, or released."""
        key = str(out.resolve())
        if (key in written) != release:
            return
        ledger.write(json.dumps({"output": key, "released": True} if release else {"output": key}) + "\n")
        ledger.flush()
        (written.discard if release else written.add)(key)

    def record(r: Result) -> None:
        sink.write(r.to_json() + "\n")
        sink.flush()  # a batch stopped halfway keeps what it did
        if r.status in (OK, SKIPPED):
            own(Path(r.output))
        elif started.pop(r.output, False) and not Path(r.output).exists():  # failed with nothing written
            own(Path(r.output), release=True)
        summary.add(r)
        summary.wall_s = time.perf_counter() - t0
        on_result(r)

    def todo() -> Iterator[Job]:
        """The jobs with work left; the others are recorded here, as failed or skipped."""
        for job in jobs:
            if job.error is not None:
                record(failed(job, f"{job.name}: {job.error}"))
                continue
            bad = known_bad.get(job.name)
            if bad is not None and bad.bad_input == corpus.stamp(job.src):  # failed, and has not changed since
                record(replace(bad, output=str(job.out), wall_s=0.0))
                continue
            done = None
            if not o.force:
                done = corpus.audio_done(job) if o.decode else corpus.blob_done(job, model_id or "")
            if done is not None:
                record(Result(job.name, str(job.out), SKIPPED, done.bytes, done.seconds, done.kbps))
            elif not o.force and job.out.exists() and str(job.out.resolve()) not in written:  # the user's file
                record(failed(job, f"{job.out} exists and no codec-rt batch wrote it there; --force replaces it"))
            else:
                started[str(job.out)] = str(job.out.resolve()) not in written  # claimed by this run
                own(job.out)  # before the worker writes it: a run stopped after that still owns it
                yield job

    with contextlib.closing(sink), contextlib.closing(ledger):
        for r in engine.run(todo()):
            record(r)
    summary.wall_s = time.perf_counter() - t0
    return summary
