/**
 * Reading the blob container (docs/FORMAT.md section 4): header, channel sections, whole and framed layouts
 * with the checks of 4.2 in their order (`writer.js` writes them). No length read from a blob is used to
 * allocate anything before it has been checked against the blob's size.
 */

import { crc32 } from './crc32.js';
import { ChecksumError, FormatError, TruncatedError, UnsupportedVersionError } from './errors.js';
import { blockRange, parseTracks, tracksMax, tracksMin } from './tracks.js';

export const MAGIC = [0x43, 0x52, 0x54, 0x42]; // "CRTB"
export const MAJOR = 1;
export const MINOR = 12;
/** Stored phase codes are dithered from this minor on (4.3, `phaseDither`). */
export const PHASE_DITHER_MINOR = 10;
export const HEADER_SIZE = 56; // formats 1.0 and 1.1
export const HEADER_SIZE_1_2 = 64; // formats 1.2 to 1.4
/**
 * From format 1.5 on each minor appends a u32 field and the CRC-32 of its 4 bytes (4.1), in this order:
 * [minor, Header property, the spec's name, its largest value]. 1.5: pre_skip at 64, 1.6: post_skip at 72,
 * 1.7: gain_smoothing at 80, 1.8: phase_bins at 88; 1.9 appends nothing (mode 2 with a causal model, 6.3),
 * nor does 1.10 (dithered phase codes, 4.3); 1.11: phase_stride at 96 (mode 3's tonal band, 4.8); 1.12:
 * track_frames at 104 (sinusoidal tracks, 4.9).
 */
export const SKIPS = /** @type {const} */ ([[5, 'preSkip', 'pre_skip', 65536], [6, 'postSkip', 'post_skip', 65536],
  [7, 'gainSmoothing', 'gain_smoothing', 2], [8, 'phaseBins', 'phase_bins', 65535],
  [11, 'phaseStride', 'phase_stride', 64], [12, 'trackFrames', 'track_frames', 64]]);
/** Mode 3's first minor (4.8). */
export const TONAL_MINOR = 11;
/** Sinusoidal tracks' first minor (4.9). */
export const TRACKS_MINOR = 12;
/** A tonal band's anchor bits at most (4.1), and its cycle codes' bits (4.8). */
export const TONAL_MAX_BITS = 8;
export const CYCLE_BITS = 4;

/**
 * The bytes of the fields a header of format 1.`minor` has (4.1): 56, 64 from 1.2, then 8 per field of
 * `SKIPS` (72 in 1.5, 80 in 1.6, 88 in 1.7). Writers write exactly this; readers accept more, but 1.0 exactly 56.
 * @param {number} minor
 */
export function leastHeaderSize(minor) {
  return minor < 2 ? HEADER_SIZE : HEADER_SIZE_1_2 + 8 * SKIPS.filter(([since]) => minor >= since).length;
}
export const MAX_VALUES_PER_BYTE = 1024;
const MAX_SAMPLES = 2 ** 40;
const MAX_SAMPLE_RATE = 768000;
const MAX_CHANNELS = 64;
const MIN_GAIN = 1 / 64;
const MAX_GAIN = 64;
export const FLAG_LAST = 1;
/** Mode 3 (1.11): a packet whose sections hold their tonal bands (4.5). */
export const FLAG_BAND = 2;
/** track_frames > 0 (1.12): a packet whose sections hold their track fields (4.5). */
export const FLAG_TRACKS = 4;

