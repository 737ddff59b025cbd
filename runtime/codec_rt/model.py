"""A model: the two ONNX graphs of a model directory as onnxruntime sessions on an explicit provider, their
metadata (config, id, entropy tables, contrast), the checks of a blob header against them, and the shipped
models by bitrate or id (`ladder.py`).

A model directory holds `encoder.onnx` and `decoder.onnx`. Each graph carries in its `metadata_props`:
`codec_rt.role` (encoder/decoder), `codec_rt.config` (ModelConfig as JSON), `codec_rt.model_id`
(16 hex digits: SHA-256 of the weights of both graphs and of the entropy tables, computed at export),
`codec_rt.entropy` (EntropyTables as JSON, for models with coder 1 or 2) and readable copies of the
constants (`sample_rate`, `n_fft`, `hop`, `latent_layout`). Both graphs must agree, or loading fails.
The decoder may also carry `codec_rt.contrast`, its default postfilter contrast (`postfilter.py`; absent:
`DEFAULT_CONTRAST`): a decoding setting chosen per model, so it is not part of the model id. Likewise
`codec_rt.phase_iters`, an integer 0..10000: the phase iterations the decoder is decoded with by default
(absent: by the model's kind, `decoder.default_phase_iters`; 0 for a decoder whose learned phase needs none).
And `codec_rt.energy_match`, "0" or "1" (absent: 0): whether Griffin-Lim's result gets each frame's energy
back (`phase.refine_frames`), where that measured better for the model. And `codec_rt.phase_start`, "0" or
"1" (absent: 0): where a non-causal model's predicted-phase refinement starts, its graph's phase output or
the phase-gradient start (`phase_gradient.PhaseStart`).

A model directory may also hold `SHA256SUMS`, one line per graph in `sha256sum`'s format (`HEX  NAME`):
loading checks each listed file against it, so damaged weights (which the model id, stored in the metadata,
cannot reveal) are a ModelError, not different audio. Every shipped and retired model has one;
`codec-export` writes it (`write_checksums`).

Graph I/O: encoder `features [B, 2, F, T] float32 -> latent [B, C, F', ceil(T / time_stride)]`;
decoder `latent -> features [B, 2, F, T' * time_stride]` (log-magnitude, phase), T dynamic.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from . import ladder, stft
from .blob import BlobHeader
from .config import Coder, Mode, ModelConfig
from .entropy import EntropyTables
from .errors import CodecError, FormatError, ModelError, ModelMismatchError, ProviderError, check_int
from .phase_gradient import PhaseStart
from .postfilter import DEFAULT_CONTRAST

log = logging.getLogger(__name__)

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
CHECKSUMS = "SHA256SUMS"
GRAPHS = ("encoder.onnx", "decoder.onnx")


def write_checksums(model_dir: Path) -> None:
    """Write `model_dir/SHA256SUMS` for its two graphs (after any change to them: export, new metadata)."""
    lines = [f"{hashlib.sha256((model_dir / name).read_bytes()).hexdigest()}  {name}\n" for name in GRAPHS]
    (model_dir / CHECKSUMS).write_text("".join(lines), encoding="utf-8")


def check_checksums(model_dir: Path) -> None:
    """ModelError unless every file `model_dir/SHA256SUMS` lists has the SHA-256 it says (no such file: no
    check, as for a model exported before 2026-12-05)."""
    sums = model_dir / CHECKSUMS
    if not sums.is_file():
        return
    try:
        lines = [line.split(maxsplit=1) for line in sums.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{sums}: cannot read ({e})") from None
    listed = {}  # name -> hex digest; "*" before a name is sha256sum's binary mark
    for entry in lines:
        name = entry[1].lstrip("*") if len(entry) == 2 else ""
        if len(entry[0]) != 64 or not name or Path(name).name != name:
            raise ModelError(f"{sums}: not a SHA256SUMS line: {' '.join(entry)!r}")
        listed[name] = entry[0].lower()
    for graph in GRAPHS:  # a file cut short or emptied would check nothing
        if graph not in listed:
            raise ModelError(f"{sums} does not list {graph}")
    for name, want in listed.items():
        try:
            got = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
        except OSError as e:
            raise ModelError(f"{model_dir / name}: cannot read ({e.strerror or e})") from None
        if got != want:
            raise ModelError(f"{model_dir / name} is damaged: its SHA-256 is {got[:16]}..., {CHECKSUMS} says "
                             f"{want[:16]}...")


def check_provider(provider: str) -> str:
    """`provider` ("cpu" or "cuda") -> onnxruntime's name for it; ProviderError where this onnxruntime
    does not have it."""
    if provider not in PROVIDERS:
        raise ProviderError(f"unknown provider {provider!r}; choose one of {sorted(PROVIDERS)}")
    name = PROVIDERS[provider]
    if name not in ort.get_available_providers():
        raise ProviderError(
            f"provider {provider!r} is not available in this onnxruntime "
            f"(available: {ort.get_available_providers()}); for cuda install codec-rt[gpu] on a CUDA machine"
        )
    return name


def make_session(path: Path, provider: str, threads: int | None = None) -> ort.InferenceSession:
    """An InferenceSession on exactly `provider` ("cpu" or "cuda"): never a silent fallback."""
    name = check_provider(provider)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: the graphs run in short calls between NumPy work, where
    # spinning burns CPU time for no gain in wall time (docs/MEASURED.md).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # Heuristic cuDNN algorithm choice: exhaustive search re-runs for every new time length.
    prov_opts = [{"cudnn_conv_algo_search": "HEURISTIC"}] if provider == "cuda" else [{}]
    try:
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=[name], provider_options=prov_opts)
    except Exception as e:  # onnxruntime raises its own untyped errors for unreadable graphs
        raise ModelError(f"cannot load {path}: {e}") from None
    if sess.get_providers()[0] != name:
        raise ProviderError(f"onnxruntime fell back to {sess.get_providers()[0]} instead of {name}")
    return sess


@dataclass
class Model:
    """Encoder and decoder sessions of one model, with its config and id. Thread-compatible."""

    config: ModelConfig
    model_id: str
    encoder: ort.InferenceSession
    decoder: ort.InferenceSession
    path: Path
    provider: str
    entropy: EntropyTables | None = None
    contrast: float = DEFAULT_CONTRAST  # the decoder's default postfilter contrast (`postfilter.py`)
    phase_iters: int | None = None  # the decoder's default phase iterations (None: by the model's kind)
    energy_match: bool = False  # Griffin-Lim's frames rescaled to their target energy (`phase.refine_frames`)
    phase_start: PhaseStart = PhaseStart.PREDICTED  # where the non-causal refinement starts

    @classmethod
    def load(cls, path: str | Path | None = None, provider: str = "cpu", threads: int | None = None) -> Model:
        """The model in directory `path` (None: the shipped default point) on `provider` ("cpu"/"cuda") with
        `threads` intra-op threads (None: onnxruntime's default). ModelError for a missing or inconsistent
        model, ProviderError for an unavailable provider, CodecError for threads other than an integer >= 1."""
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise CodecError(f"model directory must be a path, got {type(path).__name__}")
        d = ladder.select() if path is None else Path(path)
        if not d.is_dir():
            raise ModelError(f"model directory {d} {'is not a directory' if d.exists() else 'does not exist'}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                    or threads < 1):
            raise CodecError(f"threads must be a whole number, at least 1, got {threads!r}")
        check_checksums(d)
        sessions, metas = {}, {}
        for role in ("encoder", "decoder"):
            f = d / f"{role}.onnx"
            if not f.is_file():
                raise ModelError(f"model directory {d} has no {role}.onnx")
            sessions[role] = make_session(f, provider, threads)
            metas[role] = sessions[role].get_modelmeta().custom_metadata_map
            if metas[role].get("codec_rt.role") != role:
                raise ModelError(f"{f} is not a codec-rt {role} graph (metadata codec_rt.role missing)")
        enc, dec = metas["encoder"], metas["decoder"]
        if any(enc.get(k) != dec.get(k) for k in ("codec_rt.model_id", "codec_rt.config", "codec_rt.entropy")):
            raise ModelError(f"encoder and decoder in {d} come from different models")
        config = ModelConfig.from_json(enc.get("codec_rt.config", ""))
        model_id = enc.get("codec_rt.model_id", "")
        entropy = None
        if config.coder != Coder.FIXED:
            if "codec_rt.entropy" not in enc:
                raise ModelError(f"model in {d} is range-coded but carries no entropy tables")
            entropy = EntropyTables.from_json(enc["codec_rt.entropy"])
            if (entropy.channels, entropy.bins) != (config.channels, config.latent_bins):
                raise ModelError(f"entropy tables in {d} do not match the latent shape")
            if entropy.context != config.coder - 1:  # coder 2 codes with context tables, coder 1 without
                raise ModelError(f"entropy tables in {d} do not fit coder {config.coder}")
        contrast = DEFAULT_CONTRAST
        if "codec_rt.contrast" in dec:
            try:
                contrast = float(dec["codec_rt.contrast"])
            except ValueError:
                contrast = float("nan")
            if not 0.5 <= contrast <= 2.0:
                raise ModelError(f"decoder in {d} has a bad codec_rt.contrast {dec['codec_rt.contrast']!r}")
        phase_iters = None
        if "codec_rt.phase_iters" in dec:
            raw = dec["codec_rt.phase_iters"]
            if not (raw.isascii() and raw.isdigit() and int(raw) <= 10_000):
                raise ModelError(f"decoder in {d} has a bad codec_rt.phase_iters {raw!r}")
            phase_iters = int(raw)
        energy = dec.get("codec_rt.energy_match", "0")
        if energy not in ("0", "1"):
            raise ModelError(f"decoder in {d} has a bad codec_rt.energy_match {energy!r}")
        start = dec.get("codec_rt.phase_start", "0")
        if start not in ("0", "1"):
            raise ModelError(f"decoder in {d} has a bad codec_rt.phase_start {start!r}")
        log.info("loaded model %s from %s on %s", model_id, d, provider)
        return cls(config, model_id, sessions["encoder"], sessions["decoder"], d, provider, entropy, contrast,
                   phase_iters, energy == "1", PhaseStart(int(start)))

    def encode(self, feats: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """`[B, 2, F, T] float32` -> latent `[B, C, F', ceil(T / time_stride)] float32`."""
        (z,) = self.encoder.run(None, {self.encoder.get_inputs()[0].name: np.ascontiguousarray(feats)})
        return np.asarray(z, dtype=np.float32)

    def decode(self, latent: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """latent `[B, C, F', T']` -> features `[B, 2, F, T' * time_stride] float32`."""
        (y,) = self.decoder.run(None, {self.decoder.get_inputs()[0].name: np.ascontiguousarray(latent)})
        return np.asarray(y, dtype=np.float32)

    @classmethod
    def shipped(cls, model_id: str, provider: str = "cpu", threads: int | None = None) -> Model:
        """The shipped model `model_id` (ModelMismatchError if this codec-rt does not ship it)."""
        return cls.load(ladder.find(model_id), provider, threads)

    @property
    def threads(self) -> int | None:
        """The intra-op thread count the model was loaded with (None: onnxruntime's default)."""
        n = int(self.decoder.get_session_options().intra_op_num_threads)
        return n or None

    @property
    def tables(self) -> EntropyTables:
        """The entropy tables of a range-coded model (ModelError for a fixed-width one)."""
        if self.entropy is None:
            raise ModelError(f"model {self.model_id} has no entropy tables (it is not range-coded)")
        return self.entropy

    def check_compatible(self, header: BlobHeader) -> None:
        """Raise unless `header` was written by this model: ModelMismatchError for another model id,
        FormatError for a coder or latent geometry that is not this model's, or lengths that do not match
        (skipped for the header of a framed stream whose last packet has not arrived)."""
        if header.model_id != self.model_id:
            raise ModelMismatchError(
                f"blob was encoded with model {header.model_id}, but the loaded model is {self.model_id}"
            )
        cfg = self.config
        if header.coder != cfg.coder:
            raise FormatError(f"blob uses coder {header.coder_name}, the model coder {cfg.coder}")
        shape = (header.latent_channels, header.latent_bins, header.n_bins)
        want = (cfg.channels, cfg.latent_bins, cfg.n_bins)
        if shape != want:
            raise FormatError(f"blob geometry {shape} does not match the model {want}")
        if header.framed and header.time_stride != cfg.time_stride:
            raise FormatError(f"blob's time stride {header.time_stride} is not the model's {cfg.time_stride}")
        if header.gain_smoothing and cfg.causal:
            raise FormatError("blob's gain_smoothing needs a non-causal model (a causal decoder cannot look ahead)")
        if header.mode == Mode.LOW_BAND_PHASE and cfg.causal and header.minor < 9:
            raise FormatError(f"format 1.{header.minor} has no mode low_band_phase with a causal model (1.9 on)")
        if header.mode == Mode.TONAL_BAND_PHASE and cfg.causal:
            raise FormatError("mode tonal_band_phase needs a non-causal model (its phase path looks ahead)")
        if header.framed and header.n_frames == 0:
            return  # the lengths come with the last packet
        frames = stft.n_frames(header.coded_length(cfg.sample_rate), cfg.hop)
        expected = (*want, frames, cfg.latent_steps(frames))
        got = (*shape, header.n_frames, header.latent_steps)
        if got != expected:
            raise FormatError(f"blob geometry {got} does not match the model and sample count {expected}")


class HasModel(Protocol):
    """Anything that carries a loaded model (a `Codec`)."""

    @property
    def model(self) -> Model: ...


def model_of(m: Model | HasModel) -> Model:
    """The model of `m`: a `Model`, or what carries one (a `Codec`); CodecError for anything else."""
    if isinstance(m, Model):
        return m
    inner = getattr(m, "model", None)
    if not isinstance(inner, Model):
        raise CodecError(f"expected a Codec or a Model, got {type(m).__name__}")
    return inner


def mode_of(m: Model | HasModel) -> str:
    """The encode mode `m` stands for: a `Codec`'s own (`Codec.mode`), else "predicted"."""
    return "predicted" if isinstance(m, Model) else str(getattr(m, "mode", "predicted"))


def rate_lambda_of(m: Model | HasModel) -> float:
    """The rate-aware rounding `m` encodes with (`entropy.rate_aware_symbols`): a `Codec`'s own
    (`Codec.rate_lambda`), else 0 (plain rounding)."""
    return 0.0 if isinstance(m, Model) else float(getattr(m, "rate_lambda", 0.0))


def tracks_of(m: Model | HasModel) -> bool:
    """Whether `m` encodes with sinusoidal tracks: a `Codec`'s own (`Codec.tracks`), else False."""
    return False if isinstance(m, Model) else bool(getattr(m, "tracks", False))


def low_band_of(m: Model | HasModel | ladder.LadderPoint, mode: str | int, phase_bins: int | None,
                phase_bits: int | None) -> tuple[int | None, int | None]:
    """`phase_bins`, `phase_bits` for encoding with `m` in `mode`: where None and `mode` is `m`'s own, a
    `Codec`'s or a ladder point's own (`Codec.phase_bins` / `Codec.phase_bits`; None: the model's defaults,
    `latent.coding_options`). CodecError for an unknown mode."""
    if isinstance(m, Model) or Mode.parse(mode) != Mode.parse(getattr(m, "mode", "predicted")):
        return phase_bins, phase_bits
    return (getattr(m, "phase_bins", None) if phase_bins is None else phase_bins,
            getattr(m, "phase_bits", None) if phase_bits is None else phase_bits)


def default_workers(model: Model, workers: int | None = None) -> int:
    """Threads for work that splits into independent pieces: `workers`, else the model's thread count, else
    up to 4."""
    if workers is not None:
        check_int("workers", workers, 1, 1024)
    return max(1, int(workers or model.threads or min(4, os.cpu_count() or 1)))


_POOLS: dict[int, ThreadPoolExecutor] = {}


def pool(workers: int) -> ThreadPoolExecutor:
    """A shared pool of `workers` threads (NumPy's FFTs and onnxruntime release the GIL)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="codec-rt")
    return _POOLS[workers]


def runner(workers: int) -> Callable[..., Future[Any]]:
    """`submit` of the shared pool of `workers` threads, or, for one, a `submit` that runs the work at once
    on the caller's thread (no thread for work that cannot be shared)."""
    if workers > 1:
        return pool(workers).submit

    def now(fn: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        done.set_result(fn(*args))
        return done
    return now
