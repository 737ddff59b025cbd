"""`Codec`: audio `[C, N] float32` at any sample rate <-> blob bytes, with the two ONNX graphs.

Encoding, per audio channel (channels are coded independently, one after another in the blob, so any
channel count works and each decodes on its own): resample to the model rate (soxr), scale to the model's
level (`level.py`), STFT, encoder graph, then by the model's coder either per-channel max-norm quantization
at `bits` and bit-packing (coder 0), or rounding to integers and range coding with the model's entropy
tables (coder 1, `entropy.py`). In mode `store_phase` the STFT phase is also quantized into the blob and
used instead of the predicted one.

Which model: `Codec.load(bitrate=KBPS)` picks a point of the shipped ladder (`ladder.py`); a blob names its
model, and `Codec.for_blob` loads the shipped model that wrote it.

Layouts (`blob.py`): by default `encode` writes the whole layout (format 1.1, or 1.3 for coder 2: one gain
per channel over the whole file, one section per channel); `encode(framed=True)` writes the framed layout,
exactly the bytes a `StreamEncoder` writes (`stream.py`: per-frame gains, frames coded in windows that
cover the encoder's receptive field), which `codec-rt encode` writes and which decodes as it arrives.

Decoding reverses it and restores the input's exact length, channel count and sample rate. Every layout
decodes through the block decoder of `stream.py` (decoder graph, postfilter and Griffin-Lim block by block
with overlapping margins), so a file and a stream decode to the same samples, in bounded memory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

from . import blob, entropy, ladder, stft
from .blob import CODER_FIXED, CODER_RANGE, MODE_PREDICTED, MODE_STORE_PHASE, MODES, BlobHeader, ChannelData
from .config import ModelConfig
from .errors import AudioError, CodecError, FormatError, ModelError, ModelMismatchError
from .level import normalizing_gain
from .onnx_model import OnnxModel
from .quantize import check_bits, quantize, quantize_phase
from .stream import DEFAULT_PHASE_ITERS, MAX_LOGMAG, StreamDecoder, StreamEncoder, model_length

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
DEFAULT_PHASE_BITS = 8
# DEFAULT_PHASE_ITERS (stream.py): Griffin-Lim iterations that refine the predicted phase; 0 uses the raw
# prediction. MAX_LOGMAG: the decoded log-magnitude's ceiling, about +100 dB over the model's working level.


def resample(x: F32, rate_in: int, rate_out: int, length: int) -> F32:
    """`[C, N]` -> `[C, length]` at `rate_out` (soxr, then cut or zero-pad to the exact length)."""
    if rate_in != rate_out and x.shape[1] > 0:
        x = np.ascontiguousarray(soxr.resample(x.T, rate_in, rate_out, quality="HQ").T, dtype=np.float32)
    if x.shape[1] >= length:
        return np.ascontiguousarray(x[:, :length], dtype=np.float32)
    return np.pad(x, ((0, 0), (0, length - x.shape[1]))).astype(np.float32)


# Lowest input rate the encoder takes: its memory grows with the length at the model rate, and below 1 kHz
# a small file would be resampled into an enormous one (a 1 Hz WAV of 100 kB is 800 M samples at 16 kHz).
MIN_ENCODE_RATE = 1000


def _check_audio(audio: npt.ArrayLike, sample_rate: int) -> F32:
    a = np.asarray(audio)
    if a.ndim != 2:
        raise AudioError(f"audio must be [channels, samples], got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise AudioError(f"audio must be float samples in [-1, 1], got dtype {a.dtype}")
    if not 1 <= a.shape[0] <= blob.MAX_CHANNELS:
        raise AudioError(f"{a.shape[0]} channels; codec-rt codes 1..{blob.MAX_CHANNELS}")
    if (
        not isinstance(sample_rate, (int, np.integer))
        or isinstance(sample_rate, bool)
        or not MIN_ENCODE_RATE <= sample_rate <= blob.MAX_SAMPLE_RATE
    ):
        raise AudioError(f"sample rate {sample_rate!r} not in {MIN_ENCODE_RATE}..{blob.MAX_SAMPLE_RATE} Hz")
    if not np.all(np.isfinite(a)):
        raise AudioError("audio contains NaN or infinite samples")
    with np.errstate(over="ignore"):
        x = a.astype(np.float32)
    if not np.all(np.isfinite(x)):  # float64 beyond the float32 range
        raise AudioError("audio has samples beyond the float32 range (|x| > 3.4e38)")
    return x


def coding_options(cfg: ModelConfig, bits: int | None, mode: str, phase_bits: int) -> int:
    """Check the encoder's options against the model; returns the latent bits to write (0 when range-coded)."""
    if cfg.coder != CODER_FIXED:
        if bits is not None:
            raise CodecError("this model is range-coded: its bitrate is fixed by the model (use --bitrate)")
        bits = 0
    else:
        bits = cfg.default_bits if bits is None else bits
        check_bits(bits)
    if mode not in MODES:
        raise CodecError(f"unknown mode {mode!r}; choose one of {sorted(MODES)}")
    if mode == "store_phase":
        check_bits(phase_bits)
    return bits


