import numpy as np
import pytest

from codec_rt import CodecError, FormatError
from codec_rt.quantize import (
    SCALE_FRACTIONS,
    dequantize,
    dequantize_phase,
    fitted_scales,
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


def _weighted_error(z: np.ndarray, codes: np.ndarray, scales: np.ndarray, bits: int, w: np.ndarray) -> float:
    e = (dequantize(codes, scales, bits).astype(np.float64) - z) ** 2
    return float(np.sum(e * w))


def test_fitted_scales_spend_the_levels_on_the_values_not_on_one_far_out() -> None:
    """A steady latent with one value far out (a packet's edge): max-norm spreads 32 levels over +-8 where
    the rest lie within +-1; the fitted scale clips that one and codes the rest finer, for less error."""
    rng = np.random.default_rng(1)
    z = rng.uniform(-1, 1, (2, 16, 40)).astype(np.float32)
    z[0, 3, 0] = 8.0
    w = np.ones(40)
    plain, fitted = quantize(z, 5), quantize(z, 5, w)
    assert fitted[1][0] < 0.8 * plain[1][0]
    assert _weighted_error(z[:1], fitted[0][:1], fitted[1][:1], 5, w) < 0.9 * _weighted_error(
        z[:1], plain[0][:1], plain[1][:1], 5, w)
    assert fitted[1][1] <= plain[1][1]  # never worse than max-norm: its scale is among those tried
    assert _weighted_error(z[1:], fitted[0][1:], fitted[1][1:], 5, w) <= _weighted_error(
        z[1:], plain[0][1:], plain[1][1:], 5, w)


def test_a_loud_short_step_keeps_its_values_unclipped() -> None:
    """The same far value at a step that holds the input's power (a 10 ms blip in silence): weighed so, its
    clipping costs more than the quiet steps gain, and the scale stays the max-norm one."""
    rng = np.random.default_rng(2)
    z = rng.uniform(-1, 1, (1, 16, 40)).astype(np.float32)
    z[0, 3, 20] = 8.0
    w = np.full(40, 1e-4)
    w[20] = 1.0
    assert fitted_scales(z, 5, w)[0] == np.float32(8.0)
    assert fitted_scales(z, 5, np.ones(40))[0] < 8.0


def test_fitted_scales_are_one_of_the_fractions_and_zero_stays_zero() -> None:
    z = np.random.default_rng(3).standard_normal((3, 4, 10)).astype(np.float32)
    z[2] = 0.0
    s = fitted_scales(z, 6, np.ones(10))
    top = np.abs(z.reshape(3, -1)).max(axis=1)
    assert s[2] == 0.0
    for c in range(2):
        assert any(s[c] == np.float32(top[c] * np.float32(f)) for f in SCALE_FRACTIONS)


def test_weights_of_another_length_are_a_codec_error() -> None:
    with pytest.raises(CodecError, match="one per step"):
        quantize(np.zeros((1, 2, 5), np.float32), 5, np.ones(4))


@pytest.mark.parametrize("bits", [0, 17, -1, True, 5.0, 2.5, "5"])
def test_bits_out_of_range_or_not_an_integer_is_a_codec_error(bits: object) -> None:
    with pytest.raises(CodecError, match="bits must be an integer in 1..16"):
        quantize(np.zeros((1, 2)), bits)  # type: ignore[arg-type]


def test_bits_may_be_a_numpy_integer() -> None:
    np.testing.assert_array_equal(quantize(np.ones((1, 4)), np.int64(5))[0], quantize(np.ones((1, 4)), 5)[0])


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
