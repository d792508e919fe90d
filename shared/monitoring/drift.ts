import { z } from 'zod';
import type { ColumnStats } from '../data/data-contract';

/**
 * Drift measures and their baselines. A baseline is the training distribution of one feature (or
 * of the model's predictions), stored in the version's manifest; an accumulator counts the
 * sampled inference values of a window into the same bins in one pass, in memory bounded by the
 * number of bins, whatever the window's size.
 */

/** Numbers: the training deciles as cut points, and the share of training values in each bin. */
const numericBaselineSchema = z.object({
  kind: z.literal('numeric'),
  /** Strictly increasing cut points; bin i holds values in (edges[i-1], edges[i]], the last bin values above the last edge. */
  edges: z.array(z.number()),
  /** edges.length + 1 shares, summing to 1. */
  proportions: z.array(z.number()),
  nullRate: z.number(),
  min: z.number(),
  max: z.number(),
  rows: z.number(),
});
export type NumericBaseline = z.infer<typeof numericBaselineSchema>;

/** Categories (and labels): the share of each training value; `other` is the share beyond the values kept. */
const categoryBaselineSchema = z.object({
  kind: z.literal('category'),
  proportions: z.record(z.string(), z.number()),
  other: z.number(),
  nullRate: z.number(),
  rows: z.number(),
});
export type CategoryBaseline = z.infer<typeof categoryBaselineSchema>;

const featureBaselineSchema = z.discriminatedUnion('kind', [numericBaselineSchema, categoryBaselineSchema]);
export type FeatureBaseline = z.infer<typeof featureBaselineSchema>;

/**
 * What a version's manifest keeps for monitoring (`driftBaseline`, validated when an evaluation
 * reads it back): every input's baseline, and that of its predictions — predicted labels
 * (classifiers) or values (regressors) on the evaluation rows.
 */
export const driftBaselineSchema = z.object({
  features: z.record(z.string(), featureBaselineSchema),
  prediction: featureBaselineSchema.optional(),
});
export type DriftBaseline = z.infer<typeof driftBaselineSchema>;

/** Categories kept by name in a baseline; the rest share `other`. */
export const MAX_BASELINE_CATEGORIES = 100;
/** Shares below this count as this much, so an empty bin does not make a measure infinite. */
const EPSILON = 1e-4;

/** Deciles of the finite values, as cut points (ties collapsed). */
export function decileEdges(values: ArrayLike<number>): number[] {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) finite.push(v);
  }
  if (finite.length === 0) return [];
  const sorted = Float64Array.from(finite).sort();
  const quantiles: number[] = [];
  for (let q = 1; q < 10; q++) quantiles.push(sorted[Math.min(sorted.length - 1, Math.floor((q / 10) * sorted.length))]!);
  return uniqueSorted(quantiles);
}

/**
 * The exact baseline of numeric training values. `quantiles` are the cut points to use (the
 * deciles the drop statistics already hold); without them the deciles are computed here.
 */
export function numericBaseline(values: ArrayLike<number>, quantiles?: readonly number[]): NumericBaseline {
  const edges = quantiles ? uniqueSorted(quantiles) : decileEdges(values);
  const counts = new Float64Array(edges.length + 1);
  let nulls = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      nulls++;
      continue;
    }
    counts[binOf(edges, v)]!++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const present = values.length - nulls;
  return {
    kind: 'numeric',
    edges,
    proportions: Array.from(counts, (c) => (present > 0 ? c / present : 0)),
    nullRate: values.length > 0 ? nulls / values.length : 0,
    min: present > 0 ? min : 0,
    max: present > 0 ? max : 0,
    rows: values.length,
  };
}

