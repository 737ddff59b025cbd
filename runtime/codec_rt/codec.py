"""`Codec`: audio `[C, N] float32` at any sample rate <-> blob bytes. A thin facade over one loaded `Model`
and the engines (`encoder.py`, `decoder.py`); nothing in the runtime imports it but the CLI and the package.

Which model: `Codec.load(bitrate=KBPS)` picks a point of the shipped ladder (`ladder.py`), a model and the
mode it encodes in (`Codec.mode`); a blob names its model, and `Codec.for_blob` loads the shipped model that
wrote it.

Layouts: by default `encode` writes the whole layout (one gain per channel over the whole file; a
non-causal model's with a lead-in and a lead-out, format 1.6); `encode(framed=True)` writes the framed
layout, exactly the bytes a `StreamEncoder` writes, which `codec-rt encode` writes and which decodes as it
arrives. `decode` reads both, through the block decoder of `decoder.py`, and restores the input's exact
length, channel count and sample rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import ladder, latent
from .audio import as_audio, prefers_mid_side
from .blob import BlobHeader, read_header
from .config import ModelConfig
from .decoder import StreamDecoder
from .encoder import StreamEncoder, encode_whole
from .errors import CodecError, check_bytes
from .level import Loudness
from .model import Model, low_band_of
from .phase_gradient import PhaseStart

F32 = npt.NDArray[np.float32]


class Codec:
    """A loaded model, ready to encode and decode. Thread-compatible, not thread-safe.

    mode: what `encode` (and a `StreamEncoder` given this codec) does unless asked otherwise: "predicted",
    or the ladder point's mode (`ladder.LadderPoint.mode`) for a codec loaded by bitrate.
    rate_lambda: likewise, the rate-aware rounding `encode` uses (`entropy.rate_aware_symbols`; 0: plain
    rounding), the ladder point's for a codec loaded by bitrate.
    phase_bins, phase_bits: likewise, the band's STFT bins and bits in modes low_band_phase and
    tonal_band_phase (None: the model's defaults, `latent.coding_options`), the ladder point's for a codec
    loaded by bitrate.
    tracks: likewise, whether `encode` sends steady partials as sinusoidal tracks (format 1.12), the ladder
    point's for a codec loaded by bitrate."""

    def __init__(self, model: Model, mode: str = "predicted", rate_lambda: float = 0.0, *,
                 phase_bins: int | None = None, phase_bits: int | None = None, tracks: bool = False) -> None:
        self.model = model
        self.tracks = tracks
        self.mode = mode
        self.rate_lambda = rate_lambda
        self.phase_bins = phase_bins
        self.phase_bits = phase_bits

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        provider: str = "cpu",
        threads: int | None = None,
        bitrate: float | None = None,
        low_latency: bool = False,
        fixed_width: bool = False,
    ) -> Codec:
        """Load a model on `provider` ("cpu"/"cuda"): the directory `path`, or else the shipped ladder point
        for `bitrate` (kbps; the highest point at or below it; default: the ladder's default point), among
        the low-latency (causal, <= 20 ms) points with `low_latency`, among the fixed-width points (the
        models that take `bits`, `ladder.py`) with `fixed_width`. CodecError for both a path and a bitrate
        or ladder, or no point at or below it; ModelError, ProviderError from `Model.load`."""
        if path is not None and (bitrate is not None or low_latency or fixed_width):
            raise CodecError("choose a model directory or a ladder point (bitrate, low latency, fixed width), not both")
        if path is not None:
            return cls(Model.load(path, provider, threads))
        return cls.for_point(ladder.choose(bitrate, low_latency, fixed_width), provider, threads)

    @classmethod
    def for_point(cls, point: ladder.LadderPoint, provider: str = "cpu", threads: int | None = None) -> Codec:
        """The shipped point `point` (`ladder.points()`): its model, encoding in its mode, with its
        rate-aware rounding and its low band."""
        return cls(Model.load(point.path, provider, threads), point.mode, point.rate_lambda,
                   phase_bins=point.phase_bins, phase_bits=point.phase_bits, tracks=point.tracks)

    @classmethod
    def for_blob(cls, data: bytes, provider: str = "cpu", threads: int | None = None) -> Codec:
        """The shipped model that wrote blob `data` (FormatError for a bad header, ModelMismatchError if no
        shipped model did)."""
        header, _ = read_header(bytes(data))
        return cls.for_model_id(header.model_id, provider, threads)

    @classmethod
    def for_model_id(cls, model_id: str, provider: str = "cpu", threads: int | None = None) -> Codec:
        """The shipped model `model_id` (ModelMismatchError if it is not shipped)."""
        return cls(Model.shipped(model_id, provider, threads))

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def threads(self) -> int | None:
        """The intra-op thread count the model was loaded with (None: onnxruntime's default)."""
        return self.model.threads

    def encode(
        self,
        audio: npt.ArrayLike,
        sample_rate: int,
        bits: int | None = None,
        mode: str | None = None,
        phase_bits: int | None = None,
        framed: bool = False,
        packet_steps: int | None = None,
        joint_stereo: bool | None = None,
        phase_bins: int | None = None,
        rate_lambda: float | None = None,
        level_match: bool = True,
        fitted_scales: bool = True,
        tracks: bool | None = None,
    ) -> bytes:
        """audio `[C, N] float` at `sample_rate` Hz -> blob bytes.

        bits: latent bits per value, 1..16 (default: the model's `default_bits`); only for fixed-width
        models (coder 0): a range-coded model's rate is set by the model itself.
        mode: None (`self.mode`), "predicted" (phase predicted by the decoder), "store_phase" (phase quantized at
        `phase_bits`, default 8, into the blob: near-lossless, many more bytes) or "low_band_phase" (format
        1.8: the phase of the `phase_bins` lowest STFT bins, default `self.phase_bins`, else those up to 700
        Hz, at `phase_bits`, default `self.phase_bits`, else 4: 11 kbps more; a causal model, 1.9: 450 Hz at
        3 bits, 5.25 kbps more; the decoder predicts the rest around it; docs/rate_quality.md) or
        "tonal_band_phase" (format 1.11: the phase of the bins up to 1 kHz, or `phase_bins`, on straight
        paths through the steady stretches, anchors at `phase_bits`, default 5; next to nothing on speech;
        a non-causal model only: docs/FORMAT.md 4.8).
        framed: write the framed layout (the current format), exactly what a `StreamEncoder` given the audio's
        `level.Loudness` and fed the audio writes, with packets of `packet_steps` latent steps (default about
        1 s); else the whole layout: a non-causal model's with the framed layout's lead-in and lead-out
        (format 1.6, docs/FORMAT.md 7.1), so that short sounds keep their level; a causal model's without,
        as the oldest format that reads it (1.1, 1.3 for coder 2, 1.4 for mid/side); with stored phase,
        either layout, 1.10: its codes dithered (docs/FORMAT.md 4.3).
        joint_stereo: code two channels as mid (L + R) / 2 and side (L - R) / 2 (format 1.4), which keeps
        an anti-phase or mono pair's relation but mixes a panned pair's channels; False: each channel on its
        own; None: mid/side where one of mid and side is near silent (`audio.prefers_mid_side`).
        rate_lambda: range-coded models: > 0 rounds each latent value to the neighbouring integer that costs
        less in squared error plus `rate_lambda` times its bits (`entropy.rate_aware_symbols`): fewer bytes
        for a little quality, a rate between the ladder's points; 0: plain rounding; None: `self.rate_lambda`.
        level_match: store the gain that brings the decoded level to the input's (the decoder graph run on
        the codes: `latent.matched_gains`, docs/FORMAT.md 7.7) in the sections that hold tonal bands or are
        rounded rate-aware, or (a causal model's) whose input is not noise-like (`encoder.matched`), and in
        the framed layout hold a non-causal model's packet's own gain to at most twice that of its window
        from its own first sample on (`level.window_capped`); False: the gain applied stored everywhere, the
        own gain not held so.
        fitted_scales: fixed-width models (coder 0): each latent channel's scale is the one whose codes come
        nearest the values, each step weighed by its input power (`quantize.fitted_scales`); False: the
        largest value's (max-norm), as every release before 2026-12-04 wrote.
        tracks: send the input's steady partials (tones, chords, a held note's harmonics) as sinusoidal
        tracks, synthesized by the decoder, and code the rest with the model (format 1.12, docs/FORMAT.md
        4.9): exact where the model's magnitude wanders; None: `self.tracks`.
        Raises AudioError for audio the codec does not take, CodecError for bad options.
        """
        if packet_steps is not None and not framed:
            raise CodecError("packet_steps is for the framed layout (framed=True): the whole layout is one packet")
        if joint_stereo is None:
            joint_stereo = prefers_mid_side(audio)
        mode = self.mode if mode is None else mode
        lam = self.rate_lambda if rate_lambda is None else rate_lambda
        phase_bins, phase_bits = low_band_of(self, mode, phase_bins, phase_bits)
        tracks = self.tracks if tracks is None else tracks
        if framed:
            x = as_audio(audio)
            level = Loudness()
            level.add(x)
            enc = StreamEncoder(self.model, sample_rate, x.shape[0], mode=mode, bits=bits, phase_bits=phase_bits,
                                packet_steps=packet_steps, joint_stereo=joint_stereo, level=level,
                                phase_bins=phase_bins, rate_lambda=lam, level_match=level_match,
                                fitted_scales=fitted_scales, tracks=tracks)
            return enc.push(x) + enc.flush()
        opts = latent.coding_options(self.config, bits, mode, phase_bits, joint_stereo, phase_bins, lam, tracks)
        return encode_whole(self.model, audio, sample_rate,
                            opts._replace(level_match=bool(level_match), fitted_scales=bool(fitted_scales)))

    def decode(
        self, data: bytes, phase_iters: int | None = None, contrast: float | None = None, highpass: bool = True,
        phase_start: PhaseStart | str | None = None,
    ) -> tuple[F32, int]:
        """blob bytes -> (audio `[C, N] float32`, sample_rate in Hz), exactly the encoded shape and rate.

        In the predicted-phase modes only (ignored with the phase of every bin stored; in mode
        low_band_phase they apply to the bins the blob does not hold, and default to 0 and 1.0):
        phase_iters: Griffin-Lim iterations refining the predicted phase (`phase.py`; 0 = raw prediction);
        for a causal model, iterations per frame of the causal phase (`phase.causal_frames`). None: the
        model's default (`decoder.default_phase_iters`).
        contrast: spectral-contrast postfilter factor (`postfilter.py`; 1.0 = off). None: the model's
        default (`Model.contrast`: its decoder's metadata, else `postfilter.DEFAULT_CONTRAST`).
        highpass: remove the output's DC and infrasound (below about 10 Hz, which Griffin-Lim and the graph
        add; `level.remove_dc`), as the encoder removed the input's. Not done by a causal model's decoder.
        phase_start: where a non-causal model's refinement starts, the graph's phase (`PhaseStart.PREDICTED`,
        or "predicted" as the CLI says it) or the phase-gradient start (`PhaseStart.GRADIENT`, "gradient";
        `phase_gradient.py`; with `phase_iters=0`, no iterations: less CPU, about the same quality on
        speech, docs/MEASURED.md). None: the model's default.
        Raises FormatError (and subclasses) for a bad or cut blob, ModelMismatchError for another model's,
        CodecError for bad options.
        """
        dec = StreamDecoder(self.model, phase_iters=phase_iters, contrast=contrast, phase_start=phase_start,
                            strict=True, highpass=highpass)
        head = dec.push(check_bytes("data", data))
        tail = dec.flush()
        assert dec.header is not None
        return np.concatenate([head, tail], axis=1) if head.size else tail, dec.header.sample_rate

    def check_compatible(self, header: BlobHeader) -> None:
        """Raise unless `header` was written by this codec's model (`Model.check_compatible`)."""
        self.model.check_compatible(header)
