/**
 * From a blob to audio (docs/FORMAT.md section 6), as codec-rt's block decoder runs it (6.9): the decoder
 * graph over each block of 128 STFT frames and its receptive field, the log-magnitude capped, the gains
 * divided out, then the postfilter and Griffin-Lim over the block and 24 frames of margin on each side
 * (from the graph's phase or the phase-gradient start, carried from block to block), the block's DC
 * removed, blocks joined with a crossfade; stored phase: a plain inverse STFT; a causal model:
 * frame-by-frame RTISI. Mid/side pairs (format 1.4) become left and right; then back to the blob's
 * rate, the lead-in (format 1.5's pre_skip) dropped there, and exactly its length. A framed blob cut short
 * decodes its whole packets.
 */

import { PHASE_DITHER_MINOR, phaseDither, phaseRows, readBlob } from './container.js';
import { tonalPaths } from './tonal.js';
import { causalFrames, crossfade, postfilter, refineFrames, windowSquareSum } from './dsp.js';
import { SteadyBins } from './steady.js';
import { CausalClicks } from './clicks.js';
import { SteadyPeaks } from './peaks.js';
import { AheadPitch, LowBandPitch } from './pitch.js';
import { CodecError, FormatError, TruncatedError } from './errors.js';
import { frameGains, removeDc } from './level.js';
import { codedLength } from './model.js';
import { GradientStart, jointStart } from './phase_gradient.js';
import { rangeDecode } from './rangecoder.js';
import { resample } from './resample.js';
import { addTracks, followTracks } from './tracks.js';

export const BLOCK_FRAMES = 128;
/** A causal model's decoder graph runs over windows of this many frames, fixed in time (grid.CAUSAL_WINDOW). */
export const CAUSAL_WINDOW = 16;
export const MARGIN_FRAMES = 24;
export const CROSSFADE_HOPS = 2;
export const MAX_LOGMAG = 12;
const f32 = Math.fround;

/**
 * @typedef {object} DecodeOptions
 * @property {number} [phaseIters] phase iterations (Griffin-Lim per block, or RTISI per frame for a causal
 *   model); default the model's: 32, or 3 for a causal model (0 in mode 2, 6.3); 0 = the predicted phase as is
 * @property {number} [contrast] postfilter contrast, 0.5..2.0 (1 = off); default the model's (1 in mode 2, 6.3)
 * @property {number} [phaseStart] a non-causal model's predicted phase starts from the graph's phase (0) or
 *   the phase-gradient start (1); default the model's (codec_rt.phase_start)
 * @property {boolean} [highpass] remove the output's DC and infrasound, as the encoder removed the input's
 *   (default true; a causal model's decoder never does)
 * @property {boolean} [strict] refuse a framed blob cut short (TruncatedError) instead of decoding its whole packets
 * @property {(message: string) => void} [onWarning] told when a cut blob is decoded up to its cut
 */

/**
 * @typedef {object} Decoded
 * @property {Float32Array[]} channels the audio, one array per channel, at `sampleRate`
 * @property {number} sampleRate
 * @property {import('./container.js').Header} header
 * @property {boolean} truncated a framed blob cut short, decoded up to its last whole packet
 */

/**
 * Coder 0's codes -> latent values, float32 as codec-rt's `quantize.dequantize` (6.1).
 * @param {Uint16Array} codes [C, per] @param {Float32Array} scales [C] @param {number} per values per latent
 * channel @param {number} bits @returns {Float32Array}
 */
export function dequantize(codes, scales, per, bits) {
  const step = f32(2 / (2 ** bits - 1));
  const v = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) v[i] = f32(f32(f32(codes[i] * step) - 1) * scales[Math.floor(i / per)]);
  return v;
}

/**
 * The latent steps [j0, j1) that decoder output frames [t0, t1) depend on, before clipping.
 * @param {import('./model.js').Config} c @param {number} t0 @param {number} t1
 */
