"""The time grid of streaming coding: which STFT frames and latent steps each packet and each decoder block
reads, and the latency that follows. Pure arithmetic on a `ModelConfig`, no audio.

Units: samples at the model rate, STFT frames (`hop` samples apart, frame t centred on sample t * hop), latent
steps (`time_stride` frames each), packets (`packet_steps` steps each) and decoder blocks (`block_frames`
frames each). The graphs are convolutions with a bounded time context (`ModelConfig.encoder_frames` /
`decoder_steps`), so the encoder and the decoder cut the signal on this fixed grid, never where a push
happens to end: that is what makes a stream equal to whole-file coding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from .config import ModelConfig
from .phase_gradient import CONTEXT

DEFAULT_PACKET_SECONDS = 1.0  # the framed layout's packet: ~1 s, about 20 bytes of framing per channel
BLOCK_FRAMES = 128  # decoder block, STFT frames (1.024 s for the shipped models)
MARGIN_FRAMES = 24  # Griffin-Lim context on each side of a block, STFT frames
CROSSFADE_HOPS = 2  # half-width of the crossfade between blocks, in hops
CAUSAL_WINDOW = 16  # a causal model's decoder graph runs over windows of this many frames, fixed in time


class End(NamedTuple):
    """A stream's end at the model rate: samples, STFT frames and latent steps."""

    samples: int
    frames: int
    steps: int


class StreamEnd(NamedTuple):
    """A decoded stream's end: at the model rate, and its samples at the blob's rate."""

    model: End
    samples: int


class PacketWindow(NamedTuple):
    """Packet k's latent steps `[j0, j1)` and the STFT frames `[t0, t1)` its encoder graph reads."""

    j0: int
    j1: int
    t0: int
    t1: int


class BlockWindow(NamedTuple):
    """A decoder block's STFT frames `[w0, w1)` (with its margins) and the latent steps `[j0, j1)` under them."""

    w0: int
    w1: int
    j0: int
    j1: int


def packet_steps_for(cfg: ModelConfig, seconds: float = DEFAULT_PACKET_SECONDS) -> int:
    """Latent steps per packet for packets of about `seconds`."""
    step = cfg.time_stride * cfg.hop / cfg.sample_rate
    return int(min(0xFFFF, max(1, round(seconds / step))))


