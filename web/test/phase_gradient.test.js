/**
 * The phase-gradient start (docs/FORMAT.md 6.5, codec_rt.phase_start = 1): the same float64 recursion as
 * codec-rt's `phase_gradient.gradient_phase` (reference vectors from test/fixtures/make_gradient_ref.py),
 * block by block equal to the whole file, and a phase that an inverse STFT alone turns back into a tone.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { refineFrames, spectrogram } from '../src/dsp.js';
import { GradientStart, gradientPhase, gradientStart } from '../src/phase_gradient.js';
import { WEB } from './helpers.js';

const N_FFT = 512;
const HOP = 128;
const NB = N_FFT / 2 + 1;
const RATE = 16000;
const FIXTURES = path.join(WEB, 'test', 'fixtures');

/** @param {string} name */
function fixture(name) {
  const b = readFileSync(path.join(FIXTURES, name));
  const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return name.endsWith('.f64') ? new Float64Array(buf) : new Float32Array(buf);
}

/** |a - b| as an angle, in [0, pi]. @param {number} a @param {number} b */
function angleDiff(a, b) {
  const d = Math.abs(a - b) % (2 * Math.PI);
  return Math.min(d, 2 * Math.PI - d);
}

/** A signal's STFT magnitude (frames centred on t * hop, as 7.3) -> {mag [F, T] float64, t}. @param {Float32Array} x */
function magnitude(x) {
  const s = spectrogram(x, N_FFT, HOP);
  return { mag: s.p.map(Math.sqrt), t: s.t };
}

/** @param {Float64Array} mag */
const logOf = (mag) => mag.map((m) => Math.log(Math.max(m, 1e-5)));

/** The inverse STFT (no iteration) of `mag` with `phase`, cut to `n` samples. @param {Float64Array} mag @param {Float64Array} phase @param {number} n */
function resynth(mag, phase, n) {
  const y = refineFrames(Float32Array.from(mag), Float32Array.from(phase), N_FFT, HOP, 0, N_FFT / 2, N_FFT / 2 + n);
  return y.slice(N_FFT / 2, N_FFT / 2 + n);
}

/** Spectral convergence (dB) of `y`'s STFT magnitude to `mag`. @param {Float32Array} y @param {Float64Array} mag */
function convergenceDb(y, mag) {
  const m = magnitude(y).mag;
  let err = 0;
  let ref = 0;
  for (let i = 0; i < mag.length; i++) {
    err += (m[i] - mag[i]) ** 2;
    ref += mag[i] ** 2;
  }
  return 10 * Math.log10(err / ref);
}

/** Deterministic test audio: tones, a glide and noise (xorshift32). @param {number} n */
function tonesAndNoise(n) {
  let s = 0x9e3779b9;
  const noise = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  };
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const am = 0.5 + 0.5 * Math.sin(2 * Math.PI * 1.3 * t); // level changes: time gradients
    x[i] = 0.4 * Math.sin(2 * Math.PI * 220 * t) + 0.2 * am * Math.sin(2 * Math.PI * (900 * t + 150 * t * t))
      + 0.05 * noise();
  }
  return x;
}

