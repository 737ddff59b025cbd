"""Per-channel uniform quantization of latents, and real bit-packing (6 bits cost 6 bits).

Quantizer: for each latent channel c, a scale (`scale_c = max |z_c|`, or with weights the encoder's fitted
one, `fitted_scales`); values are mapped onto `2**bits` evenly spaced levels spanning `[-scale_c, scale_c]`
(level k <-> `scale_c * (2k / (2**bits - 1) - 1)`), values beyond it clipped, so 1 bit means {-scale,
+scale} and every bit count in 1..16 uses all its codes. An all-zero channel gets
scale 0 and decodes to zeros (no division by zero).

Stored phase (modes store_phase and low_band_phase): angles are coded uniformly on the circle, code k <->
-pi + 2 pi k / 2**bits. From format 1.10 on the codes are subtractively dithered (`phase_dither`; FORMAT.md
4.3): code k of row r, frame t <-> -pi + 2 pi (k + 1/2 - u[r, t]) / 2**bits, so that the rounding error is
noise independent of the signal where plain rounding gave a steady tone's phase a periodic error, heard as
components beside it (docs/TRAINING.md, "Dithered phase codes"). The plain codes are the case u = 1/2.

Packing: codes are written most-significant bit first, back to back, and the last byte is zero-padded.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .errors import CodecError, FormatError, check_int

MIN_BITS, MAX_BITS = 1, 16
# An encoder writes at least 3: with 1 or 2 bits no level lies near zero, so every latent value is pushed out
# to +-scale or +-scale / 3, and the shipped fixed-width model decoded speech at full scale. Readers take 1..16.
MIN_ENCODE_BITS = 3

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]
U32 = npt.NDArray[np.uint32]


def check_bits(bits: int) -> None:
    """CodecError unless `bits` is an integer in MIN_BITS..MAX_BITS (a bool or a float is not: `errors.check_int`)."""
    check_int("bits", bits, MIN_BITS, MAX_BITS)


# The scale is the encoder's choice: a reader takes whatever a section stores. Max-norm spends the levels on
# the one value farthest out, which in a steady sound is an edge of the packet, and a steady harmonic tone
# came back with its partials 2 dB apart at 5 bits (docs/MEASURED.md, "Fitted fixed-width scales"). With
# weights the encoder instead tries these fractions of the max-norm scale and keeps the one of least
# weighted squared error, the largest of those within SCALE_TIE of the least (so that two runtimes' sums,
# equal to rounding, pick the same).
SCALE_FRACTIONS = tuple((30 + 2 * i) / 100 for i in range(36))  # 0.30, 0.32, ..., 1.00
SCALE_TIE = 1e-9


def fitted_scales(z: npt.ArrayLike, bits: int, weights: npt.ArrayLike) -> F32:
    """The scales `[C] float32` of `quantize` with `weights`: for each channel c of `z [C, ..., T] float32`,
    the fraction of max |z_c| (`SCALE_FRACTIONS`) whose codes give the least
    `sum_t weights[t] * sum (dequantize(code) - z)^2` over the channel's values at step t, float64 sums.
    Source: the fixed-rate quantizer of least mean squared error for the given values (Max, "Quantizing for
    minimum distortion", IRE Trans. Inf. Theory 6, 1960) restricted to uniform levels, a weighted error
    as perceptual coders weigh theirs; the weights are the caller's (the encoder's: each step's input
    power, so that clipping a short loud sound costs what it is heard to cost)."""
    check_bits(bits)
    za = np.asarray(z, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != za.shape[-1:]:
        raise CodecError(f"weights must be one per step ({za.shape[-1]}), got shape {w.shape}")
    top = _max_norm(za)
    out = top.copy()
    for c in range(za.shape[0]):
        if top[c] <= 0:
            continue
        x = za[c : c + 1]
        errs = []
        for frac in SCALE_FRACTIONS:
            s = np.full(1, top[c] * np.float32(frac), np.float32)
            e = (dequantize(_codes(x, s, bits), s, bits)[0].astype(np.float64) - x[0].astype(np.float64)) ** 2
            errs.append(float(np.dot(e.reshape(-1, e.shape[-1]).sum(axis=0), w)))
        least = min(errs)
        best = max(i for i, e in enumerate(errs) if e <= least * (1.0 + SCALE_TIE))
        out[c] = np.float32(top[c] * np.float32(SCALE_FRACTIONS[best]))
    return out


def _max_norm(za: F32) -> F32:
    """Each channel's largest |value| of `za [C, ...] float32` -> `[C] float32` (0 for an empty channel)."""
    top: F32 = np.abs(za.reshape(za.shape[0], -1)).max(axis=1, initial=0.0).astype(np.float32)
    return top


def _codes(za: F32, scales: F32, bits: int) -> U16:
    """The codes of `za [C, ...] float32` on the `2**bits` levels over `scales [C]`, in float32 (a scale of 0
    codes the values as they are, clipped)."""
    levels = (1 << bits) - 1
    safe = np.where(scales > 0, scales, 1.0).reshape((-1,) + (1,) * (za.ndim - 1))
    unit = np.clip(za / safe, -1.0, 1.0)
    codes: U16 = np.rint((unit + 1.0) * (levels / 2.0)).astype(np.uint16)
    return codes


