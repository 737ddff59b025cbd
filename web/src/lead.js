/**
 * The framed encoder's lead-in (docs/FORMAT.md 7.1), as codec-rt makes it (Python: `codec_rt.lead`): the
 * `pre_skip` samples coded before the audio, which the decoder drops, so that the models see no step at the
 * audio's first sample. Made at the input's rate, before the resampler: the audio continued backwards by
 * linear prediction, an autoregressive model fitted to its first samples by Burg's method, run backwards in
 * time and bounded by their peak; digital silence gives zeros. All in float64, then float32.
 */

export const ORDER = 32; // prediction order
export const MAX_REFLECTION = 1.0 - 1e-6; // every pole inside the unit circle, in exact arithmetic
// In floating point a tone's predictor can still grow (its period at or below the order): a continuation
// over GROWTH times the audio's peak is refitted at half the order, down to 2, else there is no lead-in.
export const GROWTH = 2.0;
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
  if (preSkip > 2 * minimum) return [0, 0]; // as codec-rt: rates nearly coprime with the model's get none
  return [preSkip, (preSkip * rate) / modelRate];
}

/**
 * `seg` continued by `n` samples with `burg`'s predictor of `order`, in float64.
 * @param {Float64Array} seg @param {number} n @param {number} order
 * @returns {Float64Array}
 */
function extrapolate(seg, n, order) {
  const m = seg.length;
  const a = burg(seg, order);
  const z = new Float64Array(m + n);
  z.set(seg);
  for (let i = m; i < m + n; i++) {
    let s = 0;
    for (let k = 0; k < order; k++) s += -a[k + 1] * z[i - 1 - k];
    z[i] = s;
  }
  return z.subarray(m);
}

/**
 * One channel's audio `y` -> the `n` samples before it: its first `n` samples (zeros past its end)
 * extrapolated backwards by `burg`'s predictor of order ORDER, or half that, ... down to 2 where the higher
 * order's continuation grows past GROWTH times their peak; clipped to their peak, as float32. Digital
 * silence (and a lead-in of ORDER samples or fewer, or a continuation that grows at every order) gives zeros.
 * @param {Float32Array} y @param {number} n
 * @returns {Float32Array}
 */
export function leadIn(y, n) {
  const out = new Float32Array(n);
  const seg = new Float64Array(n);
  for (let i = 0; i < Math.min(n, y.length); i++) seg[i] = y[i];
  if (n <= ORDER || !(dot(seg, 0, seg, 0, n) > SILENCE)) return out;
  let peak = 0;
  for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(seg[i]));
  const rev = new Float64Array(n);
  for (let i = 0; i < n; i++) rev[i] = seg[n - 1 - i]; // backwards in time
  for (let order = ORDER; order >= 2; order = Math.floor(order / 2)) {
    const z = extrapolate(rev, n, order);
    let grows = false;
    for (let i = 0; i < n; i++) if (!(Math.abs(z[i]) <= GROWTH * peak)) { grows = true; break; }
    if (grows) continue;
    for (let j = 0; j < n; j++) out[j] = Math.min(Math.max(z[n - 1 - j], -peak), peak);
    return out;
  }
  return out;
}

/**
 * The `n` samples after `y` (format 1.6's lead-out, docs/FORMAT.md 7.1): the lead-in of the time-reversed
 * audio, time-reversed (its last `n` samples, zeros before its start, continued forwards).
 * @param {Float32Array} y @param {number} n
 * @returns {Float32Array}
 */
export function leadOut(y, n) {
  const m = Math.min(n, y.length);
  const rev = new Float32Array(m);
  for (let i = 0; i < m; i++) rev[i] = y[y.length - 1 - i];
  return leadIn(rev, n).reverse();
}