describe('the phase-gradient start', () => {
  it('is codec-rt\'s gradient_phase on the same log-magnitude', () => {
    const logmag = fixture('gradient_tones.logmag.f32');
    const ref = fixture('gradient_tones.phi.f64');
    assert.equal(logmag.length, NB * 64);
    const phi = gradientPhase(logmag, NB, N_FFT, HOP);
    assert.equal(phi.length, ref.length);
    let worst = 0;
    for (let i = 0; i < phi.length; i++) {
      assert.ok(phi[i] >= 0 && phi[i] <= 2 * Math.PI, `phi ${phi[i]} out of [0, 2 pi]`);
      worst = Math.max(worst, angleDiff(phi[i], ref[i]));
    }
    assert.ok(worst < 1e-9, `max angle difference ${worst}`);
  });

  it('takes an impulse\'s phase on the frames around each click, as codec-rt does', () => {
    const logmag = fixture('gradient_clicks.logmag.f32');
    const ref = fixture('gradient_clicks.phi.f64');
    const want = fixture('gradient_clicks.held.f32');
    const { phi, held } = gradientStart(logmag, NB, N_FFT, HOP, null, null);
    assert.deepEqual(Array.from(held), Array.from(want, (x) => (x ? 1 : 0)));
    assert.equal(held.reduce((a, b) => a + b, 0), 15); // three clicks, five frames each
    let worst = 0;
    for (let i = 0; i < phi.length; i++) worst = Math.max(worst, angleDiff(phi[i], ref[i]));
    assert.ok(worst < 1e-9, `max angle difference ${worst}`);
    // block by block, with a seam beside each click, as the whole file
    const frames = want.length;
    const start = new GradientStart();
    for (const [w0, w1, next] of [[0, 30, 17], [17, 60, 47], [47, 96, 96]]) {
      const win = new Float32Array(NB * (w1 - w0));
      for (let k = 0; k < NB; k++) win.set(logmag.subarray(k * frames + w0, k * frames + w1), k * (w1 - w0));
      const part = start.block(win, NB, N_FFT, HOP, w0, next);
      for (let t = w0; t < Math.min(next + 1, w1); t++) {
        assert.equal(part.held[t - w0], held[t], `frame ${t}`);
        for (let k = 0; k < NB; k++) assert.equal(part.phi[k * (w1 - w0) + t - w0], phi[k * frames + t], `frame ${t} bin ${k}`);
      }
    }
  });

  it('computed block by block (128 frames, 24 of margin), each going on from the last, is the whole recursion', () => {
    const { mag, t: frames } = magnitude(tonesAndNoise(3 * RATE));
    const logmag = Float32Array.from(logOf(mag));
    const whole = gradientPhase(logmag, NB, N_FFT, HOP);
    const start = new GradientStart();
    const blocks = new Float64Array(whole.length);
    let b = 0;
    for (; b * 128 < frames; b++) {
      const w0 = Math.max(0, 128 * b - 24);
      const w1 = Math.min(frames, 128 * (b + 1) + 24);
      const win = new Float32Array(NB * (w1 - w0));
      for (let k = 0; k < NB; k++) win.set(logmag.subarray(k * frames + w0, k * frames + w1), k * (w1 - w0));
      const { phi } = start.block(win, NB, N_FFT, HOP, w0, Math.max(0, 128 * (b + 1) - 24));
      for (let k = 0; k < NB; k++) {
        for (let t = 128 * b; t < Math.min(128 * (b + 1), frames); t++) blocks[k * frames + t] = phi[k * (w1 - w0) + t - w0];
      }
    }
    assert.ok(b >= 3, `${b} blocks`);
    assert.deepEqual(blocks, whole);
    // a block that does not go on from the one before is refused
    assert.throws(() => new GradientStart().block(logmag.subarray(0, NB * 10), NB, N_FFT, HOP, 104, 204), /out of order/);
  });

  for (const freq of [440, 1000]) {
    it(`turns a ${freq} Hz tone's magnitude back into the tone with no iteration (spectral convergence < -25 dB)`, () => {
      const n = 2 * RATE;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * freq * i) / RATE);
      const { mag } = magnitude(x);
      const y = resynth(mag, gradientPhase(logOf(mag), NB, N_FFT, HOP), n);
      const sc = convergenceDb(y, mag);
      assert.ok(sc < -25, `spectral convergence ${sc.toFixed(1)} dB`);
      const zero = convergenceDb(resynth(mag, new Float64Array(mag.length), n), mag);
      assert.ok(zero > -10, `a zero phase: ${zero.toFixed(1)} dB`); // what the start is up against
    });
  }
});
