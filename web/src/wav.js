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
 * WAV bytes -> one Float32Array per channel and the rate.
 * @param {Uint8Array} bytes @param {string} name for messages
 * @returns {{channels: Float32Array[], sampleRate: number}}
 */
export function readWav(bytes, name) {
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
