/**
 * The encoder's side of the sinusoidal tracks (format 1.12; FORMAT.md 7.8): codec-rt's
 * `codec_rt.track_analysis`, step for step, so that a JavaScript blob has codec-rt's tracks. One coded
 * channel at the model rate in; the residual (the input less what the decoder will synthesize) and each
 * block's codes out.
 */

import { realFFT } from './dsp.js';
import { MAX_TRACKS, renderBlock } from './tracks.js';

const TURN = 2 ** 17;
const DETECT_S = 0.128;
const DETECT_S_EVERY = 0.02;
const DETECT_PAD = 8;
const FIT_S = 0.064;
const PROMINENCE_DB = 20;
const RANGE_DB = 40;
const FLOOR_DBFS = -67;
const STEADY_HZ = 0.6;
const STEADY_RUNS = 3;
const SPACING_HZ = 20;
const STOP_RATIO = 0.25;
const MISMATCH = 1;
const TRACK_HZ = 2;
const BIRTH_RATIO = 0.5;
const TONAL_SHARE = 0.5;
const DEAD_BAND = 0.75;
const MIN_HZ = 40;

/** Python's round(): halves to even. @param {number} v */
function round(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's float modulo (the sign of the divisor). @param {number} a @param {number} b */
const mod = (a, b) => ((a % b) + b) % b;

/** The 4-term Blackman-Harris window, periodic. @param {number} n */
function blackmanHarris(n) {
  const w = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const t = (2 * Math.PI * j) / n;
    w[j] = 0.35875 - 0.48829 * Math.cos(t) + 0.14128 * Math.cos(2 * t) - 0.01168 * Math.cos(3 * t);
  }
  return w;
}

/** The prominent peaks' frequencies (Hz) in `x`. @param {Float64Array} x @param {number} rate */
function peaks(x, rate) {
  const w = blackmanHarris(x.length);
  let sum = 0;
  for (const v of w) sum += v;
  const n = x.length * DETECT_PAD;
  const xw = new Float64Array(n);
  for (let j = 0; j < x.length; j++) xw[j] = x[j] * w[j];
  const re = new Float64Array(n / 2 + 1);
  const im = new Float64Array(n / 2 + 1);
  realFFT(n).rfft(xw, re, im);
  const ldb = new Float64Array(n / 2 + 1);
  for (let k = 0; k < ldb.length; k++) ldb[k] = 20 * Math.log10((Math.hypot(re[k], im[k]) * 2) / sum + 1e-12);
  const cand = [];
  for (let k = 1; k < ldb.length - 1; k++) if (ldb[k] > ldb[k - 1] && ldb[k] >= ldb[k + 1]) cand.push(k);
  if (!cand.length) return [];
  let top = -Infinity;
  for (const k of cand) top = Math.max(top, ldb[k]);
  const far = round((45 * n) / rate);
  const low = round((MIN_HZ * n) / rate);
  const floor = Math.max(FLOOR_DBFS, top - RANGE_DB);
  const out = [];
  for (const k of cand) {
    if (k < low || ldb[k] < floor) continue;
    let lo = k; // down to the valley on each side (a neighbouring partial's lobe is no floor)
    while (lo > Math.max(0, k - far) && ldb[lo - 1] <= ldb[lo]) lo--;
    let hi = k;
    while (hi < Math.min(ldb.length - 1, k + far) && ldb[hi + 1] <= ldb[hi]) hi++;
    if (ldb[k] - Math.max(ldb[lo], ldb[hi]) < PROMINENCE_DB) continue;
    const [a, b, c] = [ldb[k - 1], ldb[k], ldb[k + 1]];
    const curve = a - 2 * b + c;
    out.push(((k + (curve < 0 ? (0.5 * (a - c)) / curve : 0)) * rate) / n);
  }
  return out;
}

/**
 * Complex amplitudes [re, im] of each frequency code at sample N (`after` samples before the sample after
 * `x`), by least squares: the normal equations, solved by Cholesky. @param {Float64Array} x
 * @param {number[]} freqs @param {number} after
 */
