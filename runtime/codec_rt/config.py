"""The model's constants: everything the runtime needs to drive the two ONNX graphs.

`ModelConfig` is persisted as JSON in each graph's `metadata_props` (key `codec_rt.config`) and in the
training checkpoint, so training, export and runtime agree on one definition.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ModelError


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
    coder: 0 = per-channel max-norm quantization, fixed-width codes (`quantize.py`); 1 = latent rounded to
        integers and range-coded with the entropy tables stored beside the config (`entropy.py`), the codec
        having been trained for it with a rate term.
    causal: 1 = every convolution sees only the current and past frames (low-latency model; needs
        time_downsamples = 0), so a frame can be coded as soon as its STFT window is complete.
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

    @property
    def latency_ms(self) -> float | None:
        """Algorithmic latency (window + lookahead) of frame-by-frame coding, for causal models; None for
        the others, whose convolutions look ahead (they are coded in blocks, see the streaming docs)."""
        return 1000.0 * self.n_fft / self.sample_rate if self.causal else None

    def latent_frames(self, n_frames: int) -> int:
        """Latent time steps for `n_frames` STFT frames (the encoder pads time to a multiple of the stride)."""
        return -(-n_frames // self.time_stride)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
        if self.coder not in (0, 1):
            raise ModelError(f"unknown coder {self.coder}")
        if self.causal not in (0, 1) or (self.causal and self.time_downsamples):
            raise ModelError("causal must be 0 or 1, and a causal model cannot downsample time")
