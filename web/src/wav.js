/**
 * WAV files for the command line (Node), read and written with wavefile: PCM 8/16/24/32-bit and float
 * 32/64-bit in, scaled as libsndfile scales them (x / 2^(bits - 1)); 16-bit PCM out.
 */

import * as wavefile from 'wavefile';

// Node loads wavefile's CommonJS build (its exports under `default`), a bundler its ES module.
/** @type {typeof import('wavefile').WaveFile} */
const WaveFile = /** @type {any} */ (wavefile).WaveFile ?? /** @type {any} */ (wavefile)['default'].WaveFile;
import { AudioError } from './errors.js';
import { softClip } from './level.js';

/**
 * A RIFF WAVE file's data chunk size against what follows it, as codec-rt reads it (its `riff.py`): a header
 * that announces 0 bytes with audio after it (a recording not closed) or more than the file holds (a
 * truncated file) -> the bytes with the size set to the whole samples there, and the warning codec-rt
 * prints; else the bytes as they are. (RF64 and the streaming sizes 0xFFFFFFFF are wavefile's to read.)
 * @param {Uint8Array} bytes @param {string} name @returns {{bytes: Uint8Array, warning: string | null}}
 */
function dataSize(bytes, name) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (/** @type {number} */ at) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') return { bytes, warning: null };
  let block = 0;
  for (let pos = 12, n = 0; pos + 8 <= bytes.length && n < 1024; n++) {
    const size = v.getUint32(pos + 4, true);
    if (tag(pos) === 'fmt ' && pos + 14 <= bytes.length) block = v.getUint16(pos + 20, true);
    if (tag(pos) !== 'data') {
      pos += 8 + size + (size & 1);
      continue;
    }
    const after = bytes.length - (pos + 8);
    if (!block || size === 0xffffffff || (size && size <= after)) return { bytes, warning: null };
    const whole = after - (after % block);
    if (!whole) return { bytes, warning: null };
    const out = bytes.slice();
    new DataView(out.buffer).setUint32(pos + 4, whole, true);
    const warning = size === 0
      ? `warning: ${name}: its header announces 0 bytes of audio, but ${after} bytes follow it (a recording that `
        + `was not closed?); coding the ${whole / block} samples they hold`
      : `warning: ${name} is truncated: its header announces ${size} bytes of audio, the file holds ${after}; `
        + `coding the ${whole / block} samples present`;
    return { bytes: out, warning };
  }
  return { bytes, warning: null };
}

/**
 * WAV bytes -> one Float32Array per channel and the rate; `onWarning` hears of a header whose data size is
 * not what the file holds (read as codec-rt reads it: `dataSize`).
 * @param {Uint8Array} bytes @param {string} name for messages @param {(message: string) => void} [onWarning]
 * @returns {{channels: Float32Array[], sampleRate: number}}
 */
export function readWav(bytes, name, onWarning) {
  const fixed = dataSize(bytes, name);
  if (fixed.warning) onWarning?.(fixed.warning);
  bytes = fixed.bytes;
  let wav;
  try {
    wav = new WaveFile(bytes);
  } catch (e) {
    throw new AudioError(`${name} is not a WAV file this runtime reads: ${e instanceof Error ? e.message : e}`);
  }
  const fmt = /** @type {any} */ (wav.fmt);
  const depth = wav.bitDepth;
  const n = fmt.numChannels;
  if (!(n >= 1 && n <= 64)) throw new AudioError(`${name} has ${n} channels; codec-rt codes 1..64`);
  const float = depth === '32f' || depth === '64';
  const bits = Number.parseInt(depth, 10);
  if (!float && ![8, 16, 24, 32].includes(bits)) throw new AudioError(`${name}: WAV sample format ${depth} is not supported`);
  const raw = /** @type {Float64Array} */ (wav.getSamples(true, Float64Array));
  const frames = Math.floor(raw.length / n);
  const scale = float ? 1 : 2 ** (bits - 1);
  const shift = bits === 8 && !float ? 128 : 0; // 8-bit WAV is unsigned
  const channels = Array.from({ length: n }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) for (let c = 0; c < n; c++) channels[c][i] = (raw[i * n + c] - shift) / scale;
  return { channels, sampleRate: fmt.sampleRate };
}

/**
 * Channels at `sampleRate` -> 16-bit PCM WAV bytes, peaks over 0.9 bent below full scale (`softClip`, as
 * codec-rt writes fixed-point files), non-finite samples written as 0 or full scale; `over` counts the
 * samples that were at or over full scale.
 * @param {Float32Array[]} channels @param {number} sampleRate @param {{over?: number}} [report]
 */
export function writeWav(channels, sampleRate, report = {}) {
  const wav = new WaveFile();
  report.over = 0;
  const pcm = channels.map((x) => {
    const b = x.map((v) => (Number.isNaN(v) ? 0 : Number.isFinite(v) ? v : Math.sign(v)));
    report.over = (report.over ?? 0) + softClip(b);
    const y = new Int16Array(x.length);
    for (let i = 0; i < x.length; i++) y[i] = Math.max(-32768, Math.min(32767, Math.round(b[i] * 32767)));
    return y;
  });
  wav.fromScratch(channels.length, sampleRate, '16', /** @type {any} */ (pcm));
  return wav.toBuffer();
}
