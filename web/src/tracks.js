/**
 * Sinusoidal tracks (format 1.12, docs/FORMAT.md 4.9 and 6.10): a section's track field, and the tracks'
 * samples that the decoder adds to each coded channel at the model rate. Phases are integers in units of
 * 2^-17 turn until the cosine, so every runtime computes the same ones.
 */

import { FormatError } from './errors.js';

export const MAX_TRACKS = 16;
const TURN = 2 ** 17;

/**
 * The blocks that start in frames [f0, f0 + frames) (4.9): [first, end).
 * @param {number} b track_frames @param {number} f0 @param {number} frames
 */
export function blockRange(b, f0, frames) {
  return [Math.ceil(f0 / b), Math.ceil((f0 + frames) / b)];
}

/** The least and most bytes of a track field of `m` blocks (4.9's tracks_min, tracks_max). @param {number} m */
export function tracksMin(m) {
  return Math.ceil((5 + m) / 8);
}
export function tracksMax(/** @type {number} */ m) {
  return Math.ceil((5 + m * (2 + 16 * 10 + 4 + 16 * 31)) / 8);
}

/**
 * One block's codes (4.9): `ends` one a track alive at its start (true: it fades out in this block), `steps`
 * [da, dp] one a track that goes on, `births` [freq, start, amp] one a track born in it.
 * @typedef {{ends: boolean[], steps: [number, number][], births: [number, number, number][]}} TrackBlock
 */

/**
 * A section's track field of `m` blocks at `d[pos:end]` -> [{alive, blocks}, the position after it].
 * @param {Uint8Array} d @param {number} pos @param {number} end @param {number} m
 * @returns {[{alive: number, blocks: TrackBlock[]}, number]}
 */
export function parseTracks(d, pos, end, m) {
  let bit = 8 * pos;
  const read = (/** @type {number} */ n, signed = false) => {
    if (bit + n > 8 * end) throw new FormatError("the payload ends inside a channel section's track field");
    let v = 0;
    for (let i = 0; i < n; i++, bit++) v = 2 * v + ((d[bit >> 3] >> (7 - (bit & 7))) & 1);
    return signed && v >= 2 ** (n - 1) ? v - 2 ** n : v;
  };
  const first = read(5);
  let alive = first;
  /** @type {TrackBlock[]} */
  const blocks = [];
  for (let b = 0; b < m; b++) {
    if (alive > MAX_TRACKS) throw new FormatError(`a track field holds ${alive} tracks, at most ${MAX_TRACKS}`);
    if (!read(1)) { // change 0: every track goes on with no step, none born
      blocks.push({ ends: new Array(alive).fill(false), steps: Array.from({ length: alive }, () => [0, 0]), births: [] });
      continue;
    }
    const ends = Array.from({ length: alive }, () => read(1) === 1);
    /** @type {[number, number][]} */
    const steps = [];
    for (let i = ends.filter((e) => !e).length; i > 0; i--) steps.push(read(1) ? [read(4, true), read(4, true)] : [0, 0]);
    /** @type {[number, number, number][]} */
    const births = [];
    if (read(1)) {
      for (let i = read(4) + 1; i > 0; i--) {
        const born = /** @type {[number, number, number]} */ ([read(16), read(6), read(9)]);
        if (born[0] === 0) throw new FormatError("a track's frequency code is 0");
        births.push(born);
      }
    }
    alive = steps.length + births.length;
    blocks.push({ ends, steps, births });
  }
  if (alive > MAX_TRACKS) throw new FormatError(`a track field holds ${alive} tracks, at most ${MAX_TRACKS}`);
  return [{ alive: first, blocks }, Math.ceil(bit / 8)];
}

/** 4.9: a track's amplitude code -> its amplitude (full scale 1). @param {number} a */
export const amplitude = (a) => 10 ** (((a - 487) * 0.25) / 20);

/** A track as the decoder (and the encoder's copy of it) holds it. @typedef {{freq: number, amp: number, phase: number, level: number}} Track */

/**
 * Apply block `codes` to `tracks` (6.10) -> [its `q` samples, the tracks alive after it]. The tracks are
 * updated in place. FormatError where a step takes an amplitude code out of range.
 * @param {Track[]} tracks @param {TrackBlock} codes @param {number} q
 * @returns {[Float64Array, Track[]]}
 */
