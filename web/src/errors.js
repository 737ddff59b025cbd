/**
 * Typed errors, as codec-rt's Python runtime names them (`codec_rt.errors`). Every failure a user or a
 * blob can cause is a `CodecError`; the CLI prints its message on one line and exits with code 2.
 */

export class CodecError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** A blob is not a valid codec-rt blob (bad magic, bad field, inconsistent lengths). */
export class FormatError extends CodecError {}

/** A blob ends before the lengths in its header say it should. */
export class TruncatedError extends FormatError {}

/** A blob's CRC-32 does not match its bytes. */
export class ChecksumError extends FormatError {}

/** A blob was written by a format version this runtime cannot read. */
export class UnsupportedVersionError extends FormatError {}

/** A blob was encoded with other weights than the model asked to decode it. */
export class ModelMismatchError extends CodecError {}

/** A model folder or ONNX file is missing, unreadable or inconsistent. */
export class ModelError extends CodecError {}

/** Input audio cannot be coded (unreadable file, wrong shape, NaN samples, ...). */
export class AudioError extends CodecError {}
