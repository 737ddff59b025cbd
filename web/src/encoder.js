/**
 * From audio to a blob (docs/FORMAT.md section 7), as codec-rt encodes: resampled to the model rate,
 * scaled to the model's level, STFT, encoder graph, then the latent coded by the model's coder; the whole
 * layout (one gain per channel) or the framed layout (packets of about 1 s, each coded from the window of
 * frames its steps depend on, with a gain of its own held near the whole audio's, as codec-rt codes a file;
 * a non-causal model's blob codes a lead-in before the audio and a lead-out after it, `lead.js`).
 */

import { PHASE_DITHER_MINOR, TONAL_MAX_BITS, TONAL_MINOR, TRACKS_MINOR, phaseDither, phaseRows } from './container.js';
import { analyseTracks } from './track_analysis.js';
import { blockRange } from './tracks.js';
import { TONAL_BITS, TONAL_HZ, defaultStride, tonalBand } from './tonal.js';
import { MAX_LOGMAG, decoderSteps, dequantize } from './decoder.js';
import { concat, packHeader, packSection, writePacket, writeWhole } from './writer.js';
import { MAG_FLOOR, stftFeatures } from './dsp.js';
import { rint } from './round.js';
import { AudioError, CodecError } from './errors.js';
import { leadIn, leadLengths, leadOut } from './lead.js';
import { GAIN_GRID_DB, GAIN_SMOOTHING_STEPS, REFERENCE_SPAN, inputGain, packetGain, removeDc, streamGains } from './level.js';
import { modelLength } from './model.js';
import { MAX_RATE_LAMBDA, isRateLambda, rangeEncode, rateAwareSymbols } from './rangecoder.js';
import { resample } from './resample.js';

const f32 = Math.fround;
export const DEFAULT_PHASE_BITS = 8;
/** Mode low_band_phase (format 1.8): the bins up to this many Hz, at 4 bits (Python: `latent.LOW_BAND_PHASE_HZ`). */
export const LOW_BAND_PHASE_HZ = 700;
export const LOW_BAND_PHASE_BITS = 4;
/** A causal model's frames come 4 times as often: the bins up to 450 Hz at 3 bits (`latent.CAUSAL_LOW_BAND_PHASE_*`). */
export const CAUSAL_LOW_BAND_PHASE_HZ = 450;
export const CAUSAL_LOW_BAND_PHASE_BITS = 3;
/** A non-causal model's lead-in, at least this many STFT frames (7.1; Python:
 * `latent.LEAD_IN_FRAMES`); `lead.js` makes it. */
export const LEAD_IN_FRAMES = 16;
/** 7.7, the level match (Python: `latent.MATCH_SPAN`, `MATCH_FLOOR_POWER`, `MATCH_BLOCK_STEPS`). */
const MATCH_SPAN = 2;
const MATCH_FLOOR_POWER = (10 * MAG_FLOOR) ** 2;
const MATCH_BLOCK_STEPS = 32;

/**
 * @typedef {object} EncodeOptions
 * @property {'predicted' | 'store_phase' | 'low_band_phase' | 'tonal_band_phase'} [mode] default predicted
 * @property {number} [bits] latent bits per value, 3..16, fixed-width models only (default the model's)
 * @property {number} [phaseBits] stored-phase bits, 1..16 (default 8; 4 in mode low_band_phase, 3 for a causal model)
 * @property {number} [phaseBins] mode low_band_phase: the bins [0, phaseBins) coded (default those up to 700 Hz,
 *   450 Hz for a causal model)
 * @property {boolean} [framed] the framed layout (format 1.7 with a lead-in; 1.4 without one for a causal
 *   model; 1.10 with stored phase, whose codes are dithered), as the CLI writes; default the whole layout
 *   (1.6 with a lead-in; without one 1.1, or 1.3 for coder 2, 1.4 for mid/side)
 * @property {number} [packetSteps] latent steps per framed packet (default about 1 s)
 * @property {boolean} [jointStereo] code two channels as mid (L + R) / 2 and side (L - R) / 2 (format 1.4;
 *   a causal model's RTISI mixes them where both carry signal); false: each channel on its own; default:
 *   mid/side where one of mid and side is under 1/100 of the other's energy (an anti-phase or mono pair), as Python
 * @property {number} [rateLambda] range-coded models: > 0 rounds each latent value to the neighbouring
 *   integer that costs less in squared error plus rateLambda times its bits (`rateAwareSymbols`; Python:
 *   `entropy.rate_aware_symbols`): fewer bytes for a little quality; default 0, plain rounding
 * @property {boolean} [levelMatch] store the gain that brings the decoded level to the input's (FORMAT.md
 *   7.7: the decoder graph run on the codes) in the sections that hold tonal bands or are rounded rate-aware,
 *   or (a causal model's) whose input is not noise-like, and holds a non-causal model's packet's own gain to
 *   at most twice that of its window from its own first sample on (7.6), as codec-rt does; false: the gain
 *   applied stored everywhere, the own gain not held so. Default true
 * @property {boolean} [tracks] send the steady partials as sinusoidal tracks (format 1.12, FORMAT.md 4.9 and
 *   7.8; codec-rt's `tracks`), the model coding the rest; default false (the ladder's point says, through
 *   `encode`)
 */

