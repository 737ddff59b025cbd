/**
 * The phase-gradient start (docs/FORMAT.md 6.5, "Non-causal: the phase start"; codec_rt.phase_start = 1):
 * a phase for a non-causal model's predicted-phase mode from the log-magnitude alone. Each frame's spectral
 * peaks go on from the frame before at their instantaneous frequency (the vertex of the parabola through
 * the peak's log-magnitude and its two neighbours), and every other bin is locked to its nearest peak along
 * the frequency-direction phase gradient of the Hann window read as a Gaussian (Prusa, Balazs and
 * Sondergaard 2017). Float64 throughout, in the spec's order of operations, as codec-rt's
 * `phase_gradient.gradient_phase`. The frames around an isolated click take the phase of one impulse at
 * their energy centroid instead (6.5, "Impulses"). A block decoder (6.9) goes on from the phase the block
 * before gave its window's first frame, with the energies of the frames before it (`GradientStart`): the
 * same values as the whole-file recursion.
 */

export const LAMBDA = 0.25645; // ltfat's lambda for the Hann window (lam * n_fft^2 is the Gaussian's)
export const PEAK_RANGE = Math.log(1000); // peaks within 60 dB of the frame's strongest bin
export const MAX_BIN_SHIFT = 1.5; // a peak's frequency at most this many bins from its bin
const TWO_PI = 2 * Math.PI;
export const TRANSIENT_DB = 20; // an impulse: a frame this far above the frames REACH hops either side (dB)
export const FLOOR_DB = -20; // and louder than this: 40 dB under noise at the level gain's working RMS
export const REACH = 3;
export const SPAN = 2; // frames either side of the peak frame that take the impulse's phase
export const SPREAD = 32; // the impulse's chirp spans n_fft / SPREAD samples
export const CONTEXT = REACH + SPAN; // frames either side whose energy a frame's test reads
export const HARMONIC_TOLERANCE = 0.25; // bins: the band's harmonics move a peak at most this far (6.5)

/**
 * Each frame's energy (6.5, "Impulses"): 10 log10 of the sum over bins of exp(2 L), computed stably.
 * @param {Float32Array | Float64Array} logmag [n_bins, frames] @param {number} nb
 * @returns {Float64Array} [frames] dB
 */
export function frameEnergy(logmag, nb) {
  const frames = logmag.length / nb;
  const e = new Float64Array(frames);
  for (let t = 0; t < frames; t++) {
    let top = -Infinity;
    for (let k = 0; k < nb; k++) top = Math.max(top, logmag[k * frames + t]);
    let sum = 0;
    for (let k = 0; k < nb; k++) sum += Math.exp(2 * (logmag[k * frames + t] - top));
    e[t] = (10 / Math.LN10) * (2 * top + Math.log(sum));
  }
  return e;
}

/**
 * The frames that take an impulse's phase, and its offset from each one's centre (6.5, "Impulses").
 * @param {Float64Array} energy [frames] dB @param {Float64Array | null} before up to CONTEXT frames' energies
 *   just before them (null: a file's start) @param {number} hop
 * @returns {{held: Uint8Array, offset: Float64Array}} [frames] each
 */
export function transients(energy, before, hop) {
  const prior = before ?? new Float64Array(0);
  const n = energy.length;
  const lo = prior.length;
  const at = (/** @type {number} */ i) => (i < 0 || i >= lo + n ? -Infinity : i < lo ? prior[i] : energy[i - lo]);
  const held = new Uint8Array(n);
  const offset = new Float64Array(n);
  for (let p = 0; p < lo + n; p++) {
    const ep = at(p);
    if (!(ep > FLOOR_DB && ep - Math.max(at(p - REACH), at(p + REACH)) > TRANSIENT_DB)) continue;
    let isPeak = true;
    for (let j = 1; j <= REACH; j++) if (!(ep > at(p - j) && ep >= at(p + j))) isPeak = false;
    if (!isPeak) continue;
    const a = Math.max(p - SPAN, 0);
    const b = Math.min(p + SPAN + 1, lo + n);
    if (b <= lo) continue;
    let num = 0;
    let den = 0;
    for (let j = a; j < b; j++) {
      const power = 10 ** ((at(j) - ep) / 10);
      num += (j - p) * power;
      den += power;
    }
    const centroid = num / den; // frames, from p
    for (let i = Math.max(a, lo); i < b; i++) {
      held[i - lo] = 1;
      offset[i - lo] = Math.min(Math.max(hop * (centroid - (i - p)), -2 * hop), 2 * hop);
    }
  }
  return { held, offset };
}

/**
 * The phase of a click `offset` samples from a frame's centre, swept by a chirp over n_fft / spread samples.
 * @param {number} offset @param {number} nb @param {number} nFft @param {Float64Array} out [n_bins]
 * @param {number} [spread]
 */
export function impulsePhase(offset, nb, nFft, out, spread = SPREAD) {
  for (let k = 0; k < nb; k++) {
    const sweep = (TWO_PI / spread) * ((k * k) / (2 * Math.max(nb - 1, 1)) - k / 2);
    out[k] = mod2pi((-TWO_PI * (offset + nFft / 2) * k) / nFft - sweep);
  }
}