def quantize(z: npt.ArrayLike, bits: int, weights: npt.ArrayLike | None = None) -> tuple[U16, F32]:
    """`z [C, ...] float` -> (codes `[C, ...] uint16` in 0..2**bits-1, scales `[C] float32`): max-norm scales,
    or with `weights` (`[T]`, z's last axis) those of `fitted_scales`, values beyond a scale clipped to it.
    CodecError for bits outside 1..16 or weights of another length."""
    check_bits(bits)
    za = np.asarray(z, dtype=np.float32)
    scales = _max_norm(za) if weights is None else fitted_scales(za, bits, weights)
    return _codes(za, scales, bits), scales


def dequantize(codes: npt.ArrayLike, scales: npt.ArrayLike, bits: int) -> F32:
    """Inverse of `quantize`: codes `[C, ...]`, scales `[C]` -> `[C, ...] float32`."""
    check_bits(bits)
    c = np.asarray(codes, dtype=np.float32)
    s = np.asarray(scales, dtype=np.float32).reshape((-1,) + (1,) * (c.ndim - 1))
    levels = (1 << bits) - 1
    return ((c * (2.0 / levels) - 1.0) * s).astype(np.float32)


def _lowbias32(x: U32) -> U32:
    """Chris Wellons' lowbias32 integer hash ("Prospecting for hash functions", 2018), on uint32 that wraps."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def phase_dither(rows: int, frames: int, first: int = 0) -> F64:
    """Format 1.10's dither of a channel section's phase codes (FORMAT.md 4.3): `[rows, frames] float64` in
    [0, 1), multiples of 2**-16, u[r, t] = (h(t + h(r)) >> 16) / 65536 with h = lowbias32 on uint32 (sums
    modulo 2**32), r the STFT bin, t the frame's index in the stream (the section's first is `first`: a
    packet's does not restart it, or a live stream's one-step packets would repeat one dither)."""
    r = np.arange(rows, dtype=np.uint32)[:, None]
    t = (first + np.arange(frames, dtype=np.uint64)).astype(np.uint32)[None, :]  # modulo 2**32
    h = _lowbias32(t + _lowbias32(r))
    return (h >> np.uint32(16)).astype(np.float64) / 65536.0


def quantize_phase(angle: npt.ArrayLike, bits: int, dither: npt.ArrayLike | None = None) -> U16:
    """Angles in radians (any range) -> codes in 0..2**bits-1 on the circle: the nearest code, or with
    `dither` (`phase_dither`, the angles' shape; format 1.10) floor(2**bits (a + pi) / 2 pi + u)."""
    check_bits(bits)
    levels = 1 << bits
    x = (np.asarray(angle, dtype=np.float64) + np.pi) * (levels / (2 * np.pi))
    k = np.rint(x) if dither is None else np.floor(x + np.asarray(dither, dtype=np.float64))
    return (k.astype(np.int64) % levels).astype(np.uint16)


def dequantize_phase(codes: npt.ArrayLike, bits: int, dither: npt.ArrayLike | None = None) -> F32:
    """Inverse of `quantize_phase`: codes -> angles float32, in [-pi, pi) without `dither`, within half a
    step of it with (-pi + 2 pi (k + 1/2 - u) / 2**bits, in float64)."""
    check_bits(bits)
    if dither is None:
        return (np.asarray(codes, dtype=np.float32) * np.float32(2 * np.pi / (1 << bits)) - np.float32(np.pi)
                ).astype(np.float32)
    k = np.asarray(codes, dtype=np.float64) + 0.5 - np.asarray(dither, dtype=np.float64)
    return (k * (2 * np.pi / (1 << bits)) - np.pi).astype(np.float32)


def packed_size(n_values: int, bits: int) -> int:
    """Bytes that `pack` writes for `n_values` codes of `bits` bits."""
    return (n_values * bits + 7) // 8


def pack(codes: npt.ArrayLike, bits: int) -> bytes:
    """Flattened codes (each < 2**bits) -> `packed_size(n, bits)` bytes, MSB first."""
    check_bits(bits)
    c = np.asarray(codes).reshape(-1)
    if c.size and int(c.max()) >= (1 << bits):
        raise CodecError(f"code {int(c.max())} does not fit in {bits} bits")
    as_bytes = c.astype(">u2").view(np.uint8).reshape(-1, 2)
    bitrows = np.unpackbits(as_bytes, axis=1)[:, 16 - bits :]
    return np.packbits(bitrows.reshape(-1)).tobytes()


def unpack(data: bytes, n_values: int, bits: int) -> U16:
    """Inverse of `pack`: the first `n_values` codes `[n_values] uint16` of `data`."""
    check_bits(bits)
    if len(data) != packed_size(n_values, bits):
        raise FormatError(f"packed latent has {len(data)} bytes, expected {packed_size(n_values, bits)}")
    bitstream = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: n_values * bits].reshape(n_values, bits)
    rows = np.zeros((n_values, 16), dtype=np.uint8)
    rows[:, 16 - bits :] = bitstream
    return np.packbits(rows, axis=1).view(">u2").reshape(-1).astype(np.uint16)
