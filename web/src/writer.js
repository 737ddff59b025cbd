/**
 * Writing the container (docs/FORMAT.md section 4): header, channel sections, the whole layout's blob and
 * the framed layout's packets. `container.js` reads them.
 */

import { CYCLE_BITS, FLAG_BAND, FLAG_LAST, FLAG_TRACKS, HEADER_SIZE_1_2, MAGIC, MAJOR, SKIPS, leastHeaderSize, packedSize, phaseRows } from './container.js';
import { crc32 } from './crc32.js';
import { FormatError } from './errors.js';
import { packTracks } from './tracks.js';

/** @typedef {import('./container.js').Header} Header */

/** @param {Uint8Array} d */
function view(d) {
  return new DataView(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Pack codes of `bits` bits, most significant bit first, the last byte padded with zeros (4.7).
 * @param {ArrayLike<number>} codes @param {number} bits
 */
export function packBits(codes, bits) {
  const out = new Uint8Array(packedSize(codes.length, bits));
  let acc = 0;
  let have = 0;
  let pos = 0;
  for (let i = 0; i < codes.length; i++) {
    acc = ((acc << bits) | codes[i]) & 0xffffff;
    have += bits;
    while (have >= 8) {
      have -= 8;
      out[pos++] = (acc >>> have) & 0xff;
    }
  }
  if (have) out[pos] = (acc << (8 - have)) & 0xff;
  return out;
}

/**
 * The header's bytes (4.1): a whole layout's (`payloadLen` given) or a framed one's (lengths 0); from
 * format 1.5 on with `preSkip` and its CRC-32, from 1.6 on with `postSkip`, from 1.7 on `gainSmoothing`.
 * @param {Header} h @param {number} payloadLen
 */
export function packHeader(h, payloadLen) {
  for (const [since, field, name] of SKIPS) {
    if (h[field] && h.minor < since) throw new FormatError(`format 1.${h.minor} has no ${name}`);
  }
  const size = leastHeaderSize(h.minor);
  const out = new Uint8Array(size);
  const v = view(out);
  out.set(MAGIC, 0);
  out[4] = MAJOR;
  out[5] = h.minor;
  v.setUint16(6, size, true);
  out[8] = h.mode;
  out[9] = h.bits;
  out[10] = h.phaseBits;
  out[11] = h.coder;
  v.setUint32(12, h.sampleRate, true);
  v.setUint16(16, h.channels, true);
  v.setUint16(18, h.latentChannels, true);
  v.setUint16(20, h.latentBins, true);
  v.setUint16(22, h.nBins, true);
  const framed = h.layout === 1;
  v.setBigUint64(24, BigInt(framed ? 0 : h.numSamples), true);
  v.setUint32(32, framed ? 0 : h.nFrames, true);
  v.setUint32(36, framed ? 0 : h.latentSteps, true);
  for (let i = 0; i < 8; i++) out[40 + i] = parseInt(h.modelId.slice(2 * i, 2 * i + 2), 16);
  v.setBigUint64(48, BigInt(framed ? 0 : payloadLen), true);
  if (h.minor >= 2) {
    out[56] = h.layout | (h.stereo << 4);
    out[57] = h.timeStride;
    v.setUint16(58, h.packetSteps, true);
    v.setUint32(60, crc32(out, 0, 60), true);
  }
  SKIPS.forEach(([since, field], i) => {
    if (h.minor < since) return;
    const at = HEADER_SIZE_1_2 + 8 * i;
    v.setUint32(at, h[field], true);
    v.setUint32(at + 4, crc32(out, at, at + 4), true);
  });
  return out;
}

/**
 * One channel's section bytes (4.3).
 * @param {Header} h
 * @param {{gain: number, scales?: Float32Array, codes?: ArrayLike<number>, coded?: Uint8Array, phase?: ArrayLike<number> | null,
 *   band?: import('./container.js').Band | null, tracks?: import('./tracks.js').TrackBlock[] | null}} sec
 */
export function packSection(h, sec) {
  const parts = [];
  const head = new Uint8Array(h.coder === 0 ? 4 + 4 * h.latentChannels : 8);
  const v = view(head);
  v.setFloat32(0, sec.gain, true);
  if (h.coder === 0) {
    if (!sec.scales || !sec.codes) throw new FormatError('fixed-width section without latent codes');
    sec.scales.forEach((x, i) => v.setFloat32(4 + 4 * i, x, true));
    parts.push(head, packBits(sec.codes, h.bits));
  } else {
    if (!sec.coded || sec.coded.length % 4) throw new FormatError('range-coded section must be whole 32-bit words');
    v.setUint32(4, sec.coded.length, true);
    parts.push(head, sec.coded);
  }
  if (phaseRows(h)) {
    if (!sec.phase || sec.phase.length % phaseRows(h)) throw new FormatError('blob without the phase codes of its mode');
    parts.push(packBits(sec.phase, h.phaseBits));
  }
  const b = sec.band;
  if (h.mode === 3 && b) { // 4.8: flags, edges, anchors, cycles (a packet without them says so in its flags)
    parts.push(packBits(b.flags, 1), packBits(b.edges, Math.max(1, 32 - Math.clz32(h.phaseBins - 1))),
      packBits(b.anchors, h.phaseBits), packBits(b.cycles, CYCLE_BITS));
  }
  if (h.trackFrames && sec.tracks) parts.push(packTracks(sec.tracks)); // 4.9 (a packet without: its flags)
  return concat(parts);
}

/** @param {Uint8Array[]} parts */
export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A whole-layout blob: header, payload, CRC-32. @param {Header} h @param {Uint8Array} payload */
export function writeWhole(h, payload) {
  const body = concat([packHeader(h, payload.length), payload]);
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  view(out).setUint32(body.length, crc32(body), true);
  return out;
}

/**
 * Packet `index` of the framed layout (4.5); `totals` (num_samples, n_frames, latent_steps) makes it the last;
 * `band`: its sections hold their tonal bands (mode 3); `tracks`: their track fields (format 1.12).
 * @param {number} index @param {Uint8Array} sections @param {[number, number, number] | null} totals
 * @param {boolean} [band] @param {boolean} [tracks]
 */
export function writePacket(index, sections, totals, band = false, tracks = false) {
  const head = new Uint8Array(totals ? 17 : 1);
  head[0] = (totals ? FLAG_LAST : 0) | (band ? FLAG_BAND : 0) | (tracks ? FLAG_TRACKS : 0);
  if (totals) {
    const v = view(head);
    v.setBigUint64(1, BigInt(totals[0]), true);
    v.setUint32(9, totals[1], true);
    v.setUint32(13, totals[2], true);
  }
  const body = concat([head, sections]);
  const out = new Uint8Array(8 + body.length);
  const v = view(out);
  v.setUint32(0, body.length, true);
  out.set(body, 4);
  const idx = new Uint8Array(4);
  view(idx).setUint32(0, index, true);
  v.setUint32(4 + body.length, crc32(out, 0, 4 + body.length, crc32(idx)), true);
  return out;
}
