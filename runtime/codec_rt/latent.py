"""Latent <-> channel sections, for every coder: the one place that turns the encoder graph's output into
a blob's bytes and a blob's sections back into the decoder graph's input. Also the blob header of a model.

Per audio channel (docs/FORMAT.md, "From symbols to decoder features"):
- coder 0 (`Coder.FIXED`): per-latent-channel uniform quantization at `bits` (`quantize.py`);
- coders 1 and 2: the latent rounded to integers, clipped to the tables' ranges, range-coded with the
  model's entropy tables (`entropy.py`);
- mode store_phase: the STFT phase quantized at `phase_bits` on the circle; mode low_band_phase: the same for
  the lowest `phase_bins` bins alone (format 1.8); from format 1.10 on dithered (`quantize.phase_dither`);
  mode tonal_band_phase: those bins' tonal band (format 1.11, `tonal.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import entropy, lead, stft, tonal
from .blob import PHASE_DITHER_MINOR, TONAL_MINOR, TRACKS_MINOR, BlobHeader
from .config import Coder, Layout, Mode, ModelConfig, Stereo
from .errors import CodecError, FormatError
from .level import GAIN_GRID_DB, GAIN_SMOOTHING_STEPS, MAX_GAIN, MIN_GAIN
from .model import Model
from .quantize import MIN_ENCODE_BITS, check_bits, dequantize, dequantize_phase, phase_dither, quantize, quantize_phase
from .resample import model_length
from .section import ChannelData, channel_section
from .tracks import Block as TrackBlock
from .tracks import default_frames as default_track_frames

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
DEFAULT_PHASE_BITS = 8
# Mode low_band_phase: the phase of the bins up to 700 Hz (22 at 512 / 16 kHz) at 4 bits, 11 kbps. Measured
# (docs/TRAINING.md, "The low band's phase"): 3 bits lose 0.17 PESQ-WB of what 4 gain, 24 bins gain 0.005 more.
LOW_BAND_PHASE_BITS = 4
LOW_BAND_PHASE_HZ = 700.0
# A causal model's frames come 4 times as often (hop 64 at 16 kHz): the bins up to 450 Hz (7 at 256 / 16 kHz)
# at 3 bits, 5.25 kbps, keep the low-latency point within its 12 kbps; with the band's pitch starting voiced
# frames (FORMAT.md 6.5) an eighth bin gained 0.016 PESQ-WB for 0.75 kbps, and 2 bits lose the pitch
# (docs/TRAINING.md, "The low band's pitch").
CAUSAL_LOW_BAND_PHASE_BITS = 3
CAUSAL_LOW_BAND_PHASE_HZ = 450.0
# A non-causal model's lead-in (docs/FORMAT.md 7.1), in STFT frames: shorter ones tried left the start of a
# tone louder than its middle (docs/fidelity.md).
LEAD_IN_FRAMES = 16
MAX_LOGMAG = 12.0  # the decoded log-magnitude's ceiling, about +100 dB over the model's working level


class Options(NamedTuple):
    """What an encoder writes besides the audio: the mode, the bits of latent and phase codes, and whether a
    pair of channels is coded as mid and side."""

    mode: Mode
    bits: int  # latent bits per value with coder 0; 0 when range-coded
    phase_bits: int  # 0 unless the mode stores the phase
    joint_stereo: bool = False
    phase_bins: int = 0  # modes low_band_phase and tonal_band_phase: the coded bins [0, phase_bins)
    rate_lambda: float = 0.0  # range-coded models: > 0 rounds the latent rate-aware (`entropy.rate_aware_symbols`)
    phase_stride: int = 0  # mode tonal_band_phase: frames from one anchor to the next (`tonal.py`)
    level_match: bool = True  # store the gain that brings the decoded level to the input's (`matched_gains`)
    fitted_scales: bool = True  # coder 0: scales fitted to the values (`quantize.fitted_scales`), else max-norm
    track_frames: int = 0  # > 0: sinusoidal tracks in blocks of this many STFT frames (format 1.12, `tracks.py`)


def low_band_bins(cfg: ModelConfig, hz: float | None = None) -> int:
    """The STFT bins [0, n) that mode low_band_phase codes by default: those up to `hz` (Hz; None: 700, 450
    for a causal model), `round(hz * n_fft / sample_rate)`, at least 1."""
    hz = (CAUSAL_LOW_BAND_PHASE_HZ if cfg.causal else LOW_BAND_PHASE_HZ) if hz is None else hz
    return max(1, min(cfg.n_bins, round(hz * cfg.n_fft / cfg.sample_rate)))


def coding_options(cfg: ModelConfig, bits: int | None = None, mode: str | int = "predicted",
                   phase_bits: int | None = None, joint_stereo: bool = False,
                   phase_bins: int | None = None, rate_lambda: float = 0.0, tracks: bool = False) -> Options:
    """Check an encoder's options against the model -> the `Options` to write, with sinusoidal tracks
    (`tracks.default_frames` to a block) where `tracks`. CodecError for `tracks` other than a bool."""
    if not isinstance(tracks, (bool, np.bool_)):
        raise CodecError(f"tracks must be True or False, got {tracks!r}")
    opts = _options(cfg, bits, mode, phase_bits, joint_stereo, phase_bins, rate_lambda)
    return opts._replace(track_frames=default_track_frames(cfg.n_fft, cfg.hop) if tracks else 0)


def _options(cfg: ModelConfig, bits: int | None, mode: str | int, phase_bits: int | None, joint_stereo: bool,
             phase_bins: int | None, rate_lambda: float) -> Options:
    """`coding_options` but tracks. `phase_bits` (default 8 in
    mode store_phase; in low_band_phase 4, 3 for a causal model; in tonal_band_phase `tonal.DEFAULT_BITS`)
    and `phase_bins` (low_band_phase: `low_band_bins`; tonal_band_phase: those up to `tonal.DEFAULT_HZ`).
    CodecError: `bits` with a range-coded model (its rate is the model's), bits outside
    3..16 (`quantize.MIN_ENCODE_BITS`), phase_bits outside 1..16 (1..8 in tonal_band_phase) or in mode
    predicted (no phase is stored), phase_bins other than an integer in 1..n_bins or outside the two band
    modes, mode tonal_band_phase with a causal model (its path looks a stride ahead), an unknown mode, a
    `rate_lambda` (`entropy.rate_aware_symbols`) other than a number in 0..`entropy.MAX_RATE_LAMBDA`, or
    above 0 with a fixed-width model (it has no entropy tables to weigh)."""
    lam = entropy.check_rate_lambda(rate_lambda)
    if lam and cfg.coder == Coder.FIXED:
        raise CodecError("rate_lambda is for a range-coded model: a fixed-width one has no entropy tables")
    if cfg.coder != Coder.FIXED:
        if bits is not None:
            raise CodecError("this model is range-coded: its rate is the model's, and bits are for a fixed-width "
                             "model (--bits without --model picks the shipped one)")
        bits = 0
    else:
        bits = cfg.default_bits if bits is None else bits
        check_bits(bits)
        if bits < MIN_ENCODE_BITS:
            raise CodecError(f"bits must be at least {MIN_ENCODE_BITS} to encode, got {bits}: with fewer no code "
                             "lies near zero and the audio comes back at full scale")
    m = Mode.parse(mode)
    banded = m in (Mode.LOW_BAND_PHASE, Mode.TONAL_BAND_PHASE)
    if phase_bins is not None and not banded:  # an option that would do nothing is a mistake
        raise CodecError(f"phase_bins is for modes low_band_phase and tonal_band_phase, not {m.name.lower()}")
    if m == Mode.TONAL_BAND_PHASE and cfg.causal:
        raise CodecError("mode tonal_band_phase needs a non-causal model: its phase path looks a stride ahead")
    if m == Mode.PREDICTED:
        if phase_bits is not None:
            raise CodecError("phase_bits is for modes store_phase and low_band_phase: mode predicted stores no phase")
        return Options(m, int(bits), 0, bool(joint_stereo), rate_lambda=lam)
    if phase_bits is None:
        low = CAUSAL_LOW_BAND_PHASE_BITS if cfg.causal else LOW_BAND_PHASE_BITS
        phase_bits = {Mode.LOW_BAND_PHASE: low, Mode.TONAL_BAND_PHASE: tonal.DEFAULT_BITS}.get(m, DEFAULT_PHASE_BITS)
    check_bits(phase_bits)
    if m == Mode.STORE_PHASE:
        return Options(m, int(bits), int(phase_bits), bool(joint_stereo), rate_lambda=lam)
    if phase_bins is not None and (isinstance(phase_bins, bool) or not isinstance(phase_bins, (int, np.integer))):
        raise CodecError(f"phase_bins must be an integer, got {phase_bins!r}")
    hz = tonal.DEFAULT_HZ if m == Mode.TONAL_BAND_PHASE else None
    rows = low_band_bins(cfg, hz) if phase_bins is None else int(phase_bins)
    if not 1 <= rows <= cfg.n_bins:
        raise CodecError(f"phase_bins must be in 1..{cfg.n_bins} for this model, got {rows}")
    if m == Mode.TONAL_BAND_PHASE:
        stride = tonal.default_stride(cfg.sample_rate, cfg.hop)
        tonal.check(rows, int(phase_bits), stride, cfg.n_bins)
        return Options(m, int(bits), int(phase_bits), bool(joint_stereo), rows, lam, stride)
    return Options(m, int(bits), int(phase_bits), bool(joint_stereo), rows, lam)


def stereo_for(opts: Options, channels: int) -> Stereo:
    """How `channels` audio channels are coded: a pair as mid and side with `opts.joint_stereo`. By a causal
    model too: its phase reconstruction (RTISI) rebuilds mid and side with unrelated phases, so where both
    carry signal their sum and difference mix the channels, but the default picks mid/side only where one
    of them is near silent (`audio.prefers_mid_side`: anti-phase, mono), where that cannot happen."""
    joint = opts.joint_stereo and channels == 2
    return Stereo.MID_SIDE if joint else Stereo.INDEPENDENT


def lead_lengths(cfg: ModelConfig, sample_rate: int) -> tuple[int, int]:
    """The lead-in (and lead-out) a model's encoder codes for audio at `sample_rate` Hz -> (`pre_skip`
    model-rate samples, their length at `sample_rate`): at least `LEAD_IN_FRAMES` frames (`lead.lengths`)
    for a non-causal model; (0, 0) for a causal one, whose latency a lead-in would add to and whose decoder
    would have to hold back the lead-out's length, not knowing where the audio ends."""
    return (0, 0) if cfg.causal else lead.lengths(LEAD_IN_FRAMES * cfg.hop, cfg.sample_rate, sample_rate)