export function decoderSteps(c, t0, t1) {
  let lo = t0 - c.phaseContext;
  let hi = t1 - 1 + c.phaseContext;
  if (!c.causal) {
    for (let i = 0; i < c.freqDownsamples; i++) {
      if (i < c.timeDownsamples) {
        lo = Math.ceil((lo - 2) / 2);
        hi = Math.floor((hi + 1) / 2);
      } else {
        lo -= 1;
        hi += 1;
      }
    }
  }
  if (c.causal) lo -= 4;
  else {
    lo -= 2;
    hi += 2;
  }
  return [lo, hi + 1];
}

/**
 * The symbols or dequantized codes of every packet -> latent [B, C, F, L], gains [B, L], stored phase [B, n_bins, N].
 * @param {import('./model.js').Model} model @param {import('./container.js').Blob} blob
 */
export function latents(model, blob) {
  const h = blob.header;
  const c = model.config;
  const rows = c.channels * c.latentBins;
  const steps = blob.packets.reduce((n, p) => n + p.steps, 0);
  const frames = blob.packets.reduce((n, p) => n + p.frames, 0);
  const z = new Float32Array(h.channels * rows * steps);
  const gains = new Float32Array(h.channels * steps);
  const nRows = phaseRows(h); // mode 1: every bin; mode 2: the low band (6.3)
  const phase = nRows ? new Float32Array(h.channels * nRows * frames) : null;
  const phaseStep = f32((2 * Math.PI) / 2 ** h.phaseBits);
  const dithered = h.minor >= PHASE_DITHER_MINOR; // 4.3: code k <-> 2 pi (k + 1/2 - u) / 2**bits - pi, in float64
  const ditheredStep = (2 * Math.PI) / 2 ** h.phaseBits;
  const pi = f32(Math.PI);
  let j0 = 0;
  let t0 = 0;
  for (const p of blob.packets) {
    for (let ch = 0; ch < h.channels; ch++) {
      const sec = p.sections[ch];
      let v;
      if (h.coder === 0) {
        v = dequantize(/** @type {Uint16Array} */ (sec.codes), /** @type {Float32Array} */ (sec.scales),
          c.latentBins * p.steps, h.bits);
      } else {
        if (!model.tables) throw new FormatError('a range-coded blob for a model without tables');
        v = rangeDecode(/** @type {Uint8Array} */ (sec.coded), model.tables, p.steps);
      }
      const base = ch * rows * steps;
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < p.steps; j++) z[base + r * steps + j0 + j] = v[r * p.steps + j];
      }
      gains.fill(sec.gain, ch * steps + j0, ch * steps + j0 + p.steps);
      if (phase && sec.phase) {
        for (let k = 0; k < nRows; k++) {
          for (let t = 0; t < p.frames; t++) {
            const code = sec.phase[k * p.frames + t];
            phase[(ch * nRows + k) * frames + t0 + t] = dithered
              ? f32((code + 0.5 - phaseDither(k, t0 + t)) * ditheredStep - Math.PI)
              : f32(f32(code * phaseStep) - pi);
          }
        }
      }
    }
    j0 += p.steps;
    t0 += p.frames;
  }
  return { z, gains, phase, rows: nRows, steps, frames, band: h.mode === 3 ? tonalPaths(blob, frames, c.hop, c.nFft) : null };
}

/**
 * Decode a blob with its model -> the audio at the blob's rate, exactly its channels and length.
 * @param {import('./model.js').Model} model @param {Uint8Array} data @param {DecodeOptions} [opts]
 * @returns {Promise<Decoded>}
 */
