/**
 * The stored low band's pitch (6.5, "Causal, mode 2: voiced frames"): a voice-like tone's pitch heard from
 * the frames so far, however the stream is cut into blocks; silence unvoiced. The same checks as
 * tests/test_pitch.py (the decoded audio itself agrees with codec-rt's in conformance.test.js).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stftFeatures } from '../src/dsp.js';
import { AHEAD_VOICED, AheadPitch, LowBandPitch } from '../src/pitch.js';

const N_FFT = 256;
const HOP = 64;
const SR = 16000;
const K = 7;

/**
 * `n` samples of `sample(i)`, framed as stft.py frames them -> the log-magnitude [F, T] and the stored band's
 * phase [K, T].
 * @param {number} n @param {(i: number) => number} sample
 */
function lowBand(n, sample) {
  const frames = Math.floor(n / HOP) + 1;
  const seg = new Float64Array(N_FFT + HOP * (frames - 1));
  for (let i = 0; i < n; i++) seg[i + N_FFT / 2] = sample(i);
  const feats = stftFeatures(seg, N_FFT, HOP, frames);
  const nb = N_FFT / 2 + 1;
  const phase = Float32Array.from(feats.subarray(nb * frames, nb * frames + K * frames));
  return { logmag: feats.subarray(0, nb * frames), phase, frames };
}

/** A 140 Hz sawtooth-like tone with 3 % vibrato at 3 Hz: its low band's log-magnitude and phase, and its pitch. */
function voiceLike() {
  const n = 2 * SR;
  const f0 = new Float64Array(n);
  const ph = new Float64Array(n); // the fundamental's phase, summed sample by sample
  for (let i = 0; i < n; i++) {
    f0[i] = 140 * (1 + 0.03 * Math.sin((2 * Math.PI * 3 * i) / SR));
    ph[i] = (i ? ph[i - 1] : 0) + (2 * Math.PI * f0[i]) / SR;
  }
  const band = lowBand(n, (i) => {
    let v = 0;
    for (let h = 1; h * 145 < 7000; h++) v += Math.sin(h * ph[i]) / h;
    return 0.1 * v;
  });
  return { ...band, f0 };
}

/** @param {Float32Array} logmag @param {Float32Array} phase @param {number} frames @param {number} a @param {number} b */
function slice(logmag, phase, frames, a, b) {
  const nb = N_FFT / 2 + 1;
  const lm = new Float32Array(nb * (b - a));
  const ph = new Float32Array(K * (b - a));
  for (let k = 0; k < nb; k++) lm.set(logmag.subarray(k * frames + a, k * frames + b), k * (b - a));
  for (let k = 0; k < K; k++) ph.set(phase.subarray(k * frames + a, k * frames + b), k * (b - a));
  return { lm, held: { rows: K, phase: ph } };
}

describe('the low band\'s pitch', () => {
  const v = voiceLike();
  const whole = new LowBandPitch(N_FFT, HOP, SR).block(v.logmag, { rows: K, phase: v.phase });

  it('hears a voice-like tone within 1 % in nearly every frame', () => {
    let good = 0;
    let all = 0;
    for (let t = 10; t < v.frames - 4; t++) {
      const want = v.f0[Math.min(t * HOP, v.f0.length - 1)];
      all++;
      if (Math.abs((whole[t] * SR) / want - 1) < 0.01) good++;
    }
    assert.ok(good / all > 0.95, `${good} of ${all} frames within 1 %`);
  });

  it('is the same block by block', () => {
    const p = new LowBandPitch(N_FFT, HOP, SR);
    const cuts = [0, 3, 100, 101, v.frames];
    const parts = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const s = slice(v.logmag, v.phase, v.frames, cuts[i], cuts[i + 1]);
      parts.push(...p.block(s.lm, s.held));
    }
    assert.deepEqual(parts, Array.from(whole));
  });

  it('hears a steady tone above 400 Hz on a pitch it is a harmonic of, or not at all', () => {
    for (const freq of [470, 500, 560]) {
      const tone = lowBand(SR, (i) => 0.2 * Math.sin((2 * Math.PI * freq * i) / SR));
      const p = new LowBandPitch(N_FFT, HOP, SR).block(tone.logmag, { rows: K, phase: tone.phase });
      for (let t = 10; t < tone.frames; t++) {
        if (p[t] === 0) continue;
        const ratio = freq / (p[t] * SR);
        assert.ok(Math.abs(ratio - Math.round(ratio)) < 0.01 * ratio, `${freq} Hz heard at ${p[t] * SR} Hz`);
      }
    }
  });

  it('read one frame ahead, is the same in overlapping blocks as over the whole stream, and may start again', () => {
    const own = new LowBandPitch(N_FFT, HOP, SR, AHEAD_VOICED).block(v.logmag, { rows: K, phase: v.phase });
    const want = Array.from(own, (_, t) => own[Math.min(t + 1, v.frames - 1)]);
    assert.deepEqual(Array.from(new AheadPitch(N_FFT, HOP, SR).block(v.logmag, { rows: K, phase: v.phase }, 0, 0)), want);
    const ahead = new AheadPitch(N_FFT, HOP, SR);
    for (let pass = 0; pass < 2; pass++) { // blocks of 40 frames, windows reaching 8 frames either side
      const got = new Float64Array(v.frames);
      for (let b = 0; b * 40 < v.frames; b++) {
        const w0 = Math.max(0, b * 40 - 8);
        const w1 = Math.min((b + 1) * 40 + 8, v.frames);
        const s = slice(v.logmag, v.phase, v.frames, w0, w1);
        const p = ahead.block(s.lm, s.held, w0, Math.max(0, (b + 1) * 40 - 8));
        // a window's last frame has no next one in it: the block's own frames [b * 40, (b + 1) * 40) do
        for (let t = b * 40; t < Math.min((b + 1) * 40, v.frames); t++) got[t] = p[t - w0];
      }
      assert.deepEqual(Array.from(got), want);
    }
    assert.throws(() => ahead.block(v.logmag, { rows: K, phase: v.phase }, 50, 60), /out of order/);
  });

  it('leaves silence unvoiced', () => {
    const logmag = new Float32Array(129 * 50).fill(Math.log(1e-9));
    const p = new LowBandPitch(N_FFT, HOP, SR).block(logmag, { rows: K, phase: new Float32Array(K * 50) });
    assert.ok(p.every((x) => x === 0));
  });
});
