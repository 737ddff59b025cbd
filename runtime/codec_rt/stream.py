"""Streaming coding: `StreamEncoder.push(audio) -> bytes` and `StreamDecoder.push(bytes) -> audio`.

Both keep an explicit state (`.state`, an `EncoderState` / `DecoderState`), as Silero VAD passes its state
in and out: one loaded `Codec` serves any number of streams, a state can be kept, swapped in
(`enc.state = saved`) or started afresh (`reset()`). Memory is bounded by the frame and block sizes, not by
the stream's length. The bytes are the framed layout of the blob format (format 1.2 on, `blob.py`).

Equal to whole-file coding, by construction. The graphs are convolutions with a bounded time context
(`ModelConfig.encoder_frames` / `decoder_latents`), so both sides cut the signal on a fixed grid, never
where a push happens to end:

- Encoding works frame by frame (`frame_steps` latent steps, about 1 s by default). Frame k is coded from
  a window of STFT frames that covers the receptive field of its latent steps (4 steps of context on each
  side for the shipped models, none ahead for a causal one), starting on the time stride's grid; at the
  file's edges the window ends where the file does, as the whole-file graph does. Each frame has its own
  level gain, computed over the frame's own samples (a whole-file gain is not streamable) and applied to
  its whole window. `Codec.encode(framed=True)` runs this same code on the whole input, so a stream pushed
  in chunks of any sizes gives the same bytes, bit for bit. Resampling is soxr's streaming resampler, whose
  output does not depend on the chunk sizes and equals its one-shot output.
- Decoding works block by block (`block_frames` STFT frames): the decoder graph on the latent window that
  covers the block and `margin_frames` frames on each side, the postfilter, then Griffin-Lim over that
  window (`phase.refine_frames`), and the blocks' signals joined with a raised-cosine crossfade over
  2 x `CROSSFADE_HOPS` hops at each boundary, inside the margins. `Codec.decode` runs the same blocks (the
  whole-file decoder *is* this block decoder), so stream and file decode to the same samples.
- A causal (low-latency) model decodes without lookahead: block by block with no margins, each frame's
  phase refined against the frames before it only (`phase.causal_frames`, RTISI), the committed frames'
  overlap carried in the state. A sample is final once the last frame over it is decoded, so a stream of
  one-step frames and one-frame blocks plays each sample the model's window after it was recorded.

Latency of a stream: the model's algorithmic latency (`ModelConfig.latency_ms`: window plus the graphs'
lookahead) plus the frame (the encoder waits for a frame's samples: its gain needs them all) plus, at the
decoder, the margin of Griffin-Lim and the wait for the block's end (`StreamDecoder.latency_ms`). See
docs/STREAMING.md.

A stream cut short (a truncated file, a dropped connection) decodes up to the last whole frame:
`StreamDecoder.flush()` logs a warning and returns the rest of that prefix; a damaged frame is a
`ChecksumError` naming it.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import soxr

from . import blob, entropy, phase, postfilter, stft
from .blob import MODE_STORE_PHASE, MODES, BlobHeader, Frame, FrameReader
from .config import ModelConfig
from .errors import AudioError, CodecError, TruncatedError
from .level import normalizing_gain
from .quantize import dequantize, dequantize_phase, quantize, quantize_phase

if TYPE_CHECKING:
    from .codec import Codec

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
C64 = npt.NDArray[np.complex64]

DEFAULT_FRAME_SECONDS = 1.0  # the framed layout's frame: ~1 s, about 20 bytes of framing per channel
BLOCK_FRAMES = 128  # Griffin-Lim block, STFT frames (1.024 s for the shipped models)
MARGIN_FRAMES = 24  # Griffin-Lim context on each side of a block, STFT frames (16 cost 0.007 PESQ-WB)
CROSSFADE_HOPS = 2  # half-width of the crossfade between blocks, in hops
MAX_LOGMAG = 12.0  # about +100 dB over the model's working level (same as codec.MAX_LOGMAG)
DEFAULT_PHASE_ITERS = 32  # Griffin-Lim iterations per block; a causal model: phase.CAUSAL_ITERS per frame


def default_phase_iters(cfg: ModelConfig) -> int:
    """Phase iterations of the predicted-phase decoder when none are asked for, by the model's kind."""
    return phase.CAUSAL_ITERS if cfg.causal else DEFAULT_PHASE_ITERS


def frame_steps_for(cfg: ModelConfig, seconds: float = DEFAULT_FRAME_SECONDS) -> int:
    """Latent steps per frame for frames of about `seconds`."""
    step = cfg.time_stride * cfg.hop / cfg.sample_rate
    return int(min(0xFFFF, max(1, round(seconds / step))))