export { rint };

/** Mid/side suits a pair when one of mid and side is near silent (Python: `audio.prefers_mid_side`).
 * @param {Float32Array[]} channels @returns {boolean} */
export function prefersMidSide(channels) {
  if (channels.length !== 2) return false;
  const [l, r] = channels;
  let mid = 0, side = 0;
  for (let i = 0; i < l.length; i++) {
    mid += (l[i] + r[i]) ** 2;
    side += (l[i] - r[i]) ** 2;
  }
  return Math.min(mid, side) < 0.01 * Math.max(mid, side);
}

/**
 * The STFT frames [t0, t1) that latent steps [j0, j1) depend on, before clipping.
 * @param {import('./model.js').Config} c @param {number} j0 @param {number} j1
 */
export function encoderFrames(c, j0, j1) {
  let [lo, hi] = c.causal ? [-4, 0] : [-2, 2];
  for (let i = c.freqDownsamples - 1; i >= 0; i--) {
    const m = i < c.timeDownsamples ? 2 : 1;
    if (c.causal) lo -= 2;
    else [lo, hi] = [m * lo - 1, m * hi + 1];
  }
  return [c.timeStride * j0 + lo, c.timeStride * (j1 - 1) + hi + 1];
}

/** Latent steps per packet for packets of about one second. @param {import('./model.js').Config} c */
export function packetStepsFor(c) {
  return Math.min(0xffff, Math.max(1, rint(1.0 / ((c.timeStride * c.hop) / c.sampleRate))));
}

/**
 * Check the caller's audio, rate and options against the model -> the header fields they fix.
 * @param {import('./model.js').Model} model @param {Float32Array[]} channels @param {number} rate @param {EncodeOptions} opts
 */
function check(model, channels, rate, opts) {
  const c = model.config;
  if (!Array.isArray(channels) || !(channels.length >= 1 && channels.length <= 64)) {
    throw new AudioError(`${Array.isArray(channels) ? channels.length : 'no'} channels; codec-rt codes 1..64`);
  }
  const n = channels[0].length;
  for (const x of channels) {
    if (!(x instanceof Float32Array) || x.length !== n) throw new AudioError('audio must be Float32Arrays of one length, one per channel');
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(x[i])) throw new AudioError('audio contains NaN or infinite samples');
      // codec-rt's MAX_SAMPLE (audio.py): past it float32 power overflows in the STFT
      if (Math.abs(x[i]) > 32768) throw new AudioError(`audio has samples of ${x[i]}, beyond +-32768: codec-rt codes audio on a full scale of 1.0`);
    }
  }
  if (!(Number.isInteger(rate) && rate >= 1000 && rate <= 768000)) throw new AudioError(`sample rate ${rate} not in 1000..768000 Hz`);
  const mode = opts.mode ?? 'predicted';
  if (!['predicted', 'store_phase', 'low_band_phase', 'tonal_band_phase'].includes(mode)) {
    throw new CodecError(`unknown mode ${mode}; choose one of low_band_phase, predicted, store_phase, tonal_band_phase`);
  }
  const tonal = mode === 'tonal_band_phase';
  if (tonal && c.causal) throw new CodecError('mode tonal_band_phase needs a non-causal model: its phase path looks a stride ahead');
  let bits = 0;
  if (c.coder !== 0) {
    if (opts.bits != null) {
      throw new CodecError('this model is range-coded: its rate is the model\'s, and bits are for a fixed-width model '
        + '(--bits without --model picks the shipped one)');
    }
  } else bits = opts.bits ?? c.defaultBits;
  const low = mode === 'low_band_phase' || tonal;
  // an option that would do nothing is a mistake (codec-rt's latent.coding_options)
  if (!low && opts.phaseBins != null) throw new CodecError(`phase_bins is for modes low_band_phase and tonal_band_phase, not ${mode}`);
  if (mode === 'predicted' && opts.phaseBits != null) {
    throw new CodecError('phase_bits is for modes store_phase and low_band_phase: mode predicted stores no phase');
  }
  const lowBits = c.causal ? CAUSAL_LOW_BAND_PHASE_BITS : LOW_BAND_PHASE_BITS;
  const phaseBits = mode === 'predicted' ? 0 : opts.phaseBits ?? (tonal ? TONAL_BITS : low ? lowBits : DEFAULT_PHASE_BITS);
  for (const b of c.coder === 0 ? [bits] : []) if (!(Number.isInteger(b) && b >= 1 && b <= 16)) throw new CodecError(`bits must be an integer in 1..16, got ${b}`);
  // as codec-rt's quantize.MIN_ENCODE_BITS: with 1 or 2 bits no code lies near zero (readers take 1..16)
  if (c.coder === 0 && bits < 3) {
    throw new CodecError(`bits must be at least 3 to encode, got ${bits}: with fewer no code lies near zero and the audio comes back at full scale`);
  }
  const topBits = tonal ? TONAL_MAX_BITS : 16;
  if (mode !== 'predicted' && !(Number.isInteger(phaseBits) && phaseBits >= 1 && phaseBits <= topBits)) {
    throw new CodecError(`phase_bits must be an integer in 1..${topBits}, got ${phaseBits}`);
  }
  const lowHz = tonal ? TONAL_HZ : c.causal ? CAUSAL_LOW_BAND_PHASE_HZ : LOW_BAND_PHASE_HZ;
  const phaseBins = low ? opts.phaseBins ?? Math.max(1, Math.min(c.nBins, Math.round((lowHz * c.nFft) / c.sampleRate))) : 0;
  if (low && !(Number.isInteger(phaseBins) && phaseBins >= 1 && phaseBins <= c.nBins)) {
    throw new CodecError(`phase_bins must be in 1..${c.nBins} for this model, got ${phaseBins}`);
  }
  const rateLambda = opts.rateLambda ?? 0;
  if (!isRateLambda(rateLambda)) throw new CodecError(`rate_lambda must be a number in 0..${MAX_RATE_LAMBDA}, got ${rateLambda}`);
  if (rateLambda > 0 && c.coder === 0) {
    throw new CodecError('rate_lambda is for a range-coded model: a fixed-width one has no entropy tables');
  }
  const phaseStride = tonal ? defaultStride(c.sampleRate, c.hop) : 0;
  if (opts.tracks != null && typeof opts.tracks !== 'boolean') throw new CodecError(`tracks must be true or false, got ${JSON.stringify(opts.tracks)}`);
  // codec-rt's tracks.default_frames: blocks as long as the encoder sees past a block's first sample
  const trackFrames = opts.tracks ? Math.max(1, Math.min(64, Math.floor(Math.max(0, c.nFft / 2 - c.hop) / c.hop))) : 0;
  return { mode: { predicted: 0, store_phase: 1, low_band_phase: 2, tonal_band_phase: 3 }[mode], bits, phaseBits,
    phaseBins, phaseStride, n, rateLambda, trackFrames };
}

