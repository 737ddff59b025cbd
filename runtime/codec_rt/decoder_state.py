"""What a `StreamDecoder` (decoder.py) remembers between pushes: one stream's buffers and positions, how a
block's signal joins the one before it (`join_block`), and which of its samples at the blob's rate are audio
(`audio_part`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from . import tonal
from .blob import BlobHeader
from .config import ModelConfig
from .errors import FormatError
from .grid import StreamEnd
from .latent import Decoded
from .packets import Packet, PacketReader
from .peaks import PeakState
from .phase import crossfade
from .phase_gradient import GradientStart
from .pitch import LowBandPitch
from .resample import StreamResampler
from .tracks import Player, Synth, block_range

F32 = npt.NDArray[np.float32]


@dataclass
class DecoderState:
    """What a `StreamDecoder` remembers between pushes.

    reader: the blob parser (bytes of an unfinished packet). latents: `[channels, C, F', n] float32` latent
    steps from `z0` on, `gains [channels, n]` the level gain of each. phases: stored phase `[channels,
    rows, n]` from STFT frame `p0` on (modes store_phase, all bins, and low_band_phase, its lowest; mode
    tonal_band_phase: its band's paths, `band_held [channels, n]` the bins they hold in each frame, up to a
    stride past `phase_frames`, the frames of the packets received). block:
    the next Griffin-Lim block. tail: the faded-out end of the previous block `[channels, 2 * crossfade]` (a
    causal model: ola, the committed frames' overlap-add over the samples still open, `[channels, n_fft -
    hop]`, last, the last frame committed, `[channels, n_bins] complex64`, steady, the last frames' power
    for `postfilter.steady`, clicks, their energies for `phase.causal_clicks`, and peaks, what
    `peaks.steady_peaks` carries). start: the phase-gradient
    start, carried from block to block.
    emitted: model-rate samples of the coded signal done;
    returned: samples returned at the blob's rate. held: samples decoded at the blob's rate but not returned,
    as they could still be the lead-out (format 1.6). end: the stream's end once the last packet has arrived."""

    reader: PacketReader = field(default_factory=PacketReader)
    latents: F32 | None = None
    gains: F32 | None = None
    z0: int = 0
    steps: int = 0
    phases: F32 | None = None
    band_held: npt.NDArray[np.int32] | None = None
    p0: int = 0
    phase_frames: int = 0
    block: int = 0
    tail: F32 | None = None
    ola: F32 | None = None
    last: npt.NDArray[np.complex64] | None = None
    steady: npt.NDArray[np.float64] | None = None
    clicks: npt.NDArray[np.float64] | None = None
    peaks: PeakState | None = None
    start: GradientStart = field(default_factory=GradientStart)
    pitch: LowBandPitch = field(default_factory=LowBandPitch)
    emitted: int = 0
    returned: int = 0
    end: StreamEnd | None = None
    truncated: bool = False
    finished: bool = False
    drained: bool = False  # every sample returned
    skipped: int = 0  # samples of the lead-in dropped at the blob's rate
    held: F32 | None = None
    resampler: StreamResampler | None = None
    tracks: list[Player] | None = None  # format 1.12: each coded channel's sinusoidal tracks
    track_pos: int = 0  # the model-rate sample the next decoded samples start at


def append_packet(st: DecoderState, p: Packet, decoded: Decoded, h: BlobHeader, cfg: ModelConfig) -> None:
    """Append a packet's latents, gains and stored phase (`decoded` from its sections) to `st`'s buffers;
    in mode tonal_band_phase its band's paths (`tonal.paths`; FormatError for one past the stream's end)."""
    assert st.latents is not None and st.gains is not None
    if h.band_rows:
        _append_band(st, p, h, cfg)
    if h.track_frames:
        _append_tracks(st, p, h, cfg)
    lat, gain, ph = decoded
    gains = np.repeat(gain[:, None], p.steps, axis=1)
    # (the first packet, or a whole-layout blob, is taken as is: no copy of a whole file's latent)
    st.latents = lat if not st.latents.shape[-1] else np.concatenate([st.latents, lat], axis=-1)
    st.gains = gains if not st.gains.shape[-1] else np.concatenate([st.gains, gains], axis=-1)
    st.steps += p.steps
    if st.phases is not None and ph is not None:
        st.phases = np.concatenate([st.phases, ph], axis=-1)
        st.phase_frames += p.n_frames


def _append_tracks(st: DecoderState, p: Packet, h: BlobHeader, cfg: ModelConfig) -> None:
    """A packet's track blocks (FORMAT.md 4.9): a packet without track fields holds none, and no track may
    be alive then; a field's count of tracks alive must be the decoder's (FormatError, `tracks.Follower`)."""
    if st.tracks is None:
        st.tracks = [Player(Synth(h.track_frames * cfg.hop)) for _ in range(h.channels)]
    first = p.index * h.packet_steps * h.time_stride  # FORMAT.md 4.5: packet k's first frame; whole: 0
    for player, ch in zip(st.tracks, p.channels, strict=True):
        player.push(p.index, block_range(first, p.n_frames, h.track_frames), ch.tracks)


def add_tracks(st: DecoderState, y: F32) -> F32:
    """The next decoded model-rate samples of the coded channels, `y [channels, n]`, with their tracks added
    (in place; FORMAT.md 6.10)."""
    if st.tracks is not None:
        for player, row in zip(st.tracks, y, strict=True):
            player.add_to(row, st.track_pos)
    st.track_pos += y.shape[1]
    return y


def _append_band(st: DecoderState, p: Packet, h: BlobHeader, cfg: ModelConfig) -> None:
    """A tonal band's packet: its paths over its frames and up to a stride past them, merged with what the
    packet before held there (its last interval's end, the same anchor)."""
    assert st.phases is not None and st.band_held is not None
    first = p.index * h.packet_steps * h.time_stride  # FORMAT.md 4.5: packet k's first frame; whole: 0
    at = first - st.p0
    grow = at + p.n_frames + h.phase_stride - st.phases.shape[-1]
    if grow > 0:
        st.phases = np.pad(st.phases, ((0, 0), (0, 0), (0, grow)))
        st.band_held = np.pad(st.band_held, ((0, 0), (0, grow)))
    st.phase_frames += p.n_frames
    if p.last and st.band_held[:, at + p.n_frames :].any():  # the packet before held past the end (4.8)
        raise FormatError("a tonal band interval is held past the stream's last frame")
    if all(ch.band is None for ch in p.channels):  # a packet that holds nothing (its flags say so)
        return
    paths = [tonal.paths(ch.band, first, p.n_frames, h.phase_stride, h.phase_bits, cfg.hop, cfg.n_fft, p.last)
             for ch in p.channels if ch.band is not None]
    ph, held = np.stack([a for a, _ in paths]), np.stack([b for _, b in paths])
    span = slice(at, at + ph.shape[-1])
    new = np.arange(ph.shape[1])[None, :, None] < held[:, None, :]
    st.phases[..., span] = np.where(new, ph, st.phases[..., span])
    np.maximum(st.band_held[:, span], held, out=st.band_held[:, span])


def stored_band(st: DecoderState, h: BlobHeader, w0: int, w1: int
                ) -> tuple[F32 | None, npt.NDArray[np.int32] | None]:
    """Frames [w0, w1) of a blob's band: (phase `[channels, phase_bins, frames]`, and in mode
    tonal_band_phase the bins each frame holds `[channels, frames]`), or None where it has none."""
    if not h.phase_bins or st.phases is None:
        return None, None
    held = None if st.band_held is None else st.band_held[:, w0 - st.p0 : w1 - st.p0]
    return st.phases[..., w0 - st.p0 : w1 - st.p0], held


def hold_band(angle: F32, low: F32, held: npt.NDArray[np.int32] | None) -> npt.NDArray[np.int32] | None:
    """Put a band's phase `low [channels, rows, frames]` into the start phase `angle [channels, F, frames]`:
    all of it (mode low_band_phase), or the bins [0, held[t]) of each frame t (a tonal band) -> `held`."""
    rows = low.shape[1]
    if held is None:
        angle[:, :rows] = low
    else:
        angle[:, :rows] = np.where(np.arange(rows)[None, :, None] < held[:, None, :], low, angle[:, :rows])
    return held


def join_block(st: DecoderState, cfg: ModelConfig, block_frames: int, crossfade_hops: int, y: F32, w0: int) -> F32:
    """Block `st.block`'s signal `y` (from model-rate sample w0 * hop - n_fft / 2) -> its final model-rate
    samples (from `emitted` on): the crossfade of `crossfade_hops` hops with the previous block's faded-out
    end, its middle, and its own end faded out and kept for the next. Advances `emitted`, not `block`."""
    b, hop = st.block, cfg.hop
    base = w0 * hop - cfg.n_fft // 2
    v = crossfade_hops * hop
    fade_in, fade_out = crossfade(v)
    start = b * block_frames * hop
    last = st.end is not None and (b + 1) * block_frames >= st.end.model.frames
    stop = st.end.model.samples if last and st.end is not None else (b + 1) * block_frames * hop - v
    out = y[:, max(st.emitted, 0) - base : stop - base].copy()
    if b > 0 and st.tail is not None:
        lo = start - v - st.emitted  # where the crossfade starts in `out`
        n = min(2 * v, out.shape[1] - lo)
        out[:, lo : lo + n] = out[:, lo : lo + n] * fade_in[:n] + st.tail[:, :n]
    if not last:
        e = (b + 1) * block_frames * hop
        st.tail = y[:, e - v - base : e + v - base] * fade_out
    st.emitted = stop
    return out


def audio_part(st: DecoderState, h: BlobHeader, cfg: ModelConfig, out: F32, done: bool) -> F32:
    """The next decoded samples at the blob's rate `[C, n]` -> those that are audio and can be returned
    now (FORMAT.md 6.7): the lead-in dropped (there, so that the resampler sees no step either); until the
    stream's end is known, none that could be the lead-out (held: the stream goes on past the steps that
    have arrived, so its audio ends no earlier than post_skip model-rate samples before them); at the end,
    exactly `num_samples` in all. Updates `st`."""
    lead = max(h.lead_in_samples(cfg.sample_rate) - st.skipped, 0)
    out, st.skipped = out[:, lead:], st.skipped + min(lead, out.shape[1])
    if st.held is not None:
        out, st.held = np.concatenate([st.held, out], axis=1), None
    if done:
        assert st.end is not None
        room = st.end.samples - st.returned
        if out.shape[1] > room:
            out = out[:, : max(room, 0)]
        elif out.shape[1] < room:
            out = np.pad(out, ((0, 0), (0, room - out.shape[1])))
    elif h.post_skip:
        audio_end = (st.steps * cfg.time_stride * cfg.hop - h.post_skip - h.pre_skip) * h.sample_rate
        keep = min(out.shape[1], max(0, audio_end // cfg.sample_rate - st.returned))
        out, st.held = out[:, :keep], out[:, keep:]
    st.returned += out.shape[1]
    return out