class Codec:
    """A loaded model, ready to encode and decode. Thread-compatible, not thread-safe."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        provider: str = "cpu",
        threads: int | None = None,
        bitrate: float | None = None,
        low_latency: bool = False,
    ) -> Codec:
        """Load a model on `provider` ("cpu"/"cuda"): the directory `path`, or else the shipped ladder point
        for `bitrate` (kbps; the highest point at or below it; default: the ladder's default point), among
        the low-latency (causal, <= 20 ms) points with `low_latency`."""
        if path is not None and (bitrate is not None or low_latency):
            raise CodecError("choose a model directory or a bitrate / low latency, not both")
        return cls(OnnxModel.load(ladder.select(bitrate, low_latency) if path is None else path, provider, threads))

    @classmethod
    def for_blob(cls, data: bytes, provider: str = "cpu", threads: int | None = None) -> Codec:
        """The shipped model that wrote blob `data` (ModelMismatchError if none did)."""
        header, _ = blob.read_header(bytes(data))
        return cls.for_model_id(header.model_id, provider, threads)

    @classmethod
    def for_model_id(cls, model_id: str, provider: str = "cpu", threads: int | None = None) -> Codec:
        """The shipped model `model_id` (ModelMismatchError if it is not shipped)."""
        return cls(OnnxModel.load(ladder.find(model_id), provider, threads))

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def model_id(self) -> str:
        return self.model.model_id

    @property
    def threads(self) -> int | None:
        """The intra-op thread count the model was loaded with (None: onnxruntime's default)."""
        n = int(self.model.decoder.get_session_options().intra_op_num_threads)
        return n or None

    def encode(
        self,
        audio: npt.ArrayLike,
        sample_rate: int,
        bits: int | None = None,
        mode: str = "predicted",
        phase_bits: int = DEFAULT_PHASE_BITS,
        framed: bool = False,
        frame_steps: int | None = None,
    ) -> bytes:
        """audio `[C, N] float` at `sample_rate` -> blob bytes.

        bits: latent bits per value, 1..16 (default: the model's `default_bits`); only for fixed-width
        models (coder 0): a range-coded model's rate is set by the model itself.
        mode: "predicted" (phase predicted by the decoder) or "store_phase" (phase quantized at
        `phase_bits` into the blob: near-lossless, many more bytes).
        framed: write the framed layout (format 1.2 on), exactly what a `StreamEncoder` fed the same audio
        writes, with frames of `frame_steps` latent steps (default about 1 s); else the whole layout (1.1, or
        1.3 for coder 2).
        """
        if framed:
            x = _check_audio(audio, sample_rate)
            enc = StreamEncoder(self, sample_rate, x.shape[0], mode=mode, bits=bits, phase_bits=phase_bits,
                                frame_steps=frame_steps)
            return enc.push(x) + enc.flush()
        cfg = self.config
        bits = coding_options(cfg, bits, mode, phase_bits)
        x = _check_audio(audio, sample_rate)
        n_ch, n = x.shape
        m_len = model_length(n, sample_rate, cfg.sample_rate)
        xm = resample(x, sample_rate, cfg.sample_rate, m_len)
        gains = normalizing_gain(xm)
        spec = stft.stft(xm * gains[:, None], cfg.n_fft, cfg.hop)  # [C, F, T]
        latent = self.model.encode(stft.to_features(spec))  # [C, Lc, Lf, Lt]
        header = BlobHeader(
            mode=MODES[mode], bits=bits, phase_bits=phase_bits if mode == "store_phase" else 0,
            sample_rate=int(sample_rate), channels=n_ch, latent_channels=latent.shape[1],
            latent_bins=latent.shape[2], n_bins=spec.shape[1], num_samples=n, n_frames=spec.shape[2],
            latent_frames=latent.shape[3], model_id=self.model_id, coder=cfg.coder,
            minor=BlobHeader.whole_minor(cfg.coder),
        )
        sections = []
        for c in range(n_ch):
            phase = quantize_phase(np.angle(spec[c]), phase_bits) if header.mode == MODE_STORE_PHASE else None
            if cfg.coder != CODER_FIXED:
                tables = self._tables()
                coded = entropy.encode(entropy.to_symbols(latent[c], tables), tables)
                data = ChannelData(float(gains[c]), np.zeros(0, np.float32), None, phase, coded)
            else:
                codes, scales = quantize(latent[c], bits)
                data = ChannelData(float(gains[c]), scales, codes, phase)
            sections.append(blob.channel_section(data, header))
        return blob.write(header, b"".join(sections))

    def decode(
        self, data: bytes, phase_iters: int | None = None, contrast: float | None = None
    ) -> tuple[F32, int]:
        """blob bytes -> (audio `[C, N] float32`, sample_rate), exactly the encoded shape and rate.

        In the predicted-phase mode only (both are ignored with stored phase):
        phase_iters: Griffin-Lim iterations refining the predicted phase (`phase.py`; 0 = raw prediction);
        for a causal model, iterations per frame of the causal phase (`phase.causal_frames`). None: the
        model's default (`stream.default_phase_iters`).
        contrast: spectral-contrast postfilter factor (`postfilter.py`; 1.0 = off). None: the model's
        default (`OnnxModel.contrast`: its decoder's metadata, else `postfilter.DEFAULT_CONTRAST`).
        """
        dec = StreamDecoder(self, phase_iters=phase_iters, contrast=contrast, strict=True)
        head = dec.push(bytes(data))
        tail = dec.flush()
        assert dec.header is not None
        return np.concatenate([head, tail], axis=1) if head.size else tail, dec.header.sample_rate

    def check_compatible(self, header: BlobHeader) -> None:
        """Raise unless `header` was written by this model (same id, same latent geometry; and the lengths,
        unless it is the header of a framed stream whose last frame has not arrived)."""
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
        if header.framed and header.n_frames == 0:
            return  # the lengths come with the last frame
        m_len = model_length(header.num_samples, header.sample_rate, cfg.sample_rate)
        frames = stft.n_frames(m_len, cfg.hop)
        expected = (cfg.channels, cfg.latent_bins, cfg.n_bins, frames, cfg.latent_frames(frames))
        got = (header.latent_channels, header.latent_bins, header.n_bins, header.n_frames, header.latent_frames)
        if got != expected:
            raise FormatError(f"blob geometry {got} does not match the model and sample count {expected}")

    def _tables(self) -> entropy.EntropyTables:
        if self.model.entropy is None:
            raise ModelError(f"model {self.model_id} is range-coded but has no entropy tables")
        return self.model.entropy


__all__ = ["CODER_FIXED", "CODER_RANGE", "DEFAULT_PHASE_ITERS", "MAX_LOGMAG", "MODE_PREDICTED", "MODE_STORE_PHASE",
           "Codec", "model_length"]