// codec-rt's quantize.SCALE_FRACTIONS and SCALE_TIE: the fractions of the max-norm scale a fitted one tries
const SCALE_FRACTIONS = Array.from({ length: 36 }, (_, i) => (30 + 2 * i) / 100);
const SCALE_TIE = 1e-9;

/**
 * Coder 0's code of value `x` on the levels over scale `s` (> 0), `half` = (2^bits - 1) / 2 in float32
 * (codec-rt's `quantize._codes`): clipped to the scale, in float32.
 * @param {number} x @param {number} s @param {number} half @returns {number}
 */
function codeOf(x, s, half) {
  return rint(f32(f32(Math.min(Math.max(f32(x / s), -1), 1) + 1) * half));
}

/**
 * Coder 0's fitted scale of one latent channel (codec-rt's `quantize.fitted_scales`): the fraction of its
 * max-norm scale `top` whose codes give the least step-weighted squared error (float64 sums), the largest of
 * those within SCALE_TIE of the least.
 * @param {Float32Array} v [C, per] @param {number} lc the channel @param {number} per values per latent channel
 * @param {number} top max |v| over the channel (> 0) @param {number} bits @param {Float64Array} w [steps]: a
 *   value's step is its index modulo steps @returns {number}
 */
function fittedScale(v, lc, per, top, bits, w) {
  const levels = 2 ** bits - 1;
  const half = f32(levels / 2);
  const step = f32(2 / levels);
  const m = w.length;
  const errs = SCALE_FRACTIONS.map((frac) => {
    const s = f32(top * f32(frac));
    const perStep = new Float64Array(m);
    for (let i = 0; i < per; i++) {
      const x = v[lc * per + i];
      const d = f32(f32(f32(codeOf(x, s, half) * step) - 1) * s); // decoder.js's dequantize
      perStep[i % m] += (d - x) ** 2;
    }
    let e = 0;
    for (let j = 0; j < m; j++) e += perStep[j] * w[j];
    return e;
  });
  const least = Math.min(...errs);
  let best = 0;
  errs.forEach((e, i) => { if (e <= least * (1 + SCALE_TIE)) best = i; });
  return f32(top * f32(SCALE_FRACTIONS[best]));
}

