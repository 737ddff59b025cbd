"""Typed errors. Every failure a user can cause is a `CodecError`; the CLI maps them to exit code 2."""

from __future__ import annotations

import numbers


class CodecError(Exception):
    """Base class of every error codec-rt raises on purpose."""


class FormatError(CodecError):
    """A blob is not a valid codec-rt blob (bad magic, bad field, inconsistent lengths)."""


class TruncatedError(FormatError):
    """A blob ends before the lengths in its header say it should."""


class ChecksumError(FormatError):
    """A blob's CRC32 does not match its bytes."""


class UnsupportedVersionError(FormatError):
    """A blob was written by a format version this runtime cannot read."""


class ModelMismatchError(CodecError):
    """A blob was encoded with other weights than the model asked to decode it."""


class ModelError(CodecError):
    """A model directory or ONNX file is missing, unreadable or inconsistent."""


class ProviderError(CodecError):
    """The requested onnxruntime execution provider is not available."""


class AudioError(CodecError):
    """Input audio cannot be coded (unreadable file, wrong shape, NaN samples, ...)."""


class OutputExistsError(CodecError):
    """The output file exists and overwriting was not allowed."""


class InputError(CodecError):
    """An input path is missing, a directory, not a regular file, or cannot be read."""


class OutputError(CodecError):
    """An output cannot be written: no such folder, a format that cannot hold the audio, disk full, ..."""


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """`value` as an int in lo..hi; a CodecError naming `name` otherwise (a float, even 2.0, or a bool is not
    an integer: a count given as 1.5 is a mistake, not 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= int(value) <= hi:
        raise CodecError(f"{name} must be an integer in {lo}..{hi}, got {value!r}")
    return int(value)


def check_bytes(name: str, value: object) -> bytes:
    """`value` (bytes, bytearray or memoryview) as bytes; a CodecError naming `name` otherwise (`bytes(5)` is
    five zero bytes, and a str has no bytes until encoded: neither is a blob)."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise CodecError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def check_real(name: str, value: object, lo: float, hi: float) -> float:
    """`value` as a float in lo..hi; a CodecError naming `name` otherwise (a bool, a str such as "1", NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not lo <= float(value) <= hi:
        raise CodecError(f"{name} must be a number in {lo:g}..{hi:g}, got {value!r}")
    return float(value)
