"""The blob format: every field round-trips, every bad field or byte is a typed error."""

import struct
import zlib

import numpy as np
import pytest

from codec_rt import (
    ChecksumError,
    CodecError,
    FormatError,
    TruncatedError,
    UnsupportedVersionError,
    blob,
    packets,
    section,
)
from codec_rt.blob import BlobHeader
from codec_rt.config import Coder, Layout, Mode
from codec_rt.quantize import quantize
from codec_rt.section import ChannelData


def make(mode: int = Mode.STORE_PHASE, channels: int = 2) -> tuple[BlobHeader, list[ChannelData], bytes]:
    rng = np.random.default_rng(1)
    h = BlobHeader(mode=mode, bits=5, phase_bits=7 if mode else 0, sample_rate=44100, channels=channels,
                   latent_channels=3, latent_bins=5, n_bins=9, num_samples=1234, n_frames=11, latent_steps=3,
                   model_id="0123456789abcdef")
    chans = []
    for c in range(channels):
        codes, scales = quantize(rng.standard_normal((3, 5, 3)), h.bits)
        phase = rng.integers(0, 2**7, (9, 11)).astype(np.uint16) if mode else None
        chans.append(ChannelData(0.5 + c, scales, codes, phase))
    data = blob.write(h, b"".join(section.channel_section(ch, h) for ch in chans))
    return h, chans, data


@pytest.mark.parametrize("mode", [Mode.PREDICTED, Mode.STORE_PHASE])
def test_round_trip_every_field(mode: int) -> None:
    h, chans, data = make(mode)
    h2, chans2 = packets.read(data)
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
        (36, "<I", 2**31, FormatError),  # latent_steps: absurd, refused before allocating
        (48, "<Q", 2**60, FormatError),  # payload_len
    ],
)
def test_each_bad_field_is_refused(offset: int, fmt: str, value: int, error: type) -> None:
    _, _, data = make()
    with pytest.raises(error):
        packets.read(_patch(data, offset, fmt, value))


def test_phase_bits_without_stored_phase_is_refused() -> None:
    _, _, data = make(Mode.PREDICTED)
    with pytest.raises(FormatError, match="phase_bits"):
        packets.read(_patch(data, 10, "<B", 3))


def test_checksum_catches_payload_corruption() -> None:
    _, _, data = make()
    bad = bytearray(data)
    bad[blob.HEADER_SIZE + 10] ^= 0x01
    with pytest.raises(ChecksumError):
        packets.read(bytes(bad))


def assert_every_cut_is_truncated(data: bytes) -> None:
    for n in range(len(data)):
        with pytest.raises(TruncatedError):
            packets.read(data[:n])


def assert_every_byte_flip_is_typed(data: bytes) -> None:
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0xFF
        with pytest.raises(CodecError):
            packets.read(bytes(bad))


def test_every_truncation_is_a_typed_error() -> None:
    assert_every_cut_is_truncated(make()[2])


def test_every_single_byte_flip_is_a_typed_error() -> None:
    assert_every_byte_flip_is_typed(make()[2])


def test_trailing_bytes_are_refused() -> None:
    _, _, data = make()
    with pytest.raises(FormatError, match="unexpected bytes"):
        packets.read(data + b"\x00")


def test_newer_minor_version_is_read() -> None:
    """A 1.3 blob: a longer header (fields appended) whose new bytes this reader skips."""
    _, _, data = make_framed()
    head = bytearray(data[:60])
    head[5] = 3
    struct.pack_into("<H", head, 6, 72)
    newer = bytes(head) + struct.pack("<I", zlib.crc32(bytes(head))) + b"\x07" * 8 + data[64:]
    h, frames = packets.read_packets(newer)
    assert h.minor == 3 and len(frames) == 3


def test_non_finite_gain_is_refused() -> None:
    h, chans, _ = make(channels=1)
    bad = ChannelData(float("nan"), chans[0].scales, chans[0].codes, chans[0].phase_codes)
    data = blob.write(h, section.channel_section(bad, h))
    with pytest.raises(FormatError, match="non-finite"):
        packets.read(data)


