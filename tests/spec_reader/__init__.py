"""An independent reader of codec-rt blobs, written from docs/FORMAT.md alone (tests/test_format_spec.py).

It uses NumPy, zlib, json and onnxruntime (to run the decoder graph) only: no constriction and no codec-rt
code. One module per part of the spec: `model` (section 3: the ONNX metadata read from the protobuf, the
config and the entropy tables), `container` (4), `rangecoder` (5), `audio` (6 and 10's spectral distance).
"""
