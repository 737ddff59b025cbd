"""The blob format: every field round-trips, every bad field or byte is a typed error."""

import struct
import zlib

import numpy as np
import pytest

from codec_rt import ChecksumError, CodecError, FormatError, TruncatedError, UnsupportedVersionError, blob
from codec_rt.blob import BlobHeader, ChannelData
from codec_rt.quantize import quantize


def make(mode: int = blob.MODE_STORE_PHASE, channels: int = 2) -> tuple[BlobHeader, list[ChannelData], bytes]:
    rng = np.random.default_rng(1)
    h = BlobHeader(mode=mode, bits=5, phase_bits=7 if mode else 0, sample_rate=44100, channels=channels,
                   latent_channels=3, latent_bins=5, n_bins=9, num_samples=1234, n_frames=11, latent_frames=3,
                   model_id="0123456789abcdef")
    chans = []
    for c in range(channels):
        codes, scales = quantize(rng.standard_normal((3, 5, 3)), h.bits)
        phase = rng.integers(0, 2**7, (9, 11)).astype(np.uint16) if mode else None
        chans.append(ChannelData(0.5 + c, scales, codes, phase))
    data = blob.write(h, b"".join(blob.channel_section(ch, h) for ch in chans))
    return h, chans, data


@pytest.mark.parametrize("mode", [blob.MODE_PREDICTED, blob.MODE_STORE_PHASE])
def test_round_trip_every_field(mode: int) -> None:
    h, chans, data = make(mode)
    h2, chans2 = blob.read(data)
    assert h2 == h and h2.to_dict() == h.to_dict() and BlobHeader.from_dict(h.to_dict()) == h
    for a, b in zip(chans, chans2, strict=True):
        assert a.gain == b.gain
        np.testing.assert_array_equal(a.scales, b.scales)
        np.testing.assert_array_equal(a.codes, b.codes)
        if mode:
            np.testing.assert_array_equal(a.phase_codes, b.phase_codes)
        else:
            assert b.phase_codes is None
    assert len(data) == blob.HEADER_SIZE + h.payload_size() + 4