/**
 * Each latent step's input power, per channel (codec-rt's `encoder._step_power`, `latent.step_power`): the
 * sum of exp(2 logmag) over its `stride` frames from frame 0 and every bin, frames past `framesAll` counting
 * nothing, where the coding weighs it (coder 0's fitted scales, rate-aware rounding's transients); else null.
 * @param {import('./container.js').Header} h @param {number} rateLambda @param {Float32Array} feats
 *   [B, 2, n_bins, framesAll] @param {number} nBins @param {number} framesAll @param {number} steps
 * @param {number} stride @returns {Float64Array[] | null} B of [steps]
 */
function stepPower(h, rateLambda, feats, nBins, framesAll, steps, stride) {
  if (!(h.coder === 0 || rateLambda > 0)) return null;
  return Array.from({ length: h.channels }, (_, ch) => {
    const out = new Float64Array(steps);
    for (let j = 0; j < steps; j++) {
      for (let t = j * stride; t < Math.min((j + 1) * stride, framesAll); t++) {
        for (let k = 0; k < nBins; k++) out[j] += Math.exp(2 * feats[(ch * 2 * nBins + k) * framesAll + t]);
      }
    }
    return out;
  });
}

/**
 * Coder 0's quantization (codec-rt's `quantize.quantize`) of one channel's latent: max-norm scales, or with
 * step weights `w` the fitted ones (`fittedScale`), values beyond a scale clipped to it.
 * @param {Float32Array} v [C, per] @param {number} nc C @param {number} per values per latent channel
 * @param {number} bits @param {Float64Array | null} [w] [steps]
 * @returns {{scales: Float32Array, codes: Uint16Array}}
 */
function quantize(v, nc, per, bits, w = null) {
  const half = f32((2 ** bits - 1) / 2);
  const scales = new Float32Array(nc);
  const codes = new Uint16Array(v.length);
  for (let lc = 0; lc < nc; lc++) {
    let m = 0;
    for (let i = lc * per; i < (lc + 1) * per; i++) m = Math.max(m, Math.abs(v[i]));
    if (w && m > 0) m = fittedScale(v, lc, per, m, bits, w);
    scales[lc] = m;
    const safe = m > 0 ? m : 1;
    for (let i = lc * per; i < (lc + 1) * per; i++) codes[i] = codeOf(v[i], safe, half);
  }
  return { scales, codes };
}

/**
 * 7.7: the window's latent as coded (codec-rt's `latent.decoded_latent`): the packet's steps `own` as its
 * section codes them, the steps either side each on their own.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {Float32Array} z [B, C, F, T] @param {number} tAll T @param {number} rateLambda
 * @param {[number, number] | null} own the section's steps [a, b) in the window (null: all of them)
 * @param {Float64Array[] | null} [w] per channel, each step's input power `[T]` (`stepPower`): coder 0's scales are
 *   fitted with it, and rate-aware rounding tells transients by it, as in `sections`
 * @returns {Float32Array} [B, C, F, T]
 */
function codedLatent(model, h, z, tAll, rateLambda, own, w = null) {
  const c = model.config;
  const rows = c.channels * c.latentBins;
  const n = rows * tAll;
  const cuts = [...new Set([0, ...(own ?? []), tAll])].sort((x, y) => x - y);
  const zq = new Float32Array(h.channels * n);
  for (let ch = 0; ch < h.channels; ch++) {
    for (let k = 0; k + 1 < cuts.length; k++) {
      const [s0, s1] = [cuts[k], cuts[k + 1]];
      const m = s1 - s0;
      const v = new Float32Array(rows * m);
      for (let r = 0; r < rows; r++) v.set(z.subarray(ch * n + r * tAll + s0, ch * n + r * tAll + s1), r * m);
      let q;
      if (h.coder === 0) {
        const { scales, codes } = quantize(v, c.channels, c.latentBins * m, h.bits, w && w[ch].subarray(s0, s1));
        q = dequantize(codes, scales, c.latentBins * m, h.bits);
      } else {
        q = rateAwareSymbols(v, /** @type {import('./rangecoder.js').Tables} */ (model.tables), m, rateLambda,
          w && w[ch].subarray(s0)); // a part's onsets told by the window's steps after it too
      }
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < m; j++) zq[ch * n + r * tAll + s0 + j] = q[r * m + j];
      }
    }
  }
  return zq;
}

/**
 * 7.7, the level match: the gains the sections store, each channel's applied gain times the decoded
 * magnitude's rms over the input's, over frames [f0, f0 + nFrames) of the window, the decoder graph run on
 * the window's latent as coded (`codedLatent`), MATCH_BLOCK_STEPS steps' frames at a time with the steps
 * they depend on (codec-rt's `latent.matched_gains`, the same float64 sums).
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {Float32Array} zq [B, C, F, T] `codedLatent` @param {number} tAll T @param {number[]} gains [B] the
 * ones applied @param {Float32Array} feats [B, 2, n_bins, framesAll] the encoder graph's input
 * @param {number} framesAll @param {number} f0 @param {number} nFrames
 * @returns {Promise<number[]>}
 */
