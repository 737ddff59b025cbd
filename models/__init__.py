"""PyTorch modules of codec-rt (training side only; the runtime never imports this)."""

from .autoencoder import Decoder, Encoder, SpecAutoencoder

__all__ = ["Decoder", "Encoder", "SpecAutoencoder"]