def model_length(num_samples: int, sample_rate: int, model_rate: int) -> int:
    """Samples at the model rate for `num_samples` at `sample_rate` (rounded up, so nothing is cut)."""
    return -(-num_samples * model_rate // sample_rate)


def _resampler(rate_in: int, rate_out: int, channels: int) -> Any:
    """soxr's streaming resampler (HQ, float32), or None when the rates are equal."""
    if rate_in == rate_out:
        return None
    return soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")


def _resample_chunk(resampler: Any, x: F32, last: bool) -> F32:
    """`[C, n]` through a streaming resampler (None: unchanged) -> `[C, m] float32`."""
    if resampler is None:
        return x
    y = resampler.resample_chunk(np.ascontiguousarray(x.T), last=last)
    return np.ascontiguousarray(np.asarray(y, dtype=np.float32).reshape(-1, x.shape[0]).T)


def _stft_frames(seg: F32, n_fft: int, hop: int, n: int) -> C64:
    """Frames 0..n-1 of `seg [C, n_fft + hop * (n - 1)]`, whose sample 0 is n_fft / 2 before frame 0's
    centre -> `[C, F, n] complex64`; the same arithmetic as `stft.stft`."""
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    frames = seg.astype(np.float64)[..., idx] * stft.window(n_fft)
    return np.swapaxes(np.fft.rfft(frames, axis=-1), -1, -2).astype(np.complex64)


def _crossfade(v: int) -> tuple[F32, F32]:
    """Raised-cosine fade-in and fade-out over 2v samples; they sum to 1."""
    x = (np.arange(2 * v) + 0.5) / (2 * v) * (np.pi / 2)
    return np.sin(x).astype(np.float32) ** 2, np.cos(x).astype(np.float32) ** 2


def _frame_window(cfg: ModelConfig, frame_steps: int, k: int) -> tuple[int, int, int, int]:
    """Frame k of an unfinished stream -> (first latent step, end step, first STFT frame of its encoder
    window, end frame): the window covers the receptive field and starts on the time stride's grid."""
    s = cfg.time_stride
    j0, j1 = k * frame_steps, (k + 1) * frame_steps
    t0, t1 = cfg.encoder_frames(j0, j1)
    return j0, j1, max(0, t0 // s * s), -(-t1 // s) * s


def min_margin_frames(cfg: ModelConfig, refine: bool = True) -> int:
    """The smallest decoder margin: a block's samples up to the end of its crossfade (with Griffin-Lim; a
    plain inverse STFT has none) need all their frames."""
    return (CROSSFADE_HOPS if refine else 0) + -(-cfg.n_fft // (2 * cfg.hop))


def _block_needs(cfg: ModelConfig, b: int, block_frames: int, margin_frames: int, refine: bool,
                 causal: bool = False) -> tuple[int, int, int, int, int]:
    """Block b of a stream whose end is not known yet -> (w0, w1, j0, j1, steps): its window of STFT frames,
    the latent steps under it, and the latent steps that must have arrived before it can run as the
    whole-file decoder runs it. The decoder cannot know the end is not near, so it waits until the stream
    provably goes on (n_frames > stride * (steps - 1)): with Griffin-Lim (`refine`) past the window and its
    last frame's samples (the zeros after a file's end steer the phase of the whole window); a plain inverse
    STFT only needs the window's frames and the block's end to exist."""
    s = cfg.time_stride
    if causal:  # the causal decoder: the block's own frames, each decoded from the past only
        w0, w1 = b * block_frames, (b + 1) * block_frames
        j0, j1 = cfg.decoder_latents(w0, w1)
        return w0, w1, max(0, j0), j1, j1
    w0, w1 = max(0, b * block_frames - margin_frames), (b + 1) * block_frames + margin_frames
    j0, j1 = cfg.decoder_latents(w0, w1)
    past = w1 + -(-cfg.n_fft // (2 * cfg.hop)) if refine else max(w1 - 1, (b + 1) * block_frames)
    return w0, w1, max(0, j0), j1, max(j1, -(-past // s) + 1)


def stream_latency_ms(
    cfg: ModelConfig, frame_steps: int, block_frames: int = BLOCK_FRAMES, margin_frames: int = MARGIN_FRAMES,
    phase_iters: int = 32, causal: bool | None = None,
) -> float:
    """Algorithmic latency of streaming with this module, in ms: the longest wait, with infinitely fast
    computing, between a sample entering a `StreamEncoder` and a `StreamDecoder` returning it (before
    resampling). It adds to the model's own latency (`ModelConfig.latency_ms`) the frame (the encoder waits
    for a frame's last sample: its gain needs them all) and the decoder's block, margin and crossfade. `causal`
    (default: the model's kind): the causal decoder, whose block b plays from frame b * block_frames's first
    sample."""
    hop = cfg.hop
    causal = bool(cfg.causal) if causal is None else causal
    worst = 0
    for b in range(1, 64):  # blocks and frames realign within a few dozen blocks for any sizes used
        if causal:
            first = b * block_frames * hop - cfg.n_fft // 2
        else:  # block b's first sample
            first = (b * block_frames - (CROSSFADE_HOPS if phase_iters > 0 else 0)) * hop
        steps = _block_needs(cfg, b, block_frames, margin_frames, phase_iters > 0, causal)[4]
        frames = -(-steps // frame_steps)
        _, _, _, e1 = _frame_window(cfg, frame_steps, frames - 1)
        need = (e1 - 1) * hop + cfg.n_fft // 2  # StreamEncoder: the samples frame `frames - 1` waits for
        worst = max(worst, need - first)
    return 1000.0 * worst / cfg.sample_rate


# ------------------------------------------------------------------------------------------------ encoder


@dataclass
class EncoderState:
    """What a `StreamEncoder` remembers between pushes.

    samples: `[channels, n] float32` model-rate samples from index `start` on (what later frames need).
    received: input samples pushed so far, per channel. next_frame: the next frame to write.
    resampler: soxr's streaming state when the input rate is not the model's (opaque: such a state cannot
    be copied; every other state can, with copy.deepcopy).
    """

    samples: F32
    start: int = 0
    received: int = 0
    next_frame: int = 0
    header_sent: bool = False
    finished: bool = False
    resampler: Any = None


class StreamEncoder:
    """Audio in, framed blob bytes out, in bounded memory.

        enc = StreamEncoder(codec, sample_rate=16000, channels=1)
        for chunk in chunks:                 # [channels, n] float32 in [-1, 1], any n (20 ms, 1 s, ...)
            out.write(enc.push(chunk))       # the header, then each frame as soon as it is complete
        out.write(enc.flush())               # the last frame (with the stream's length)

    The concatenated bytes equal `codec.encode(audio, sample_rate, framed=True)` of the whole audio.
    Frames that a push completes together are coded on `workers` threads (default: the codec's thread
    count, else up to 4).
    """

    def __init__(
        self,
        codec: Codec,
        sample_rate: int,
        channels: int,
        *,
        mode: str = "predicted",
        bits: int | None = None,
        phase_bits: int = 8,
        frame_steps: int | None = None,
        workers: int | None = None,
    ) -> None:
        from .codec import MIN_ENCODE_RATE, coding_options

        cfg = codec.config
        self.codec, self.config = codec, cfg
        bits = coding_options(cfg, bits, mode, phase_bits)
        if not isinstance(channels, (int, np.integer)) or not 1 <= channels <= blob.MAX_CHANNELS:
            raise AudioError(f"{channels} channels; codec-rt codes 1..{blob.MAX_CHANNELS}")
        if (
            not isinstance(sample_rate, (int, np.integer))
            or isinstance(sample_rate, bool)
            or not MIN_ENCODE_RATE <= sample_rate <= blob.MAX_SAMPLE_RATE
        ):
            raise AudioError(f"sample rate {sample_rate!r} not in {MIN_ENCODE_RATE}..{blob.MAX_SAMPLE_RATE} Hz")
        steps = frame_steps_for(cfg) if frame_steps is None else frame_steps
        if not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 0xFFFF:
            raise CodecError(f"frame_steps must be in 1..65535, got {steps!r}")
        self.sample_rate, self.channels, self.frame_steps = int(sample_rate), int(channels), int(steps)
        self.workers = max(1, int(workers or codec.threads or min(4, os.cpu_count() or 1)))
        self.header = BlobHeader(
            mode=MODES[mode], bits=bits, phase_bits=phase_bits if mode == "store_phase" else 0,
            sample_rate=self.sample_rate, channels=self.channels, latent_channels=cfg.channels,
            latent_bins=cfg.latent_bins, n_bins=cfg.n_bins, num_samples=0, n_frames=0, latent_frames=0,
            model_id=codec.model_id, coder=cfg.coder, minor=blob.MINOR, layout=blob.LAYOUT_FRAMED,
            time_stride=cfg.time_stride, frame_steps=self.frame_steps,
        )
        self.header.validate()
        self.state = self.initial_state()

    def initial_state(self) -> EncoderState:
        """A fresh state: nothing pushed yet."""
        return EncoderState(np.zeros((self.channels, 0), np.float32),
                            resampler=_resampler(self.sample_rate, self.config.sample_rate, self.channels))

    def reset(self) -> None:
        """Forget the stream: the next push starts a new one (with its own header)."""
        self.state = self.initial_state()

    @property
    def frame_seconds(self) -> float:
        cfg = self.config
        return self.frame_steps * cfg.time_stride * cfg.hop / cfg.sample_rate

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency of a stream from this encoder through a default `StreamDecoder`."""
        return stream_latency_ms(self.config, self.frame_steps)

    def push(self, chunk: npt.ArrayLike) -> bytes:
        """`chunk [channels, n]` float samples (or `[n]` for one channel) -> the bytes now complete
        (the header on the first call, then whole frames; often b"")."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was flushed; reset() to start a new one")
        x = self._check(chunk)
        st.received += x.shape[1]
        y = _resample_chunk(st.resampler, x, last=False)
        if y.shape[1]:
            st.samples = np.concatenate([st.samples, y], axis=1)
        out = [self._header_bytes()]
        # soxr holds back its filter's delay until the last chunk; this guard keeps a frame from reading
        # samples the final length could still cut off.
        guard = 0 if st.resampler is None else 64
        available = st.start + st.samples.shape[1] - guard
        ready = st.next_frame
        while self._samples_needed(ready) <= available:
            ready += 1
        out += self._frames(range(st.next_frame, ready), None)
        return b"".join(out)

    def flush(self) -> bytes:
        """End of the stream -> the remaining frames, the last one with the stream's length."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was already flushed; reset() to start a new one")
        cfg = self.config
        y = _resample_chunk(st.resampler, np.zeros((self.channels, 0), np.float32), last=True)
        if y.shape[1]:
            st.samples = np.concatenate([st.samples, y], axis=1)
        m_len = model_length(st.received, self.sample_rate, cfg.sample_rate)
        have = st.start + st.samples.shape[1]
        if have > m_len:
            st.samples = st.samples[:, : max(0, m_len - st.start)]
        elif have < m_len:
            st.samples = np.pad(st.samples, ((0, 0), (0, m_len - have)))
        n_frames = stft.n_frames(m_len, cfg.hop)
        steps = cfg.latent_frames(n_frames)
        n_out = -(-steps // self.frame_steps)
        out = [self._header_bytes(), *self._frames(range(st.next_frame, n_out), (m_len, n_frames, steps))]
        st.finished = True
        return b"".join(out)

    # ---------------------------------------------------------------------------------- internals

    def _check(self, chunk: npt.ArrayLike) -> F32:
        a = np.asarray(chunk)
        if a.ndim == 1 and self.channels == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[0] != self.channels:
            raise AudioError(f"chunk must be [{self.channels}, samples], got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise AudioError(f"audio must be float samples in [-1, 1], got dtype {a.dtype}")
        with np.errstate(over="ignore"):
            x = np.ascontiguousarray(a, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise AudioError("audio contains NaN or infinite samples (or samples beyond the float32 range)")
        return x

    def _header_bytes(self) -> bytes:
        if self.state.header_sent:
            return b""
        self.state.header_sent = True
        return self.header.pack(0)

    def _window(self, k: int, end: tuple[int, int, int] | None) -> tuple[int, int, int, int]:
        """Frame k -> (first latent step, end step, first STFT frame of its window, end frame), clipped to
        the stream's end once known (`end` = model-rate samples, STFT frames, latent steps)."""
        cfg, s = self.config, self.config.time_stride
        if end is None:
            return _frame_window(cfg, self.frame_steps, k)
        j0, j1 = k * self.frame_steps, min((k + 1) * self.frame_steps, end[2])
        t0, t1 = cfg.encoder_frames(j0, j1)
        return j0, j1, max(0, t0 // s * s), min(-(-t1 // s) * s, end[1])

    def _samples_needed(self, k: int) -> int:
        """Model-rate samples that must have arrived before frame k can be coded (not knowing the end)."""
        cfg = self.config
        _, _, _, w1 = self._window(k, None)
        return (w1 - 1) * cfg.hop + cfg.n_fft // 2

    def _segment(self, a: int, b: int) -> F32:
        """Model-rate samples [a, b) from the buffer, zeros before 0 and past the buffer's end."""
        st = self.state
        out = np.zeros((self.channels, b - a), np.float32)
        lo, hi = max(a, st.start), min(b, st.start + st.samples.shape[1])
        if hi > lo:
            out[:, lo - a : hi - a] = st.samples[:, lo - st.start : hi - st.start]
        return out

    def _frames(self, ks: range, end: tuple[int, int, int] | None) -> list[bytes]:
        """Code the frames `ks` -> their bytes, then drop the samples no later frame reads. Frames ready
        together are coded on `workers` threads (each frame's arithmetic is the same on any thread)."""
        if len(ks) > 1 and self.workers > 1:
            out = list(_pool(self.workers).map(lambda k: self._frame(k, end), ks))
        else:
            out = [self._frame(k, end) for k in ks]
        if not ks:
            return out
        st, cfg = self.state, self.config
        st.next_frame = ks[-1] + 1
        _, _, nw0, _ = self._window(st.next_frame, end)
        keep = min(nw0 * cfg.hop - cfg.n_fft // 2, st.next_frame * self.frame_steps * cfg.time_stride * cfg.hop)
        if keep > st.start:
            st.samples = st.samples[:, min(keep - st.start, st.samples.shape[1]) :]
            st.start = keep
        return out

    def _frame(self, k: int, end: tuple[int, int, int] | None) -> bytes:
        """Code frame k -> its bytes (reads the state, changes nothing). `end` = (model-rate samples, STFT
        frames, latent steps) once known."""
        st, cfg, h = self.state, self.config, self.header
        s, hop, half = cfg.time_stride, cfg.hop, cfg.n_fft // 2
        j0, j1, w0, w1 = self._window(k, end)
        span_end = j1 * s * hop if end is None else min(j1 * s * hop, end[0])
        gains = normalizing_gain(self._segment(j0 * s * hop, span_end))
        seg = self._segment(w0 * hop - half, (w1 - 1) * hop + half) * gains[:, None]
        spec = _stft_frames(seg, cfg.n_fft, hop, w1 - w0)  # [C, F, w1 - w0]
        latent = self.codec.model.encode(stft.to_features(spec))[..., j0 - w0 // s : j1 - w0 // s]
        f0 = j0 * s - w0
        n_frames = (j1 * s if end is None else min(j1 * s, end[1])) - j0 * s
        sections = []
        for c in range(self.channels):
            phase_codes = None
            if h.mode == MODE_STORE_PHASE:
                phase_codes = quantize_phase(np.angle(spec[c, :, f0 : f0 + n_frames]), h.phase_bits)
            if h.coder != blob.CODER_FIXED:
                tables = self.codec._tables()
                coded = entropy.encode(entropy.to_symbols(latent[c], tables), tables)
                data = blob.ChannelData(float(gains[c]), np.zeros(0, np.float32), None, phase_codes, coded)
            else:
                codes, scales = quantize(latent[c], h.bits)
                data = blob.ChannelData(float(gains[c]), scales, codes, phase_codes)
            sections.append(blob.channel_section(data, h))
        last = end is not None and j1 == end[2]
        totals = (st.received, end[1], end[2]) if last and end is not None else None
        return blob.write_frame(k, b"".join(sections), totals)


# ------------------------------------------------------------------------------------------------ decoder


@dataclass
class DecoderState:
    """What a `StreamDecoder` remembers between pushes.

    reader: the blob parser (bytes of an unfinished frame). latents: `[channels, C, F', n] float32` latent
    steps from `z0` on, `gains [channels, n]` the level gain of each. phases: stored phase `[channels,
    n_bins, n]` from STFT frame `p0` on (mode store_phase). block: the next Griffin-Lim block. tail: the
    faded-out end of the previous block `[channels, 2 * crossfade]` (a causal model: ola, the committed
    frames' overlap-add over the samples still open, `[channels, n_fft - hop]`). emitted: model-rate samples done;
    returned: samples returned at the blob's rate. end: (model-rate samples, STFT frames, latent steps,
    samples at the blob's rate) once the last frame has arrived (or the stream was cut).
    """

    reader: FrameReader = field(default_factory=FrameReader)
    latents: F32 | None = None
    gains: F32 | None = None
    z0: int = 0
    steps: int = 0
    phases: F32 | None = None
    p0: int = 0
    phase_frames: int = 0
    block: int = 0
    tail: F32 | None = None
    ola: F32 | None = None
    emitted: int = 0
    returned: int = 0
    end: tuple[int, int, int, int] | None = None
    truncated: bool = False
    finished: bool = False
    drained: bool = False  # every sample returned
    resampler: Any = None


class StreamDecoder:
    """Blob bytes in (any split), audio out, in bounded memory.

        dec = StreamDecoder()                # finds the shipped model the blob names; or StreamDecoder(codec)
        for data in pieces:
            play(dec.push(data))             # [channels, n] float32 at dec.sample_rate, often n = 0
        play(dec.flush())                    # the rest; a stream cut short: its prefix, and a warning

    Framed blobs decode frame by frame; a whole-layout blob (format 1.0/1.1) is decoded once complete.
    The concatenated output equals `codec.decode(blob)` (same blocks, same arithmetic). Blocks that are
    ready together are refined on `workers` threads (default: the codec's thread count, else up to 4).
    """

    def __init__(
        self,
        codec: Codec | None = None,
        *,
        phase_iters: int | None = None,
        contrast: float | None = None,
        provider: str = "cpu",
        threads: int | None = None,
        model: str | Path | None = None,
        block_frames: int = BLOCK_FRAMES,
        margin_frames: int = MARGIN_FRAMES,
        strict: bool = False,
        workers: int | None = None,
    ) -> None:
        if phase_iters is not None and not 0 <= phase_iters <= 10_000:
            raise CodecError(f"phase_iters must be in 0..10000, got {phase_iters}")
        if contrast is not None and not 0.5 <= contrast <= 2.0:
            raise CodecError(f"contrast must be in 0.5..2.0, got {contrast}")
        if not 1 <= block_frames <= 1 << 20 or not 0 <= margin_frames <= 1 << 16:
            raise CodecError("block_frames must be in 1..2**20 and margin_frames in 0..2**16")
        self.codec = codec
        # phase_iters and contrast None: the model's defaults, known once the model is loaded
        self.phase_iters = None if phase_iters is None else int(phase_iters)
        self.contrast = None if contrast is None else float(contrast)
        self.provider, self.threads, self.model = provider, threads, model
        self.block_frames, self.margin_frames, self.strict = int(block_frames), int(margin_frames), strict
        if workers is None:
            workers = threads or (codec.threads if codec is not None else None) or min(4, os.cpu_count() or 1)
        self.workers = max(1, int(workers))
        self.state = DecoderState()

    def reset(self) -> None:
        """Forget the stream: the next push starts a new blob."""
        self.state = DecoderState()

    @property
    def header(self) -> BlobHeader | None:
        """The blob's header once it has arrived (its lengths filled in by the last frame)."""
        return self.state.reader.header

    @property
    def sample_rate(self) -> int | None:
        h = self.header
        return None if h is None else h.sample_rate

    @property
    def channels(self) -> int | None:
        h = self.header
        return None if h is None else h.channels

    @property
    def truncated(self) -> bool:
        """True after `flush()` of a stream that ended before its last frame."""
        return self.state.truncated

    @property
    def frames(self) -> int:
        """Frames decoded so far."""
        return self.state.reader.next_index

    def latency_ms(self, frame_steps: int | None = None) -> float:
        """Algorithmic latency of a stream of frames of `frame_steps` (default: the blob's) decoded here: see
        `stream_latency_ms`."""
        if frame_steps is None:
            h = self.header
            frame_steps = h.frame_steps if h is not None and h.framed else frame_steps_for(self._codec().config)
        return stream_latency_ms(self._codec().config, frame_steps, self.block_frames, self.margin_frames,
                                 self._iters())

    def push(self, data: bytes) -> F32:
        """Blob bytes (any piece) -> the audio they complete, `[channels, n] float32` at `sample_rate`
        (`[0, 0]` before the header has arrived)."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was flushed; reset() to start a new one")
        frames = st.reader.feed(bytes(data))
        if st.reader.header is None:
            return np.zeros((0, 0), np.float32)
        self._start()
        for fr in frames:
            self._add(fr)
        return self._run(final=False)

    def flush(self) -> F32:
        """End of the stream -> the rest of the audio. A framed stream that ended early decodes up to its
        last whole frame, with a warning (or, `strict`, a TruncatedError); a whole-layout blob cannot."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was already flushed; reset() to start a new one")
        try:
            st.reader.close()
        except TruncatedError as e:
            h = st.reader.header
            if self.strict or h is None or not h.framed:
                raise
            self._start()
            st.truncated = True
            cfg = self._codec().config
            n_frames = st.steps * cfg.time_stride
            m_len = (n_frames - 1) * cfg.hop if n_frames else 0
            n_out = m_len * h.sample_rate // cfg.sample_rate
            log.warning("warning: %s; decoding the %d whole frames before the cut (%.2f s)", e,
                        st.reader.next_index, n_out / h.sample_rate)
            if not n_frames:
                st.finished = True
                return np.zeros((h.channels, 0), np.float32)
            st.end = (m_len, n_frames, st.steps, n_out)
        out = self._run(final=True)
        st.finished = True
        return out

    # ---------------------------------------------------------------------------------- internals

    def _codec(self) -> Codec:
        if self.codec is None:
            from .codec import Codec

            h = self.header
            if self.model is not None:
                self.codec = Codec.load(self.model, self.provider, self.threads)
            elif h is not None:
                self.codec = Codec.for_model_id(h.model_id, self.provider, self.threads)
            else:
                raise CodecError("no model yet: the blob's header has not arrived")
        return self.codec

    def _contrast(self) -> float:
        return self._codec().model.contrast if self.contrast is None else self.contrast

    def _iters(self) -> int:
        return default_phase_iters(self._codec().config) if self.phase_iters is None else self.phase_iters

    def _causal(self) -> bool:
        return bool(self._codec().config.causal)

    def _start(self) -> None:
        """Once the header is known: load or check the model, set up the output resampler."""
        st, h = self.state, self.header
        assert h is not None
        if st.gains is not None:
            return
        codec = self._codec()
        codec.check_compatible(h)
        cfg = codec.config
        least = min_margin_frames(cfg, self._crossfade_hops() > 0)
        if self.margin_frames < least and not cfg.causal:
            raise CodecError(f"margin_frames must be at least {least} for this model")
        st.latents = np.zeros((h.channels, cfg.channels, cfg.latent_bins, 0), np.float32)
        st.gains = np.zeros((h.channels, 0), np.float32)
        if h.mode == MODE_STORE_PHASE:
            st.phases = np.zeros((h.channels, cfg.n_bins, 0), np.float32)
        st.resampler = _resampler(cfg.sample_rate, h.sample_rate, h.channels)
        if cfg.causal:
            st.ola = np.zeros((h.channels, cfg.n_fft - cfg.hop), np.float32)

    def _add(self, fr: Frame) -> None:
        """Append a frame's latents, gains and stored phase to the buffers."""
        st, codec = self.state, self._codec()
        h = self.header
        assert h is not None and st.latents is not None and st.gains is not None
        if fr.last:
            codec.check_compatible(h)  # now with the stream's lengths
            m_len = model_length(h.num_samples, h.sample_rate, codec.config.sample_rate)
            st.end = (m_len, h.n_frames, h.latent_frames, h.num_samples)
        if h.coder != blob.CODER_FIXED:
            tables = codec._tables()
            lat = np.stack([entropy.decode(ch.coded, tables, fr.steps) for ch in fr.channels]).astype(np.float32)
        else:
            lat = np.stack([dequantize(ch.codes, ch.scales, h.bits) for ch in fr.channels if ch.codes is not None])
        gains = np.repeat(np.array([[ch.gain] for ch in fr.channels], np.float32), fr.steps, axis=1)
        # (the first frame, or a whole-layout blob, is taken as is: no copy of a whole file's latent)
        st.latents = lat if not st.latents.shape[-1] else np.concatenate([st.latents, lat], axis=-1)
        st.gains = gains if not st.gains.shape[-1] else np.concatenate([st.gains, gains], axis=-1)
        st.steps += fr.steps
        if st.phases is not None:
            ph = np.stack([dequantize_phase(ch.phase_codes, h.phase_bits) for ch in fr.channels
                           if ch.phase_codes is not None])
            st.phases = np.concatenate([st.phases, ph], axis=-1)
            st.phase_frames += fr.n_frames

    def _block_window(self, b: int) -> tuple[int, int, int, int] | None:
        """Block b -> (w0, w1, j0, j1): its Griffin-Lim window of STFT frames and the latent steps under it,
        or None if they have not all arrived yet."""
        st, cfg, h = self.state, self._codec().config, self.header
        assert h is not None
        refine = h.mode != MODE_STORE_PHASE and self._iters() > 0
        w0, w1, j0, j1, steps = _block_needs(cfg, b, self.block_frames, self.margin_frames, refine, self._causal())
        if st.end is not None:
            return w0, min(w1, st.end[1]), j0, min(j1, st.end[2])
        if st.steps < steps or (st.phases is not None and st.phase_frames < w1):
            return None
        return w0, w1, j0, j1

    def _run(self, final: bool) -> F32:
        """Decode every block whose inputs have arrived -> the audio now final, at the blob's rate."""
        st, h = self.state, self.header
        assert h is not None
        windows: list[tuple[int, int, int, int]] = []
        while st.end is None or (st.block + len(windows)) * self.block_frames < st.end[1]:
            win = self._block_window(st.block + len(windows))
            if win is None:
                break
            windows.append(win)
        pieces = []
        if self._causal():  # each block goes on from the frames before it: one after another
            for w in windows:
                pieces.append(self._causal_block(*w))
                st.block += 1
            if st.end is not None and st.block * self.block_frames >= st.end[1] and not st.drained:
                pieces.append(self._causal_tail())
        else:
            # The blocks are independent until they are joined: refine them on `workers` threads (NumPy's
            # FFTs and onnxruntime release the GIL); each block's arithmetic is the same on any thread.
            if len(windows) > 1 and self.workers > 1:
                signals = list(_pool(self.workers).map(lambda w: self._refine(*w), windows))
            else:
                signals = [self._refine(*w) for w in windows]
            for (w0, _, _, _), y in zip(windows, signals, strict=True):
                pieces.append(self._join(st.block, y, w0))
                st.block += 1
        if windows:
            self._trim()
        y = np.concatenate(pieces, axis=1) if pieces else np.zeros((h.channels, 0), np.float32)
        done = st.end is not None and st.block * self.block_frames >= st.end[1]
        if st.drained:
            return y
        out = _resample_chunk(st.resampler, y, last=done)
        if done:
            st.drained = True
            assert st.end is not None
            n_out = st.end[3]
            room = n_out - st.returned
            if out.shape[1] > room:
                out = out[:, : max(room, 0)]
            elif out.shape[1] < room:
                out = np.pad(out, ((0, 0), (0, room - out.shape[1])))
        st.returned += out.shape[1]
        if final and not done:
            raise CodecError("internal error: the stream ended with blocks left to decode")
        return np.ascontiguousarray(out, dtype=np.float32)

    def _features(self, w0: int, w1: int, j0: int, j1: int) -> tuple[F32, F32, int]:
        """STFT frames [w0, w1) from the latent steps [j0, j1) -> (magnitude `[channels, F, frames]`, the
        phase to start from, its iterations): decoder graph, gains, and postfilter or stored phase."""
        st, codec, h = self.state, self._codec(), self.header
        cfg = codec.config
        assert h is not None and st.latents is not None and st.gains is not None
        s = cfg.time_stride
        feats = codec.model.decode(st.latents[..., j0 - st.z0 : j1 - st.z0])[..., w0 - s * j0 : w1 - s * j0]
        logmag = np.minimum(feats[:, 0], MAX_LOGMAG)  # a damaged-but-valid blob can drive it anywhere
        gain = st.gains[:, np.arange(w0, w1) // s - st.z0][:, None, :]  # [channels, 1, frames]
        if h.mode == MODE_STORE_PHASE:
            assert st.phases is not None
            angle, iters = st.phases[..., w0 - st.p0 : w1 - st.p0], 0
        else:
            logmag, angle, iters = postfilter.enhance(logmag, self._contrast()), feats[:, 1], self._iters()
        return (np.exp(logmag) / gain).astype(np.float32, copy=False), angle, iters

    def _causal_block(self, w0: int, w1: int, j0: int, j1: int) -> F32:
        """A causal model's block of STFT frames [w0, w1) -> the model-rate samples it finishes (from
        `emitted` on): those before frame w1's first sample."""
        st, cfg = self.state, self._codec().config
        assert st.ola is not None
        mag, angle, iters = self._features(w0, w1, j0, j1)
        # With iterations, RTISI starts each frame from the committed frames' phase, not the raw prediction.
        init = angle if iters == 0 else None
        ola, st.ola = phase.causal_frames(mag, init, st.ola, cfg.n_fft, cfg.hop, iters)
        base = w0 * cfg.hop - cfg.n_fft // 2  # the model-rate sample of ola's first sample
        stop = base + ola.shape[1]
        return self._causal_samples(ola, base, stop if st.end is None else min(stop, st.end[0]))

    def _causal_tail(self) -> F32:
        """After a causal model's last block: the samples that only its last frames cover, to the end."""
        st, cfg = self.state, self._codec().config
        assert st.ola is not None and st.end is not None
        base = st.end[1] * cfg.hop - cfg.n_fft // 2  # the first sample after the last frame's first hop
        return self._causal_samples(st.ola, base, st.end[0], st.end[1])

    def _causal_samples(self, ola: F32, base: int, stop: int, n_frames: int | None = None) -> F32:
        """An overlap-add from model-rate sample `base` -> its samples from `emitted` up to `stop`, normalized
        (over `n_frames` frames in all, None: frames go on past these samples)."""
        st, cfg = self.state, self._codec().config
        y = ola / phase.window_square_sum(base, ola.shape[1], cfg.n_fft, cfg.hop, n_frames)
        out = y[:, max(st.emitted - base, 0) : max(stop - base, 0)]
        st.emitted = max(st.emitted, stop)
        return np.ascontiguousarray(out)

    def _refine(self, w0: int, w1: int, j0: int, j1: int) -> F32:
        """One block's window of STFT frames [w0, w1) -> its signal (decoder graph, gains, postfilter,
        Griffin-Lim), `[channels, n_fft + hop * (w1 - w0 - 1)]` from model-rate sample w0 * hop - n_fft / 2.
        Reads the buffers, changes nothing."""
        st, cfg = self.state, self._codec().config
        hop = cfg.hop
        mag, angle, iters = self._features(w0, w1, j0, j1)
        base = w0 * hop - cfg.n_fft // 2  # the model-rate sample of the window's first sample
        hi = None if st.end is None else st.end[0] - base
        return phase.refine_frames(mag, angle, cfg.n_fft, hop, iters, -base, hi)

    def _crossfade_hops(self) -> int:
        """Blocks refined by Griffin-Lim are joined with a crossfade; plain inverse STFTs join exactly."""
        h = self.header
        if h is None or h.mode == MODE_STORE_PHASE or self._causal():
            return 0
        return CROSSFADE_HOPS if self._iters() > 0 else 0

    def _join(self, b: int, y: F32, w0: int) -> F32:
        """Block b's signal -> its final model-rate samples (from `emitted` on): the crossfade with the
        previous block's faded-out end, its middle, and its own end faded out and kept for the next."""
        st, cfg = self.state, self._codec().config
        hop = cfg.hop
        base = w0 * hop - cfg.n_fft // 2
        v = self._crossfade_hops() * hop
        fade_in, fade_out = _crossfade(v)
        start = b * self.block_frames * hop
        last = st.end is not None and (b + 1) * self.block_frames >= st.end[1]
        stop = st.end[0] if last and st.end is not None else (b + 1) * self.block_frames * hop - v
        out = y[:, max(st.emitted, 0) - base : stop - base].copy()
        if b > 0 and st.tail is not None:
            lo = start - v - st.emitted  # where the crossfade starts in `out`
            n = min(2 * v, out.shape[1] - lo)
            out[:, lo : lo + n] = out[:, lo : lo + n] * fade_in[:n] + st.tail[:, :n]
        if not last:
            e = (b + 1) * self.block_frames * hop
            st.tail = y[:, e - v - base : e + v - base] * fade_out
        st.emitted = stop
        return out

    def _trim(self) -> None:
        """Drop the latents, gains and stored phase that the next block no longer needs."""
        st, cfg = self.state, self._codec().config
        assert st.latents is not None and st.gains is not None
        nw0 = max(0, st.block * self.block_frames - (0 if self._causal() else self.margin_frames))
        keep = max(0, cfg.decoder_latents(nw0, nw0 + 1)[0])
        if keep > st.z0:
            st.latents = st.latents[..., keep - st.z0 :]
            st.gains = st.gains[:, keep - st.z0 :]
            st.z0 = keep
        if st.phases is not None and nw0 > st.p0:
            st.phases = st.phases[..., nw0 - st.p0 :]
            st.p0 = nw0


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A shared thread pool of `workers` threads."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="codec-rt-decode")
    return _POOLS[workers]


__all__ = ["DecoderState", "EncoderState", "StreamDecoder", "StreamEncoder", "default_phase_iters", "frame_steps_for",
           "min_margin_frames", "stream_latency_ms"]