async function matchedGains(model, h, zq, tAll, gains, feats, framesAll, f0, nFrames) {
  const c = model.config;
  const rows = c.channels * c.latentBins;
  const n = rows * tAll;
  const s = c.timeStride;
  const decoded = gains.map(() => 0);
  for (let t0 = f0; t0 < f0 + nFrames; t0 += MATCH_BLOCK_STEPS * s) {
    const t1 = Math.min(t0 + MATCH_BLOCK_STEPS * s, f0 + nFrames);
    let [j0, j1] = decoderSteps(c, t0, t1);
    j0 = Math.max(j0, 0);
    j1 = Math.min(j1, tAll);
    const steps = j1 - j0;
    const part = new Float32Array(h.channels * rows * steps);
    for (let ch = 0; ch < h.channels; ch++) {
      for (let r = 0; r < rows; r++) part.set(zq.subarray(ch * n + r * tAll + j0, ch * n + r * tAll + j1), (ch * rows + r) * steps);
    }
    const y = await model.decode(part, h.channels, steps); // [B, 2, n_bins, steps * s]
    const yAll = steps * s;
    for (let ch = 0; ch < h.channels; ch++) {
      for (let k = 0; k < c.nBins; k++) {
        for (let t = t0; t < t1; t++) decoded[ch] += Math.exp(2 * Math.min(y[(ch * 2 * c.nBins + k) * yAll + t - j0 * s], MAX_LOGMAG));
      }
    }
  }
  return gains.map((g, ch) => {
    let input = 0;
    for (let k = 0; k < c.nBins; k++) {
      for (let t = f0; t < f0 + nFrames; t++) input += Math.exp(2 * feats[(ch * 2 * c.nBins + k) * framesAll + t]);
    }
    if (!(input > MATCH_FLOOR_POWER * c.nBins * nFrames)) return g;
    const ratio = Math.min(Math.max(Math.sqrt(decoded[ch] / input), 1 / MATCH_SPAN), MATCH_SPAN);
    const grid = Math.floor(20 * Math.log10(ratio) / GAIN_GRID_DB + 0.5) * GAIN_GRID_DB;
    return f32(Math.min(Math.max(g * 10 ** (grid / 20), 1 / 64), 64));
  });
}

/**
 * 7.4: each channel's tonal band (mode 3) of frames [f0, f0 + nFrames) of the window's features, else null.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {Float32Array} feats [B, 2, n_bins, framesAll] @param {number} framesAll @param {number} f0
 * @param {number} nFrames @param {number} first the stream's frame that frame f0 is
 */
function tonalBands(model, h, feats, framesAll, f0, nFrames, first) {
  const c = model.config;
  return h.mode === 3 ? Array.from({ length: h.channels }, (_, ch) => tonalBand(feats,
    ch * 2 * c.nBins * framesAll, c.nBins, framesAll, first - f0, first, nFrames, h, c.hop, c.nFft, h.nFrames - 1)) : null;
}

/** Whether any channel's band holds an interval. @param {ReturnType<typeof tonalBand>[]} bands */
function held(bands) {
  return bands.some((b) => b.flags.some((f) => f));
}

/**
 * 7.7: whether the sections' gains are matched (codec-rt's `encoder.matched`): where a channel holds tonal
 * bands or the latent is rounded rate-aware, or with a causal model's `flatness` where the input is not
 * noise-like. @param {ReturnType<typeof tonalBand>[] | null} bands @param {number} rateLambda
 * @param {number | null} [flatness]
 */
function matched(bands, rateLambda, flatness = null) {
  return (flatness !== null && flatness < MATCH_FLATNESS) || rateLambda > 0 || (!!bands && held(bands));
}

/** 7.7: a causal model's sections are matched unless their input is noise-like (`latent.MATCH_FLATNESS`). */
const MATCH_FLATNESS = 0.05;

/**
 * codec-rt's `latent.spectral_flatness`: the least, over channels, of the flatness (geometric over arithmetic
 * mean over bins) of the mean power spectrum of frames [f0, f0 + nFrames) of the input log-magnitude.
 * @param {Float32Array} feats [B, 2, n_bins, framesAll] @param {number} channels @param {number} nBins
 * @param {number} framesAll @param {number} f0 @param {number} nFrames
 */
function spectralFlatness(feats, channels, nBins, framesAll, f0, nFrames) {
  let least = Infinity;
  for (let ch = 0; ch < channels; ch++) {
    let logs = 0;
    let sum = 0;
    for (let k = 0; k < nBins; k++) {
      let p = 0;
      for (let t = f0; t < f0 + nFrames; t++) p += Math.exp(2 * feats[(ch * 2 * nBins + k) * framesAll + t]);
      p /= nFrames;
      logs += Math.log(p + 1e-30);
      sum += p;
    }
    least = Math.min(least, Math.exp(logs / nBins) / (sum / nBins + 1e-30));
  }
  return least;
}

