/**
 * bits — word-level helpers for bit-sliced trits.
 *
 * A trit t ∈ {-1, 0, +1} is stored as one bit in each of two planes:
 *   t = +1  ⇔  plus bit 1, minus bit 0
 *   t = -1  ⇔  plus bit 0, minus bit 1
 *   t =  0  ⇔  both bits 0            (both bits 1 is forbidden)
 * Trit c of a row is bit (c % 32) of word (c / 32); rows are padded to whole words and the
 * padding bits are zero.
 */

/** Number of 32-bit words that hold `n` trits. */
export function wordsFor(n: number): number {
  return (n + 31) >>> 5;
}

/** Population count of a 32-bit word (SWAR, branch-free). */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Mask of the valid bits in the last word of a row of `cols` trits (all ones if cols%32==0). */
export function lastWordMask(cols: number): number {
  const r = cols & 31;
  return r === 0 ? 0xffffffff | 0 : ((1 << r) - 1) | 0;
}

/** Total popcount of a word range. */
export function popcountRange(a: Uint32Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n += popcount32(a[i]!);
  return n;
}

/**
 * Ternary dot product of two bit-sliced vectors of `words` words:
 *   dot = pc(a⁺&b⁺) + pc(a⁻&b⁻) − pc(a⁺&b⁻) − pc(a⁻&b⁺)
 */
export function dotPlanes(
  ap: Uint32Array,
  am: Uint32Array,
  aOff: number,
  bp: Uint32Array,
  bm: Uint32Array,
  bOff: number,
  words: number,
): number {
  let acc = 0;
  for (let w = 0; w < words; w++) {
    const a1 = ap[aOff + w]!,
      a0 = am[aOff + w]!,
      b1 = bp[bOff + w]!,
      b0 = bm[bOff + w]!;
    acc += popcount32(a1 & b1) + popcount32(a0 & b0) - popcount32(a1 & b0) - popcount32(a0 & b1);
  }
  return acc;
}