def header_for(model: Model, opts: Options, sample_rate: int, channels: int, *, packet_steps: int = 0,
               num_samples: int = 0) -> BlobHeader:
    """The blob header `model` writes, with the lead-in and lead-out of `lead_lengths` (none for a causal
    model): the framed layout (lengths 0) with `packet_steps`, as 1.7 with the lead and its gains smoothed
    over `level.GAIN_SMOOTHING_STEPS`, as 1.4 without; else the whole layout of `num_samples` samples (its
    frames and steps those of the coded signal, `BlobHeader.coded_length`), as 1.6 with the lead (one gain:
    nothing to smooth), without it as the oldest minor that reads it; 1.10 with stored phase, 1.11 with a
    tonal band; two channels
    as mid and side with `opts.joint_stereo`. Checked."""
    cfg = model.config
    framed = packet_steps > 0
    stereo = stereo_for(opts, channels)
    pre_skip = lead_lengths(cfg, sample_rate)[0]
    n_frames = latent_steps = 0
    if not framed:  # the coded signal: lead-in, audio, lead-out (FORMAT.md 4.6)
        n_frames = stft.n_frames(pre_skip + model_length(num_samples, sample_rate, cfg.sample_rate) + pre_skip,
                                 cfg.hop)
        latent_steps = cfg.latent_steps(n_frames)
    header = BlobHeader(
        mode=opts.mode, bits=opts.bits, phase_bits=opts.phase_bits, sample_rate=sample_rate, channels=channels,
        latent_channels=cfg.channels, latent_bins=cfg.latent_bins, n_bins=cfg.n_bins, num_samples=num_samples,
        n_frames=n_frames, latent_steps=latent_steps, model_id=model.model_id, coder=cfg.coder,
        minor=_minor(opts, framed, bool(pre_skip), cfg.coder, stereo),
        layout=Layout.FRAMED if framed else Layout.WHOLE, stereo=stereo, time_stride=cfg.time_stride if framed else 0,
        packet_steps=packet_steps, pre_skip=pre_skip, post_skip=pre_skip,
        gain_smoothing=GAIN_SMOOTHING_STEPS if pre_skip and framed else 0,  # 1.7 along with the lead
        phase_bins=opts.phase_bins, phase_stride=opts.phase_stride, track_frames=opts.track_frames,
    )
    header.validate()
    return header