/**
 * @typedef {object} Header
 * @property {number} minor
 * @property {number} headerSize
 * @property {number} mode 0 predicted phase, 1 stored phase, 2 the low band's phase stored (1.8; a causal model 1.9),
 *   3 the low band's phase on straight paths where the sound is steady, a tonal band (1.11, 4.8)
 * @property {number} bits
 * @property {number} phaseBits
 * @property {number} coder 0 fixed-width, 1 range-coded, 2 context tables
 * @property {number} sampleRate
 * @property {number} channels
 * @property {number} latentChannels
 * @property {number} latentBins
 * @property {number} nBins
 * @property {number} numSamples framed: the last packet's (0 until it has been read)
 * @property {number} nFrames
 * @property {number} latentSteps
 * @property {string} modelId 16 lowercase hex digits
 * @property {number} layout 0 whole, 1 framed
 * @property {number} stereo 0 channels independent, 1 mid/side (format 1.4 on)
 * @property {number} timeStride
 * @property {number} packetSteps
 * @property {number} preSkip model-rate samples at the start of the coded signal that are not audio (the
 *   encoder's lead-in), dropped by the decoder (format 1.5 on; 0 below)
 * @property {number} postSkip model-rate samples at the end of the coded signal that are not audio (the
 *   encoder's lead-out), dropped by the decoder (format 1.6 on; 0 below)
 * @property {number} gainSmoothing latent steps either side over which a non-causal model's decoder averages
 *   the log-gain (6.2; format 1.7 on, 0..2; 0 below)
 * @property {number} phaseBins modes 2 and 3 (format 1.8 on): the STFT bins [0, phaseBins) whose phase the blob holds
 * @property {number} phaseStride mode 3 (format 1.11 on): frames from one anchor of the tonal band to the next
 * @property {number} trackFrames format 1.12 on: STFT frames a block of sinusoidal tracks (4.9); 0: no tracks
 */

/**
 * One audio channel's section of a packet (or of the whole payload).
 * @typedef {object} Section
 * @property {number} gain
 * @property {Float32Array | null} scales coder 0: one per latent channel
 * @property {Uint16Array | null} codes coder 0: [latentChannels, latentBins, steps]
 * @property {Uint8Array | null} coded coders 1 and 2: the range-coded words' bytes
 * @property {Uint16Array | null} phase mode 1: [nBins, frames]; mode 2: [phaseBins, frames]
 * @property {Band | null} [band] mode 3: the tonal band (4.8)
 * @property {{alive: number, blocks: import('./tracks.js').TrackBlock[]} | null} [tracks] 1.12: the track field (4.9)
 */

/**
 * A section's tonal band (4.8), as coded.
 * @typedef {object} Band
 * @property {Uint8Array} flags one an interval that starts in the section: 1 = held
 * @property {Uint16Array} edges one a held interval: it holds bins [0, edge + 1)
 * @property {Uint16Array} anchors [A, phaseBins] codes of phase_bits bits
 * @property {Uint16Array} cycles [H, phaseBins] codes of CYCLE_BITS bits
 */

/**
 * @typedef {object} Packet
 * @property {number} index
 * @property {number} steps latent steps
 * @property {number} frames STFT frames
 * @property {Section[]} sections one per audio channel
 */

/**
 * @typedef {object} Blob
 * @property {Header} header with the stream's lengths (framed: from the last packet; a cut blob: 0)
 * @property {Packet[]} packets a whole-layout blob is one packet
 * @property {string | null} cut a framed blob that ends before its last packet: why (else null)
 */

/** @param {Uint8Array} d */
function view(d) {
  return new DataView(d.buffer, d.byteOffset, d.byteLength);
}

/** @param {DataView} v @param {number} pos */
function u64(v, pos) {
  return BigInt(v.getUint32(pos, true)) + (BigInt(v.getUint32(pos + 4, true)) << 32n);
}

/** ceil(a / b) of non-negative BigInts. @param {bigint} a @param {bigint} b */
function ceilDiv(a, b) {
  return (a + b - 1n) / b;
}

/** Bytes of `n` codes of `bits` bits, packed (4.7). @param {number} n @param {number} bits */
export function packedSize(n, bits) {
  return Math.ceil((n * bits) / 8);
}

/** STFT bins whose phase a section holds (4.3): all in mode 1, the lowest phase_bins in mode 2. @param {Header} h */
export function phaseRows(h) {
  return h.mode === 1 ? h.nBins : h.mode === 2 ? h.phaseBins : 0;
}