/** numpy.mod(x, 2 pi): the remainder with the divisor's sign (+0 for an exact multiple). @param {number} x */
function mod2pi(x) {
  const m = x % TWO_PI; // fmod, exact
  if (m === 0) return 0;
  return m < 0 ? m + TWO_PI : m;
}

/**
 * The phase-gradient start of consecutive frames of one channel.
 * @param {Float32Array | Float64Array} logmag natural-log magnitude [n_bins, frames] (bins major: `k * frames + t`)
 * @param {number} nb n_bins @param {number} nFft @param {number} hop
 * @param {Float64Array | null} [seed] phi at the first frame [n_bins], as the block before gave it; null: the
 *   file's first frame (its peaks at phase 0)
 * @returns {Float64Array} phi [n_bins, frames] in [0, 2 pi] (2 pi only where numpy.mod rounds there too)
 */
export function gradientPhase(logmag, nb, nFft, hop, seed = null) {
  return gradientStart(logmag, nb, nFft, hop, seed, null).phi;
}

/**
 * `gradientPhase` with the impulses' frames: also `before`, the energies of up to CONTEXT frames before the
 * first (a block that goes on from `seed`; null: a file's start).
 * @param {Float32Array | Float64Array} logmag [n_bins, frames] @param {number} nb @param {number} nFft
 * @param {number} hop @param {Float64Array | null} seed @param {Float64Array | null} before
 * @param {Float64Array | null} [pitch] mode 2 (6.5, "Non-causal, mode 2: the band's harmonics"): the stored
 *   band's pitch [frames], cycles a sample (0: unvoiced); a voiced frame's frequencies in bins [band, 2 band)
 *   within HARMONIC_TOLERANCE of a harmonic are that harmonic's
 * @param {number} [band] the stored band's bins
 * @returns {{phi: Float64Array, held: Uint8Array, energy: Float64Array}} phi [n_bins, frames], held [frames]
 *   (the frames that took an impulse's phase), energy [frames] (dB)
 */
export function gradientStart(logmag, nb, nFft, hop, seed, before, pitch = null, band = 0) {
  const frames = logmag.length / nb;
  if (!Number.isInteger(frames)) throw new RangeError(`log-magnitude of ${logmag.length} values is not ${nb} bins x frames`);
  if (seed && seed.length !== nb) throw new RangeError(`seed of ${seed.length} bins, expected ${nb}`);
  const phi = new Float64Array(nb * frames);
  const col = new Float64Array(nb); // L[., t]
  const G = new Float64Array(nb); // the frequency-direction gradient integrated from bin 0
  const base = new Float64Array(nb);
  const prev = new Float64Array(nb); // phi[., t - 1]
  const peaks = new Int32Array(nb);
  const advance = 2 * ((Math.PI * hop) / nFft); // a frame's phase advance per bin of frequency
  const dScale = LAMBDA * nFft * nFft;
  const energy = frameEnergy(logmag, nb);
  const { held, offset } = transients(energy, seed ? before : null, hop);
  const click = new Float64Array(nb);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < nb; k++) col[k] = logmag[k * frames + t];
    if (t === 0 && seed) {
      for (let k = 0; k < nb; k++) phi[k * frames] = prev[k] = seed[k];
      continue;
    }
    // base: the phase each bin would have if it went on from the frame before at its own frequency
    if (t === 0) base.fill(0);
    else {
      for (let k = 0; k < nb; k++) {
        let nu = k;
        if (k > 0 && k < nb - 1) {
          const lo = col[k - 1];
          const hi = col[k + 1];
          const c = lo - 2 * col[k] + hi;
          const shift = c < 0 ? (0.5 * (lo - hi)) / c : 0;
          nu = k + Math.min(Math.max(shift, -MAX_BIN_SHIFT), MAX_BIN_SHIFT);
        }
        if (pitch && pitch[t] > 0 && k >= band && k < 2 * band) { // a peak near a harmonic goes on at it
          const at = Math.max(1, Math.floor(nu / (nFft * pitch[t]) + 0.5)) * nFft * pitch[t];
          if (Math.abs(at - nu) <= HARMONIC_TOLERANCE) nu = at;
        }
        base[k] = prev[k] + advance * nu;
      }
    }
    // G: the trapezoidal sum along k of g = -2 pi (d + n_fft / 2) / n_fft, d the energy's time offset
    const inner = t > 0 && t < frames - 1;
    let gPrev = 0;
    for (let k = 0; k < nb; k++) {
      const dn = inner ? (logmag[k * frames + t + 1] - logmag[k * frames + t - 1]) / (2 * hop) : 0;
      const d = Math.min(Math.max((dScale * dn) / TWO_PI, -2 * hop), 2 * hop);
      const g = (-TWO_PI * (d + nFft / 2)) / nFft;
      G[k] = k === 0 ? 0 : G[k - 1] + 0.5 * (g + gPrev);
      gPrev = g;
    }
    // the peaks, in order of k
    let top = -Infinity;
    for (let k = 0; k < nb; k++) top = Math.max(top, col[k]);
    const floor = top - PEAK_RANGE;
    let n = 0;
    for (let k = 1; k < nb - 1; k++) {
      if (col[k] >= col[k - 1] && col[k] > col[k + 1] && col[k] > floor) peaks[n++] = k;
    }
    // each bin locked to its nearest peak (the lower on a tie); no peak: each bin its own
    let i = 0; // peaks[i - 1] <= k < peaks[i]
    for (let k = 0; k < nb; k++) {
      while (i < n && peaks[i] <= k) i++;
      let p = k;
      if (n > 0) {
        const left = i > 0 ? peaks[i - 1] : -1;
        const right = i < n ? peaks[i] : -1;
        p = left >= 0 && (right < 0 || k - left <= right - k) ? left : right;
      }
      phi[k * frames + t] = mod2pi(base[p] + G[k] - G[p]);
    }
    if (held[t]) { // an impulse's frame leaves the recursion, and the next goes on from it
      impulsePhase(offset[t], nb, nFft, click);
      for (let k = 0; k < nb; k++) phi[k * frames + t] = click[k];
    }
    for (let k = 0; k < nb; k++) prev[k] = phi[k * frames + t];
  }
  return { phi, held, energy };
}

