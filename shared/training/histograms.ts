/** Histogram slots per feature: 255 value bins and the missing-value bin. */
export const SLOTS = 256;
/** The slot, and bin, of missing values (and of categories never seen in training). */
export const MISSING_BIN = SLOTS - 1;

/**
 * Quantised gradients: each row's gradient becomes an integer in [-32, 32] and its hessian one in
 * [0, 32] (stochastic rounding, seeded), packed with a count of 1 into one float64 as
 * g × 2^33 + h × 2^14 + 1. Summed over at most {@link CHUNK_ROWS} rows the three fields stay apart
 * (count < 2^14, hessian < 2^19, |gradient| < 2^19, total < 2^53) and every sum is exact, so a
 * histogram is one float64 addition per (row, feature) instead of three, and it does not depend on
 * the order in which rows are added (or on how they are split between threads).
 *
 * 32 levels rather than 128: taking the sums apart is a pass over the whole histogram per chunk,
 * a fifth of the histogram's time at 4,096-row chunks; with 32 levels a chunk holds 16,383 rows,
 * and test AUC on the 1M-row benchmark was the same within its seed-to-seed spread (±0.001).
 */
export const GRADIENT_LEVELS = 32;
/** Rows summed into one packed histogram before its fields are taken apart. */
export const CHUNK_ROWS = 16_383;
const G_UNIT = 2 ** 33;
const H_UNIT = 2 ** 14;

/** How quantised units convert back to gradients and hessians, for one tree. */
export interface GradientScales {
  readonly gradient: number;
  readonly hessian: number;
}

/** The scales that map the largest |gradient| and hessian of a tree's rows to the top level. */
export function gradientScales(maxAbsGradient: number, maxHessian: number): GradientScales {
  return {
    gradient: maxAbsGradient > 0 ? maxAbsGradient / GRADIENT_LEVELS : 1,
    hessian: maxHessian > 0 ? maxHessian / GRADIENT_LEVELS : 1,
  };
}

/**
 * Where a tree's gradients come from: position p's row is `values[p × stride ..]`, holding its
 * target and its score. Squared error: the score is the raw score, g = score − target, h = 1. Log
 * loss: the class probability p is the score ('log'), or 1 / (1 + score) where the score is
 * e^−raw of a binary classifier ('logistic'); g = p − [target is the class], h = max(p(1 − p), 1e-16).
 */
export interface GradientSource {
  readonly values: Float64Array;
  readonly stride: number;
  readonly targetAt: number;
  readonly scoreAt: number;
  readonly loss: 'squared' | 'log' | 'logistic';
  /** With log loss, the class of the tree; -1 for binary, where the target (0 or 1) is the indicator itself. */
  readonly classIndex: number;
}

/**
 * Fills `packed[p]` for positions start..end-1 from the gradient and hessian of the row at each
 * position, rounding stochastically with `seed` (unbiased on average, so the sums stay close to
 * the exact ones).
 */
export function packGradients(source: GradientSource, start: number, end: number, scales: GradientScales, seed: number, packed: Float64Array): void {
  const { values, stride, targetAt, scoreAt, classIndex } = source;
  const squared = source.loss === 'squared';
  const logistic = source.loss === 'logistic';
  const gInverse = 1 / scales.gradient;
  const hInverse = 1 / scales.hessian;
  // mulberry32 inline: one 32-bit draw gives both roundings 16 bits of randomness each.
  let a = seed >>> 0;
  for (let p = start, o = start * stride; p < end; p++, o += stride) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    const score = values[o + scoreAt]!;
    const target = values[o + targetAt]!;
    // The branches test loop invariants: they cost nothing once predicted.
    const q = logistic ? 1 / (1 + score) : score;
    const g = squared ? score - target : q - (classIndex < 0 ? target : target === classIndex ? 1 : 0);
    let h = squared ? 1 : q * (1 - q);
    if (h < 1e-16) h = 1e-16;
    // The clamps guard the rounding of g / scale just past a level at the extremes. Comparisons,
    // not Math.min/max, whose NaN and −0 rules cost more than the rest of the loop.
    let gq = Math.floor(g * gInverse + (t & 0xffff) / 65536);
    gq = gq > GRADIENT_LEVELS ? GRADIENT_LEVELS : gq < -GRADIENT_LEVELS ? -GRADIENT_LEVELS : gq;
    let hq = Math.floor(h * hInverse + (t >>> 16) / 65536);
    hq = hq > GRADIENT_LEVELS ? GRADIENT_LEVELS : hq < 0 ? 0 : hq;
    packed[p] = gq * G_UNIT + hq * H_UNIT + 1;
  }
}