export async function decodeBlob(model, data, opts = {}) {
  const c = model.config;
  let iters = opts.phaseIters ?? model.phaseIters ?? (c.causal ? 3 : 32);
  if (!(Number.isInteger(iters) && iters >= 0 && iters <= 10000)) throw new CodecError(`phase_iters must be in 0..10000, got ${iters}`);
  let kappa = opts.contrast ?? model.contrast;
  if (!(kappa >= 0.5 && kappa <= 2.0)) throw new CodecError(`contrast must be in 0.5..2.0, got ${kappa}`);
  const phaseStart = opts.phaseStart ?? model.phaseStart ?? 0;
  if (phaseStart !== 0 && phaseStart !== 1) throw new CodecError(`phase_start must be 0 or 1, got ${phaseStart}`);
  const blob = readBlob(data, { allowCut: !opts.strict });
  const h = blob.header;
  model.checkCompatible(h);
  followTracks(blob); // 4.9: the track fields against each other, before any decoding
  if (h.mode === 2 && c.causal && h.minor < 9) {
    throw new FormatError(`format 1.${h.minor} has no mode low_band_phase with a causal model (1.9 on)`);
  }
  if (h.mode === 3 && c.causal) throw new FormatError('mode tonal_band_phase needs a non-causal model (its phase path looks ahead)');
  if (h.mode === 2) { // 6.3: no postfilter, and (a non-causal model) no iterations, unless asked
    if (!c.causal) iters = opts.phaseIters ?? 0;
    kappa = opts.contrast ?? 1;
  }
  const lat = latents(model, blob);
  let end;
  let outSamples;
  if (blob.cut) { // 6.8: what the whole packets' frames cover, less the lead-in
    const frames = lat.steps * c.timeStride;
    const samples = frames ? (frames - 1) * c.hop : 0;
    outSamples = Math.floor((Math.max(0, samples - h.preSkip) * h.sampleRate) / c.sampleRate);
    if (outSamples === 0) throw new TruncatedError(`${blob.cut}; not one sample can be decoded`);
    opts.onWarning?.(`warning: ${blob.cut}; decoding the ${blob.packets.length} whole packets before the cut `
      + `(${(outSamples / h.sampleRate).toFixed(2)} s)`);
    end = { samples, frames, steps: lat.steps };
  } else {
    end = { samples: codedLength(h, c.sampleRate), frames: h.nFrames, steps: h.latentSteps };
    outSamples = h.numSamples;
  }
  const audio = c.causal
    ? await causalAudio(model, h, lat, end, iters, kappa)
    : await blockAudio(model, h, lat, end, iters, kappa, opts.highpass ?? true, phaseStart === 1);
  if (h.trackFrames) addTracks(blob, audio, c.hop); // 6.10: into the coded channels at the model rate
  if (h.stereo) { // mid and side -> left and right
    const [m, d] = audio;
    for (let i = 0; i < m.length; i++) {
      const a = m[i];
      m[i] = a + d[i];
      d[i] = a - d[i];
    }
  }
  // 6.7: the coded signal's first pre_skip samples are the encoder's lead-in, not audio. As codec-rt, they
  // are dropped at the blob's rate (pre_skip * r // R samples), so that the resampler sees no step either.
  const skip = Math.floor((h.preSkip * h.sampleRate) / c.sampleRate);
  const channels = [];
  for (const y of audio) {
    const x = await resample(y, c.sampleRate, h.sampleRate, skip + outSamples);
    channels.push(skip ? x.slice(skip) : x);
  }
  return { channels, sampleRate: h.sampleRate, header: h, truncated: !!blob.cut };
}

/**
 * The decoder graph over latent steps [j0, j1) (those past the blob's end: zeros) -> its output [channels, 2,
 * F, (j1 - j0) * time_stride].
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {ReturnType<typeof latents>} lat @param {number} j0 @param {number} j1
 */
async function graph(model, h, lat, j0, j1) {
  const rows = model.config.channels * model.config.latentBins;
  const n = j1 - j0;
  const win = new Float32Array(h.channels * rows * n);
  const hi = Math.min(j1, lat.steps);
  for (let ch = 0; ch < h.channels; ch++) {
    for (let r = 0; r < rows; r++) {
      const src = (ch * rows + r) * lat.steps;
      if (hi > j0) win.set(lat.z.subarray(src + j0, src + hi), (ch * rows + r) * n);
    }
  }
  return model.decode(win, h.channels, n);
}

/**
 * A causal model's decoder graph over frames [w0, w1) -> [channels, 2, F, w1 - w0]: each frame from the window
 * of CAUSAL_WINDOW frames on the fixed grid that holds it, the graph run over that window's steps (from step 0
 * on), as codec_rt.grid.causal_features does (a graph's last bits depend on its input's length).
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {ReturnType<typeof latents>} lat @param {number} w0 @param {number} w1
 */