/**
 * One packet's (or the whole layout's) channel sections from the encoder graph's latent.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {Float32Array} z [B, C, F, T] @param {number} t0 steps to keep: [t0, t0 + steps)
 * @param {number} tAll T @param {number} steps @param {number[]} gains [B]
 * @param {Float32Array | null} feats [B, 2, n_bins, frames]: the phase of frames [f0, f0 + nFrames) in modes 1 to 3
 * @param {number} framesAll @param {number} f0 @param {number} nFrames @param {number} first the stream's frame
 *   that frame f0 is (the phase codes' dither, 4.3) @param {number} rateLambda the latent's rate-aware
 *   rounding (0: plain) @param {ReturnType<typeof tonalBand>[] | null} bands `tonalBands`
 * @param {Float32Array | null} [zq] z as `codedLatent` coded it (the level match): its symbols, not rounded again
 * @param {Float64Array[] | null} [w] per channel, each step's input power `[T]` (`stepPower`): coder 0's scales
 *   are fitted with it, and rate-aware rounding keeps plain rounding at transients alone by it
 * @param {import('./tracks.js').TrackBlock[][] | null} [tracks] per channel, the track blocks the sections hold
 * @returns {{bytes: Uint8Array, band: boolean}} the sections, and whether they hold their tonal bands (mode 3)
 */
function sections(model, h, z, t0, tAll, steps, gains, feats, framesAll, f0, nFrames, first, rateLambda, bands, zq = null,
  w = null, tracks = null) {
  const c = model.config;
  const rows = c.channels * c.latentBins;
  const parts = [];
  // a packet that holds nothing leaves its bands out (4.5)
  const band = !!bands && (h.layout === 0 || held(bands));
  for (let ch = 0; ch < h.channels; ch++) {
    const v = new Float32Array(rows * steps);
    for (let r = 0; r < rows; r++) v.set(z.subarray((ch * rows + r) * tAll + t0, (ch * rows + r) * tAll + t0 + steps), r * steps);
    /** @type {Parameters<typeof packSection>[1]} */
    const sec = { gain: gains[ch] };
    if (h.coder === 0) {
      const { scales, codes } = quantize(v, c.channels, c.latentBins * steps, h.bits, w && w[ch].subarray(t0, t0 + steps));
      sec.scales = scales;
      sec.codes = codes;
    } else {
      const t = /** @type {import('./rangecoder.js').Tables} */ (model.tables);
      let symbols;
      if (zq) {
        symbols = new Int32Array(rows * steps);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < steps; j++) symbols[r * steps + j] = zq[(ch * rows + r) * tAll + t0 + j];
        }
      } else {
        symbols = rateAwareSymbols(v, t, steps, rateLambda, w && w[ch].subarray(t0));
      }
      sec.coded = rangeEncode(symbols, t, steps);
    }
    if (band && bands) sec.band = bands[ch];
    if (tracks) sec.tracks = tracks[ch];
    const nRows = phaseRows(h);
    if (nRows && feats) {
      const levels = 2 ** h.phaseBits;
      const codes = new Uint16Array(nRows * nFrames);
      for (let k = 0; k < nRows; k++) {
        for (let t = 0; t < nFrames; t++) {
          const a = feats[((ch * 2 + 1) * c.nBins + k) * framesAll + f0 + t];
          const x = Math.floor((a + Math.PI) * (levels / (2 * Math.PI)) + phaseDither(k, first + t)); // 1.10 (4.3)
          codes[k * nFrames + t] = ((x % levels) + levels) % levels;
        }
      }
      sec.phase = codes;
    }
    parts.push(packSection(h, sec));
  }
  return { bytes: concat(parts), band };
}

/**
 * Model-rate samples [a, b) of `x` (zeros outside it), their DC removed over the samples there when
 * `dc`, times `gain` -> float32.
 * @param {Float32Array} x @param {number} a @param {number} b @param {number} gain @param {number} rate @param {boolean} dc
 */
function scaled(x, a, b, gain, rate, dc) {
  const out = new Float32Array(b - a);
  const lo = Math.max(a, 0);
  const hi = Math.min(b, x.length);
  if (hi > lo) out.set(x.subarray(lo, hi), lo - a);
  if (dc) removeDc(out, rate, lo - a, hi - a);
  if (gain !== 1) for (let i = 0; i < out.length; i++) out[i] = f32(out[i] * gain);
  return out;
}

/**
 * Features [B, 2, n_bins, frames] of the padded signals `segs` (frame t on samples t * hop .. + n_fft).
 * @param {Float32Array[]} segs @param {number} frames @param {number} nFft @param {number} hop
 * @param {number} phaseFloor the model's `phase_floor` (3.4)
 */