/** Chris Wellons' lowbias32 integer hash ("Prospecting for hash functions", 2018), on uint32. @param {number} x */
function lowbias32(x) {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Format 1.10's dither of the phase code of STFT bin `k` in the stream's frame `t` (4.3; a packet's frames
 * go on from the packet before's): in [0, 1), a multiple of 2**-16 (Python: `quantize.phase_dither`).
 * @param {number} k @param {number} t
 */
export function phaseDither(k, t) {
  return (lowbias32((t + lowbias32(k)) >>> 0) >>> 16) / 65536;
}

/** Bytes of one channel's stored phase over `frames` STFT frames. @param {Header} h @param {number} frames */
export function phaseSize(h, frames) {
  return phaseRows(h) ? packedSize(phaseRows(h) * frames, h.phaseBits) : 0;
}

/** A coder-0 section over `steps` steps and `frames` frames, exactly (BigInt: header values are untrusted).
 * @param {Header} h @param {bigint} steps @param {bigint} frames */
function section0(h, steps, frames) {
  const values = BigInt(h.latentChannels) * BigInt(h.latentBins) * steps;
  const phase = ceilDiv(BigInt(phaseRows(h)) * frames * BigInt(h.phaseBits), 8n);
  return 4n + 4n * BigInt(h.latentChannels) + ceilDiv(values * BigInt(h.bits), 8n) + phase;
}

/** The intervals of a tonal band that start in frames [f0, f0 + frames) (4.8): [first, end). @param {Header} h
 * @param {number} f0 @param {number} frames */
export function bandIntervals(h, f0, frames) {
  return [Math.ceil(f0 / h.phaseStride), Math.ceil((f0 + frames) / h.phaseStride)];
}

/** Bits of a held interval's edge code (4.8). @param {Header} h */
function edgeBits(h) {
  return Math.max(1, 32 - Math.clz32(h.phaseBins - 1));
}

/** The most bytes a tonal band of `m` intervals takes (4.8's band_max). @param {Header} h @param {number} m */
export function bandMax(h, m) {
  return packedSize(m, 1) + packedSize(m, edgeBits(h)) + packedSize((m + 1) * h.phaseBins, h.phaseBits)
    + packedSize(m * h.phaseBins, CYCLE_BITS);
}

/** The largest packet body a framed header allows (4.5). @param {Header} h */
export function maxPacketBody(h) {
  const p = h.packetSteps;
  const frames = p * h.timeStride;
  const section = h.coder === 0
    ? Number(section0(h, BigInt(p), BigInt(frames)))
    : 8 + 3 * h.latentChannels * h.latentBins * p + 64 + phaseSize(h, frames);
  const band = h.mode === 3 ? bandMax(h, Math.ceil((frames + h.phaseStride) / h.phaseStride)) : 0;
  const tracks = h.trackFrames ? tracksMax(Math.floor(frames / h.trackFrames) + 1) : 0;
  return 1 + 16 + h.channels * (section + band + tracks);
}

/** @param {string} msg */
function bad(msg) {
  return new FormatError(`invalid blob header: ${msg}`);
}

/** 4.1's field rules (4.2 step 5), in codec-rt's order. @param {Header} h */
function validate(h) {
  if (![0, 1, 2, 3].includes(h.mode)) throw bad(`unknown mode ${h.mode}`);
  if (h.coder > 2) throw bad(`unknown coder ${h.coder}`);
  if (h.minor === 0 && h.coder !== 0) throw bad('format 1.0 has no coder field (reserved byte is not 0)');
  if (h.minor < 3 && h.coder === 2) throw bad(`format 1.${h.minor} has no coder 2`);
  if (h.layout > 1) throw bad(`unknown layout ${h.layout}`);
  if (h.stereo > 1) throw bad(`unknown stereo coding ${h.stereo}`);
  if (h.stereo && (h.minor < 4 || h.channels !== 2)) {
    throw bad(`mid/side stereo needs format 1.4 and 2 channels (format 1.${h.minor}, ${h.channels})`);
  }
  for (const [since, field, name, most] of SKIPS) {
    if (!(h[field] >= 0 && h[field] <= most)) throw bad(`${name} ${h[field]} not in 0..${most}`);
    if (h[field] && h.minor < since) throw bad(`format 1.${h.minor} has no ${name}`);
  }
  if (h.coder === 0 && !(h.bits >= 1 && h.bits <= 16)) throw bad(`bits ${h.bits} not in 1..16`);
  if (h.coder !== 0 && h.bits !== 0) throw bad('bits must be 0 with range coding');
  if (h.mode !== 0 && !(h.phaseBits >= 1 && h.phaseBits <= 16)) throw bad(`phase_bits ${h.phaseBits} not in 1..16`);
  if (h.mode === 2 && h.minor < 8) throw bad(`format 1.${h.minor} has no mode low_band_phase`);
  if (h.mode === 3 && h.minor < TONAL_MINOR) throw bad(`format 1.${h.minor} has no mode tonal_band_phase`);
  const banded = h.mode === 2 || h.mode === 3;
  if (banded && !(h.phaseBins >= 1 && h.phaseBins <= h.nBins)) {
    throw bad(`phase_bins ${h.phaseBins} not in 1..n_bins (${h.nBins})`);
  }
  if (!banded && h.phaseBins) throw bad('phase_bins must be 0 outside modes low_band_phase and tonal_band_phase');
  if (h.mode === 3 && !(h.phaseBits >= 1 && h.phaseBits <= TONAL_MAX_BITS)) {
    throw bad(`phase_bits ${h.phaseBits} not in 1..${TONAL_MAX_BITS} in mode tonal_band_phase`);
  }
  if (h.mode === 3 && !(h.phaseStride >= 2 && h.phaseStride <= 64)) {
    throw bad(`phase_stride ${h.phaseStride} not in 2..64 in mode tonal_band_phase`);
  }
  if (h.mode !== 3 && h.phaseStride) throw bad('phase_stride must be 0 outside mode tonal_band_phase');
  if (h.mode === 0 && h.phaseBits !== 0) throw bad('phase_bits must be 0 without stored phase');
  if (!(h.sampleRate >= 1 && h.sampleRate <= MAX_SAMPLE_RATE)) throw bad(`sample_rate ${h.sampleRate} not in 1..${MAX_SAMPLE_RATE}`);
  if (!(h.channels >= 1 && h.channels <= MAX_CHANNELS)) throw bad(`channels ${h.channels} not in 1..${MAX_CHANNELS}`);
  if (!(h.numSamples < MAX_SAMPLES)) throw bad(`num_samples ${h.numSamples} too large`);
  for (const k of /** @type {const} */ (['latentChannels', 'latentBins', 'nBins'])) {
    if (h[k] < 1) throw bad(`${k} must be positive`);
  }
  if (h.layout === 1) {
    if (!(h.timeStride >= 1 && h.timeStride <= 64)) throw bad(`time_stride ${h.timeStride} not in 1..64`);
    if (!(h.packetSteps >= 1 && h.packetSteps <= 0xffff)) throw bad(`packet_steps ${h.packetSteps} not in 1..65535`);
  } else {
    if (h.timeStride || h.packetSteps) throw bad('time_stride and packet_steps must be 0 in the whole layout');
    if (h.nFrames < 1) throw bad('n_frames must be positive');
    if (h.latentSteps < 1) throw bad('latent_steps must be positive');
  }
}

/**
 * Read and check the header at the start of `data` (4.2, steps 1 to 6, and for the whole layout the
 * payload_len rule of 4.4): TruncatedError if `data` ends inside it. Does not look past the header.
 * @param {Uint8Array} data
 * @returns {{header: Header, payloadLen: bigint}}
 */
export function readHeader(data) {
  if (data.length < 8) throw new TruncatedError(`blob is ${data.length} bytes, shorter than its preamble`);
  if (MAGIC.some((b, i) => data[i] !== b)) {
    const got = Array.from(data.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new FormatError(`not a codec-rt blob (magic ${got}, expected 43 52 54 42 "CRTB")`);
  }
  const v = view(data);
  const major = data[4];
  const minor = data[5];
  const headerSize = v.getUint16(6, true);
  if (major !== MAJOR) throw new UnsupportedVersionError(`blob format ${major}.${minor}; this runtime reads ${MAJOR}.x`);
  if ((minor === 0 && headerSize !== HEADER_SIZE) || headerSize < leastHeaderSize(minor)) {
    throw new FormatError(`header_size ${headerSize} invalid for format ${major}.${minor}`);
  }
  let layout = 0;
  let stereo = 0;
  let timeStride = 0;
  let packetSteps = 0;
  const skips = { preSkip: 0, postSkip: 0, gainSmoothing: 0, phaseBins: 0, phaseStride: 0, trackFrames: 0 };
  if (minor >= 2) {
    if (data.length < HEADER_SIZE_1_2) {
      throw new TruncatedError(`blob is ${data.length} bytes, its header alone needs ${headerSize}`);
    }
    if (crc32(data, 0, 60) !== v.getUint32(60, true)) {
      throw new ChecksumError('blob header checksum mismatch: the file is corrupt');
    }
    layout = data[56];
    timeStride = data[57];
    packetSteps = v.getUint16(58, true);
  }
  if (minor >= 4) {
    // the byte's high nibble: an older reader sees an unknown layout in a mid/side blob
    stereo = layout >> 4;
    layout &= 15;
  }
  SKIPS.forEach(([since, field, name], i) => {
    if (minor < since) return;
    const at = HEADER_SIZE_1_2 + 8 * i;
    if (data.length < at + 8) throw new TruncatedError(`blob is ${data.length} bytes, its header alone needs ${headerSize}`);
    if (crc32(data, at, at + 4) !== v.getUint32(at + 4, true)) {
      throw new ChecksumError(`blob header checksum (${name}) mismatch: the file is corrupt`);
    }
    skips[field] = v.getUint32(at, true);
  });
  if (data.length < headerSize) {
    throw new TruncatedError(`blob is ${data.length} bytes, its header alone needs ${headerSize}`);
  }
  /** @type {Header} */
  const h = {
    minor, headerSize, mode: data[8], bits: data[9], phaseBits: data[10], coder: data[11],
    sampleRate: v.getUint32(12, true), channels: v.getUint16(16, true), latentChannels: v.getUint16(18, true),
    latentBins: v.getUint16(20, true), nBins: v.getUint16(22, true), numSamples: Number(u64(v, 24)),
    nFrames: v.getUint32(32, true), latentSteps: v.getUint32(36, true),
    modelId: Array.from(data.subarray(40, 48), (b) => b.toString(16).padStart(2, '0')).join(''),
    layout, stereo, timeStride, packetSteps, ...skips,
  };
  validate(h);
  const payloadLen = u64(v, 48);
  if (layout === 1) {
    if (h.numSamples || h.nFrames || h.latentSteps || payloadLen) {
      throw new FormatError('invalid blob header: a framed blob keeps num_samples, n_frames, latent_steps '
        + 'and payload_len 0 (its last packet holds them)');
    }
    return { header: h, payloadLen: 0n };
  }
  const phase = ceilDiv(BigInt(phaseRows(h)) * BigInt(h.nFrames) * BigInt(h.phaseBits), 8n);
  // mode 3: the band's flags at least, every interval held at most (4.4)
  const m = h.mode === 3 ? Math.ceil(h.nFrames / h.phaseStride) : 0;
  let [least, most] = h.mode === 3 ? [BigInt(packedSize(m, 1)), BigInt(bandMax(h, m))] : [0n, 0n];
  if (h.trackFrames) { // and each section's track field, no track at least, every one at most (4.4)
    const b = Math.ceil(h.nFrames / h.trackFrames);
    [least, most] = [least + BigInt(tracksMin(b)), most + BigInt(tracksMax(b))];
  }
  if (h.coder === 0) {
    const want = BigInt(h.channels) * section0(h, BigInt(h.latentSteps), BigInt(h.nFrames));
    const band = payloadLen - want;
    if (band < BigInt(h.channels) * least || band > BigInt(h.channels) * most) {
      throw new FormatError(`payload_len ${payloadLen} does not match the header (${want})`);
    }
  } else if (payloadLen < BigInt(h.channels) * (8n + phase + least)) {
    throw new FormatError(`payload_len ${payloadLen} is too small for ${h.channels} channel sections`);
  }
  return { header: h, payloadLen };
}

/**
 * Unpack `n` codes of `bits` bits, most significant bit first (4.7).
 * @param {Uint8Array} d @param {number} pos @param {number} n @param {number} bits
 */
export function unpackBits(d, pos, n, bits) {
  const out = new Uint16Array(n);
  let acc = 0; // bits not yet used, in the low `have` bits
  let have = 0;
  for (let i = 0; i < n; i++) {
    while (have < bits) {
      acc = ((acc << 8) | d[pos++]) & 0xffffff;
      have += 8;
    }
    have -= bits;
    out[i] = (acc >>> have) & ((1 << bits) - 1);
  }
  return out;
}

/**
 * A section's tonal band of `m` intervals at `d[pos:end]` (4.8) -> [the band, the position after it].
 * @param {Uint8Array} d @param {number} pos @param {number} end @param {Header} h @param {number} m
 * @returns {[Band, number]}
 */
function parseBand(d, pos, end, h, m) {
  const fits = (/** @type {number} */ n) => {
    if (pos + n > end) throw new FormatError("the payload ends inside a channel section's tonal band");
  };
  fits(packedSize(m, 1));
  const flags = Uint8Array.from(unpackBits(d, pos, m, 1));
  pos += packedSize(m, 1);
  let held = 0;
  let anchors = 0;
  for (let j = 0; j < m; j++) {
    if (!flags[j]) continue;
    held += 1;
    anchors += j === 0 || !flags[j - 1] ? 2 : 1;
  }
  const r = h.phaseBins;
  const sizes = [packedSize(held, edgeBits(h)), packedSize(anchors * r, h.phaseBits), packedSize(held * r, CYCLE_BITS)];
  fits(sizes[0] + sizes[1] + sizes[2]);
  const edges = unpackBits(d, pos, held, edgeBits(h));
  if (edges.some((e) => e >= r)) throw new FormatError(`tonal band edge past its ${r} bins`);
  pos += sizes[0];
  const anchorCodes = unpackBits(d, pos, anchors * r, h.phaseBits);
  pos += sizes[1];
  const cycles = unpackBits(d, pos, held * r, CYCLE_BITS);
  return [{ flags, edges, anchors: anchorCodes, cycles }, pos + sizes[2]];
}

/**
 * The channel sections filling `d[pos:end]`, each over `steps` latent steps and `frames` STFT frames from
 * the stream's frame `f0` (4.3), in mode 3 with their tonal bands where `band` and with track_frames > 0
 * their track fields where `tracks` (4.5's flags; whole: always).
 * @param {Uint8Array} d @param {number} pos @param {number} end @param {Header} h
 * @param {number} steps @param {number} frames @param {number} [f0] @param {boolean} [band]
 * @param {boolean} [tracks]
 * @returns {Section[]}
 */
export function parseSections(d, pos, end, h, steps, frames, f0 = 0, band = true, tracks = true) {
  const v = view(d);
  const out = [];
  const nLatent = h.latentChannels * h.latentBins * steps;
  const nPhase = phaseSize(h, frames);
  for (let c = 0; c < h.channels; c++) {
    if (pos + 8 > end) throw new FormatError('the payload ends inside a channel section');
    const gain = v.getFloat32(pos, true);
    pos += 4;
    /** @type {Section} */
    const sec = { gain, scales: null, codes: null, coded: null, phase: null, band: null, tracks: null };
    let scalesOk = true;
    if (h.coder === 0) {
      const size = packedSize(nLatent, h.bits);
      if (pos + 4 * h.latentChannels + size + nPhase > end) throw new FormatError('the payload ends inside a channel section');
      const scales = new Float32Array(h.latentChannels);
      for (let i = 0; i < scales.length; i++) {
        scales[i] = v.getFloat32(pos + 4 * i, true);
        if (!(Number.isFinite(scales[i]) && scales[i] >= 0)) scalesOk = false;
      }
      pos += 4 * h.latentChannels;
      sec.scales = scales;
      sec.codes = unpackBits(d, pos, nLatent, h.bits);
      pos += size;
    } else {
      const size = v.getUint32(pos, true);
      pos += 4;
      if (size % 4 || pos + size + nPhase > end) {
        throw new FormatError(`range-coded section of ${size} bytes does not fit the payload`);
      }
      if (nLatent > MAX_VALUES_PER_BYTE * Math.max(size, 4)) {
        throw new FormatError(`${nLatent} latent values cannot come from ${size} coded bytes`);
      }
      sec.coded = d.subarray(pos, pos + size);
      pos += size;
    }
    // The encoder's gains are clamped to the level range; a forged one outside it would blow the audio up.
    if (!(gain >= MIN_GAIN && gain <= MAX_GAIN && scalesOk)) {
      throw new FormatError('blob holds a gain outside the level range, or a non-finite or negative scale');
    }
    if (phaseRows(h)) {
      sec.phase = unpackBits(d, pos, phaseRows(h) * frames, h.phaseBits);
      pos += nPhase;
    }
    if (h.mode === 3 && band) {
      const [i0, i1] = bandIntervals(h, f0, frames);
      [sec.band, pos] = parseBand(d, pos, end, h, i1 - i0);
    }
    if (h.trackFrames && tracks) {
      const [i0, i1] = blockRange(h.trackFrames, f0, frames);
      [sec.tracks, pos] = parseTracks(d, pos, end, i1 - i0);
    }
    out.push(sec);
  }
  if (pos !== end) throw new FormatError(`channel sections end at byte ${pos}, the payload at ${end}`);
  return out;
}

/**
 * Read and check a whole blob of either layout (4.2 to 4.5) -> its header with the stream's lengths and
 * its packets. A framed blob that ends before its last packet is a TruncatedError, unless `allowCut`:
 * then its whole packets come back with `cut` saying where it ends.
 * @param {Uint8Array} data
 * @param {{allowCut?: boolean}} [opts]
 * @returns {Blob}
 */
export function readBlob(data, opts = {}) {
  const { header: h, payloadLen } = readHeader(data);
  if (h.layout === 0) {
    const end = BigInt(h.headerSize) + payloadLen + 4n;
    if (BigInt(data.length) < end) throw new TruncatedError(`blob is ${data.length} bytes, its header says ${end}`);
    if (BigInt(data.length) > end) throw new FormatError(`${BigInt(data.length) - end} unexpected bytes after the blob`);
    const bodyEnd = data.length - 4;
    if (crc32(data, 0, bodyEnd) !== view(data).getUint32(bodyEnd, true)) {
      throw new ChecksumError('blob checksum mismatch: the file is corrupt');
    }
    const sections = parseSections(data, h.headerSize, bodyEnd, h, h.latentSteps, h.nFrames);
    return checkEnds({ header: h, packets: [{ index: 0, steps: h.latentSteps, frames: h.nFrames, sections }], cut: null });
  }
  return checkEnds(readPackets(data, h, !!opts.allowCut));
}

/**
 * 4.8: no tonal band interval held past the stream's last frame (a packet before a short last one can
 * break it too); a cut blob's end is not known. @param {Blob} blob @returns {Blob}
 */
function checkEnds(blob) {
  const h = blob.header;
  if (h.mode !== 3 || blob.cut) return blob;
  for (const p of blob.packets) {
    const [i0] = bandIntervals(h, p.index * h.packetSteps * h.timeStride, p.frames);
    for (const s of p.sections) {
      const last = s.band ? s.band.flags.lastIndexOf(1) : -1;
      if (last >= 0 && (i0 + last + 1) * h.phaseStride > h.nFrames - 1) {
        throw new FormatError(`tonal band interval ${i0 + last} is held past the stream's last frame`);
      }
    }
  }
  return blob;
}

/** @param {Uint8Array} data @param {Header} h @param {boolean} allowCut @returns {Blob} */
function readPackets(data, h, allowCut) {
  const v = view(data);
  const limit = maxPacketBody(h);
  const p = h.packetSteps;
  const s = h.timeStride;
  /** @type {Packet[]} */
  const packets = [];
  let pos = h.headerSize;
  for (;;) {
    const k = packets.length;
    const where = `packet ${k} (byte ${pos})`;
    const left = data.length - pos;
    if (left < 4) return cut(h, packets, left, allowCut);
    const bodyLen = v.getUint32(pos, true);
    if (!(bodyLen >= 1 && bodyLen <= limit)) {
      throw new FormatError(`${where} claims ${bodyLen} bytes; this blob's packets hold 1..${limit}`);
    }
    if (left < 8 + bodyLen) return cut(h, packets, left, allowCut);
    const index = new Uint8Array([k & 0xff, (k >>> 8) & 0xff, (k >>> 16) & 0xff, (k >>> 24) & 0xff]);
    const crc = crc32(data, pos, pos + 4 + bodyLen, crc32(index));
    if (crc !== v.getUint32(pos + 4 + bodyLen, true)) {
      throw new ChecksumError(`${where}: checksum mismatch, the blob is corrupt (or its packets out of order) from there`);
    }
    const body = data.subarray(pos + 4, pos + 4 + bodyLen);
    pos += 8 + bodyLen;
    const flags = body[0];
    if (flags & ~(FLAG_LAST | (h.mode === 3 ? FLAG_BAND : 0) | (h.trackFrames ? FLAG_TRACKS : 0))) {
      throw new FormatError(`${where} has unknown flags 0x${flags.toString(16).padStart(2, '0')}`);
    }
    const band = !!(flags & FLAG_BAND);
    const tracks = !!(flags & FLAG_TRACKS);
    if (!(flags & FLAG_LAST)) {
      packets.push({ index: k, steps: p, frames: p * s, sections: parseSections(body, 1, body.length, h, p, p * s, k * p * s, band, tracks) });
      continue;
    }
    if (body.length < 17) throw new FormatError(`${where} is too short for the stream's lengths`);
    const bv = view(body);
    const numSamples = Number(u64(bv, 1));
    const nFrames = bv.getUint32(9, true);
    const latentSteps = bv.getUint32(13, true);
    if (!(numSamples < MAX_SAMPLES) || nFrames < 1) {
      throw new FormatError(`${where}: invalid stream lengths (${numSamples} samples, ${nFrames} frames)`);
    }
    if (latentSteps !== Math.ceil(nFrames / s)) {
      throw new FormatError(`${where}: latent_steps ${latentSteps} does not match n_frames ${nFrames}`);
    }
    const steps = latentSteps - k * p;
    const frames = nFrames - k * p * s;
    if (!(steps >= 1 && steps <= p) || frames < 1) {
      throw new FormatError(`${where} is the last, but the stream's ${latentSteps} latent steps make `
        + `${Math.ceil(latentSteps / p)} packets`);
    }
    packets.push({ index: k, steps, frames, sections: parseSections(body, 17, body.length, h, steps, frames, k * p * s, band, tracks) });
    if (pos !== data.length) throw new FormatError(`${data.length - pos} unexpected bytes after the last packet`);
    return { header: { ...h, numSamples, nFrames, latentSteps }, packets, cut: null };
  }
}

/** @param {Header} h @param {Packet[]} packets @param {number} left @param {boolean} allowCut @returns {Blob} */
function cut(h, packets, left, allowCut) {
  const part = `${left} bytes of the next one`;
  const k = packets.length;
  const msg = k
    ? `blob is cut after packet ${k - 1} (${k} whole packets and ${part}): the stream ends early`
    : `blob is cut before its first packet is complete (${part})`;
  if (!allowCut) throw new TruncatedError(msg);
  return { header: h, packets, cut: msg };
}

