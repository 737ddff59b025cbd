/** Rounding as NumPy rounds (shared by the encoder and the level code). */

/** Round half to even, as numpy's rint and Python's round. @param {number} x */
export function rint(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
