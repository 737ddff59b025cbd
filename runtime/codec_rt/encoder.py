"""The encoder engine: audio `[C, N]` at any rate -> blob bytes, whole (`encode_whole`) or as a stream of
packets (`StreamEncoder`), on a loaded `Model`.

Per audio channel (channels are coded independently, one after another): resample to the model rate (soxr),
remove DC and infrasound, scale to the model's level (`level.py`), STFT, encoder graph, then `latent.sections`
by the model's coder.

A stream keeps an explicit state (`StreamEncoder.state`, as Silero VAD passes its state in and out): one
loaded model serves any number of streams, and a state can be kept, swapped in or started afresh. Packet k
is coded from a window of STFT frames that covers the receptive field of its latent steps (`grid.py`), with
its own level gain over the packet's own samples (a whole-file gain is not streamable) applied to its whole
window, so a stream pushed in chunks of any sizes gives the same bytes, bit for bit, as
`Codec.encode(framed=True)` of the whole audio.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from . import blob, grid, latent, stft, tonal, track_analysis
from .audio import as_audio, check_channels, check_rate, to_coded
from .config import Coder, ModelConfig
from .errors import CodecError, check_int
from .grid import End
from .lead import lead_in, lead_out
from .level import Loudness, input_gain, packet_gains, remove_dc, window_capped
from .model import (
    HasModel,
    Model,
    default_workers,
    low_band_of,
    mode_of,
    model_of,
    pool,
    rate_lambda_of,
    tracks_of,
)
from .packets import Totals, write_packet
from .resample import StreamResampler, resample
from .tracks import Block, block_range, lookahead

F32 = npt.NDArray[np.float32]


def encode_whole(model: Model, audio: npt.ArrayLike, sample_rate: int, opts: latent.Options) -> bytes:
    """audio `[C, N] float` at `sample_rate` Hz -> a whole-layout blob: one gain per channel over the coded
    signal (a non-causal model's lead-in, the audio, its lead-out: `latent.lead_lengths`, made at the
    input's rate as the framed encoder makes them, so that short sounds keep their level).
    AudioError for audio the codec does not take (`audio.as_audio`, `audio.check_rate`)."""
    cfg = model.config
    x = as_audio(audio)
    rate = check_rate(sample_rate)
    n_ch, n = x.shape
    header = latent.header_for(model, opts, rate, n_ch, num_samples=n)
    coded = to_coded(x, header.stereo)
    if n_lead := header.lead_in_samples(cfg.sample_rate):
        coded = np.concatenate([lead_in(coded, n_lead), coded, lead_out(coded, n_lead)], axis=1)
    xm = remove_dc(resample(coded, rate, cfg.sample_rate, header.coded_length(cfg.sample_rate)), cfg.sample_rate)
    gains = input_gain(xm)  # the input's level, tracks and all (FORMAT.md 7.8)
    track_blocks = None
    if header.track_frames:  # the model codes what the tracks leave (tracks.py)
        last = len(block_range(0, header.n_frames, header.track_frames)) - 1
        pairs = [track_analysis.analyse(c, cfg.sample_rate, header.track_frames * cfg.hop,
                                        lookahead(cfg.n_fft, cfg.hop), last) for c in xm]
        xm = np.stack([r for r, _ in pairs])
        track_blocks = [b for _, b in pairs]
    spec = stft.stft(xm * gains[:, None], cfg.n_fft, cfg.hop)  # [C, F, T]
    feats = stft.to_features(spec, bool(cfg.phase_floor))
    z = model.encode(feats)  # [C, Lc, Lf, steps]
    assert (spec.shape[2], z.shape[3]) == (header.n_frames, header.latent_steps)
    phase = np.angle(spec[:, : header.phase_rows]) if header.phase_rows else None
    bands = _bands(header, cfg, spec, 0, 0, header.n_frames, header.n_frames - 1)
    z_coded = None
    weights = _step_power(header, feats, z.shape[-1], cfg.time_stride, opts.fitted_scales, opts.rate_lambda)
    flatness = latent.spectral_flatness(feats[:, 0], 0, header.n_frames) if cfg.causal else None
    if opts.level_match and matched(bands, opts.rate_lambda, flatness, track_blocks):
        z_coded = latent.decoded_latent(model, header, z, opts.rate_lambda, weights=weights)
        gains = latent.matched_gains(model, z_coded, gains, feats[:, 0], 0, header.n_frames)
    return blob.write(header, latent.sections(model, header, z, gains, phase, rate_lambda=opts.rate_lambda,
                                              bands=bands, coded=z_coded, weights=weights,
                                              track_blocks=track_blocks))


def _step_power(header: blob.BlobHeader, feats: F32, steps: int, stride: int, fitted_scales: bool,
                rate_lambda: float) -> npt.NDArray[np.float64] | None:
    """Each latent step's input power (`latent.step_power` of the features `[C, 2, F, T]`) where the coding
    weighs it: a fixed-width latent's fitted scales, rate-aware rounding's transients; else None."""
    used = (header.coder == Coder.FIXED and fitted_scales) or rate_lambda > 0
    return latent.step_power(feats[:, 0], steps, stride) if used else None


def matched(bands: list[tonal.Band] | None, rate_lambda: float, flatness: float | None = None,
            tracks: list[list[Block]] | None = None) -> bool:
    """Whether a section's gain is matched to the decoded level (FORMAT.md 7.7, `latent.matched_gains`): where
    a channel holds tonal bands (a steady sound, whose level error is heard as such) or the latent is rounded
    rate-aware (which pulls the level down); with a causal model's `flatness` (`latent.spectral_flatness`),
    where its input is not noise-like and no channel holds `tracks` (a tone's first blocks, before its track
    starts, are all the model has of it there, and matched over them alone come out louder than its track:
    docs/MEASURED.md, "Sinusoidal tracks"). Not on every section of a non-causal model: the decoder graph run on
    each slowed encoding (docs/MEASURED.md)."""
    if tracks is not None and any(not b.empty for c in tracks for b in c):
        return False
    causal = flatness is not None and flatness < latent.MATCH_FLATNESS
    return causal or rate_lambda > 0 or (bands is not None and any(b.flags.any() for b in bands))


def _bands(header: blob.BlobHeader, cfg: ModelConfig, spec: npt.NDArray[np.complex64], window_first: int,
           first_frame: int, n_frames: int, last_frame: int | None) -> list[tonal.Band] | None:
    """Mode tonal_band_phase: each channel's band over frames `[first_frame, first_frame + n_frames)` from
    `spec [C, F, T]`, the stream's frames from `window_first` on (`tonal.analyse`); else None."""
    rows = header.band_rows
    if not rows:
        return None
    return [tonal.analyse(spec[c, : rows + 1], rows, window_first, first_frame, n_frames, header.phase_stride,
                          header.phase_bits, cfg.hop, cfg.n_fft, last_frame) for c in range(spec.shape[0])]


@dataclass
class EncoderState:
    """What a `StreamEncoder` remembers between pushes.

    samples: `[channels, n] float32` model-rate samples of the coded signal (the lead-in, the audio, then
    the lead-out) from index `start` on (what later packets need). head: the audio's first samples at its
    own rate, held until the lead-in can be made from them; None once it is. tail: its last samples at its
    own rate, as many as the lead-out has (made from them at the end). received: input samples pushed so
    far, per channel. next_packet: the next packet to write. tracks: each coded channel's sinusoidal tracks
    (format 1.12), which take their share out of the samples as they arrive; None without. inputs: with
    tracks, the samples before they took it, from `start` on (the level gains are the input's).
    resampler: the streaming resampler (holding soxr's state when the input rate is not the model's, which
    cannot be copied; every other state can, with copy.deepcopy).
    """

    samples: F32
    resampler: StreamResampler
    start: int = 0
    received: int = 0
    next_packet: int = 0
    header_sent: bool = False
    finished: bool = False
    head: F32 | None = None
    tail: F32 | None = None
    tracks: list[track_analysis.Analyzer] | None = None
    inputs: F32 | None = None


class StreamEncoder:
    """Audio in, framed blob bytes out, in bounded memory.

        enc = StreamEncoder(codec, sample_rate=16000, channels=1)   # a Codec, or a Model
        for chunk in chunks:                 # [channels, n] float32 in [-1, 1], any n (20 ms, 1 s, ...)
            out.write(enc.push(chunk))       # the header, then each packet as soon as it is complete
        out.write(enc.flush())               # the last packet (with the stream's length)

    The concatenated bytes equal `codec.encode(audio, sample_rate, framed=True)` of the whole audio, given
    that audio's `level` (below).
    `mode`: as `Codec.encode`'s (None: the codec's `mode`; "predicted" for a bare `Model`); `rate_lambda`,
    and in modes low_band_phase and tonal_band_phase `phase_bins` and `phase_bits`, likewise (None: the
    codec's; the model's defaults for a bare `Model`).
    Packets that a push completes together are coded on `workers` threads (default: the model's thread
    count, else up to 4). `joint_stereo`: a pair as mid/side (format 1.4; a stream cannot look ahead to
    choose, see `Codec.encode`). `level`: the whole stream's `Loudness` where it is known first (a file); each
    packet's gain then stays near the stream's (`level.packet_gains`), so a quiet background keeps its level
    beside loud packets; None (a live stream): each packet's own. `level_match`: store the gain that brings
    the decoded level to the input's where `matched` says (`latent.matched_gains`), and hold a non-causal
    model's packet's own gain to at most twice that of its window from its own first sample on
    (`level.window_capped`); False: the
    gain applied stored, the own gain not held so (as every release before 2026-12-04 wrote).
    `fitted_scales`: as `Codec.encode`'s. `tracks`: as `Codec.encode`'s (None: the codec's; False for a bare
    `Model`).
    Raises AudioError for a bad rate, channel count or chunk, CodecError for bad options.
    """

    def __init__(
        self,
        model: Model | HasModel,
        sample_rate: int,
        channels: int,
        *,
        mode: str | int | None = None,
        bits: int | None = None,
        phase_bits: int | None = None,
        packet_steps: int | None = None,
        workers: int | None = None,
        joint_stereo: bool = False,
        level: Loudness | None = None,
        phase_bins: int | None = None,
        rate_lambda: float | None = None,
        level_match: bool = True,
        fitted_scales: bool = True,
        tracks: bool | None = None,
    ) -> None:
        self.model = model_of(model)
        cfg = self.config = self.model.config
        lam = rate_lambda_of(model) if rate_lambda is None else rate_lambda
        mode = mode_of(model) if mode is None else mode
        phase_bins, phase_bits = low_band_of(model, mode, phase_bins, phase_bits)
        opts = latent.coding_options(cfg, bits, mode, phase_bits, joint_stereo, phase_bins, lam,
                                     tracks_of(model) if tracks is None else tracks)
        self.rate_lambda = opts.rate_lambda
        self.level_match = bool(level_match)  # FORMAT.md 7.7
        self.fitted_scales = bool(fitted_scales)
        self.channels, self.sample_rate = check_channels(channels), check_rate(sample_rate)
        steps = grid.packet_steps_for(cfg) if packet_steps is None else packet_steps
        self.packet_steps = steps = check_int("packet_steps", steps, 1, 0xFFFF)
        self.workers = default_workers(self.model, workers)
        self.header = latent.header_for(self.model, opts, self.sample_rate, self.channels, packet_steps=int(steps))
        if level is not None and level.n and level.sums.size != self.channels:
            raise CodecError(f"level was measured over {level.sums.size} channel(s), the stream has {self.channels}")
        # a level of no samples (an empty file) holds nothing: each packet keeps its own gain
        self.reference = level.gains(self.header.stereo) if level is not None and level.n else None
        self.state = self.initial_state()

    def initial_state(self) -> EncoderState:
        """A fresh state: nothing pushed yet."""
        cfg, h = self.config, self.header
        tracks = [track_analysis.Analyzer(cfg.sample_rate, h.track_frames * cfg.hop, lookahead(cfg.n_fft, cfg.hop))
                  for _ in range(self.channels)] if h.track_frames else None
        return EncoderState(np.zeros((self.channels, 0), np.float32),
                            StreamResampler(self.sample_rate, self.config.sample_rate, self.channels),
                            head=np.zeros((self.channels, 0), np.float32),
                            tail=np.zeros((self.channels, 0), np.float32), tracks=tracks,
                            inputs=None if tracks is None else np.zeros((self.channels, 0), np.float32))

    def reset(self) -> None:
        """Forget the stream: the next push starts a new one (with its own header)."""
        self.state = self.initial_state()

    @property
    def packet_seconds(self) -> float:
        cfg = self.config
        return self.packet_steps * cfg.time_stride * cfg.hop / cfg.sample_rate

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency of a stream from this encoder through a default `StreamDecoder`, in ms."""
        return grid.stream_latency_ms(self.config, self.packet_steps)

    def push(self, chunk: npt.ArrayLike) -> bytes:
        """`chunk [channels, n]` float samples (or `[n]` for one channel) -> the bytes now complete
        (the header on the first call, then whole packets; often b"")."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was flushed; reset() to start a new one")
        x = as_audio(chunk, self.channels)
        st.received += x.shape[1]
        self._resample(to_coded(x, self.header.stereo))
        out = [self._header_bytes()]
        # soxr holds back its filter's delay until the last chunk; this guard keeps a packet from reading
        # samples the final length could still cut off.
        available = st.start + st.samples.shape[1] - (0 if st.resampler.identity else 64)
        ready = st.next_packet
        while grid.samples_needed(self.config, self.packet_steps, ready) <= available:
            ready += 1
        out += self._packets(range(st.next_packet, ready), None)
        return b"".join(out)

    def flush(self) -> bytes:
        """End of the stream -> the remaining packets, the last one with the stream's length."""
        st = self.state
        if st.finished:
            raise CodecError("this stream was already flushed; reset() to start a new one")
        cfg, h = self.config, self.header
        x = self._release_head() if st.head is not None else np.zeros((self.channels, 0), np.float32)
        if h.post_skip:  # the lead-out, continued from the audio's last samples
            assert st.tail is not None
            x = np.concatenate([x, lead_out(st.tail, h.lead_out_samples(cfg.sample_rate))], axis=1)
        self._append(st.resampler.process(x, last=True))
        # the coded signal (lead-in, audio, lead-out) of the header the last packet completes
        coded = replace(h, num_samples=st.received).coded_length(cfg.sample_rate)
        n_frames = stft.n_frames(coded, cfg.hop)
        if st.tracks is not None:  # the rest of the residual, and the blocks up to the last frame's
            last = len(block_range(0, n_frames, h.track_frames)) - 1
            rest = np.stack([a.finish(coded, last) for a in st.tracks])
            st.samples = np.concatenate([st.samples, rest], axis=1)
        for name in ("samples", "inputs") if st.inputs is not None else ("samples",):
            buf = getattr(st, name)
            have = st.start + buf.shape[1]
            if have > coded:
                setattr(st, name, buf[:, : max(0, coded - st.start)])
            elif have < coded:
                setattr(st, name, np.pad(buf, ((0, 0), (0, coded - have))))
        end = End(coded, n_frames, cfg.latent_steps(n_frames))
        n_packets = -(-end.steps // self.packet_steps)
        out = [self._header_bytes(), *self._packets(range(st.next_packet, n_packets), end)]
        st.finished = True
        return b"".join(out)

    # ---------------------------------------------------------------------------------- internals

    def _append(self, y: F32) -> None:
        st = self.state
        if y.shape[1]:
            if st.tracks is not None and st.inputs is not None:
                st.inputs = np.concatenate([st.inputs, y], axis=1)
                y = np.stack([a.process(c) for a, c in zip(st.tracks, y, strict=True)])
            st.samples = np.concatenate([st.samples, y], axis=1)

    def _resample(self, x: F32) -> None:
        """Coded channels at the input rate -> the buffer at the model rate, the lead-in first: the audio's
        first samples are held until there are as many as the lead-in has (or the stream ends); its last
        ones are kept for the lead-out."""
        st = self.state
        n_out = self.header.lead_out_samples(self.config.sample_rate)
        if n_out and st.tail is not None and x.shape[1]:
            st.tail = np.concatenate([st.tail, x], axis=1)[:, -n_out:]
        if st.head is not None:
            st.head = np.concatenate([st.head, x], axis=1)
            if st.head.shape[1] < self.header.lead_in_samples(self.config.sample_rate):
                return
            x = self._release_head()
        self._append(st.resampler.process(x))

    def _release_head(self) -> F32:
        """The held first samples, after the lead-in made from them (zeros after them where the stream ended
        before there were as many as it has)."""
        st = self.state
        assert st.head is not None
        x = np.concatenate([lead_in(st.head, self.header.lead_in_samples(self.config.sample_rate)), st.head], axis=1)
        st.head = None
        return x

    def _header_bytes(self) -> bytes:
        if self.state.header_sent:
            return b""
        self.state.header_sent = True
        return self.header.pack(0)

    def _segment(self, a: int, b: int, inputs: bool = False) -> F32:
        """Model-rate samples [a, b) from the buffer (with `inputs`, of the input before the tracks took
        their share) without their DC (`level.remove_dc` over the samples there), zeros before 0 and past
        the buffer's end (as the whole-file STFT pads)."""
        st = self.state
        buf = st.inputs if inputs and st.inputs is not None else st.samples
        out = np.zeros((self.channels, b - a), np.float32)
        lo, hi = max(a, st.start), min(b, st.start + buf.shape[1])
        if hi > lo:
            out[:, lo - a : hi - a] = remove_dc(buf[:, lo - st.start : hi - st.start], self.config.sample_rate)
        return out

    def _packets(self, ks: range, end: End | None) -> list[bytes]:
        """Code the packets `ks` -> their bytes, then drop the samples no later packet reads. Packets ready
        together are coded on `workers` threads (each packet's arithmetic is the same on any thread)."""
        if len(ks) > 1 and self.workers > 1:
            out = list(pool(self.workers).map(lambda k: self._packet(k, end), ks))
        else:
            out = [self._packet(k, end) for k in ks]
        if not ks:
            return out
        st, cfg = self.state, self.config
        st.next_packet = ks[-1] + 1
        nt0 = grid.packet_window(cfg, self.packet_steps, st.next_packet, end).t0
        keep = min(nt0 * cfg.hop - cfg.n_fft // 2, st.next_packet * self.packet_steps * cfg.time_stride * cfg.hop)
        if keep > st.start:
            st.samples = st.samples[:, min(keep - st.start, st.samples.shape[1]) :]
            if st.inputs is not None:
                st.inputs = st.inputs[:, min(keep - st.start, st.inputs.shape[1]) :]
            st.start = keep
        if st.tracks is not None:
            first = block_range(0, st.next_packet * self.packet_steps * cfg.time_stride, self.header.track_frames).stop
            for a in st.tracks:
                a.drop_before(first)
        return out

    def _packet(self, k: int, end: End | None) -> bytes:
        """Code packet k -> its bytes (reads the state, changes nothing)."""
        cfg, h = self.config, self.header
        s, hop, half = cfg.time_stride, cfg.hop, cfg.n_fft // 2
        j0, j1, t0, t1 = grid.packet_window(cfg, self.packet_steps, k, end)
        span_end = j1 * s * hop if end is None else min(j1 * s * hop, end.samples)
        seg = self._segment(t0 * hop - half, (t1 - 1) * hop + half)
        own = j0 * s * hop - (t0 * hop - half)  # the packet's own samples in the window
        # the input's level, tracks and all: a residual the tracks left 25 dB down is coded that far down
        level = seg if self.state.inputs is None else self._segment(t0 * hop - half, (t1 - 1) * hop + half, True)
        own_gain = input_gain(level[:, own : own + span_end - j0 * s * hop])
        if self.level_match and not cfg.causal:  # non-causal models only (FORMAT.md 7.6)
            own_gain = window_capped(own_gain, input_gain(level[:, own:]))
        gains = packet_gains(own_gain, self.reference)
        spec = stft.frames_of(seg * gains[:, None], cfg.n_fft, hop, t1 - t0)  # [C, F, t1 - t0]
        feats = stft.to_features(spec, bool(cfg.phase_floor))
        zw = self.model.encode(feats)
        z = zw[..., j0 - t0 // s : j1 - t0 // s]
        f0 = j0 * s - t0
        n_frames = (j1 * s if end is None else min(j1 * s, end.frames)) - j0 * s
        phase = np.angle(spec[:, : h.phase_rows, f0 : f0 + n_frames]) if h.phase_rows else None
        bands = _bands(h, cfg, spec, t0, j0 * s, n_frames, None if end is None else end.frames - 1)
        if bands is not None and not any(b.flags.any() for b in bands):
            bands = None  # a packet that holds nothing leaves its bands out (FORMAT.md 4.5)
        last = end is not None and j1 == end.steps
        z_coded = None
        a, b = j0 - t0 // s, j1 - t0 // s  # the packet's steps in the window
        weights = _step_power(h, feats, zw.shape[-1], s, self.fitted_scales, self.rate_lambda)
        flatness = latent.spectral_flatness(feats[:, 0], f0, n_frames) if cfg.causal else None
        blocks = self._track_blocks(j0 * s, n_frames)
        if self.level_match and matched(bands, self.rate_lambda, flatness, blocks):  # the window's: the graph's context
            window = latent.decoded_latent(self.model, h, zw, self.rate_lambda, (a, b), weights)
            gains = latent.matched_gains(self.model, window, gains, feats[:, 0], f0, n_frames)
            z_coded = window[..., a:b]  # the packet's own symbols, as `sections` would round them
        totals = Totals(self.state.received, end.frames, end.steps) if last and end is not None else None
        return write_packet(k, latent.sections(self.model, h, z, gains, phase, j0 * s, self.rate_lambda, bands,
                                               z_coded, None if weights is None else weights[:, a:], blocks),
                            totals, bands is not None, blocks is not None)

    def _track_blocks(self, first_frame: int, n_frames: int) -> list[list[Block]] | None:
        """Each channel's track blocks that start in frames `[first_frame, first_frame + n_frames)`; None
        where none holds a track (the packet then leaves its track fields out: FORMAT.md 4.5)."""
        if self.state.tracks is None:
            return None
        rng = block_range(first_frame, n_frames, self.header.track_frames)
        out = [[a.blocks[i] for i in rng] for a in self.state.tracks]
        return out if any(not b.empty for c in out for b in c) else None