def _minor(opts: Options, framed: bool, lead: bool, coder: int, stereo: Stereo) -> int:
    """The minor version a header is written as: 1.12 with tracks, 1.10 with stored phase (its codes
    dithered); else the oldest that holds what it says: framed 1.7 with a lead-in and 1.4 without, whole 1.6
    with a lead-in and `BlobHeader.whole_minor` without."""
    if opts.track_frames:
        return TRACKS_MINOR
    if opts.mode == Mode.TONAL_BAND_PHASE:
        return TONAL_MINOR
    if opts.mode != Mode.PREDICTED:
        return PHASE_DITHER_MINOR
    if framed:
        return 7 if lead else 4
    return 6 if lead else BlobHeader.whole_minor(coder, stereo)


def sections(model: Model, header: BlobHeader, latent: F32, gains: F32, phase: F32 | None,
             first_frame: int = 0, rate_lambda: float = 0.0, bands: Sequence[tonal.Band] | None = None,
             coded: F32 | None = None, weights: F64 | None = None,
             track_blocks: Sequence[list[TrackBlock]] | None = None) -> bytes:
    """One packet's (or the whole layout's) channel sections: latent `[C, Lc, Lf, steps] float32`, the gains
    `[C] float32` the audio was scaled by, and in modes store_phase and low_band_phase the STFT phase of the
    header's `phase_rows` lowest bins, `[C, phase_rows, frames]` in radians, whose first is the stream's
    frame `first_frame` (in mode tonal_band_phase each channel's `tonal.Band`, `tonal.analyse`) -> the
    sections' bytes, channel after channel. A range-coded latent is rounded rate-aware with `rate_lambda`
    > 0 (`entropy.rate_aware_symbols`), unless `coded`, the same latent as `decoded_latent` coded it (for the
    level match), holds its symbols already. `weights`, `[C, steps + k]`, each step's input power
    (`step_power`) and that of the k steps after the section the encoder has (a packet's window): a
    fixed-width latent's scales are fitted with the section's (None: max-norm, `quantize.quantize`), and
    rate-aware rounding keeps plain rounding at transients alone (`entropy.rate_aware_symbols`' power).
    `track_blocks`: each channel's blocks of sinusoidal tracks (`track_analysis.Analyzer`), None where the
    sections hold no track fields."""
    out = []
    for c in range(latent.shape[0]):
        band = None if bands is None else bands[c]
        codes = None
        if phase is not None:
            codes = quantize_phase(phase[c], header.phase_bits, _dither(header, phase[c], first_frame))
        if header.coder == Coder.FIXED:
            q, scales = quantize(latent[c], header.bits, None if weights is None else weights[c, : latent.shape[-1]])
            data = ChannelData(float(gains[c]), scales, q, codes, band=band)
        else:
            tables = model.tables
            symbols = (entropy.rate_aware_symbols(latent[c], tables, rate_lambda,
                                                  None if weights is None else weights[c]) if coded is None
                       else coded[c].astype(np.int32))
            data = ChannelData(float(gains[c]), np.zeros(0, np.float32), None, codes,
                               entropy.encode(symbols, tables), band)
        if track_blocks is not None:
            blocks = track_blocks[c]
            data = replace(data, tracks=(len(blocks[0].ends) if blocks else 0, blocks))
        out.append(channel_section(data, header))
    return b"".join(out)