/** Writes the exact gradient and hessian sums of positions start..end-1 to `out[at]` and `out[at + 1]`. */
export function sumGradients(source: GradientSource, start: number, end: number, out: Float64Array, at: number): void {
  const { values, stride, targetAt, scoreAt, classIndex } = source;
  let g = 0;
  let h = 0;
  if (source.loss === 'squared') {
    for (let o = start * stride, e = end * stride; o < e; o += stride) g += values[o + scoreAt]! - values[o + targetAt]!;
    h = end - start;
  } else {
    const logistic = source.loss === 'logistic';
    for (let o = start * stride, e = end * stride; o < e; o += stride) {
      const score = values[o + scoreAt]!;
      const p = logistic ? 1 / (1 + score) : score;
      const target = values[o + targetAt]!;
      g += p - (classIndex < 0 ? target : target === classIndex ? 1 : 0);
      const hessian = p * (1 - p);
      h += hessian < 1e-16 ? 1e-16 : hessian;
    }
  }
  out[at] = g;
  out[at + 1] = h;
}

/**
 * Adds the histogram of the rows at positions start..end-1 to `out` (features × 256 slots ×
 * [gradient, hessian, count], in quantised units). The rows of a leaf lie next to each other
 * (training moves them there as it splits), so this is one sequential pass over row-major bins
 * padded to whole 32-bit words: one load yields four features' bins (little-endian bytes), and each
 * (row, feature) is one addition of the row's packed value into `tally` (features × 256, zero on
 * entry and on return, small enough for L1), taken apart into `out` every {@link CHUNK_ROWS} rows.
 */