def make_range(mode: int = Mode.STORE_PHASE, channels: int = 2, coded: bytes = b"\x01\x02\x03\x04" * 3
               ) -> tuple[BlobHeader, list[ChannelData], bytes]:
    """A range-coded (coder 1) blob; the coded bytes are opaque to the container."""
    rng = np.random.default_rng(2)
    h = BlobHeader(mode=mode, bits=0, phase_bits=7 if mode else 0, sample_rate=16000, channels=channels,
                   latent_channels=3, latent_bins=5, n_bins=9, num_samples=1234, n_frames=11, latent_steps=3,
                   model_id="0123456789abcdef", coder=Coder.RANGE)
    chans = []
    for c in range(channels):
        phase = rng.integers(0, 2**7, (9, 11)).astype(np.uint16) if mode else None
        chans.append(ChannelData(0.5 + c, np.zeros(0, np.float32), None, phase, coded * (c + 1)))
    return h, chans, blob.write(h, b"".join(section.channel_section(ch, h) for ch in chans))


@pytest.mark.parametrize("mode", [Mode.PREDICTED, Mode.STORE_PHASE])
def test_range_coded_sections_round_trip(mode: int) -> None:
    h, chans, data = make_range(mode)
    h2, chans2 = packets.read(data)
    assert h2 == h and h2.coder_name == "range"
    for a, b in zip(chans, chans2, strict=True):
        assert a.gain == b.gain and a.coded == b.coded and b.codes is None
        if mode:
            np.testing.assert_array_equal(a.phase_codes, b.phase_codes)


def test_every_truncation_and_flip_of_a_range_coded_blob_is_typed() -> None:
    _, _, data = make_range()
    assert_every_cut_is_truncated(data)
    assert_every_byte_flip_is_typed(data)