function featuresOf(segs, frames, nFft, hop, phaseFloor) {
  const nb = nFft / 2 + 1;
  const out = new Float32Array(segs.length * 2 * nb * frames);
  segs.forEach((seg, ch) => out.set(stftFeatures(seg, nFft, hop, frames, phaseFloor), ch * 2 * nb * frames));
  return out;
}

/**
 * audio (a Float32Array per channel) at `rate` Hz -> blob bytes with `model`.
 * @param {import('./model.js').Model} model @param {Float32Array[]} channels @param {number} rate
 * @param {EncodeOptions} [opts]
 * @returns {Promise<Uint8Array>}
 */
export async function encodeAudio(model, channels, rate, opts = {}) {
  const c = model.config;
  const { mode, bits, phaseBits, phaseBins, phaseStride, n, rateLambda, trackFrames } = check(model, channels, rate, opts);
  const stereo = (opts.jointStereo ?? prefersMidSide(channels)) && channels.length === 2 ? 1 : 0;
  const levelMatch = opts.levelMatch ?? true; // 7.7
  let coded = channels;
  if (stereo) {
    const [l, r] = channels;
    const m = new Float32Array(n);
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      m[i] = f32(l[i] + r[i]) * 0.5;
      d[i] = f32(l[i] - r[i]) * 0.5;
    }
    coded = [m, d];
  }
  const mLen = modelLength(n, rate, c.sampleRate);
  const framed = !!opts.framed;
  // 7.1: a non-causal model codes a lead-in before the audio and a lead-out after it (format 1.6 whole;
  // framed 1.7, its gains smoothed), made at the input's rate and resampled with the audio, so that no
  // stage sees a step (Python: `latent.lead_lengths`)
  const [preSkip, leadLen] = c.causal ? [0, 0] : leadLengths(LEAD_IN_FRAMES * c.hop, c.sampleRate, rate);
  const postSkip = preSkip;
  const cLen = preSkip + mLen + postSkip; // coded_len (4.6)
  /** @type {Float32Array[]} */
  const xs = [];
  for (const x of coded) {
    let y = x;
    if (leadLen) {
      y = new Float32Array(2 * leadLen + n);
      y.set(leadIn(x, leadLen));
      y.set(x, leadLen);
      y.set(leadOut(x, leadLen), leadLen + n);
    }
    xs.push(await resample(y, rate, c.sampleRate, cLen));
  }
  const N = Math.floor(cLen / c.hop) + 1;
  const L = Math.ceil(N / c.timeStride);
  const s = c.timeStride;
  const P = opts.packetSteps ?? packetStepsFor(c);
  if (framed && !(Number.isInteger(P) && P >= 1 && P <= 0xffff)) throw new CodecError(`packet_steps must be in 1..65535, got ${P}`);
  /** @type {import('./container.js').Header} */
  const h = {
    minor: trackFrames ? TRACKS_MINOR : mode === 3 ? TONAL_MINOR : mode !== 0 ? PHASE_DITHER_MINOR : preSkip ? (framed ? 7 : 6) : framed || stereo ? 4 : c.coder === 2 ? 3 : 1,
    headerSize: 0, mode, bits, phaseBits, coder: c.coder,
    sampleRate: rate, channels: channels.length, latentChannels: c.channels, latentBins: c.latentBins, nBins: c.nBins,
    numSamples: n, nFrames: N, latentSteps: L, modelId: model.modelId, layout: framed ? 1 : 0, stereo,
    timeStride: framed ? s : 0, packetSteps: framed ? P : 0, preSkip, postSkip,
    gainSmoothing: preSkip && framed ? GAIN_SMOOTHING_STEPS : 0, // 6.2: the decoder averages the log-gain (format 1.7)
    phaseBins, // modes 2 and 3 (format 1.8): the band's bins
    phaseStride, // mode 3 (format 1.11): frames from one anchor to the next
    trackFrames, // format 1.12: STFT frames a block of sinusoidal tracks; 0: none
  };
  // the model codes what the tracks leave (7.8): framed, the coded signal as resampled (each window loses its
  // DC later, as codec-rt's stream does); whole, after the DC removal, as codec-rt's whole encoder
  /** @type {import('./tracks.js').TrackBlock[][] | null} */
  let trackBlocks = null;
  const takeTracks = () => {
    const lastBlock = Math.ceil(N / trackFrames) - 1;
    trackBlocks = xs.map((x, ch) => {
      const { residual, blocks } = analyseTracks(x, c.sampleRate, trackFrames * c.hop, Math.max(0, c.nFft / 2 - c.hop), lastBlock);
      xs[ch] = residual;
      return blocks;
    });
  };
  /** each channel's blocks that start in frames [f0, f0 + frames), null where none holds a track (4.5) */
  const blocksOf = (/** @type {number} */ f0, /** @type {number} */ frames) => {
    if (!trackBlocks) return null;
    const [i0, i1] = blockRange(trackFrames, f0, frames);
    const out = trackBlocks.map((b) => b.slice(i0, i1));
    return out.some((ch) => ch.some((b) => b.ends.length || b.births.length)) ? out : null;
  };
  const hop = c.hop;
  const half = c.nFft / 2;
  if (!framed) {
    for (const x of xs) removeDc(x, c.sampleRate);
    const gains = xs.map((x) => inputGain(x, 0, cLen)); // the input's level, tracks and all (7.8)
    if (trackFrames) takeTracks();
    const feats = featuresOf(xs.map((x, ch) => scaled(x, -half, cLen + half, gains[ch], c.sampleRate, false)), N, c.nFft, hop, c.phaseFloor);
    const z = await model.encode(feats, xs.length, N);
    const bands = tonalBands(model, h, feats, N, 0, N, 0);
    const w = stepPower(h, rateLambda, feats, c.nBins, N, L, c.timeStride);
    const flat = c.causal ? spectralFlatness(feats, xs.length, c.nBins, N, 0, N) : null;
    const held = blocksOf(0, N) !== null; // 7.8: a section that holds tracks keeps the gain applied
    const zq = levelMatch && !held && matched(bands, rateLambda, flat) ? codedLatent(model, h, z, L, rateLambda, null, w) : null;
    const stored = zq ? await matchedGains(model, h, zq, L, gains, feats, N, 0, N) : gains;
    return writeWhole(h, sections(model, h, z, 0, L, L, stored, feats, N, 0, N, 0, rateLambda, bands, zq, w, trackBlocks).bytes);
  }
  const inputs = xs.slice(); // the input's level, tracks and all (7.8): a residual 25 dB down is coded so
  if (trackFrames) takeTracks();
  const parts = [packHeader(h, 0)];
  // the whole audio is here, as a file's (7.6); no samples hold no level: each packet keeps its own gain, as
  // codec-rt's
  const level = n ? streamGains(channels, stereo) : null;
  for (let k = 0; k * P < L; k++) {
    const j0 = k * P;
    const j1 = Math.min((k + 1) * P, L);
    let [t0, t1] = encoderFrames(c, j0, j1);
    t0 = Math.max(0, Math.floor(t0 / s) * s);
    t1 = Math.min(Math.ceil(t1 / s) * s, N);
    const a = t0 * hop - half;
    const b = (t1 - 1) * hop + half;
    // the window's samples without their DC (over what the file has there), and the packet's own span's gain
    const segs = xs.map((x) => scaled(x, a, b, 1, c.sampleRate, true));
    const levels = trackBlocks ? inputs.map((x) => scaled(x, a, b, 1, c.sampleRate, true)) : segs;
    const own = j0 * s * hop - a;
    const span = Math.min(j1 * s * hop, cLen) - j0 * s * hop;
    // its own span's gain, held to at most twice that of the window from its own first sample on, with the
    // level match and a non-causal model (codec-rt's level.window_capped, FORMAT.md 7.6)
    const gains = levels.map((x, ch) => {
      const g = !levelMatch || c.causal ? inputGain(x, own, own + span)
        : Math.min(inputGain(x, own, own + span), f32(REFERENCE_SPAN * inputGain(x, own, x.length)));
      return level ? packetGain(g, level[ch]) : g;
    });
    segs.forEach((x, ch) => {
      for (let i = 0; i < x.length; i++) x[i] = f32(x[i] * gains[ch]);
    });
    const feats = featuresOf(segs, t1 - t0, c.nFft, hop, c.phaseFloor);
    const z = await model.encode(feats, xs.length, t1 - t0);
    const tAll = Math.ceil((t1 - t0) / s);
    const f0 = j0 * s - t0;
    const nFrames = Math.min(j1 * s, N) - j0 * s;
    // the window's latent: the decoder graph's context reaches past the packet
    const bands = tonalBands(model, h, feats, t1 - t0, f0, nFrames, j0 * s);
    const w = stepPower(h, rateLambda, feats, c.nBins, t1 - t0, tAll, s);
    const flat = c.causal ? spectralFlatness(feats, xs.length, c.nBins, t1 - t0, f0, nFrames) : null;
    const blocks = blocksOf(j0 * s, nFrames); // 7.8: a packet that holds tracks keeps the gain applied
    const zq = levelMatch && !blocks && matched(bands, rateLambda, flat) ? codedLatent(model, h, z, tAll, rateLambda, [j0 - t0 / s, j1 - t0 / s], w) : null;
    const stored = zq ? await matchedGains(model, h, zq, tAll, gains, feats, t1 - t0, f0, nFrames) : gains;
    const secs = sections(model, h, z, j0 - t0 / s, tAll, j1 - j0, stored, feats, t1 - t0, f0, nFrames, j0 * s, rateLambda, bands, zq, w, blocks);
    parts.push(writePacket(k, secs.bytes, j1 === L ? [n, N, L] : null, secs.band, blocks !== null));
  }
  return concat(parts);
}
