"""The model's constants: everything the runtime needs to drive the two ONNX graphs.

`ModelConfig` is persisted as JSON in each graph's `metadata_props` (key `codec_rt.config`) and in the
training checkpoint, so training, export and runtime agree on one definition.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import IntEnum
from typing import Any

from .errors import CodecError, ModelError

# Limits of the blob format (docs/FORMAT.md), which the codec checks its input against too.
MAX_CHANNELS = 64
MAX_SAMPLE_RATE = 768_000
MAX_SAMPLES = 1 << 40  # per channel


class Mode(IntEnum):
    """How the phase reaches the decoder (blob header byte 8)."""

    PREDICTED = 0  # the decoder predicts it (then postfilter and phase refinement)
    STORE_PHASE = 1  # the STFT phase is quantized into the blob
    LOW_BAND_PHASE = 2  # the lowest `phase_bins` bins' phase is; the decoder predicts the rest (format 1.8)
    TONAL_BAND_PHASE = 3  # theirs where the sound is steady, at one frame in `phase_stride` (1.11, tonal.py)

    @classmethod
    def parse(cls, value: str | int) -> Mode:
        """A mode from its name ("predicted", "store_phase", "low_band_phase", "tonal_band_phase") or value;
        CodecError for anything else."""
        try:
            return cls[value.upper()] if isinstance(value, str) else cls(value)
        except (KeyError, ValueError):
            names = sorted(m.name.lower() for m in cls)
            raise CodecError(f"unknown mode {value!r}; choose one of {names}") from None


class Coder(IntEnum):
    """How the latent is coded (blob header byte 11, `ModelConfig.coder`)."""

    FIXED = 0  # per-channel uniform quantization, fixed-width codes (quantize.py)
    RANGE = 1  # rounded to integers, range-coded with one table per row (entropy.py)
    CONTEXT = 2  # the same, each symbol's table picked by its coded neighbours (format 1.3 on)


class Stereo(IntEnum):
    """How the audio channels map to the coded ones (blob header byte 56's high nibble, format 1.4 on)."""

    INDEPENDENT = 0  # each audio channel coded as it is
    MID_SIDE = 1  # two channels coded as mid (L + R) / 2 and side (L - R) / 2, so their relation survives


class Layout(IntEnum):
    """How the payload is laid out (blob header byte 56, format 1.2 on)."""

    WHOLE = 0  # one section per channel, one CRC at the end (blob.py)
    FRAMED = 1  # packets of about 1 s, each with its length and CRC (packets.py)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and front-end constants of one trained codec.

    sample_rate: rate the model runs at; other rates are resampled in and out.
    n_fft, hop: STFT size and hop (periodic Hann window), see `stft.py`.
    channels: latent channels (the width of the bottleneck; the original design's MODEL_CHANNELS).
    hidden: width of the convolution stack.
    time_downsamples: how many of the stride-2 blocks also halve time (the rest halve frequency only).
    freq_downsamples: number of stride-2 blocks (3, or 4 with the extra downsample).
    default_bits: latent bits per value used when the caller does not choose (coder 0).
    coder: 0 = per-channel uniform quantization, fixed-width codes (`quantize.py`); 1 = latent rounded to
        integers and range-coded with the entropy tables stored beside the config (`entropy.py`), the codec
        having been trained for it with a rate term; 2 = the same, the tables chosen per symbol by the
        neighbouring symbols already coded (context tables, counted from training latents at export).
    causal: 1 = every convolution sees only the current and past frames (low-latency model; needs
        time_downsamples = 0), so a frame can be coded as soon as its STFT window is complete.
    phase_context: frames on each side of a decoded frame that its phase depends on, beyond the frames the
        latent decodes to: a decoder whose phase comes from a network over the decoded magnitude (0 for the
        others, and then left out of `to_dict`, so their config reads as before). Needs a non-causal model
        whose time stride times hop is a multiple of n_fft.
    phase_advance: 1 = the decoder's phase output is each frame's phase advance from the frame before, less
        a bin-centred sinusoid's (2 pi k hop / n_fft), which the causal phase integrates (`phase.causal_frames`);
        0 = the frame's phase (left out of `to_dict` then). Needs a causal model.
    phase_floor: 1 = the encoder reads the phase of a bin whose magnitude is under `stft.MAG_FLOOR` as 0
        (`stft.to_features`): such a bin's angle is float rounding, different in every frame, and a steady
        input must give a steady latent (docs/TRAINING.md, "Floored bins"). 0 = its angle as it comes (left
        out of `to_dict` then; the models before it were trained so).
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 128
    channels: int = 8
    hidden: int = 32
    freq_downsamples: int = 3
    time_downsamples: int = 2
    default_bits: int = 8
    coder: int = 0
    causal: int = 0
    phase_context: int = 0
    phase_advance: int = 0
    phase_floor: int = 0

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def time_stride(self) -> int:
        return int(2**self.time_downsamples)

    @property
    def latent_bins(self) -> int:
        """Frequency rows of the latent: each stride-2 conv (k=3, p=1) maps F to ceil(F / 2)."""
        f = self.n_bins
        for _ in range(self.freq_downsamples):
            f = (f + 1) // 2
        return f

    # Time context of the two graphs, derived from the architecture of models/autoencoder.py (every time
    # kernel is 3 wide, centred, or causal = the current and two past inputs; decoder transposed convolutions
    # are 4 wide with stride 2, 3 wide with stride 1, or 1 wide in a causal model). The streaming coder
    # (grid.py) cuts its packets and blocks with these; tests/test_stream.py checks them against the graphs.

    def encoder_frames(self, j0: int, j1: int) -> tuple[int, int]:
        """STFT frames `[t0, t1)` that the latent steps `[j0, j1)` depend on (before clipping to the file)."""
        lo, hi = (-4, 0) if self.causal else (-2, 2)  # the bottleneck ResBlock: two k=3 convolutions
        for i in reversed(range(self.freq_downsamples)):
            s = 2 if i < self.time_downsamples else 1
            lo, hi = (lo - 2, hi) if self.causal else (s * lo - 1, s * hi + 1)
        return self.time_stride * j0 + lo, self.time_stride * (j1 - 1) + hi + 1

    def decoder_steps(self, t0: int, t1: int) -> tuple[int, int]:
        """Latent steps `[j0, j1)` that the decoder's output frames `[t0, t1)` depend on (before clipping)."""
        lo, hi = t0 - self.phase_context, t1 - 1 + self.phase_context
        if not self.causal:
            for i in range(self.freq_downsamples):  # the transposed convolutions, last one first
                if i < self.time_downsamples:  # k=4, stride 2, padding 1
                    lo, hi = -(-(lo - 2) // 2), (hi + 1) // 2
                else:  # k=3, stride 1, padding 1
                    lo, hi = lo - 1, hi + 1
        lo, hi = (lo - 4, hi) if self.causal else (lo - 2, hi + 2)
        return lo, hi + 1

    @property
    def lookahead_frames(self) -> int:
        """STFT frames past frame t that must be read before frame t can be decoded (0 for a causal model)."""
        return max(self.encoder_frames(*self.decoder_steps(t, t + 1))[1] - 1 - t for t in range(self.time_stride))

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency: the analysis window plus the lookahead of both graphs, in ms. For a causal
        model it is the window alone. Streaming adds its own block sizes on top (docs/STREAMING.md)."""
        return 1000.0 * (self.n_fft + self.hop * self.lookahead_frames) / self.sample_rate

    def latent_steps(self, n_frames: int) -> int:
        """Latent time steps for `n_frames` STFT frames (the encoder pads time to a multiple of the stride)."""
        return -(-n_frames // self.time_stride)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for optional in ("phase_context", "phase_advance", "phase_floor"):  # absent when 0: older configs read so
            if not d[optional]:
                del d[optional]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ModelError(f"unknown model config keys: {sorted(unknown)}")
        try:
            cfg = cls(**{k: int(v) for k, v in d.items()})
        except (TypeError, ValueError) as e:
            raise ModelError(f"bad model config: {e}") from None
        cfg.validate()
        return cfg

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> ModelConfig:
        try:
            d = json.loads(s)
        except json.JSONDecodeError as e:
            raise ModelError(f"model config is not JSON: {e}") from None
        if not isinstance(d, dict):
            raise ModelError("model config is not a JSON object")
        return cls.from_dict(d)

    def validate(self) -> None:
        if not 1000 <= self.sample_rate <= 384000:
            raise ModelError(f"sample_rate {self.sample_rate} out of range")
        if self.n_fft < 16 or self.n_fft % 2 or not 0 < self.hop <= self.n_fft // 2:
            raise ModelError(f"bad STFT parameters n_fft={self.n_fft} hop={self.hop}")
        if not 1 <= self.channels <= 256 or not 1 <= self.hidden <= 1024:
            raise ModelError("channels/hidden out of range")
        if not 1 <= self.freq_downsamples <= 6 or not 0 <= self.time_downsamples <= self.freq_downsamples:
            raise ModelError("bad downsample counts")
        if not 1 <= self.default_bits <= 16:
            raise ModelError("default_bits must be in 1..16")
        if self.coder not in tuple(Coder):
            raise ModelError(f"unknown coder {self.coder}")
        if self.causal not in (0, 1) or (self.causal and self.time_downsamples):
            raise ModelError("causal must be 0 or 1, and a causal model cannot downsample time")
        if not 0 <= self.phase_context <= 64:
            raise ModelError("phase_context must be in 0..64")
        if self.phase_context and (self.causal or (self.time_stride * self.hop) % self.n_fft):
            raise ModelError("phase_context needs a non-causal model whose time stride times hop is a multiple "
                             "of n_fft")
        if self.phase_advance not in (0, 1) or (self.phase_advance and not self.causal):
            raise ModelError("phase_advance must be 0 or 1, and 1 needs a causal model")
        if self.phase_floor not in (0, 1):
            raise ModelError("phase_floor must be 0 or 1")
