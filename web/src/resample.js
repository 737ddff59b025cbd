/**
 * Sample-rate conversion with libsamplerate (its WebAssembly build, @alexanderolsen/libsamplerate-js),
 * best-quality sinc: audio of any rate is coded at the model's rate and decoded back to its own.
 */

import { ConverterType, create } from '@alexanderolsen/libsamplerate-js/dist/libsamplerate.worklet.js';
import { AudioError } from './errors.js';

const MAX_RATE = 192000; // libsamplerate-js's limit (codec-rt's Python runtime goes to 768000)
const MAX_RATIO = 256; // libsamplerate's

/**
 * `x` at `rateIn` Hz -> exactly `length` samples at `rateOut` Hz (cut, or zero-padded at the end).
 * @param {Float32Array} x @param {number} rateIn @param {number} rateOut @param {number} length
 * @returns {Promise<Float32Array>}
 */
export async function resample(x, rateIn, rateOut, length) {
  let y = x;
  if (rateIn !== rateOut && x.length > 0) {
    if (rateIn > MAX_RATE || rateOut > MAX_RATE || rateIn * MAX_RATIO < rateOut || rateOut * MAX_RATIO < rateIn) {
      throw new AudioError(`this runtime resamples between rates up to ${MAX_RATE} Hz and ratios up to ${MAX_RATIO} `
        + `(asked: ${rateIn} -> ${rateOut} Hz)`);
    }
    // Zeros after the end let the filter's delay out: the last samples are not held back.
    const pad = Math.ceil(rateIn / 50) + 256;
    const xin = new Float32Array(x.length + pad);
    xin.set(x);
    const src = await create(1, rateIn, rateOut, { converterType: ConverterType.SRC_SINC_BEST_QUALITY });
    try {
      y = src.simple(xin);
    } finally {
      src.destroy();
    }
  }
  if (y.length === length && y !== x) return y;
  const out = new Float32Array(length);
  out.set(y.length > length ? y.subarray(0, length) : y);
  return out;
}