/** The exact baseline of category (or label) training values; null is missing. */
export function categoryBaseline(values: ArrayLike<string | number | null>): CategoryBaseline {
  const counts = new Map<string, number>();
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else counts.set(String(v), (counts.get(String(v)) ?? 0) + 1);
  }
  const present = values.length - nulls;
  const kept = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_BASELINE_CATEGORIES);
  const keptCount = kept.reduce((sum, [, c]) => sum + c, 0);
  return {
    kind: 'category',
    proportions: Object.fromEntries(kept.map(([value, c]) => [value, c / Math.max(present, 1)])),
    other: present > 0 ? (present - keptCount) / present : 0,
    nullRate: values.length > 0 ? nulls / values.length : 0,
    rows: values.length,
  };
}

/**
 * A baseline rebuilt from drop statistics, for versions whose manifest has no exact one: bin
 * shares follow from the decile positions, so they are approximate where deciles tie.
 */
export function baselineFromStats(stats: ColumnStats): FeatureBaseline | undefined {
  const rows = stats.count + stats.nulls;
  const nullRate = rows > 0 ? stats.nulls / rows : 0;
  if (stats.categories) {
    const total = stats.count || 1;
    const proportions = Object.fromEntries(Object.entries(stats.categories).map(([k, c]) => [k, c / total]));
    const kept = Object.values(stats.categories).reduce((s, c) => s + c, 0);
    return { kind: 'category', proportions, other: Math.max(0, (stats.count - kept) / total), nullRate, rows };
  }
  if (!stats.quantiles?.length || stats.min === undefined || stats.max === undefined) return undefined;
  const edges = uniqueSorted(stats.quantiles);
  // Decile j (0-based) sits at share (j+1)/10. Up to an edge lies the share of the last decile equal
  // to it; a tied edge is a point mass whose share reaches toward the next decile: take the midpoint.
  const quantiles = stats.quantiles;
  const below = edges.map((edge) => {
    if (edge >= stats.max!) return 1;
    const last = quantiles.lastIndexOf(edge);
    const tied = quantiles.indexOf(edge) !== last;
    return Math.min(1, (last + (tied ? 1.5 : 1)) / 10);
  });
  const proportions = [...below, 1].map((upTo, i) => Math.max(0, upTo - (i === 0 ? 0 : below[i - 1]!)));
  return { kind: 'numeric', edges, proportions, nullRate, min: stats.min, max: stats.max, rows };
}

/** Population stability index: Σ (a − e)·ln(a / e) over the bins, shares floored at 1e-4. */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[]): number {
  let psi = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i]!, EPSILON);
    const a = Math.max(actual[i] ?? 0, EPSILON);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** Jensen–Shannon distance (base 2, so between 0 and 1): the square root of the divergence. */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  let divergence = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = q[i] ?? 0;
    const m = (a + b) / 2;
    if (a > 0) divergence += 0.5 * a * Math.log2(a / m);
    if (b > 0) divergence += 0.5 * b * Math.log2(b / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}

/** One feature's (or the predictions') figures over a window. */
export interface DriftFigures {
  /** Values seen in the window, nulls included. */
  readonly rows: number;
  readonly measure: 'psi' | 'jensen-shannon';
  /** Undefined when the window has no non-null value to compare. */
  readonly value?: number;
  readonly nullRate: number;
  /** Share of values outside the declared range, or the training range when none is declared. */
  readonly outOfRangeRate?: number;
  readonly range?: { readonly min: number; readonly max: number; readonly from: 'contract' | 'training' };
  /** Share of values never seen in training; undefined when the baseline kept too few values to tell. */
  readonly unseenRate?: number;
  /** A few of the unseen values, for the person reading the evaluation. */
  readonly unseenExamples?: string[];
  readonly baselineNullRate: number;
}

/** The data contract's declared range of a number feature. */
export interface AccumulatorLimits {
  readonly min?: number | undefined;
  readonly max?: number | undefined;
}

/** Counts one feature's sampled values into its baseline's bins. */
export interface DriftAccumulator {
  add(value: unknown): void;
  figures(): DriftFigures;
}

export function accumulatorFor(baseline: FeatureBaseline, limits: AccumulatorLimits = {}): DriftAccumulator {
  return baseline.kind === 'numeric' ? new NumericAccumulator(baseline, limits) : new CategoryAccumulator(baseline);
}