def _reseal(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_range_section_lengths_must_fit_the_payload() -> None:
    _, _, data = make_range(mode=Mode.PREDICTED, channels=1)
    body = bytearray(data[:-4])
    for coded_len, match in ((13, "does not fit"), (16, "does not fit"), (6, "does not fit")):
        struct.pack_into("<I", body, blob.HEADER_SIZE + 4, coded_len)
        with pytest.raises(FormatError, match=match):
            packets.read(_reseal(bytes(body)))
    struct.pack_into("<I", body, blob.HEADER_SIZE + 4, 8)  # sections end before the payload does
    with pytest.raises(FormatError, match="end at byte"):
        packets.read(_reseal(bytes(body)))


def test_a_tiny_range_blob_cannot_claim_a_huge_latent() -> None:
    h, chans, _ = make_range(mode=Mode.PREDICTED, channels=1, coded=b"\0\0\0\0")
    huge = BlobHeader(**(h.to_dict() | {"latent_steps": 2**31, "n_frames": 2**31}))
    data = blob.write(huge, section.channel_section(chans[0], huge))
    with pytest.raises(FormatError, match="cannot come from"):
        packets.read(data)


def test_format_1_0_has_no_coder() -> None:
    _, _, data = make()
    body = bytearray(data[:-4])
    body[5], body[11] = 0, 1  # minor 0 with a coder
    with pytest.raises(FormatError, match="1.0 has no coder"):
        packets.read(_reseal(bytes(body)))


# ---------------------------------------------------------------- the framed layout (format 1.2)

FRAME_STEPS, STRIDE = 2, 4


def make_framed(mode: int = Mode.STORE_PHASE, channels: int = 2, coder: int = Coder.FIXED,
                latent_steps: int = 5) -> tuple[BlobHeader, list[list[ChannelData]], bytes]:
    """A framed blob of frames of 2 latent steps (8 STFT frames): 5 steps make frames of 2, 2 and 1."""
    rng = np.random.default_rng(3)
    n_frames = 4 * latent_steps - 2
    h = BlobHeader(mode=mode, bits=5 if coder == Coder.FIXED else 0, phase_bits=7 if mode else 0,
                   sample_rate=44100, channels=channels, latent_channels=3, latent_bins=5, n_bins=9, num_samples=0,
                   n_frames=0, latent_steps=0, model_id="0123456789abcdef", coder=coder, minor=4,
                   layout=Layout.FRAMED, time_stride=STRIDE, packet_steps=FRAME_STEPS)  # 1.5's own tests: below
    out, frames = [h.pack(0)], []
    k = 0
    while k * FRAME_STEPS < latent_steps:
        steps = min(FRAME_STEPS, latent_steps - k * FRAME_STEPS)
        nf = min(FRAME_STEPS * STRIDE, n_frames - k * FRAME_STEPS * STRIDE)
        chans = []
        for c in range(channels):
            phase = rng.integers(0, 2**7, (9, nf)).astype(np.uint16) if mode else None
            if coder == Coder.FIXED:
                codes, scales = quantize(rng.standard_normal((3, 5, steps)), h.bits)
                chans.append(ChannelData(0.5 + c + k, scales, codes, phase))
            else:
                chans.append(ChannelData(0.5 + c + k, np.zeros(0, np.float32), None, phase, rng.bytes(4 * (c + 1))))
        last = (k + 1) * FRAME_STEPS >= latent_steps
        totals = (1234, n_frames, latent_steps) if last else None
        out.append(packets.write_packet(k, b"".join(section.channel_section(ch, h) for ch in chans), totals))
        frames.append(chans)
        k += 1
    return h, frames, b"".join(out)


@pytest.mark.parametrize("coder", [Coder.FIXED, Coder.RANGE, Coder.CONTEXT])
@pytest.mark.parametrize("mode", [Mode.PREDICTED, Mode.STORE_PHASE])
def test_framed_blob_round_trips_packet_by_packet(mode: int, coder: int) -> None:
    h, want, data = make_framed(mode, coder=coder)
    h2, frames = packets.read_packets(data)
    assert h2 == BlobHeader(**(h.to_dict() | {"num_samples": 1234, "n_frames": 18, "latent_steps": 5}))
    assert [(f.index, f.steps, f.n_frames, f.last) for f in frames] == [(0, 2, 8, False), (1, 2, 8, False),
                                                                        (2, 1, 2, True)]
    for fr, chans in zip(frames, want, strict=True):
        for a, b in zip(chans, fr.channels, strict=True):
            assert a.gain == b.gain and a.coded == b.coded
            np.testing.assert_array_equal(a.scales, b.scales)
            if coder == Coder.FIXED:
                np.testing.assert_array_equal(a.codes, b.codes)
            if mode:
                np.testing.assert_array_equal(a.phase_codes, b.phase_codes)
    _, flat = packets.read(data)  # read(): every channel of every frame, frame after frame
    assert len(flat) == 3 * h.channels and flat[2].gain == 1.5


def test_packet_reader_takes_any_split_and_keeps_the_packets_before_a_cut() -> None:
    _, _, data = make_framed()
    reader = packets.PacketReader()
    frames = [f for i in range(len(data)) for f in reader.feed(data[i : i + 1])]
    reader.close()
    assert [f.index for f in frames] == [0, 1, 2] and reader.done
    cut = packets.PacketReader()
    got = cut.feed(data[:-5])
    assert [f.index for f in got] == [0, 1]
    with pytest.raises(TruncatedError, match="cut after packet 1"):
        cut.close()


def test_every_truncation_and_flip_of_a_framed_blob_is_typed() -> None:
    for coder in (Coder.FIXED, Coder.RANGE):
        _, _, data = make_framed(coder=coder)
        assert_every_cut_is_truncated(data)
        assert_every_byte_flip_is_typed(data)


def test_a_damaged_packet_is_named() -> None:
    _, _, data = make_framed()
    bad = bytearray(data)
    bad[-20] ^= 0x01  # inside the last frame
    reader = packets.PacketReader()
    with pytest.raises(ChecksumError, match="packet 2 "):
        reader.feed(bytes(bad))
    assert reader.next_index == 2  # frames 0 and 1 were read before it


def _frames_of(data: bytes) -> list[bytes]:
    pos, out = blob.HEADER_SIZE_1_2, []
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos : pos + 8 + n])
        pos += 8 + n
    return out


def test_packets_out_of_order_or_extra_bytes_are_refused() -> None:
    _, _, data = make_framed()
    f = _frames_of(data)
    with pytest.raises(ChecksumError, match="packet 0 "):
        packets.read(data[:64] + f[1] + f[0] + f[2])
    with pytest.raises(ChecksumError, match="packet 2 "):
        packets.read(data[:64] + f[0] + f[1] + f[1] + f[2])
    with pytest.raises(FormatError, match="unexpected bytes after the last packet"):
        packets.read(data + b"\0")


