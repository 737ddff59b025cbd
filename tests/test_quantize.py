import numpy as np
import pytest

from codec_rt import CodecError, FormatError
from codec_rt.quantize import dequantize, dequantize_phase, pack, packed_size, quantize, quantize_phase, unpack


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


@pytest.mark.parametrize("bits", [1, 3, 8, 16])
def test_phase_codes_round_trip_on_the_circle(bits: int) -> None:
    angles = np.random.default_rng(bits).uniform(-10, 10, 1000)
    codes = quantize_phase(angles, bits)
    assert codes.max() < 2**bits
    back = dequantize_phase(codes, bits)
    err = np.angle(np.exp(1j * (back - angles)))  # wrapped difference
    assert np.abs(err).max() <= np.pi / 2**bits + 1e-5
