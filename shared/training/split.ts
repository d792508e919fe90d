/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same split on every machine. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Split {
  readonly train: Int32Array;
  readonly evaluation: Int32Array;
  /** True when there were too few rows to hold any out: evaluation then reuses the training rows. */
  readonly evaluatedOnTraining: boolean;
}

/**
 * A deterministic train/evaluation split of row indices. With `groups` (class indices) it is
 * stratified: each class contributes the same fraction to the evaluation rows.
 */
export function splitRows(rows: number, fraction: number, seed: number, groups?: Int32Array): Split {
  const minimumForHoldout = 10;
  if (rows < minimumForHoldout || fraction <= 0) {
    const all = Int32Array.from({ length: rows }, (_, i) => i);
    return { train: all, evaluation: all, evaluatedOnTraining: true };
  }
  const random = mulberry32(seed);
  const buckets = new Map<number, number[]>();
  for (let i = 0; i < rows; i++) {
    const g = groups ? groups[i]! : 0;
    let bucket = buckets.get(g);
    if (!bucket) buckets.set(g, (bucket = []));
    bucket.push(i);
  }
  const train: number[] = [];
  const evaluation: number[] = [];
  for (const key of [...buckets.keys()].sort((a, b) => a - b)) {
    const bucket = buckets.get(key)!;
    // Fisher–Yates with the seeded PRNG, per group, in group order: reproducible.
    for (let i = bucket.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmp = bucket[i]!;
      bucket[i] = bucket[j]!;
      bucket[j] = tmp;
    }
    const held = bucket.length < 2 ? 0 : Math.max(1, Math.round(bucket.length * fraction));
    for (let i = 0; i < bucket.length; i++) (i < held ? evaluation : train).push(bucket[i]!);
  }
  train.sort((a, b) => a - b);
  evaluation.sort((a, b) => a - b);
  return { train: Int32Array.from(train), evaluation: Int32Array.from(evaluation), evaluatedOnTraining: false };
}