export function renderBlock(tracks, codes, q) {
  if (codes.ends.length !== tracks.length) {
    throw new FormatError(`a block codes ${codes.ends.length} tracks where ${tracks.length} are alive`);
  }
  const s = new Float64Array(q);
  /** @type {Track[]} */
  const kept = [];
  let k = 0;
  const render = (/** @type {Track} */ t, /** @type {number} */ target, /** @type {number} */ d) => {
    for (let j = 0; j < q; j++) {
      const turns = ((t.phase + t.freq * j) % TURN) / TURN + (d * j) / (128 * q);
      s[j] += (t.level + (target - t.level) * ((j + 1) / q)) * Math.cos(2 * Math.PI * turns);
    }
    t.phase = (((t.phase + t.freq * q + d * 1024) % TURN) + TURN) % TURN;
    t.level = target;
  };
  tracks.forEach((t, i) => {
    if (codes.ends[i]) return render(t, 0, 0);
    const [da, dp] = codes.steps[k++];
    t.amp += da;
    if (!(t.amp >= 0 && t.amp <= 511)) throw new FormatError(`a track's amplitude code steps to ${t.amp}, outside 0..511`);
    render(t, amplitude(t.amp), dp);
    kept.push(t);
  });
  for (const [freq, start, amp] of codes.births) {
    const t = { freq, amp, phase: start * 2048, level: 0 };
    render(t, amplitude(amp), 0);
    kept.push(t);
  }
  return [s, kept];
}

/**
 * A section's track field of `blocks` (4.9; each block's `ends` as long as the tracks alive then) -> bytes.
 * @param {TrackBlock[]} blocks
 */
export function packTracks(blocks) {
  /** @type {number[]} */
  const bits = [];
  const put = (/** @type {number} */ v, /** @type {number} */ n) => {
    for (let i = n - 1; i >= 0; i--) bits.push(((v < 0 ? v + 2 ** n : v) >> i) & 1);
  };
  put(blocks.length ? blocks[0].ends.length : 0, 5);
  for (const b of blocks) {
    const change = b.ends.some((e) => e) || b.steps.some(([da, dp]) => da || dp) || b.births.length > 0;
    put(change ? 1 : 0, 1);
    if (!change) continue;
    for (const e of b.ends) put(e ? 1 : 0, 1);
    for (const [da, dp] of b.steps) {
      put(da || dp ? 1 : 0, 1);
      if (da || dp) {
        put(da, 4);
        put(dp, 4);
      }
    }
    put(b.births.length ? 1 : 0, 1);
    if (b.births.length) {
      put(b.births.length - 1, 4);
      for (const [freq, start, amp] of b.births) {
        put(freq, 16);
        put(start, 6);
        put(amp, 9);
      }
    }
  }
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => { out[i >> 3] |= b << (7 - (i & 7)); });
  return out;
}

/**
 * Check that each channel's track fields follow each other (4.9's decoder checks) without synthesizing them,
 * as codec-rt's `tracks.follow`: `info` prints no blob that `decode` refuses. FormatError as a decoder's.
 * @param {import('./container.js').Blob} blob
 */
export function followTracks(blob) {
  const h = blob.header;
  for (let ch = 0; ch < (h.trackFrames ? h.channels : 0); ch++) {
    /** @type {number[]} */
    let amps = [];
    for (const p of blob.packets) {
      const held = p.sections[ch].tracks;
      if (!held) {
        if (amps.length) throw new FormatError(`packet ${p.index} holds no track field while ${amps.length} tracks are alive`);
        continue;
      }
      if (held.alive !== amps.length) throw new FormatError(`packet ${p.index} says ${held.alive} tracks are alive, not ${amps.length}`);
      for (const b of held.blocks) {
        let k = 0;
        /** @type {number[]} */
        const kept = [];
        amps.forEach((a, i) => {
          if (b.ends[i]) return;
          kept.push(a + b.steps[k++][0]);
          if (!(kept[kept.length - 1] >= 0 && kept[kept.length - 1] <= 511)) {
            throw new FormatError(`a track's amplitude code steps to ${kept[kept.length - 1]}, outside 0..511`);
          }
        });
        amps = [...kept, ...b.births.map((n) => n[2])];
      }
    }
  }
}

/**
 * Add each coded channel's tracks (6.10) to its model-rate samples `audio` (the coded signal, from its
 * first sample), in place; the fields checked by `followTracks` first.
 * @param {import('./container.js').Blob} blob @param {Float32Array[]} audio @param {number} hop
 */
export function addTracks(blob, audio, hop) {
  const h = blob.header;
  const b = h.trackFrames;
  const q = b * hop;
  for (let ch = 0; ch < h.channels; ch++) {
    const y = audio[ch];
    /** @type {Track[]} */
    let tracks = [];
    let block = 0;
    for (const p of blob.packets) {
      const [i0, i1] = blockRange(b, p.index * h.packetSteps * h.timeStride, p.frames);
      const field = p.sections[ch].tracks ?? { alive: 0, blocks: Array.from({ length: i1 - i0 }, () => ({ ends: [], steps: [], births: [] })) };
      for (const codes of field.blocks) {
        const [s, kept] = renderBlock(tracks, codes, q);
        tracks = kept;
        const at = block * q;
        for (let j = 0; j < q && at + j < y.length; j++) y[at + j] += Math.fround(s[j]);
        block++;
      }
    }
  }
}