async function causalGraph(model, h, lat, w0, w1) {
  const c = model.config;
  const nb = c.nBins;
  const nw = w1 - w0;
  const out = new Float32Array(h.channels * 2 * nb * nw);
  const G = CAUSAL_WINDOW;
  for (let g = Math.floor(w0 / G); g <= Math.floor((w1 - 1) / G); g++) {
    const a = Math.max(0, decoderSteps(c, g * G, (g + 1) * G)[0]);
    const b = (g + 1) * G;
    const y = await graph(model, h, lat, a, b);
    const lo = Math.max(w0, g * G);
    const top = Math.min(w1, b);
    for (let row = 0; row < h.channels * 2 * nb; row++) {
      out.set(y.subarray(row * (b - a) + lo - a, row * (b - a) + top - a), row * nw + lo - w0);
    }
  }
  return out;
}

/**
 * Frames [w0, w1) from latent steps [j0, j1) -> per channel (magnitude [F, frames], the phase to start from,
 * the log-magnitude after the postfilter and before the gains); `steady`: a causal model's steady bins, one per
 * channel (6.5), applied after the postfilter.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {ReturnType<typeof latents>} lat @param {number} w0 @param {number} w1 @param {number} j0 @param {number} j1
 * @param {number} kappa @param {import('./steady.js').SteadyBins[] | null} [steady]
 */
async function features(model, h, lat, w0, w1, j0, j1, kappa, steady = null) {
  const c = model.config;
  const s = c.timeStride;
  const nb = c.nBins;
  const nw = w1 - w0;
  const y = c.causal ? await causalGraph(model, h, lat, w0, w1) : await graph(model, h, lat, j0, j1);
  const tOut = c.causal ? nw : (j1 - j0) * s;
  const off = c.causal ? 0 : w0 - s * j0;
  const out = [];
  for (let ch = 0; ch < h.channels; ch++) {
    const logmag = new Float32Array(nb * nw);
    const angle = new Float32Array(nb * nw);
    for (let k = 0; k < nb; k++) {
      const a = ((ch * 2) * nb + k) * tOut + off;
      const b = ((ch * 2 + 1) * nb + k) * tOut + off;
      for (let t = 0; t < nw; t++) {
        logmag[k * nw + t] = Math.min(y[a + t], MAX_LOGMAG); // a damaged-but-valid blob can drive it anywhere
        angle[k * nw + t] = y[b + t];
      }
    }
    const phase = angle;
    if (h.mode === 1 && lat.phase) {
      for (let k = 0; k < nb; k++) phase.set(lat.phase.subarray((ch * nb + k) * lat.frames + w0, (ch * nb + k) * lat.frames + w1), k * nw);
    } else {
      postfilter(logmag, nb, nw, kappa);
      if (steady) steady[ch].apply(logmag, nw); // a causal model's steady bins (6.5)
    }
    const mag = new Float32Array(nb * nw);
    // 6.2: from format 1.7 a non-causal model's gains are averaged across packet boundaries
    const gains = frameGains(lat.gains.subarray(ch * lat.steps, (ch + 1) * lat.steps), w0, w1, s,
      c.causal ? 0 : h.gainSmoothing ?? 0, lat.steps - 1);
    for (let t = 0; t < nw; t++) {
      const g = gains[t];
      for (let k = 0; k < nb; k++) mag[k * nw + t] = f32(f32(Math.exp(logmag[k * nw + t])) / g);
    }
    out.push({ mag, phase, logmag });
  }
  return out;
}

/** @typedef {{rows: number, phase: Float32Array}} Band the stored low band's phase of a window's frames [K, T] */

/**
 * Mode 2 (6.3): channel `ch`'s stored low band over frames [w0, w1), or null where none is held.
 * @param {ReturnType<typeof latents>} lat @param {number} hold rows held (0: none)
 * @param {number} ch @param {number} w0 @param {number} w1 @returns {Band | null}
 */
