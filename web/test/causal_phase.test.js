/**
 * The causal phase (6.5) with a predicted phase advance (3.4 phase_advance): a 300 Hz tone (bin 4.8 of the
 * low-latency model's 256-point STFT) whose magnitude is blurred towards bin 5, as a decoder's is. RTISI alone
 * follows the magnitude away from 300 Hz; started from the frame before advanced by the tone's own advance,
 * it stays, whatever the chunks it is given in. The same check as tests/test_causal_phase.py.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { causalFrames, hann, stftFeatures, windowSquareSum } from '../src/dsp.js';

const N_FFT = 256;
const HOP = 64;
const SR = 16000;
const F = 300;

/** The tone's magnitude [F, T] (bin 4 halved) and its phase advance less the bin centre's [F, T]. */
function tone() {
  const n = 3 * SR;
  const frames = Math.floor(n / HOP) + 1;
  const seg = new Float64Array(N_FFT + HOP * (frames - 1));
  for (let i = 0; i < n; i++) seg[i + N_FFT / 2] = Math.sin((2 * Math.PI * F * i) / SR);
  const feats = stftFeatures(seg, N_FFT, HOP, frames);
  const nb = N_FFT / 2 + 1;
  const mag = new Float32Array(nb * frames);
  const adv = new Float32Array(nb * frames);
  for (let k = 0; k < nb; k++) {
    for (let t = 0; t < frames; t++) {
      mag[k * frames + t] = Math.exp(feats[k * frames + t]) * (k === 4 ? 0.5 : 1);
      const ph = feats[(nb + k) * frames + t];
      const before = t ? feats[(nb + k) * frames + t - 1] : 0;
      adv[k * frames + t] = ph - before - (2 * Math.PI * k * HOP) / N_FFT;
    }
  }
  return { mag, adv, frames, n };
}

/**
 * Frames pushed in chunks of `sizes` (cycled) -> the audio.
 * @param {Float32Array} mag @param {Float32Array} adv @param {number} frames @param {number} n
 * @param {number[]} sizes @param {number} iters @param {boolean} advance
 */
function decode(mag, adv, frames, n, sizes, iters, advance) {
  const nb = N_FFT / 2 + 1;
  let tail = new Float32Array(N_FFT - HOP);
  /** @type {{re: Float64Array, im: Float64Array} | null} */
  let last = null;
  const out = new Float32Array(N_FFT + HOP * (frames - 1));
  for (let t = 0, c = 0; t < frames; c++) {
    const len = Math.min(sizes[c % sizes.length], frames - t);
    const m = new Float32Array(nb * len);
    const a = new Float32Array(nb * len);
    for (let k = 0; k < nb; k++) {
      for (let i = 0; i < len; i++) {
        m[k * len + i] = mag[k * frames + t + i];
        a[k * len + i] = adv[k * frames + t + i];
      }
    }
    const [y, nextTail, lastFrame] = causalFrames(m, advance ? a : null, tail, N_FFT, HOP, iters, advance, last);
    out.set(y, t * HOP);
    tail = nextTail;
    last = lastFrame;
    t += len;
  }
  out.set(tail, frames * HOP);
  const wss = windowSquareSum(-N_FFT / 2, out.length, N_FFT, HOP, frames);
  return Float64Array.from({ length: n }, (_, i) => out[i + N_FFT / 2] / wss[i + N_FFT / 2]);
}

/**
 * dB of the steady middle within 10 Hz of F, against a unit sine's (a plain DFT over the band).
 * @param {Float64Array} y
 */
function levelDb(y) {
  const mid = y.subarray(SR / 2, y.length - SR / 2);
  const w = hann(mid.length);
  let wsum = 0;
  for (const v of w) wsum += v;
  let power = 0;
  for (let f = F - 10; f <= F + 10; f += SR / mid.length) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < mid.length; i++) {
      const p = (2 * Math.PI * f * i) / SR;
      re += mid[i] * w[i] * Math.cos(p);
      im -= mid[i] * w[i] * Math.sin(p);
    }
    power += re * re + im * im;
  }
  return 10 * Math.log10(power) - 20 * Math.log10(wsum / 2);
}

describe('causal phase with a predicted advance', () => {
  const { mag, adv, frames, n } = tone();
  it('keeps a tone between bins at its frequency, where RTISI alone moves it', () => {
    const advanced = decode(mag, adv, frames, n, [5], 1, true);
    const plain = decode(mag, adv, frames, n, [5], 3, false);
    assert.ok(levelDb(advanced) > -3, `advanced ${levelDb(advanced)} dB`);
    assert.ok(levelDb(plain) < -10, `plain ${levelDb(plain)} dB`);
  });
  it('gives the same samples in any chunks', () => {
    const whole = decode(mag, adv, frames, n, [frames], 1, true);
    for (const sizes of [[1], [3, 1, 7]]) assert.deepEqual(decode(mag, adv, frames, n, sizes, 1, true), whole);
  });
});