def test_a_packet_length_beyond_the_header_is_refused_before_its_bytes_arrive() -> None:
    h, _, data = make_framed()
    reader = packets.PacketReader()
    reader.feed(data[:64])
    with pytest.raises(FormatError, match="claims"):
        reader.feed(struct.pack("<I", h.max_packet_body() + 1))


def _patch_framed(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Change one field of a framed blob's header and re-seal the header's CRC."""
    head = bytearray(data[:60])
    struct.pack_into(fmt, head, offset, value)
    return bytes(head) + struct.pack("<I", zlib.crc32(bytes(head))) + data[64:]


@pytest.mark.parametrize(
    "offset,fmt,value",
    [
        (24, "<Q", 1234),  # num_samples: a framed header keeps it 0
        (32, "<I", 18),  # n_frames
        (48, "<Q", 10),  # payload_len
        (56, "<B", 2),  # layout
        (57, "<B", 0),  # time_stride
        (57, "<B", 65),
        (58, "<H", 0),  # packet_steps
        (6, "<H", 60),  # header_size below 64 in 1.2
        (5, "<B", 1),  # 1.1 has no framed layout
    ],
)
def test_each_bad_framed_header_field_is_refused(offset: int, fmt: str, value: int) -> None:
    _, _, data = make_framed()
    with pytest.raises(FormatError):
        packets.read(_patch_framed(data, offset, fmt, value))


def test_a_header_byte_flip_is_a_header_checksum_error() -> None:
    _, _, data = make_framed()
    bad = bytearray(data)
    bad[20] ^= 0x01
    with pytest.raises(ChecksumError, match="header checksum"):
        packets.read(bytes(bad))


def make_skipped(minor: int = 5, pre_skip: int = 2048, post_skip: int = 0) -> bytes:
    """A framed 1.5, 1.6 or 1.7 blob: `make_framed`'s packets behind a 72-, 80- or 88-byte header with
    `pre_skip` (and `post_skip`; 1.7 with no gain smoothing)."""
    h, _, data = make_framed()
    fields = {"minor": minor, "pre_skip": pre_skip, "post_skip": post_skip}
    return BlobHeader(**(h.to_dict() | fields)).pack(0) + data[64:]


def test_a_1_5_header_carries_pre_skip_under_its_own_checksum() -> None:
    data = make_skipped()
    h, size = blob.read_header(data)
    assert (h.minor, h.pre_skip, size, data[6]) == (5, 2048, 72, 72)
    assert packets.read(data)[0].pre_skip == 2048
    bad = bytearray(data)
    bad[65] ^= 0x01  # pre_skip 2048 -> 2304
    with pytest.raises(ChecksumError, match="pre_skip"):
        blob.read_header(bytes(bad))
    with pytest.raises(TruncatedError):
        blob.read_header(data[:70])
    old_size = data[:6] + struct.pack("<H", 64) + data[8:60]  # 1.5 with the 64-byte header of 1.2-1.4
    with pytest.raises(FormatError, match="header_size 64"):
        blob.read_header(old_size + struct.pack("<I", zlib.crc32(old_size)) + data[64:])


@pytest.mark.parametrize(("minor", "at", "name", "most"),
                         [(5, 64, "pre_skip", 65536), (6, 72, "post_skip", 65536), (7, 80, "gain_smoothing", 2)])
def test_an_appended_field_beyond_its_range_or_before_its_minor_is_refused(minor: int, at: int, name: str,
                                                                          most: int) -> None:
    data = bytearray(make_skipped(minor, post_skip=2048 if minor >= 6 else 0))
    struct.pack_into("<I", data, at, most + 1)
    struct.pack_into("<I", data, at + 4, zlib.crc32(bytes(data[at : at + 4])))
    with pytest.raises(FormatError, match=f"{name} {most + 1} not in 0..{most}"):
        blob.read_header(bytes(data))
    h, _, _ = make_framed()
    earlier = {"minor": minor - 1, "pre_skip": 2048 if minor > 5 else 0, "post_skip": 2048 if minor > 6 else 0,
               name: 2}
    with pytest.raises(FormatError, match=f"format 1.{minor - 1} has no {name}"):
        BlobHeader(**(h.to_dict() | earlier)).validate()


def test_a_1_7_header_carries_gain_smoothing_under_its_own_checksum() -> None:
    h, _, data = make_framed()
    data = BlobHeader(**(h.to_dict() | {"minor": 7, "pre_skip": 2048, "post_skip": 2048, "gain_smoothing": 2})
                      ).pack(0) + data[64:]
    got, size = blob.read_header(data)
    assert (got.minor, got.gain_smoothing, size, data[6]) == (7, 2, 88, 88)
    bad = bytearray(data)
    bad[80] ^= 0x03  # gain_smoothing 2 -> 1: in range, so only its checksum can tell
    with pytest.raises(ChecksumError, match="gain_smoothing"):
        blob.read_header(bytes(bad))


def test_a_1_6_header_carries_post_skip_under_its_own_checksum() -> None:
    data = make_skipped(6, post_skip=4096)
    h, size = blob.read_header(data)
    assert (h.minor, h.pre_skip, h.post_skip, size, data[6]) == (6, 2048, 4096, 80, 80)
    assert struct.unpack_from("<I", data, 72)[0] == 4096
    bad = bytearray(data)
    bad[73] ^= 0x01  # post_skip 4096 -> 4352
    with pytest.raises(ChecksumError, match="post_skip"):
        blob.read_header(bytes(bad))
    with pytest.raises(TruncatedError):
        blob.read_header(data[:78])
    short = bytearray(data[:80])
    struct.pack_into("<H", short, 6, 72)  # 1.6 with the 72-byte header of 1.5
    struct.pack_into("<I", short, 60, zlib.crc32(bytes(short[:60])))
    with pytest.raises(FormatError, match="header_size 72"):
        blob.read_header(bytes(short) + data[80:])


def test_the_last_packet_must_agree_with_the_stream_lengths() -> None:
    h, frames, _ = make_framed(channels=1, mode=Mode.PREDICTED)
    head = h.pack(0)
    sections = [b"".join(section.channel_section(ch, h) for ch in chans) for chans in frames]
    for totals, match in (((1234, 18, 6), "does not match n_frames"),  # ceil(18 / 4) = 5
                          ((1234, 30, 8), "last, but"),  # 8 steps make 4 frames, not 3
                          ((2**41, 18, 5), "invalid stream lengths")):
        body = head + packets.write_packet(0, sections[0]) + packets.write_packet(1, sections[1])
        with pytest.raises(FormatError, match=match):
            packets.read(body + packets.write_packet(2, sections[2], totals))
    with pytest.raises(TruncatedError):  # no frame flagged last
        packets.read(head + packets.write_packet(0, sections[0]) + packets.write_packet(1, sections[1]))


def test_whole_layout_blobs_are_still_written_as_1_1() -> None:
    h, _, data = make()
    assert data[5] == 1 and h.minor == 1 and blob.read_header(data)[1] == blob.HEADER_SIZE


def test_context_coded_blobs_are_1_3_and_older_minors_refuse_them() -> None:
    """Coder 2 is new in 1.3: its whole-layout blobs say 1.3 (a 1.1 or 1.2 reader could not decode them), and a
    blob claiming coder 2 under an older minor is refused."""
    h, _, _ = make_range(mode=Mode.PREDICTED)
    coder = Coder.CONTEXT
    h3 = BlobHeader(**(h.to_dict() | {"coder": coder, "minor": BlobHeader.whole_minor(coder)}))
    sections = [section.channel_section(ChannelData(g, np.zeros(0, np.float32), None, None, bytes([c]) * 8), h3)
                for c, g in ((1, 1.0), (2, 2.0))]
    data = blob.write(h3, b"".join(sections))
    h4, chans = packets.read(data)
    assert (data[5], data[11], h4.coder_name) == (3, 2, "context") and chans[1].coded == b"\2" * 8
    for minor in (1, 2):
        with pytest.raises(FormatError, match=f"1.{minor} has no coder 2"):
            BlobHeader(**(h3.to_dict() | {"minor": minor})).validate()
    with pytest.raises(FormatError, match="bits must be 0"):
        BlobHeader(**(h3.to_dict() | {"bits": 4})).validate()