def step_power(logmag: F32, steps: int, stride: int) -> F64:
    """Each latent step's input power `[C, steps] float64` (the sum of exp(2 logmag) over its `stride` frames
    and every bin) from `logmag [C, F, T]` (`stft.to_features`), step 0 at frame 0; frames past T count
    nothing. The weights of a fixed-width latent's scales (`quantize.fitted_scales`), and what tells a
    transient from a sustained onset in rate-aware rounding (`entropy.rate_aware_symbols`)."""
    power = np.exp(2.0 * logmag[:, :, : steps * stride].astype(np.float64)).sum(axis=1)
    out = np.zeros((logmag.shape[0], steps * stride))
    out[:, : power.shape[1]] = power
    summed: F64 = out.reshape(logmag.shape[0], steps, stride).sum(axis=2)
    return summed


def decoded_latent(model: Model, header: BlobHeader, latent: F32, rate_lambda: float = 0.0,
                   own: tuple[int, int] | None = None, weights: F64 | None = None) -> F32:
    """Latent `[C, Lc, Lf, steps] float32` -> the same as the decoder graph sees it once coded (`sections`'
    quantization: coder 0's codes dequantized, else the range coders' symbols, rounded with `rate_lambda`).
    `own`: a packet's steps `[a, b)` in a window of steps; those are coded as the packet codes them, and the
    steps either side each on their own, as the neighbouring packets code theirs (coder 0's scales fitted to
    what is coded together, with `weights [C, steps]`, each step's input power, as `sections` uses them; the
    range coders' onsets told by the power of a part's steps and of the window's steps after it)."""
    n = latent.shape[-1]
    cuts = [0, n] if own is None else sorted({0, *own, n})
    out = np.empty_like(latent, dtype=np.float32)
    for s0, s1 in zip(cuts[:-1], cuts[1:], strict=True):
        part = latent[..., s0:s1]
        if header.coder == Coder.FIXED:
            w = [None] * len(part) if weights is None else weights[:, s0:s1]
            out[..., s0:s1] = np.stack([dequantize(*quantize(z, header.bits, wc), header.bits)
                                        for z, wc in zip(part, w, strict=True)])
        else:  # the onsets at a part's end are told by the steps after it, as `sections` is given them
            w = [None] * len(part) if weights is None else weights[:, s0:]
            out[..., s0:s1] = np.stack([entropy.rate_aware_symbols(z, model.tables, rate_lambda, wc)
                                        for z, wc in zip(part, w, strict=True)])
    return out