function heldBand(lat, hold, ch, w0, w1) {
  if (!hold || !lat.phase) return null;
  const nw = w1 - w0;
  const phase = new Float32Array(hold * nw);
  for (let k = 0; k < hold; k++) {
    const row = (ch * hold + k) * lat.frames;
    phase.set(lat.phase.subarray(row + w0, row + w1), k * nw);
  }
  return { rows: hold, phase };
}

/** Mode 3: the bins a channel's frames [w0, w1) hold. @param {ReturnType<typeof latents>} lat
 * @param {number} ch @param {number} w0 @param {number} w1 */
function tonalRows(lat, ch, w0, w1) {
  return /** @type {NonNullable<typeof lat.band>} */ (lat.band).rows.slice(ch * lat.frames + w0, ch * lat.frames + w1);
}

/**
 * A non-causal model: blocks refined apart and joined with a crossfade -> model-rate audio per channel.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {ReturnType<typeof latents>} lat @param {{samples: number, frames: number, steps: number}} end
 * @param {number} iters @param {number} kappa @param {boolean} highpass
 * @param {boolean} gradient predicted phase starts from the phase-gradient start (6.5), block after block
 */
async function blockAudio(model, h, lat, end, iters, kappa, highpass, gradient) {
  const c = model.config;
  const { hop, nFft } = c;
  const refine = h.mode !== 1 ? iters : 0;
  const v = refine > 0 ? CROSSFADE_HOPS * hop : 0;
  const [fadeIn, fadeOut] = crossfade(v);
  const audio = Array.from({ length: h.channels }, () => new Float32Array(end.samples));
  /** @type {Float32Array[]} */
  const tails = [];
  const starts = gradient && h.mode !== 1 ? Array.from({ length: h.channels }, () => new GradientStart()) : null;
  // channels coded one by one share the start of their joint log-magnitude where they carry one sound (6.5)
  const jointStarter = starts && h.channels > 1 && h.stereo === 0 ? new GradientStart() : null;
  // mode 2 (6.3): the blob's low band; its pitch places the harmonics just above it (6.5)
  const hold = h.mode === 2 && lat.phase ? lat.rows : 0;
  const aheads = starts && hold ? Array.from({ length: h.channels }, () => new AheadPitch(nFft, hop, c.sampleRate)) : null;
  let emitted = 0;
  for (let b = 0; b * BLOCK_FRAMES < end.frames; b++) {
    const w0 = Math.max(0, b * BLOCK_FRAMES - MARGIN_FRAMES);
    const w1 = Math.min((b + 1) * BLOCK_FRAMES + MARGIN_FRAMES, end.frames);
    const [j0, j1] = decoderSteps(c, w0, w1);
    const feats = await features(model, h, lat, w0, w1, Math.max(0, j0), Math.min(j1, end.steps), kappa);
    const base = w0 * hop - nFft / 2; // the model-rate sample of the block signal's first sample
    const start = b * BLOCK_FRAMES * hop;
    const last = (b + 1) * BLOCK_FRAMES >= end.frames;
    const stop = last ? end.samples : (b + 1) * BLOCK_FRAMES * hop - v;
    const nextW0 = Math.max(0, (b + 1) * BLOCK_FRAMES - MARGIN_FRAMES);
    const bands = feats.map((_, ch) => heldBand(lat, hold, ch, w0, w1));
    const pitch = aheads ? feats.map((f, ch) => aheads[ch].block(f.logmag, /** @type {Band} */ (bands[ch]), w0, nextW0)) : null;
    let shared = null;
    let jointStarted = null;
    if (jointStarter) { // the joint takes the first channel's pitch
      const j = jointStart(feats.map((f) => f.logmag), c.nBins);
      jointStarted = jointStarter.block(j.joint, c.nBins, nFft, hop, w0, nextW0, pitch && pitch[0], hold);
      shared = j.shared;
    }
    for (let ch = 0; ch < h.channels; ch++) {
      const f = feats[ch];
      let phase = f.phase;
      /** @type {Uint8Array | null} the impulses' frames, held through refinement (6.5) */
      let held = null;
      if (starts) {
        // the phase-gradient start goes on from the phase this channel's last block kept for w0 (6.9)
        const own = starts[ch].block(f.logmag, c.nBins, nFft, hop, w0, nextW0, pitch && pitch[ch], hold);
        const phi = own.phi;
        held = own.held;
        if (shared && jointStarted) {
          const frames = shared.length;
          for (let t = 0; t < frames; t++) {
            if (!shared[t]) continue;
            for (let k = 0; k < c.nBins; k++) phi[k * frames + t] = jointStarted.phi[k * frames + t];
            held[t] = jointStarted.held[t];
          }
        }
        phase = Float32Array.from(phi);
      }
      const band = bands[ch];
      if (band) { // mode 2 (6.3): the blob's low band replaces the start there, and is held through refinement
        phase = Float32Array.from(phase);
        phase.set(band.phase);
      }
      const tonal = lat.band ? tonalRows(lat, ch, w0, w1) : null;
      if (tonal && lat.band) { // mode 3 (6.3): the tonal band's bins [0, rows[t]) likewise, frame by frame
        phase = Float32Array.from(phase);
        const nw = w1 - w0;
        for (let k = 0; k < lat.band.R; k++) {
          const row = (ch * lat.band.R + k) * lat.frames + w0;
          for (let t = 0; t < nw; t++) if (k < tonal[t]) phase[k * nw + t] = lat.band.phase[row + t];
        }
      }
      const y = refineFrames(f.mag, phase, nFft, hop, refine, -base, end.samples - base, model.energyMatch, hold, held,
        tonal);
      // no DC or infrasound out, as the encoder let none in (over the block's samples within the file)
      if (highpass) removeDc(y, c.sampleRate, Math.max(0, -base), Math.min(y.length, end.samples - base));
      const out = y.slice(Math.max(emitted, 0) - base, stop - base);
      if (b > 0 && v > 0) {
        const lo = start - v - emitted;
        const n = Math.min(2 * v, out.length - lo);
        for (let i = 0; i < n; i++) out[lo + i] = f32(f32(out[lo + i] * fadeIn[i]) + tails[ch][i]);
      }
      if (!last && v > 0) {
        const e = (b + 1) * BLOCK_FRAMES * hop;
        const t = y.slice(e - v - base, e + v - base);
        for (let i = 0; i < t.length; i++) t[i] = f32(t[i] * fadeOut[i]);
        tails[ch] = t;
      }
      audio[ch].set(out, emitted);
    }
    emitted = stop;
  }
  return audio;
}