def _patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Change one header field and re-seal the CRC, so only the field check can catch it."""
    b = bytearray(data[:-4])
    struct.pack_into(fmt, b, offset, value)
    return bytes(b) + struct.pack("<I", zlib.crc32(bytes(b)))


@pytest.mark.parametrize(
    "offset,fmt,value,error",
    [
        (0, "<I", 0x12345678, FormatError),  # magic
        (4, "<B", 2, UnsupportedVersionError),  # major
        (6, "<H", 40, FormatError),  # header_size
        (8, "<B", 7, FormatError),  # mode
        (9, "<B", 0, FormatError),  # bits
        (9, "<B", 17, FormatError),
        (10, "<B", 0, FormatError),  # phase_bits in store_phase mode
        (11, "<B", 1, FormatError),  # reserved
        (12, "<I", 0, FormatError),  # sample_rate
        (12, "<I", 10**7, FormatError),
        (14 + 2, "<H", 0, FormatError),  # channels
        (16, "<H", 65, FormatError),
        (18, "<H", 4, FormatError),  # latent_channels: payload no longer matches
        (20, "<H", 0, FormatError),  # latent_bins
        (22, "<H", 10, FormatError),  # n_bins
        (24, "<Q", 2**50, FormatError),  # num_samples
        (32, "<I", 12, FormatError),  # n_frames
        (36, "<I", 2**31, FormatError),  # latent_frames: absurd, refused before allocating
        (48, "<Q", 2**60, FormatError),  # payload_len
    ],
)
def test_each_bad_field_is_refused(offset: int, fmt: str, value: int, error: type) -> None:
    _, _, data = make()
    with pytest.raises(error):
        blob.read(_patch(data, offset, fmt, value))


def test_phase_bits_without_stored_phase_is_refused() -> None:
    _, _, data = make(blob.MODE_PREDICTED)
    with pytest.raises(FormatError, match="phase_bits"):
        blob.read(_patch(data, 10, "<B", 3))


def test_checksum_catches_payload_corruption() -> None:
    _, _, data = make()
    bad = bytearray(data)
    bad[blob.HEADER_SIZE + 10] ^= 0x01
    with pytest.raises(ChecksumError):
        blob.read(bytes(bad))


def test_every_truncation_is_a_typed_error() -> None:
    _, _, data = make()
    for n in range(len(data)):
        with pytest.raises(TruncatedError):
            blob.read(data[:n])


def test_every_single_byte_flip_is_a_typed_error() -> None:
    _, _, data = make()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        with pytest.raises(CodecError):
            blob.read(bytes(bad))


def test_trailing_bytes_are_refused() -> None:
    _, _, data = make()
    with pytest.raises(FormatError, match="unexpected bytes"):
        blob.read(data + b"\x00")


def test_newer_minor_version_is_read() -> None:
    _, _, data = make()
    h, _ = blob.read(_patch(data, 5, "<B", 3))
    assert h.minor == 3


def test_non_finite_gain_is_refused() -> None:
    h, chans, _ = make(channels=1)
    bad = ChannelData(float("nan"), chans[0].scales, chans[0].codes, chans[0].phase_codes)
    data = blob.write(h, blob.channel_section(bad, h))
    with pytest.raises(FormatError, match="non-finite"):
        blob.read(data)


def make_range(mode: int = blob.MODE_STORE_PHASE, channels: int = 2, coded: bytes = b"\x01\x02\x03\x04" * 3
               ) -> tuple[BlobHeader, list[ChannelData], bytes]:
    """A range-coded (coder 1) blob; the coded bytes are opaque to the container."""
    rng = np.random.default_rng(2)
    h = BlobHeader(mode=mode, bits=0, phase_bits=7 if mode else 0, sample_rate=16000, channels=channels,
                   latent_channels=3, latent_bins=5, n_bins=9, num_samples=1234, n_frames=11, latent_frames=3,
                   model_id="0123456789abcdef", coder=blob.CODER_RANGE)
    chans = []
    for c in range(channels):
        phase = rng.integers(0, 2**7, (9, 11)).astype(np.uint16) if mode else None
        chans.append(ChannelData(0.5 + c, np.zeros(0, np.float32), None, phase, coded * (c + 1)))
    return h, chans, blob.write(h, b"".join(blob.channel_section(ch, h) for ch in chans))


@pytest.mark.parametrize("mode", [blob.MODE_PREDICTED, blob.MODE_STORE_PHASE])
def test_range_coded_sections_round_trip(mode: int) -> None:
    h, chans, data = make_range(mode)
    h2, chans2 = blob.read(data)
    assert h2 == h and h2.coder_name == "range"
    for a, b in zip(chans, chans2, strict=True):
        assert a.gain == b.gain and a.coded == b.coded and b.codes is None
        if mode:
            np.testing.assert_array_equal(a.phase_codes, b.phase_codes)


def test_every_truncation_and_flip_of_a_range_coded_blob_is_typed() -> None:
    _, _, data = make_range()
    for n in range(len(data)):
        with pytest.raises(TruncatedError):
            blob.read(data[:n])
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        with pytest.raises(CodecError):
            blob.read(bytes(bad))


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_range_section_lengths_must_fit_the_payload() -> None:
    _, _, data = make_range(mode=blob.MODE_PREDICTED, channels=1)
    body = bytearray(data[:-4])
    for coded_len, match in ((13, "does not fit"), (16, "does not fit"), (6, "does not fit")):
        struct.pack_into("<I", body, blob.HEADER_SIZE + 4, coded_len)
        with pytest.raises(FormatError, match=match):
            blob.read(_reseal(bytes(body)))
    struct.pack_into("<I", body, blob.HEADER_SIZE + 4, 8)  # sections end before the payload does
    with pytest.raises(FormatError, match="end at byte"):
        blob.read(_reseal(bytes(body)))


def test_a_tiny_range_blob_cannot_claim_a_huge_latent() -> None:
    h, chans, _ = make_range(mode=blob.MODE_PREDICTED, channels=1, coded=b"\0\0\0\0")
    huge = BlobHeader(**(h.to_dict() | {"latent_frames": 2**31, "n_frames": 2**31}))
    data = blob.write(huge, blob.channel_section(chans[0], huge))
    with pytest.raises(FormatError, match="cannot come from"):
        blob.read(data)


def test_format_1_0_has_no_coder() -> None:
    _, _, data = make()
    body = bytearray(data[:-4])
    body[5], body[11] = 0, 1  # minor 0 with a coder
    with pytest.raises(FormatError, match="1.0 has no coder"):
        blob.read(_reseal(bytes(body)))