# A regression decoder renders a steady tone or chord a few dB off its level where the latent is coarse, and
# rate-aware rounding pulls a short sound's level down (docs/fidelity.md, docs/MEASURED.md "The level match").
# The encoder knows what the decoder graph makes of its codes, so the gain a section stores is the one the
# encoder applied times the decoded magnitude's level over the input's (FORMAT.md 7.7): the decoder divides
# that out. The ratio stays within MATCH_SPAN either way and on level.GAIN_GRID_DB (one float32 for any
# runtime's sums); frames at the features' floor are not weighed.
MATCH_SPAN = 2.0
MATCH_FLOOR_POWER = (10.0 * stft.MAG_FLOOR) ** 2  # mean power per bin and frame below which nothing is matched
MATCH_BLOCK_STEPS = 32  # the decoder graph runs on this many steps' frames at a time (and their context)
# A causal model's sections are matched unless their input is noise-like, its mean power spectrum at least this
# flat: the gains of noise between speech bursts, matched, stepped its level from packet to packet (FORMAT.md
# 7.7; steady tones measure under 0.001, a 10 ms blip 0.003, 1 s of speech 0.023 in the median, noise 0.99)
MATCH_FLATNESS = 0.05


def spectral_flatness(logmag: F32, first: int, n_frames: int) -> float:
    """The least, over channels, of the spectral flatness (Wiener entropy: the geometric over the arithmetic
    mean, over bins) of the mean power spectrum of frames `[first, first + n_frames)` of `logmag [C, F, T]`
    (the encoder graph's input log-magnitude), in float64; 1 for white noise, near 0 for a tone."""
    power = np.exp(2.0 * logmag[:, :, first : first + n_frames].astype(np.float64)).mean(axis=2)
    return float(stft.flatness(power, axis=1).min())


