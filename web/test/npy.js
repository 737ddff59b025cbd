/** A reader of NumPy's .npy files (little-endian float32, float64, int32, int64, uint16; C order). */

import { readFileSync } from 'node:fs';

const TYPES = {
  '<f4': Float32Array, '<f8': Float64Array, '<i4': Int32Array, '<i8': BigInt64Array, '<u2': Uint16Array, '|u1': Uint8Array,
};

/**
 * @param {string} file
 * @returns {{shape: number[], data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint16Array | Uint8Array}}
 */
export function readNpy(file) {
  const b = readFileSync(file);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file} is not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const head = b.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(head)?.[1] ?? '';
  if (/'fortran_order':\s*True/.test(head)) throw new Error(`${file} is in Fortran order`);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(head)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const T = TYPES[/** @type {keyof typeof TYPES} */ (descr)];
  if (!T) throw new Error(`${file}: dtype ${descr} not supported`);
  const off = start + hlen;
  const n = shape.reduce((a, x) => a * x, 1);
  const bytes = b.buffer.slice(b.byteOffset + off, b.byteOffset + off + n * T.BYTES_PER_ELEMENT);
  return { shape, data: new T(bytes) };
}
