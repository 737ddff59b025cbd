import numpy as np
import pytest

from codec_rt import CodecError, FormatError
from codec_rt.quantize import (
    dequantize,
    dequantize_phase,
    pack,
    packed_size,
    phase_dither,
    quantize,
    quantize_phase,
    unpack,
)


@pytest.mark.parametrize("bits", range(1, 17))
def test_quantize_pack_round_trip(bits: int) -> None:
    z = np.random.default_rng(bits).standard_normal((6, 33, 17)).astype(np.float32)
    codes, scales = quantize(z, bits)
    assert codes.max() < 2**bits
    data = pack(codes, bits)
    assert len(data) == (z.size * bits + 7) // 8 == packed_size(z.size, bits)  # 6 bits cost 6 bits
    back = unpack(data, z.size, bits).reshape(z.shape)
    np.testing.assert_array_equal(back, codes)
    err = np.abs(dequantize(back, scales, bits) - z)
    step = 2 * scales / (2**bits - 1)
    assert np.all(err <= step[:, None, None] / 2 + 1e-6)


def test_error_shrinks_with_bits() -> None:
    z = np.random.default_rng(0).standard_normal((4, 8, 8)).astype(np.float32)
    errs = [np.abs(dequantize(*quantize(z, b), b) - z).mean() for b in (2, 4, 6, 8)]
    assert errs == sorted(errs, reverse=True)


def test_all_zero_channel_does_not_divide_by_zero() -> None:
    z = np.zeros((3, 4, 5), np.float32)
    z[1] = 1.0
    with np.errstate(all="raise"):
        codes, scales = quantize(z, 6)
        y = dequantize(codes, scales, 6)
    assert scales[0] == 0 and np.all(y[0] == 0) and np.allclose(y[1], 1.0)


@pytest.mark.parametrize("bits", [0, 17, -1])
def test_bits_out_of_range_is_a_codec_error(bits: int) -> None:
    with pytest.raises(CodecError):
        quantize(np.zeros((1, 2)), bits)


def test_unpack_refuses_wrong_length() -> None:
    with pytest.raises(FormatError):
        unpack(b"\x00" * 3, 10, 6)


@pytest.mark.parametrize("dithered", [False, True])
@pytest.mark.parametrize("bits", [1, 3, 8, 16])
def test_phase_codes_round_trip_on_the_circle(bits: int, dithered: bool) -> None:
    angles = np.random.default_rng(bits).uniform(-10, 10, (40, 25))
    u = phase_dither(*angles.shape) if dithered else None
    codes = quantize_phase(angles, bits, u)
    assert codes.max() < 2**bits
    back = dequantize_phase(codes, bits, u)
    err = np.angle(np.exp(1j * (back - angles)))  # wrapped difference
    assert np.abs(err).max() <= np.pi / 2**bits + 1e-5


def test_the_dither_is_the_one_the_format_defines() -> None:
    """FORMAT.md 4.3's worked values, and what a dither must be: multiples of 2**-16 in [0, 1), near uniform."""
    u = phase_dither(300, 500)
    assert (u[0, 0], u[0, 1], u[1, 0]) == (0.0, 0.4083404541015625, 0.3474884033203125)
    assert u.min() >= 0 and u.max() < 1 and np.all(u * 65536 == np.floor(u * 65536))
    assert np.allclose(np.histogram(u, bins=16, range=(0, 1))[0] / u.size, 1 / 16, atol=0.002)


def test_dithered_codes_turn_a_steady_tones_rounding_error_into_noise() -> None:
    """A tone's phase advances by the same angle every frame, so plain rounding repeats its error and the
    decoded frames carry it as a component beside the tone; dithered (format 1.10), the error has the same
    mean square and no such component: no line of its spectrum over frames stands out of the rest."""
    frames = 4096
    phase = (2 * np.pi * 0.1234567 * np.arange(frames))[None, :]  # a bin's phase under a steady tone
    bits = 4

    def worst_line_db(u: np.ndarray | None) -> tuple[float, float]:
        err = np.exp(1j * (dequantize_phase(quantize_phase(phase, bits, u), bits, u) - phase))[0]
        spec = np.abs(np.fft.fft(err - err.mean())) ** 2
        return 10 * np.log10(spec.max() / spec.sum()), float(np.mean(np.angle(err) ** 2))

    plain, plain_ms = worst_line_db(None)
    dithered, dithered_ms = worst_line_db(phase_dither(1, frames))
    assert plain > -15 and dithered < -25, (plain, dithered)
    assert abs(dithered_ms / plain_ms - 1) < 0.1
