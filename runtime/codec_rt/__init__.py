"""codec-rt: a neural audio codec with a torch-free onnxruntime runtime.

    from codec_rt import Codec, CodecError
    codec = Codec.load()                      # the shipped default model, CPU
    blob = codec.encode(audio, sample_rate)   # audio [channels, samples] float32
    audio, sample_rate = codec.decode(blob)

    from codec_rt import StreamEncoder, StreamDecoder   # bounded memory, any chunk sizes (stream.py)
    enc = StreamEncoder(codec, sample_rate, channels)   # enc.push(chunk) -> bytes, enc.flush() -> bytes
    dec = StreamDecoder()                               # dec.push(bytes) -> audio, dec.flush() -> audio
"""

from importlib.metadata import PackageNotFoundError, version

from .codec import Codec
from .config import ModelConfig
from .errors import (
    AudioError,
    ChecksumError,
    CodecError,
    FormatError,
    ModelError,
    ModelMismatchError,
    OutputExistsError,
    ProviderError,
    TruncatedError,
    UnsupportedVersionError,
)
from .stream import StreamDecoder, StreamEncoder

try:
    __version__ = version("codec-rt")  # one source: pyproject.toml's version, as installed
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
__all__ = [
    "AudioError", "ChecksumError", "Codec", "CodecError", "FormatError", "ModelConfig", "ModelError",
    "ModelMismatchError", "OutputExistsError", "ProviderError", "StreamDecoder", "StreamEncoder", "TruncatedError",
    "UnsupportedVersionError",
]
