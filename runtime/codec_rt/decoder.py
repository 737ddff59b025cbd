"""The decoder engine: blob bytes (any layout, in any pieces) -> audio `[C, N] float32` at the blob's rate,
in bounded memory, on a loaded `Model` (or the shipped model the blob names).

From symbols to samples (docs/FORMAT.md): `latent.decode` turns each packet's sections into the latent,
gains and stored phase; then, block by block (`grid.py`), the decoder graph over the block and its margins,
the log-magnitude capped at MAX_LOGMAG, the gains divided out, and the postfilter and Griffin-Lim (from the
graph's phase or the phase-gradient start, `phase_gradient.py`), or the stored phase and a plain inverse
STFT, the block's DC removed (`level.remove_dc`); blocks are joined with a crossfade inside the margins.
A causal model decodes without lookahead, each frame's phase refined against the frames before it
(`phase.causal_frames`). Mid/side pairs (format 1.4) become left and right. `Codec.decode` runs the same
blocks, so stream and file decode to the same samples. A stream cut short decodes up to its last whole
packet, with a warning (`flush`); a damaged packet is a ChecksumError.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import grid, latent, peaks, phase, postfilter
from .audio import from_coded
from .blob import BlobHeader
from .config import Mode, ModelConfig, Stereo
from .decoder_state import DecoderState, add_tracks, append_packet, audio_part, hold_band, join_block, stored_band
from .errors import CodecError, FormatError, TruncatedError, check_bytes, check_int, check_real
from .grid import (
    BLOCK_FRAMES,
    CROSSFADE_HOPS,
    MARGIN_FRAMES,
    BlockWindow,
    End,
    StreamEnd,
    block_window,
    min_margin_frames,
    packet_steps_for,
    stream_latency_ms,
)
from .level import frame_gains, remove_dc
from .model import HasModel, Model, check_provider, default_workers, model_of, runner
from .packets import Packet
from .phase_gradient import Band, GradientSteps, PhaseStart, block_steps, causal_joint
from .resample import StreamResampler

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Features = tuple[F32, F32, F32, int, BoolArray | None, npt.NDArray[np.int32] | None]  # `_features`
BLOCKS_IN_FLIGHT = 2  # non-causal blocks decoded at once per worker thread (memory: docs/STREAMING.md)
DEFAULT_PHASE_ITERS = 32  # Griffin-Lim iterations per block; a causal model: phase.CAUSAL_ITERS per frame


def default_phase_iters(cfg: ModelConfig, declared: int | None = None) -> int:
    """Phase iterations when none are asked for: the decoder's `declared` ones, else by the model's kind."""
    return declared if declared is not None else phase.CAUSAL_ITERS if cfg.causal else DEFAULT_PHASE_ITERS


class StreamDecoder:
    """Blob bytes in (any split), audio out, in bounded memory.

        dec = StreamDecoder()                # finds the shipped model the blob names; or StreamDecoder(codec)
        for data in pieces:
            play(dec.push(data))             # [channels, n] float32 at dec.sample_rate, often n = 0
        play(dec.flush())                    # the rest; a stream cut short: its prefix, and a warning

    Framed blobs decode packet by packet; a whole-layout blob (any minor) is decoded once complete.
    The concatenated output equals `codec.decode(blob)` (same blocks, same arithmetic). Blocks that are
    ready together are refined on `workers` threads (default: the model's thread count, else up to 4).
    """

    def __init__(
        self,
        model: Model | HasModel | None = None,
        *,
        phase_iters: int | None = None,
        contrast: float | None = None,
        phase_start: PhaseStart | str | None = None,
        provider: str = "cpu",
        threads: int | None = None,
        model_dir: str | Path | None = None,
        block_frames: int = BLOCK_FRAMES,
        margin_frames: int = MARGIN_FRAMES,
        strict: bool = False,
        workers: int | None = None,
        highpass: bool = True,
    ) -> None:
        self._model = None if model is None else model_of(model)
        if model is not None and (provider != "cpu" or threads is not None or model_dir is not None):  # no-ops
            raise CodecError("provider, threads and model_dir are for a StreamDecoder that loads its model")
        check_provider(provider)  # here, not at the first push
        # phase_iters and contrast None: the model's defaults, known once the model is loaded
        self.phase_iters = None if phase_iters is None else check_int("phase_iters", phase_iters, 0, 10_000)
        self.contrast = None if contrast is None else check_real("contrast", contrast, 0.5, 2.0)
        self.phase_start = None if phase_start is None else PhaseStart.parse(phase_start)
        self.provider, self.threads, self.model_dir = provider, threads, model_dir
        self.block_frames = check_int("block_frames", block_frames, 1, 1 << 20)
        self.margin_frames = check_int("margin_frames", margin_frames, 0, 1 << 16)
        self.strict, self.highpass = strict, highpass
        self._workers = None if workers is None else check_int("workers", workers, 1, 1024)
        self.state = DecoderState()

    def reset(self) -> None:
        """Forget the stream: the next push starts a new blob."""
        self.state = DecoderState()

    @property
    def header(self) -> BlobHeader | None:
        """The blob's header once it has arrived (its lengths filled in by the last packet)."""
        return self.state.reader.header

    @property
    def sample_rate(self) -> int | None:
        return None if (h := self.header) is None else h.sample_rate

    @property
    def channels(self) -> int | None:
        return None if (h := self.header) is None else h.channels

    @property
    def truncated(self) -> bool:
        """True after `flush()` of a stream that ended before its last packet."""
        return self.state.truncated

    @property
    def packets(self) -> int:
        """Packets read so far."""
        return self.state.reader.next_index

    @property
    def model(self) -> Model:
        """The model decoding this stream: the one given, else loaded from `model_dir`, else the shipped
        model the blob's header names (CodecError before the header has arrived)."""
        if self._model is None:
            h = self.header
            if self.model_dir is not None:
                self._model = Model.load(self.model_dir, self.provider, self.threads)
            elif h is not None:
                self._model = Model.shipped(h.model_id, self.provider, self.threads)
            else:
                raise CodecError("no model yet: the blob's header has not arrived")
        return self._model

    @property
    def workers(self) -> int:
        """Threads that refine blocks ready together: as asked, else the model's thread count, else up to 4."""
        return default_workers(self.model, self._workers or self.threads)

    def latency_ms(self, packet_steps: int | None = None) -> float:
        """Algorithmic latency (ms) of a stream of `packet_steps` packets (the blob's) decoded here: `grid`'s."""
        cfg = self.model.config
        if packet_steps is None:
            packet_steps = h.packet_steps if (h := self.header) is not None and h.framed else packet_steps_for(cfg)
        return stream_latency_ms(cfg, packet_steps, self.block_frames, self.margin_frames, self._iters())

    def push(self, data: bytes) -> F32:
        """Blob bytes (any piece) -> the audio they complete, `[channels, n] float32` at `sample_rate`
        (`[0, 0]` before the header has arrived)."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was flushed; reset() to start a new one")
        packets = st.reader.feed(check_bytes("data", data))
        if st.reader.header is None:
            return np.zeros((0, 0), np.float32)
        self._start()
        self._add_all(packets)
        return self._run(final=False)

    def flush(self) -> F32:
        """End of the stream -> the rest of the audio. A framed stream that ended early decodes up to its
        last whole packet, with a warning (or, `strict`, a TruncatedError); a whole-layout blob cannot, and
        a stream cut before one sample can be decoded raises TruncatedError too."""
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
            cfg = self.model.config
            n_frames = st.steps * cfg.time_stride
            m_len = (n_frames - 1) * cfg.hop if n_frames else 0  # of the coded signal, the lead-in included
            n_out = max(0, m_len - h.pre_skip) * h.sample_rate // cfg.sample_rate
            if n_out == 0:
                raise TruncatedError(f"{e}; not one sample can be decoded") from None
            st.truncated = True
            log.warning("warning: %s; decoding the %d whole packets before the cut (%.2f s)", e,
                        st.reader.next_index, n_out / h.sample_rate)
            st.end = StreamEnd(End(m_len, n_frames, st.steps), n_out)
        out = self._run(final=True)
        st.finished = True
        return out

    # ---------------------------------------------------------------------------------- internals

    def _contrast(self) -> float:  # mode low_band_phase: no postfilter unless asked (FORMAT.md 6.3)
        own = 1.0 if self._mode() == Mode.LOW_BAND_PHASE else self.model.contrast
        return own if self.contrast is None else self.contrast

    def _iters(self) -> int:  # mode low_band_phase, non-causal: no iterations unless asked (FORMAT.md 6.3)
        low = self._mode() == Mode.LOW_BAND_PHASE and not self._causal()
        return (0 if low else default_phase_iters(self.model.config, self.model.phase_iters)) \
            if self.phase_iters is None else self.phase_iters

    def _mode(self) -> int | None:  # the blob's, once its header has arrived
        return None if (h := self.header) is None else h.mode

    def _causal(self) -> bool:
        return bool(self.model.config.causal)

    def _gradient(self) -> bool:  # the non-causal predicted phase starts from the magnitude's gradients
        start = self.model.phase_start if self.phase_start is None else self.phase_start
        return start == PhaseStart.GRADIENT and not self._causal() and self._mode() not in (None, Mode.STORE_PHASE)

    def _joint_start(self) -> bool:  # frames may share a joint gradient start: channels one by one (6.5)
        return (h := self.header) is not None and h.channels > 1 and h.stereo == Stereo.INDEPENDENT

    def _start(self) -> None:
        """Once the header is known: load or check the model, set up the output resampler."""
        st, h = self.state, self.header
        assert h is not None
        if st.gains is not None:
            return
        self.model.check_compatible(h)
        cfg = self.model.config
        least = min_margin_frames(cfg, self._crossfade_hops() > 0, self._gradient())
        if self.margin_frames < least and not cfg.causal:
            raise CodecError(f"margin_frames must be at least {least} for this model")
        st.latents = np.zeros((h.channels, cfg.channels, cfg.latent_bins, 0), np.float32)
        st.gains = np.zeros((h.channels, 0), np.float32)
        rows = h.phase_rows or h.band_rows
        st.phases = np.zeros((h.channels, rows, 0), np.float32) if rows else None
        st.band_held = np.zeros((h.channels, 0), np.int32) if h.band_rows else None
        st.resampler = StreamResampler(cfg.sample_rate, h.sample_rate, h.channels)
        if cfg.causal:  # with channels coded one by one, a row more for their joint (6.5)
            joint = self._joint_start() and h.mode != Mode.STORE_PHASE
            st.ola = np.zeros((h.channels + joint, cfg.n_fft - cfg.hop), np.float32)

    def _add_all(self, packets: list[Packet]) -> None:
        """Append packets to the buffers, their sections decoded together (one by one if one is damaged:
        those before it are appended, then its FormatError is raised)."""
        model, h = self.model, self.header
        assert h is not None
        if any(p.last for p in packets):
            model.check_compatible(h)  # now with the stream's lengths, before the sections
        decoded: list[latent.Decoded] | None
        try:
            decoded = latent.decode_many(model, h, [(p.channels, p.steps, p.index) for p in packets])
        except FormatError:
            decoded = None
        for i, p in enumerate(packets):
            d = decoded[i] if decoded is not None else latent.decode(model, h, p.channels, p.steps, p.index)
            if p.last:
                self.state.end = StreamEnd(End(h.coded_length(model.config.sample_rate), h.n_frames,
                                               h.latent_steps), h.num_samples)
            append_packet(self.state, p, d, h, model.config)

    def _block_window(self, b: int) -> BlockWindow | None:
        """Block b -> its window of STFT frames and the latent steps under it (clipped to the stream's end
        once known), or None if they have not all arrived yet."""
        st, cfg, h = self.state, self.model.config, self.header
        assert h is not None
        refine = h.mode != Mode.STORE_PHASE and self._iters() > 0
        win, steps = block_window(cfg, b, self.block_frames, self.margin_frames, refine, self._causal())
        if st.end is not None:
            return win._replace(w1=min(win.w1, st.end.model.frames), j1=min(win.j1, st.end.model.steps))
        if st.steps < steps or (st.phases is not None and st.phase_frames < win.w1):
            return None
        return win

    def _run(self, final: bool) -> F32:
        """Decode every block whose inputs have arrived -> the audio now final, at the blob's rate."""
        st, h = self.state, self.header
        assert h is not None
        windows: list[BlockWindow] = []
        while st.end is None or (st.block + len(windows)) * self.block_frames < st.end.model.frames:
            win = self._block_window(st.block + len(windows))
            if win is None:
                break
            windows.append(win)
        pieces = []
        if self._causal():  # each block goes on from the frames before it: one after another
            for w in windows:
                pieces.append(self._causal_block(*w))
                st.block += 1
            if st.end is not None and st.block * self.block_frames >= st.end.model.frames and not st.drained:
                pieces.append(self._causal_tail())
        else:
            pieces += self._blocks(windows)
        if windows:
            self._trim()
        coded = np.concatenate(pieces, axis=1) if pieces else np.zeros((h.channels, 0), np.float32)
        y = from_coded(add_tracks(st, coded), h.stereo)  # format 1.12's tracks, at the model rate
        done = st.end is not None and st.block * self.block_frames >= st.end.model.frames
        if st.drained:
            return y
        assert st.resampler is not None
        out = audio_part(st, h, self.model.config, st.resampler.process(y, last=done), done)
        st.drained = done
        if final and not done:
            raise CodecError("internal error: the stream ended with blocks left to decode")
        return np.ascontiguousarray(out, dtype=np.float32)

    def _blocks(self, part: list[BlockWindow]) -> list[F32]:
        """Non-causal blocks `part`, the next to decode -> their final model-rate samples. The phase-gradient
        start's recursion runs here, block after block; the rest of each block on `workers` threads (the
        FFTs and onnxruntime release the GIL), with at most BLOCKS_IN_FLIGHT blocks a worker prepared and as
        many being refined: memory bounded by the workers, not by the bytes of the push (an hour's blob)."""
        st, h, cfg = self.state, self.header, self.model.config
        assert h is not None
        joint, gradient = self._joint_start(), self._gradient()

        def prepare(w: BlockWindow) -> tuple[Features, tuple[GradientSteps, BoolArray | None] | None]:
            f = self._features(*w)
            return f, block_steps(f[0], cfg.n_fft, cfg.hop, joint) if gradient else None

        run = runner(self.workers if len(part) > 1 else 1)
        ahead, fade = BLOCKS_IN_FLIGHT * self.workers, self._crossfade_hops()
        prepared = deque(run(prepare, w) for w in part[:ahead])
        signals: deque[tuple[BlockWindow, Future[F32]]] = deque()
        out = []
        for i, w in enumerate(part):
            f, start = prepared.popleft().result()
            if i + ahead < len(part):
                prepared.append(run(prepare, part[i + ahead]))
            low, tonal = stored_band(st, h, w.w0, w.w1)
            if start is not None:
                (steps, shared), angle = start, f[2]
                nxt = max(0, (st.block + len(signals) + 1) * self.block_frames - self.margin_frames)
                # mode low_band_phase: its band's pitch (6.5)
                band = None if low is None or tonal is not None else Band(np.exp(f[0][:, : h.phase_bins]), low, cfg)
                phi, held = st.start.steps(steps, w.w0, nxt, band)
                angle[...] = phi if shared is None else np.where(shared, phi[-1:], phi[:-1])
                f = (*f[:4], held if shared is None else np.where(shared, held[-1:], held[:-1]), None)
            if low is not None:  # the blob's band replaces the start, where it holds (FORMAT.md 6.3, 4.8)
                f = (*f[:5], hold_band(f[2], low, tonal))
            signals.append((w, run(self._refine, w, f)))
            while len(signals) > (ahead if i + 1 < len(part) else 0):
                done, signal = signals.popleft()
                out.append(join_block(st, cfg, self.block_frames, fade, signal.result(), done.w0))
                st.block += 1
        return out

    def _features(self, w0: int, w1: int, j0: int, j1: int) -> Features:
        """STFT frames [w0, w1) from the latent steps [j0, j1) -> (log-magnitude `[channels, F, frames]`
        (postfilter applied), the gains `[channels, 1, frames]`, the start phase, its iterations, and None for
        the frames and the band's bins it holds, which `_blocks` fills): the graph, and postfilter or phase."""
        st, model, h, cfg = self.state, self.model, self.header, self.model.config
        assert h is not None and st.latents is not None and st.gains is not None
        s = cfg.time_stride
        feats = grid.causal_features(cfg, model.decode, st.latents, st.z0, w0, w1) if cfg.causal else \
            model.decode(st.latents[..., j0 - st.z0 : j1 - st.z0])[..., w0 - s * j0 : w1 - s * j0]
        logmag = np.minimum(feats[:, 0], latent.MAX_LOGMAG)  # a damaged-but-valid blob can drive it anywhere
        smoothing = 0 if cfg.causal else h.gain_smoothing  # (a causal decoder cannot look ahead)
        last = st.end.model.steps - 1 if st.end is not None else None
        gain = frame_gains(st.gains, st.z0, w0, w1, s, smoothing, last)[:, None, :]  # [channels, 1, frames]
        if h.mode == Mode.STORE_PHASE:
            assert st.phases is not None
            angle, iters = st.phases[..., w0 - st.p0 : w1 - st.p0], 0
        else:
            logmag, angle, iters = postfilter.enhance(logmag, self._contrast()), feats[:, 1], self._iters()
        return logmag, gain, np.array(angle, np.float32), iters, None, None

    def _causal_block(self, w0: int, w1: int, j0: int, j1: int) -> F32:
        """A causal model's STFT frames [w0, w1) -> the model-rate samples before frame w1's, from `emitted`."""
        st, cfg, h = self.state, self.model.config, self.header
        assert st.ola is not None and h is not None
        logmag, gain, angle, iters, _, _ = self._features(w0, w1, j0, j1)
        adv = bool(cfg.phase_advance) and h.mode != Mode.STORE_PHASE  # RTISI goes on from the frames before
        if own := iters > 0 or adv:  # the decoder's phase, not the graph's as is: steady bins, clicks (6.5)
            logmag, st.steady = postfilter.steady(logmag, st.steady)
        mag, shared = (np.exp(logmag) / gain).astype(np.float32), None
        held = None if st.phases is None or h.mode != Mode.LOW_BAND_PHASE else st.phases[..., w0 - st.p0 : w1 - st.p0]
        init = angle if iters == 0 or adv else None
        pitch = None if held is None else st.pitch.block(np.exp(logmag[:, : held.shape[1]]), held, cfg)  # 6.5
        if st.ola.shape[0] > logmag.shape[0]:  # channels coded one by one, and their joint (6.5)
            mag, init, shared = causal_joint(logmag, mag, init)
            held = None if held is None else np.concatenate([held, held[:1]])  # the joint holds the first's
            pitch = None if pitch is None else np.concatenate([pitch, pitch[:1]])  # band, and its pitch
        clicks, st.clicks = phase.causal_clicks(mag, st.clicks) if own else (None, None)  # 6.5, and steady peaks:
        lock, mag, st.peaks = peaks.steady_peaks(mag, held, pitch, st.peaks, cfg) if adv else (None, mag, None)
        ola, st.ola, st.last = phase.causal_frames(mag, init, st.ola, cfg.n_fft, cfg.hop, iters, adv, st.last, shared,
                                                   held, pitch, clicks, lock)
        base = w0 * cfg.hop - cfg.n_fft // 2  # the model-rate sample of ola's first sample
        stop = base + ola.shape[1] if st.end is None else min(base + ola.shape[1], st.end.model.samples)
        return self._causal_samples(ola, base, stop)

    def _causal_tail(self) -> F32:
        """After a causal model's last block: the samples that only its last frames cover, to the end."""
        st, cfg = self.state, self.model.config
        assert st.ola is not None and st.end is not None
        base = st.end.model.frames * cfg.hop - cfg.n_fft // 2  # the first sample after the last frame's first hop
        return self._causal_samples(st.ola, base, st.end.model.samples, st.end.model.frames)

    def _causal_samples(self, ola: F32, base: int, stop: int, n_frames: int | None = None) -> F32:
        """An overlap-add from model-rate sample `base` -> its samples from `emitted` up to `stop`, normalized
        (over `n_frames` frames in all, None: frames go on past these samples); without the channels' joint."""
        st, cfg = self.state, self.model.config
        y = ola / phase.window_square_sum(base, ola.shape[1], cfg.n_fft, cfg.hop, n_frames)
        out = y[: self.channels, max(st.emitted - base, 0) : max(stop - base, 0)]
        st.emitted = max(st.emitted, stop)
        return np.ascontiguousarray(out)

    def _refine(self, win: BlockWindow, feats: Features) -> F32:
        """One block's window of STFT frames [w0, w1) and its features -> its signal (gains, Griffin-Lim),
        `[channels, n_fft + hop * (w1 - w0 - 1)]` from model-rate sample w0 * hop - n_fft / 2.
        Reads the buffers, changes nothing."""
        st, cfg, hop, w0 = self.state, self.model.config, self.model.config.hop, win.w0
        logmag, gain, angle, iters, held, tonal = feats
        mag = (np.exp(logmag) / gain).astype(np.float32, copy=False)
        base = w0 * hop - cfg.n_fft // 2  # the model-rate sample of the window's first sample
        hi = None if st.end is None else st.end.model.samples - base
        tonal = None if tonal is None or not tonal.any() else tonal  # the band modes' rows (6.3): all frames'
        hold = 0 if self.header is None or (self.header.band_rows and tonal is None) else self.header.phase_bins
        match = self.model.energy_match
        y = phase.refine_frames(mag, angle, cfg.n_fft, hop, iters, -base, hi, match, hold, held, tonal)
        if self.highpass:  # no DC or infrasound out, as the encoder let none in, measured over the samples
            # that all their frames cover: at a window's inner edges fewer overlap, and the sum is no signal
            at_end = st.end is not None and win.w1 >= st.end.model.frames
            a = max(0, -base) if w0 == 0 else cfg.n_fft - hop
            b = min(y.shape[1], hi) if at_end and hi is not None else hop * (win.w1 - w0)
            y[:, a:b] = remove_dc(y[:, a:b], cfg.sample_rate)
        return y

    def _crossfade_hops(self) -> int:
        """Blocks refined by Griffin-Lim are joined with a crossfade; plain inverse STFTs join exactly."""
        plain = (h := self.header) is None or h.mode == Mode.STORE_PHASE or self._causal() or self._iters() == 0
        return 0 if plain else CROSSFADE_HOPS

    def _trim(self) -> None:
        """Drop the latents, gains and stored phase that the next block no longer needs."""
        st, cfg = self.state, self.model.config
        assert st.latents is not None and st.gains is not None
        nw0 = max(0, st.block * self.block_frames - (0 if self._causal() else self.margin_frames))
        keep = grid.causal_window_start(cfg, nw0) if self._causal() else max(0, cfg.decoder_steps(nw0, nw0 + 1)[0])
        if keep > st.z0:
            st.latents, st.gains, st.z0 = st.latents[..., keep - st.z0 :], st.gains[:, keep - st.z0 :], keep
        if st.phases is not None and nw0 > st.p0:
            if st.band_held is not None:
                st.band_held = st.band_held[:, nw0 - st.p0 :]
            st.phases, st.p0 = st.phases[..., nw0 - st.p0 :], nw0