export function buildHistogram(
  words: Uint32Array,
  wordsPerRow: number,
  features: number,
  packed: Float64Array,
  start: number,
  end: number,
  allowed: Int32Array,
  tally: Float64Array,
  out: Float64Array,
): void {
  // Byte by byte for a subset of features, and on a big-endian machine, where a word's low byte is not the first.
  const bytewise = allowed.length !== features || !LITTLE_ENDIAN;
  const bytes = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  const stride = wordsPerRow * 4;
  const kernel = bytewise ? undefined! : rowsKernel(wordsPerRow, features);
  for (let first = start; first < end; first += CHUNK_ROWS) {
    const last = Math.min(end, first + CHUNK_ROWS);
    if (bytewise) {
      for (let p = first, base = first * stride; p < last; p++, base += stride) {
        const v = packed[p]!;
        for (let a = 0; a < allowed.length; a++) {
          const f = allowed[a]!;
          const j = (f << 8) + bytes[base + f]!;
          tally[j] = tally[j]! + v;
        }
      }
    } else {
      kernel(words, bytes, packed, first, last, tally);
    }
    unpackTally(tally, allowed, out);
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Adds the rows at positions start..end-1 to `tally`: every feature, a table's whole row. */
type RowsKernel = (words: Uint32Array, bytes: Uint8Array, packed: Float64Array, start: number, end: number, tally: Float64Array) => void;
const kernels = new Map<string, RowsKernel>();
/** Wider rows than this use the loop below: a generated body would only grow, and gain nothing. */
const MAX_GENERATED_WORDS = 64;

/**
 * The histogram loop for rows of `wordsPerRow` words holding `features` bins, generated once per
 * shape so that every tally offset is a constant and no loop runs over the words: measured 30%
 * faster than the same loop over words (0.52 vs 0.76 ns per row and feature). Two rows at a time,
 * so the additions of one row do not wait on the other's. The source is built from integers only.
 */
function rowsKernel(wordsPerRow: number, features: number): RowsKernel {
  const key = `${wordsPerRow}:${features}`;
  let kernel = kernels.get(key);
  if (kernel) return kernel;
  const full = features >> 2;
  const rest = features & 3;
  const byteOf = (word: string, k: number): string => (k === 0 ? `(${word} & 255)` : k === 3 ? `(${word} >>> 24)` : `((${word} >>> ${8 * k}) & 255)`);
  const row = (at: string, value: string): string[] => {
    const lines: string[] = [];
    for (let q = 0; q < full; q++) {
      lines.push(`w = words[${at} + ${q}];`);
      for (let k = 0; k < 4; k++) lines.push(`j = ${(q * 4 + k) * SLOTS} + ${byteOf('w', k)}; tally[j] += ${value};`);
    }
    for (let r = 0; r < rest; r++) lines.push(`j = ${(full * 4 + r) * SLOTS} + bytes[(${at} + ${full}) * 4 + ${r}]; tally[j] += ${value};`);
    return lines;
  };
  if (wordsPerRow > MAX_GENERATED_WORDS) {
    kernel = (words, bytes, packed, start, end, tally) => {
      for (let p = start, b = start * wordsPerRow; p < end; p++, b += wordsPerRow) {
        const v = packed[p]!;
        for (let q = 0, slot = 0; q < full; q++, slot += 4 * SLOTS) {
          const w = words[b + q]!;
          let j = slot + (w & 255);
          tally[j] = tally[j]! + v;
          j = slot + SLOTS + ((w >>> 8) & 255);
          tally[j] = tally[j]! + v;
          j = slot + 2 * SLOTS + ((w >>> 16) & 255);
          tally[j] = tally[j]! + v;
          j = slot + 3 * SLOTS + (w >>> 24);
          tally[j] = tally[j]! + v;
        }
        for (let r = 0; r < rest; r++) {
          const j = (full * 4 + r) * SLOTS + bytes[(b + full) * 4 + r]!;
          tally[j] = tally[j]! + v;
        }
      }
    };
  } else {
    const source = [
      `let p = start, b = start * ${wordsPerRow}, w = 0, j = 0;`,
      `for (; p + 1 < end; p += 2, b += ${2 * wordsPerRow}) {`,
      'const v0 = packed[p], v1 = packed[p + 1];',
      ...interleave(row('b', 'v0'), row(`b + ${wordsPerRow}`, 'v1').map((line) => line.replace(/\bw\b/g, 'x'))),
      '}',
      'if (p < end) {',
      'const v0 = packed[p];',
      ...row('b', 'v0'),
      '}',
    ].join('\n');
    kernel = new Function('words', 'bytes', 'packed', 'start', 'end', 'tally', `let x = 0;\n${source}`) as RowsKernel;
  }
  kernels.set(key, kernel);
  return kernel;
}

/** a0, b0, a1, b1, …: the two rows' lines side by side. */
function interleave(a: readonly string[], b: readonly string[]): string[] {
  return a.flatMap((line, i) => [line, b[i]!]);
}

/** Takes the packed sums apart into `out` and zeroes `tally`: count in the low 13 bits, hessian in the next 20, gradient (signed) above. */
function unpackTally(tally: Float64Array, allowed: Int32Array, out: Float64Array): void {
  for (let a = 0; a < allowed.length; a++) {
    const f = allowed[a]!;
    for (let j = f * SLOTS, o = j * 3, e = j + SLOTS; j < e; j++, o += 3) {
      const s = tally[j]!;
      if (s === 0) continue;
      tally[j] = 0;
      // Multiplying by a power of two is exact, and cheaper than dividing.
      const g = Math.floor(s * (1 / G_UNIT));
      const low = s - g * G_UNIT;
      const h = Math.floor(low * (1 / H_UNIT));
      out[o] = out[o]! + g;
      out[o + 1] = out[o + 1]! + h;
      out[o + 2] = out[o + 2]! + (low - h * H_UNIT);
    }
  }
}