def matched_gains(model: Model, coded: F32, gains: F32, logmag: F32, first: int, n_frames: int) -> F32:
    """The gains `[C] float32` a section stores (`sections`): `gains`, the ones applied, each times the ratio
    of the decoded magnitude's rms to the input's over frames `[first, first + n_frames)` of `logmag [C, F, T]`
    (the encoder graph's input log-magnitude, `stft.to_features`), the decoder graph run on `coded [C, Lc,
    Lf, T / time_stride]`, the latent as coded (`decoded_latent`), whose steps start at `logmag`'s first
    frame, `MATCH_BLOCK_STEPS` steps' frames at a time with the steps they depend on
    (`ModelConfig.decoder_steps`), so that a whole file's memory stays bounded. Source: analysis by
    synthesis, as CELP coders choose their gains (Schroeder and Atal, "Code-excited linear prediction",
    ICASSP 1985)."""
    cfg = model.config
    decoded = np.zeros(coded.shape[0])
    block = MATCH_BLOCK_STEPS * cfg.time_stride
    for t0 in range(first, first + n_frames, block):
        t1 = min(t0 + block, first + n_frames)
        j0, j1 = cfg.decoder_steps(t0, t1)
        j0, j1 = max(j0, 0), min(j1, coded.shape[-1])
        out = model.decode(coded[..., j0:j1])[:, 0, :, t0 - j0 * cfg.time_stride : t1 - j0 * cfg.time_stride]
        decoded += np.sum(np.exp(2.0 * np.minimum(out.astype(np.float64), MAX_LOGMAG)), axis=(1, 2))
    power = np.exp(2.0 * logmag[:, :, first : first + n_frames].astype(np.float64))
    inp = np.sum(power, axis=(1, 2))
    ok = inp > MATCH_FLOOR_POWER * power[0].size
    ratio = np.clip(np.sqrt(decoded / np.where(ok, inp, 1.0)), 1.0 / MATCH_SPAN, MATCH_SPAN)
    grid = np.where(ok, np.floor(20.0 * np.log10(ratio) / GAIN_GRID_DB + 0.5) * GAIN_GRID_DB, 0.0)
    return np.asarray(np.clip(gains * 10.0 ** (grid / 20.0), MIN_GAIN, MAX_GAIN), np.float32)


def _dither(header: BlobHeader, rows_frames: npt.NDArray[Any], first_frame: int) -> F64 | None:
    """The dither of a section's phase codes `[phase_rows, frames]` from the stream's frame `first_frame`
    (format 1.10 on), else None."""
    rows, frames = rows_frames.shape
    return phase_dither(rows, frames, first_frame) if header.phase_dithered else None


class Decoded(NamedTuple):
    """A packet's channels, ready for the decoder graph."""

    latent: F32  # [C, Lc, Lf, steps]
    gains: F32  # [C]
    phase: F32 | None  # [C, phase_rows, frames] radians, modes store_phase and low_band_phase only


def decode(model: Model, header: BlobHeader, chans: tuple[ChannelData, ...], steps: int, index: int = 0
           ) -> Decoded:
    """The channel sections of packet `index` (0: the whole layout's) over `steps` latent steps -> `Decoded`
    (FormatError for a damaged range-coded section)."""
    return decode_many(model, header, [(chans, steps, index)])[0]


def decode_many(model: Model, header: BlobHeader,
                packets: Sequence[tuple[tuple[ChannelData, ...], int, int]]) -> list[Decoded]:
    """`decode` of several packets, each its channel sections, steps and index: range-coded sections of the
    same length are decoded together (`entropy.decode_many`), most of a stream decoder's time outside the
    graphs. FormatError if any section is damaged."""
    if header.coder == Coder.FIXED:
        lats = [[dequantize(ch.codes, ch.scales, header.bits) for ch in chans if ch.codes is not None]
                for chans, _, _ in packets]
    else:
        sections: dict[int, list[tuple[int, int]]] = {}  # steps -> (packet, channel) of its sections
        for i, (chans, steps, _) in enumerate(packets):
            sections.setdefault(steps, []).extend((i, j) for j in range(len(chans)))
        symbols: dict[tuple[int, int], npt.NDArray[np.int32]] = {}
        for steps, keys in sections.items():
            coded = [packets[i][0][j].coded for i, j in keys]
            symbols.update(zip(keys, entropy.decode_many(coded, model.tables, steps), strict=True))
        lats = [[symbols[i, j].astype(np.float32) for j in range(len(chans))]
                for i, (chans, _, _) in enumerate(packets)]
    out = []
    for (chans, _, index), lat in zip(packets, lats, strict=True):
        if len(lat) != len(chans):
            raise FormatError("fixed-width section without latent codes")
        phase = None
        if header.phase_rows:
            first = index * header.packet_steps * header.time_stride  # 4.5: packet k's first frame; whole: 0
            phase = np.stack([dequantize_phase(ch.phase_codes, header.phase_bits,
                                               _dither(header, ch.phase_codes, first))
                              for ch in chans if ch.phase_codes is not None])
        out.append(Decoded(np.stack(lat), np.array([ch.gain for ch in chans], np.float32), phase))
    return out
