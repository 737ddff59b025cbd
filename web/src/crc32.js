/** CRC-32 as zlib computes it (reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF). */

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The CRC-32 of `data[start:end]`, continuing from `crc` (the CRC of the bytes before, as zlib.crc32's
 * second argument).
 * @param {Uint8Array} data
 * @param {number} [start]
 * @param {number} [end]
 * @param {number} [crc]
 * @returns {number} an unsigned 32-bit integer
 */
export function crc32(data, start = 0, end = data.length, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