class NumericAccumulator implements DriftAccumulator {
  readonly #baseline: NumericBaseline;
  readonly #counts: Float64Array;
  readonly #range: { min: number; max: number; from: 'contract' | 'training' };
  #rows = 0;
  #nulls = 0;
  #outOfRange = 0;

  constructor(baseline: NumericBaseline, limits: AccumulatorLimits) {
    this.#baseline = baseline;
    this.#counts = new Float64Array(baseline.edges.length + 1);
    const declared = limits.min !== undefined || limits.max !== undefined;
    this.#range = declared
      ? { min: limits.min ?? -Infinity, max: limits.max ?? Infinity, from: 'contract' }
      : { min: baseline.min, max: baseline.max, from: 'training' };
  }

  add(value: unknown): void {
    this.#rows++;
    const v = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (!Number.isFinite(v)) {
      this.#nulls++;
      return;
    }
    this.#counts[binOf(this.#baseline.edges, v)]!++;
    if (v < this.#range.min || v > this.#range.max) this.#outOfRange++;
  }

  figures(): DriftFigures {
    const present = this.#rows - this.#nulls;
    const actual = Array.from(this.#counts, (c) => c / Math.max(present, 1));
    return {
      rows: this.#rows,
      measure: 'psi',
      ...(present > 0 ? { value: populationStabilityIndex(this.#baseline.proportions, actual) } : {}),
      nullRate: this.#rows > 0 ? this.#nulls / this.#rows : 0,
      outOfRangeRate: present > 0 ? this.#outOfRange / present : 0,
      range: { min: this.#range.min, max: this.#range.max, from: this.#range.from },
      baselineNullRate: this.#baseline.nullRate,
    };
  }
}

const MAX_UNSEEN_EXAMPLES = 10;

class CategoryAccumulator implements DriftAccumulator {
  readonly #baseline: CategoryBaseline;
  readonly #known: Map<string, number>;
  readonly #examples = new Set<string>();
  #rows = 0;
  #nulls = 0;
  /** Values outside the baseline's named ones: its `other` bin. */
  #other = 0;
  #unseen = 0;

  constructor(baseline: CategoryBaseline) {
    this.#baseline = baseline;
    this.#known = new Map(Object.keys(baseline.proportions).map((k) => [k, 0]));
  }

  add(value: unknown): void {
    this.#rows++;
    if (value === null || value === undefined || value === '') {
      this.#nulls++;
      return;
    }
    const key = String(value);
    const count = this.#known.get(key);
    if (count !== undefined) {
      this.#known.set(key, count + 1);
      return;
    }
    this.#other++;
    // A value outside the kept ones is known to be unseen in training only when the baseline kept every value.
    if (this.#baseline.other > 0) return;
    this.#unseen++;
    if (this.#examples.size < MAX_UNSEEN_EXAMPLES) this.#examples.add(key.slice(0, 100));
  }

  figures(): DriftFigures {
    const present = this.#rows - this.#nulls;
    const p = [...Object.values(this.#baseline.proportions), this.#baseline.other];
    const q = [...Array.from(this.#known.values(), (c) => c / Math.max(present, 1)), this.#other / Math.max(present, 1)];
    const tellsUnseen = this.#baseline.other === 0;
    return {
      rows: this.#rows,
      measure: 'jensen-shannon',
      ...(present > 0 ? { value: jensenShannonDistance(p, q) } : {}),
      nullRate: this.#rows > 0 ? this.#nulls / this.#rows : 0,
      ...(tellsUnseen ? { unseenRate: present > 0 ? this.#unseen / present : 0 } : {}),
      ...(this.#examples.size ? { unseenExamples: [...this.#examples] } : {}),
      baselineNullRate: this.#baseline.nullRate,
    };
  }
}

function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function uniqueSorted(values: readonly number[]): number[] {
  return [...new Set(values.filter(Number.isFinite))].sort((a, b) => a - b);
}
