"""codec-rt: a neural audio codec with a torch-free onnxruntime runtime.

    from codec_rt import Codec, CodecError
    codec = Codec.load()                      # the shipped default model, CPU
    blob = codec.encode(audio, sample_rate)   # audio [channels, samples] float32
    audio, sample_rate = codec.decode(blob)

    from codec_rt import StreamEncoder, StreamDecoder   # bounded memory, any chunk sizes
    enc = StreamEncoder(codec, sample_rate, channels)   # enc.push(chunk) -> bytes, enc.flush() -> bytes
    dec = StreamDecoder()                               # dec.push(bytes) -> audio, dec.flush() -> audio

Layers, each importing only those before it (tests/test_layers.py): errors, version, config -> audio, stft,
resample, phase, postfilter, level -> quantize, entropy -> blob, packets -> ladder, model -> latent -> grid ->
encoder, decoder -> codec -> riff, files, audio_in, metrics, bench -> cli.
"""

from .codec import Codec
from .config import Coder, Layout, Mode, ModelConfig
from .decoder import StreamDecoder
from .encoder import StreamEncoder
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
from .version import __version__

__all__ = [
    "AudioError", "ChecksumError", "Codec", "CodecError", "Coder", "FormatError", "Layout", "Mode", "ModelConfig",
    "ModelError", "ModelMismatchError", "OutputExistsError", "ProviderError", "StreamDecoder", "StreamEncoder",
    "TruncatedError", "UnsupportedVersionError", "__version__",
]
