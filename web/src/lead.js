/**
 * The framed encoder's lead-in (docs/FORMAT.md 7.1), as codec-rt makes it (Python: `codec_rt.lead`): the
 * `pre_skip` samples coded before the audio, which the decoder drops, so that the models see no step at the
 * audio's first sample. Made at the input's rate, before the resampler: the audio continued backwards by
 * linear prediction, an autoregressive model fitted to its first samples by Burg's method, run backwards in
 * time and bounded by their peak; digital silence gives zeros. All in float64, then float32.
 */

export const ORDER = 32; // prediction order
export const MAX_REFLECTION = 1.0 - 1e-6; // keeps every pole inside the unit circle
export const EXACT = 1e-11; // a stage that leaves this share of the error: predictable to rounding; stop
export const SILENCE = 1e-20; // energy below which the lead-in is zeros

/** sum_i a[ia + i] * b[ib + i], i = 0 .. n - 1, in float64. @param {Float64Array} a @param {number} ia @param {Float64Array} b @param {number} ib @param {number} n */
function dot(a, ia, b, ib, n) {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ia + i] * b[ib + i];
  return s;
}

/**
 * Burg's method: the prediction-error filter `a` (order + 1 values, a[0] = 1) of `x`, so that
 * x[t] ~ -sum_k a[k] x[t - k]; each reflection coefficient clamped to +-MAX_REFLECTION, the recursion
 * stopped (the rest of `a` 0) once a stage leaves EXACT or less of the error before it (a constant: later
 * stages would fit rounding noise, piling up poles next to 1 whose coefficients overflow).
 * @param {Float64Array} x @param {number} [order]
 * @returns {Float64Array}
 */
export function burg(x, order = ORDER) {
  const len = x.length;
  const f = Float64Array.from(x);
  const b = Float64Array.from(x);
  const a = new Float64Array(order + 1);
  a[0] = 1;
  const m0 = Math.min(order, len - 1);
  let last = 0;
  for (let m = 0; m < m0; m++) {
    const n = len - m - 1; // ff = f[m + 1 ..], bb = b[m .. len - 2]
    const den = dot(f, m + 1, f, m + 1, n) + dot(b, m, b, m, n);
    if (!(den > EXACT * last)) break;
    const k = Math.min(Math.max((-2.0 * dot(f, m + 1, b, m, n)) / den, -MAX_REFLECTION), MAX_REFLECTION);
    const prev = a.slice(0, m + 2);
    for (let i = 0; i <= m + 1; i++) a[i] = prev[i] + k * prev[m + 1 - i];
    const ff = f.slice(m + 1, len);
    const bb = b.slice(m, len - 1);
    for (let i = 0; i < n; i++) {
      f[m + 1 + i] = ff[i] + k * bb[i];
      b[m + 1 + i] = bb[i] + k * ff[i];
    }
    last = den;
  }
  return a;
}

/**
 * A lead-in of at least `minimum` model-rate samples -> [pre_skip, its length at the input `rate`]: the
 * smallest multiple of modelRate / gcd(modelRate, rate) at or above `minimum`, so that both are whole
 * numbers of samples.
 * @param {number} minimum @param {number} modelRate @param {number} rate
 * @returns {[number, number]}
 */
export function leadLengths(minimum, modelRate, rate) {
  let [p, q] = [modelRate, rate];
  while (q) [p, q] = [q, p % q];
  const step = modelRate / p;
  const preSkip = Math.ceil(minimum / step) * step;
  return [preSkip, (preSkip * rate) / modelRate];
}

/**
 * One channel's audio `y` -> the `n` samples before it: its first `n` samples (zeros past its end)
 * extrapolated backwards by `burg`'s predictor, clipped to their peak, as float32. Digital silence (and
 * a lead-in of ORDER samples or fewer) gives zeros.
 * @param {Float32Array} y @param {number} n
 * @returns {Float32Array}
 */
export function leadIn(y, n) {
  const out = new Float32Array(n);
  const seg = new Float64Array(n);
  for (let i = 0; i < Math.min(n, y.length); i++) seg[i] = y[i];
  if (n <= ORDER || !(dot(seg, 0, seg, 0, n) > SILENCE)) return out;
  const z = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) z[i] = seg[n - 1 - i]; // backwards in time
  const a = burg(z.subarray(0, n), ORDER);
  for (let i = n; i < 2 * n; i++) {
    let s = 0;
    for (let k = 0; k < ORDER; k++) s += -a[k + 1] * z[i - 1 - k];
    z[i] = s;
  }
  for (let i = n; i < 2 * n; i++) if (!Number.isFinite(z[i])) return out; // no lead-in: the audio starts cold
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(seg[i]));
  for (let j = 0; j < n; j++) out[j] = Math.min(Math.max(z[2 * n - 1 - j], -peak), peak);
  return out;
}