function fit(x, freqs, after) {
  const m = 2 * freqs.length;
  const cols = freqs.flatMap((f) => {
    const c = new Float64Array(x.length);
    const s = new Float64Array(x.length);
    for (let j = 0; j < x.length; j++) {
      const w = (2 * Math.PI * mod(f * (j - x.length + after), TURN)) / TURN;
      c[j] = Math.cos(w);
      s[j] = -Math.sin(w);
    }
    return [c, s];
  });
  const a = new Float64Array(m * m);
  const b = new Float64Array(m);
  for (let p = 0; p < m; p++) {
    for (let q = 0; q <= p; q++) {
      let v = 0;
      for (let j = 0; j < x.length; j++) v += cols[p][j] * cols[q][j];
      a[p * m + q] = a[q * m + p] = v;
    }
    let v = 0;
    for (let j = 0; j < x.length; j++) v += cols[p][j] * x[j];
    b[p] = v;
  }
  for (let p = 0; p < m; p++) { // Cholesky, in place (lower)
    for (let q = 0; q <= p; q++) {
      let v = a[p * m + q];
      for (let r = 0; r < q; r++) v -= a[p * m + r] * a[q * m + r];
      a[p * m + q] = p === q ? Math.sqrt(Math.max(v, 1e-300)) : v / a[q * m + q];
    }
  }
  const y = new Float64Array(m);
  for (let p = 0; p < m; p++) {
    let v = b[p];
    for (let r = 0; r < p; r++) v -= a[p * m + r] * y[r];
    y[p] = v / a[p * m + p];
  }
  for (let p = m - 1; p >= 0; p--) {
    let v = y[p];
    for (let r = p + 1; r < m; r++) v -= a[r * m + p] * y[r];
    y[p] = v / a[p * m + p];
  }
  return freqs.map((_, k) => [y[2 * k], y[2 * k + 1]]);
}

/** An amplitude in amplitude-code units (unrounded). @param {number} a */
const ampExact = (a) => (20 * Math.log10(Math.max(a, 1e-12))) / 0.25 + 487;

/** The code nearest amplitude `a`. @param {number} a */
const ampCode = (a) => Math.min(Math.max(round(ampExact(a)), 0), 511);

/** A step of a code towards `err` steps away: none within the dead band. @param {number} err */
const step = (err) => (Math.abs(err) <= DEAD_BAND ? 0 : Math.min(Math.max(round(err), -8), 7));

/**
 * A whole coded channel `x` at the model rate -> {residual, blocks 0..lastBlock} (codec-rt's
 * `track_analysis.analyse`).
 * @param {Float32Array | Float64Array} x @param {number} rate @param {number} q @param {number} ahead
 * @param {number} lastBlock
 * @returns {{residual: Float32Array, blocks: import('./tracks.js').TrackBlock[]}}
 */