export const SHARED_SPREAD = 0.5; // a frame's channels share the joint start where their median spread is below

/**
 * Channels coded one by one (6.5): their joint log-magnitude (the log of the root of their summed squared
 * magnitudes, computed stably in float64, as codec-rt's `phase_gradient.joint_start`) and the frames that
 * take its start (the median over bins of the spread of their log-magnitudes at most SHARED_SPREAD).
 * @param {(Float32Array | Float64Array)[]} logmags each [n_bins, frames] (bins major) @param {number} nb n_bins
 * @returns {{joint: Float64Array, shared: Uint8Array}} joint [n_bins, frames], shared [frames]
 */
export function jointStart(logmags, nb) {
  const size = logmags[0].length;
  const frames = size / nb;
  const joint = new Float64Array(size);
  const spread = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let top = -Infinity;
    let low = Infinity;
    for (const s of logmags) {
      top = Math.max(top, s[i]);
      low = Math.min(low, s[i]);
    }
    let sum = 0;
    for (const s of logmags) sum += Math.exp(2 * (s[i] - top));
    joint[i] = top + 0.5 * Math.log(sum);
    spread[i] = top - low;
  }
  const shared = new Uint8Array(frames);
  const column = new Float64Array(nb);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < nb; k++) column[k] = spread[k * frames + t];
    column.sort();
    shared[t] = column[(nb - 1) >> 1] <= SHARED_SPREAD ? 1 : 0; // n_bins is odd: the middle value
  }
  return { joint, shared };
}

/**
 * The phase-gradient start of one channel decoded in blocks, in order: each block's window goes on from
 * the phase the block before kept for that window's first frame.
 */
export class GradientStart {
  constructor() {
    this.frame = 0;
    /** @type {Float64Array | null} */
    this.seed = null;
    /** @type {Float64Array | null} the energies of the CONTEXT frames before `frame` */
    this.before = null;
  }

  /**
   * The frames [w0, w0 + T) -> their phase [n_bins, T] and the frames that took an impulse's [T]; keeps frame
   * `nextW0`'s phase, and the energies before it, for the next block.
   * @param {Float32Array | Float64Array} logmag [n_bins, T] @param {number} nb @param {number} nFft
   * @param {number} hop @param {number} w0 @param {number} nextW0
   * @param {Float64Array | null} [pitch] mode 2: the stored band's pitch [T] (`gradientStart`)
   * @param {number} [band] the stored band's bins
   * @returns {{phi: Float64Array, held: Uint8Array}}
   */
  block(logmag, nb, nFft, hop, w0, nextW0, pitch = null, band = 0) {
    if (w0 > 0 && (this.seed === null || this.frame !== w0)) {
      throw new RangeError(`gradient start: block from frame ${w0} out of order (expected ${this.frame})`);
    }
    const goOn = w0 > 0;
    const { phi, held, energy } = gradientStart(logmag, nb, nFft, hop, goOn ? this.seed : null, goOn ? this.before : null,
      pitch, band);
    const frames = phi.length / nb;
    if (nextW0 >= w0 && nextW0 < w0 + frames) {
      const seed = new Float64Array(nb);
      for (let k = 0; k < nb; k++) seed[k] = phi[k * frames + nextW0 - w0];
      const prior = goOn && this.before ? this.before : new Float64Array(0);
      const all = new Float64Array(prior.length + energy.length);
      all.set(prior);
      all.set(energy, prior.length);
      const at = nextW0 - w0 + prior.length;
      this.frame = nextW0;
      this.seed = seed;
      this.before = all.slice(Math.max(0, at - CONTEXT), at);
    }
    return { phi, held };
  }
}