/**
 * A causal model: frame by frame, each frame's phase from the frames before it (RTISI), block by block.
 * @param {import('./model.js').Model} model @param {import('./container.js').Header} h
 * @param {ReturnType<typeof latents>} lat @param {{samples: number, frames: number, steps: number}} end
 * @param {number} iters @param {number} kappa
 */
async function causalAudio(model, h, lat, end, iters, kappa) {
  const c = model.config;
  const { hop, nFft } = c;
  const refine = h.mode !== 1 ? iters : 0;
  const audio = Array.from({ length: h.channels }, () => new Float32Array(end.samples));
  // channels coded one by one take their joint's phase where they carry one sound (6.5): its row comes last
  const joint = h.channels > 1 && h.stereo === 0 && h.mode !== 1;
  const rows = h.channels + (joint ? 1 : 0);
  const ola = Array.from({ length: rows }, () => new Float32Array(nFft - hop));
  /** @type {({re: Float64Array, im: Float64Array} | null)[]} the last frame committed per channel */
  const last = Array.from({ length: rows }, () => null);
  const advance = c.phaseAdvance === 1 && h.mode !== 1; // a predicted phase advance (3.4), stored phase aside
  // mode 2 (6.3): the blob's low band, held through every step; the joint holds the first channel's
  const hold = h.mode === 2 && lat.phase ? lat.rows : 0;
  // the held band's pitch starts its voiced frames (6.5); one per channel, carried from block to block
  const pitches = Array.from({ length: h.channels }, () => new LowBandPitch(nFft, hop, c.sampleRate));
  // the decoder's own phase, not the graph's as is: steady bins and clicks (6.5)
  const own = refine > 0 || advance;
  const steady = own ? Array.from({ length: h.channels }, () => new SteadyBins(c.nBins)) : null;
  const clickers = own ? Array.from({ length: rows }, () => new CausalClicks()) : null;
  const peakers = advance ? Array.from({ length: rows }, () => new SteadyPeaks(c.nBins)) : null;
  let emitted = 0;
  /** @param {Float32Array} y @param {number} base @param {number} stop @param {number | null} n @param {number} ch */
  const samples = (y, base, stop, n, ch) => {
    const wss = windowSquareSum(base, y.length, nFft, hop, n);
    const a = Math.max(emitted - base, 0);
    const b = Math.max(stop - base, 0);
    for (let i = a; i < b; i++) audio[ch][base + i] = y[i] / wss[i];
  };
  for (let b = 0; b * BLOCK_FRAMES < end.frames; b++) {
    const w0 = b * BLOCK_FRAMES;
    const w1 = Math.min((b + 1) * BLOCK_FRAMES, end.frames);
    const [j0, j1] = decoderSteps(c, w0, w1);
    const feats = await features(model, h, lat, w0, w1, Math.max(0, j0), Math.min(j1, end.steps), kappa, steady);
    const base = w0 * hop - nFft / 2;
    const stop = Math.min(w1 * hop - nFft / 2, end.samples);
    const bands = feats.map((_, ch) => heldBand(lat, hold, ch, w0, w1));
    const pitch = feats.map((f, ch) => {
      const band = bands[ch];
      return band ? pitches[ch].block(f.logmag, band) : null;
    });
    let shared = null;
    if (joint) {
      const j = jointStart(feats.map((f) => f.logmag), c.nBins);
      const mag = Float32Array.from(j.joint, (v) => Math.exp(v));
      let init = null;
      if (refine === 0 || advance) { // the louder channel's start in each bin (the first where they are equal)
        init = new Float32Array(mag.length);
        for (let i = 0; i < mag.length; i++) {
          let top = 0;
          for (let ch = 1; ch < h.channels; ch++) if (feats[ch].logmag[i] > feats[top].logmag[i]) top = ch;
          init[i] = feats[top].phase[i];
        }
      }
      const record = { re: new Float64Array(mag.length), im: new Float64Array(mag.length) };
      const clicks = clickers ? clickers[h.channels].flags(mag, c.nBins, w1 - w0) : null;
      const locked = peakers && init ? peakers[h.channels].lock(mag, bands[0], pitch[0], nFft, hop, w1 - w0) : null;
      const r = causalFrames(locked ? locked.mag : mag, init, ola[h.channels], nFft, hop, refine, advance, last[h.channels],
        record, null, bands[0], pitch[0], clicks, locked && locked.lock);
      ola[h.channels] = r[1];
      last[h.channels] = r[2];
      shared = { shared: j.shared, ...record };
    }
    for (let ch = 0; ch < h.channels; ch++) {
      // Iterating, RTISI starts a frame from the committed frames' phase, not the raw prediction; a predicted
      // advance is used either way.
      const init = refine === 0 || advance ? feats[ch].phase : null;
      const clicks = clickers ? clickers[ch].flags(feats[ch].mag, c.nBins, w1 - w0) : null;
      const locked = peakers && init ? peakers[ch].lock(feats[ch].mag, bands[ch], pitch[ch], nFft, hop, w1 - w0) : null;
      const [y, tail, lastFrame] = causalFrames(locked ? locked.mag : feats[ch].mag, init, ola[ch], nFft, hop, refine,
        advance, last[ch], null, shared, bands[ch], pitch[ch], clicks, locked && locked.lock);
      ola[ch] = tail;
      last[ch] = lastFrame;
      samples(y, base, stop, null, ch);
    }
    emitted = Math.max(emitted, stop);
  }
  const base = end.frames * hop - nFft / 2; // the samples only the last frames cover
  for (let ch = 0; ch < h.channels; ch++) samples(ola[ch], base, end.samples, end.frames, ch);
  return audio;
}