export function analyseTracks(x, rate, q, ahead, lastBlock) {
  const every = Math.max(1, round((DETECT_S_EVERY * rate) / q));
  /** input samples [end - n, end), zeros outside the signal @param {number} end @param {number} n */
  const input = (end, n) => {
    const out = new Float64Array(n);
    for (let j = Math.max(0, -(end - n)); j < n && end - n + j < x.length; j++) out[j] = x[end - n + j];
    return out;
  };
  /** @type {import('./tracks.js').Track[]} */
  let tracks = [];
  /** @type {[number, number][]} */
  let steady = [];
  /** @type {number[]} */
  let freqs = []; // each track's frequency at its birth
  /** @type {number[]} */
  let targets = []; // each track's last fitted amplitude, in code units
  const blocks = [];
  const synth = new Float64Array(Math.max(x.length, (lastBlock + 1) * q) + q);
  for (let i = 0; i <= lastBlock || i * q < x.length; i++) {
    const start = i * q;
    const seen = start + ahead;
    let ends = tracks.map(() => false);
    if (tracks.length) { // the tracks no longer carry the block: a stop, or a change
      const n = Math.min(q, seen - start);
      const got = input(start + n, n);
      let e = 0;
      let g = 0;
      let r = 0;
      for (let j = 0; j < n; j++) {
        let v = 0;
        tracks.forEach((t, k) => {
          v += 10 ** (((targets[k] - 487) * 0.25) / 20) * Math.cos((2 * Math.PI * ((t.phase + t.freq * j) % TURN)) / TURN);
        });
        g += v * v;
        e += got[j] * got[j];
        r += (got[j] - v) * (got[j] - v);
      }
      if (n && (e < STOP_RATIO * g || r > MISMATCH * g)) ends = tracks.map(() => true);
    }
    /** @type {import('./tracks.js').TrackBlock} */
    let codes;
    if (i % every) { // between detections: a stop, or the amplitudes on their way to the last fit's
      if (ends.some((v) => v)) {
        freqs = [];
        targets = [];
        codes = { ends, steps: [], births: [] };
      } else {
        codes = { ends, steps: tracks.map((t, k) => [step(targets[k] - t.amp), 0]), births: [] };
      }
    } else {
      const found = peaks(input(seen, round(DETECT_S * rate)), rate);
      steady = found.map((f) => {
        const before = steady.find((c) => Math.abs(c[0] - f) < STEADY_HZ);
        return [f, before ? before[1] + 1 : 1];
      });
      ends = ends.map((e, k) => e || !found.some((f) => Math.abs(f - freqs[k]) < TRACK_HZ));
      /** @type {number[]} */
      let births = [];
      for (const [f, run] of steady) {
        if (run >= STEADY_RUNS && tracks.length - ends.filter((e) => e).length + births.length < MAX_TRACKS
          && ![...freqs, ...births].some((g) => Math.abs(f - g) < SPACING_HZ)) births.push(f);
      }
      let fcodes = [...tracks.map((t) => t.freq), ...births.map((f) => Math.min(Math.max(round((f * TURN) / rate), 1), 65535))];
      if (!fcodes.length) {
        codes = { ends: [], steps: [], births: [] };
      } else {
        const fitX = input(seen, round(FIT_S * rate));
        let c = fit(fitX, fcodes, seen - start);
        /** @type {[number, number][]} */
        const steps = [];
        /** @type {number[]} */
        const next = [];
        tracks.forEach((t, k) => {
          const mag = Math.hypot(c[k][0], c[k][1]);
          if (!ends[k] && mag < 10 ** (FLOOR_DBFS / 20)) ends[k] = true;
          if (ends[k]) return;
          next.push(ampExact(mag));
          const err = mod(Math.atan2(c[k][1], c[k][0]) / (2 * Math.PI) - t.phase / TURN + 0.5, 1) - 0.5;
          steps.push([step(next[next.length - 1] - t.amp), step(err * 128)]);
        });
        if (births.length) {
          let power = 0;
          c.forEach(([re, im], k) => { if (k >= tracks.length || !ends[k]) power += 0.5 * (re * re + im * im); });
          const recent = input(seen, round(DETECT_S_EVERY * rate));
          let pr = 0;
          for (const v of recent) pr += v * v;
          let pf = 0;
          for (const v of fitX) pf += v * v;
          if (pr / recent.length < BIRTH_RATIO * power || power < TONAL_SHARE * (pf / fitX.length)) {
            births = [];
            fcodes = fcodes.slice(0, tracks.length);
            c = c.slice(0, tracks.length);
          }
        }
        /** @type {[number, number, number][]} */
        const born = births.map((_, j) => {
          const [re, im] = c[tracks.length + j];
          next.push(ampExact(Math.hypot(re, im)));
          return [fcodes[tracks.length + j], round(mod(Math.atan2(im, re) / (2 * Math.PI), 1) * 64) % 64, ampCode(Math.hypot(re, im))];
        });
        freqs = [...freqs.filter((_, k) => !ends[k]), ...births];
        targets = next;
        codes = { ends, steps, births: born };
      }
    }
    blocks.push(codes);
    const [s, kept] = renderBlock(tracks, codes, q);
    tracks = kept;
    synth.set(s, start);
  }
  const residual = new Float32Array(x.length);
  for (let j = 0; j < x.length; j++) residual[j] = x[j] - synth[j];
  return { residual, blocks: blocks.slice(0, lastBlock + 1) };
}