def packet_window(cfg: ModelConfig, packet_steps: int, k: int, end: End | None = None) -> PacketWindow:
    """Packet k's window: its steps, and the frames that cover their receptive field, starting on the time
    stride's grid; clipped to the stream's `end` once known (at the edges the window ends where the file
    does, as the whole-file graph does)."""
    s = cfg.time_stride
    j0, j1 = k * packet_steps, (k + 1) * packet_steps
    if end is not None:
        j1 = min(j1, end.steps)
    t0, t1 = cfg.encoder_frames(j0, j1)
    t0, t1 = max(0, t0 // s * s), -(-t1 // s) * s
    return PacketWindow(j0, j1, t0, t1 if end is None else min(t1, end.frames))


def samples_needed(cfg: ModelConfig, packet_steps: int, k: int) -> int:
    """Model-rate samples that must have arrived before packet k can be coded (not knowing the end)."""
    return (packet_window(cfg, packet_steps, k).t1 - 1) * cfg.hop + cfg.n_fft // 2


def min_margin_frames(cfg: ModelConfig, refine: bool = True, gradient: bool = False) -> int:
    """The smallest decoder margin: a block's samples up to the end of its crossfade (with Griffin-Lim; a
    plain inverse STFT has none) need all their frames, and with the phase-gradient start (`gradient`,
    FORMAT.md 6.5) each of those frames needs the energies of the CONTEXT frames either side (its transient
    test; its time gradient needs one)."""
    return (CROSSFADE_HOPS if refine else 0) + -(-cfg.n_fft // (2 * cfg.hop)) + (CONTEXT if gradient else 0)


def block_window(cfg: ModelConfig, b: int, block_frames: int, margin_frames: int, refine: bool,
                 causal: bool = False) -> tuple[BlockWindow, int]:
    """Block b of a stream whose end is not known yet -> (its window, the latent steps that must have arrived
    before it can run as the whole-file decoder runs it). The decoder cannot know the end is not near, so
    it waits until the stream provably goes on (n_frames > stride * (steps - 1)): with Griffin-Lim
    (`refine`) past the window and its last frame's samples (the zeros after a file's end steer the phase of
    the whole window); a plain inverse STFT only needs the window's frames and the block's end to exist.
    A causal decoder's block is its own frames, each decoded from the past only."""
    s = cfg.time_stride
    if causal:
        w0, w1 = b * block_frames, (b + 1) * block_frames
        j0, j1 = cfg.decoder_steps(w0, w1)
        return BlockWindow(w0, w1, max(0, j0), j1), j1
    w0, w1 = max(0, b * block_frames - margin_frames), (b + 1) * block_frames + margin_frames
    j0, j1 = cfg.decoder_steps(w0, w1)
    past = w1 + -(-cfg.n_fft // (2 * cfg.hop)) if refine else max(w1 - 1, (b + 1) * block_frames)
    return BlockWindow(w0, w1, max(0, j0), j1), max(j1, -(-past // s) + 1)


def stream_latency_ms(
    cfg: ModelConfig, packet_steps: int, block_frames: int = BLOCK_FRAMES, margin_frames: int = MARGIN_FRAMES,
    phase_iters: int = 32, causal: bool | None = None,
) -> float:
    """Algorithmic latency of streaming, in ms: the longest wait, with infinitely fast computing, between a
    sample entering a `StreamEncoder` and a `StreamDecoder` returning it (before resampling). It adds to the
    model's own latency (`ModelConfig.latency_ms`) the packet (the encoder waits for a packet's last sample:
    its gain needs them all) and the decoder's block, margin and crossfade. `causal` (default: the model's
    kind): the causal decoder, whose block b plays from frame b * block_frames's first sample."""
    hop = cfg.hop
    causal = bool(cfg.causal) if causal is None else causal
    worst = 0
    for b in range(1, 64):  # blocks and packets realign within a few dozen blocks for any sizes used
        if causal:
            first = b * block_frames * hop - cfg.n_fft // 2
        else:  # block b's first sample
            first = (b * block_frames - (CROSSFADE_HOPS if phase_iters > 0 else 0)) * hop
        steps = block_window(cfg, b, block_frames, margin_frames, phase_iters > 0, causal)[1]
        need = samples_needed(cfg, packet_steps, -(-steps // packet_steps) - 1)
        worst = max(worst, need - first)
    return 1000.0 * worst / cfg.sample_rate


def causal_window_start(cfg: ModelConfig, frame: int) -> int:
    """The first latent step that the fixed graph window holding `frame` reads (`causal_features`)."""
    g = frame // CAUSAL_WINDOW
    return max(0, cfg.decoder_steps(g * CAUSAL_WINDOW, (g + 1) * CAUSAL_WINDOW)[0])


def causal_features(cfg: ModelConfig, decode: Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]],
                    latents: npt.NDArray[np.float32], z0: int, w0: int, w1: int) -> npt.NDArray[np.float32]:
    """A causal model's decoder graph over frames [w0, w1) -> `[B, 2, F, w1 - w0] float32`, from `latents`
    `[B, C, F', n]` (steps z0 .. z0 + n - 1; time_stride 1). Each frame comes from the window of
    CAUSAL_WINDOW frames on the fixed grid that holds it, the graph run over the window's steps
    (`decoder_steps`, from step 0 on), those not yet here as zeros, which a causal graph's earlier frames do not
    read. Same windows, same arithmetic: a graph's last bits depend on the length of its input, and the
    causal decoder's phase recursion amplifies a last-bit difference, so a stream decoding in blocks of any
    size must run the graph as whole-file decoding does."""
    out = []
    for g in range(w0 // CAUSAL_WINDOW, (w1 - 1) // CAUSAL_WINDOW + 1):
        a, b = causal_window_start(cfg, g * CAUSAL_WINDOW), (g + 1) * CAUSAL_WINDOW
        x = np.zeros(latents.shape[:-1] + (b - a,), np.float32)
        hi = min(b, z0 + latents.shape[-1])
        if hi > a:
            x[..., : hi - a] = latents[..., a - z0 : hi - z0]
        lo, top = max(w0, g * CAUSAL_WINDOW), min(w1, b)
        out.append(decode(x)[..., lo - a : top - a])
    return np.concatenate(out, axis=-1)
