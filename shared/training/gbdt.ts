import { availableParallelism } from 'node:os';
import type { DecisionTree } from '../onnx/pipeline-spec';
import { gradientScales, MISSING_BIN, SLOTS, type GradientScales } from './histograms';
import { binnedLeaf, lossSum, RowShards, type BinnedTree } from './row-shards';
import { mulberry32 } from './split';

/** Histogram gradient-boosted trees: squared error, log loss and softmax, on typed arrays. */

export type GbdtObjective = 'regression' | 'binary' | 'multiclass';

/** Options of {@link fitGbdt}. */
export interface GbdtOptions {
  readonly objective: GbdtObjective;
  /** Number of classes (multiclass only). */
  readonly classes?: number;
  /** Boosting rounds (one tree per round, one per class for multiclass). @default 100 */
  readonly rounds?: number;
  /** @default 0.1 */
  readonly learningRate?: number;
  /** @default 31 */
  readonly maxLeaves?: number;
  /** Deepest a leaf may be (the root is depth 0). @default Infinity */
  readonly maxDepth?: number;
  /** @default 20 */
  readonly minSamplesLeaf?: number;
  /** @default 1e-3 */
  readonly minHessianLeaf?: number;
  /** L2 regularisation of leaf values. @default 1 */
  readonly l2?: number;
  /** Value bins per feature, at most 255 (one more holds missing values). @default 255 */
  readonly maxBins?: number;
  /** Share of rows each tree sees, drawn with the seed. @default 1 */
  readonly rowSubsample?: number;
  /** Share of features each tree may split on, drawn with the seed. @default 1 */
  readonly featureSubsample?: number;
  /** @default 0 */
  readonly seed?: number;
  /** Stop when the validation loss has not improved for this many rounds (needs `validation`). @default 10 */
  readonly earlyStoppingRounds?: number;
  /**
   * Threads that work on the rows (two row shards: more than 2 is taken as 2); the model is the
   * same bytes for any count. docs/benchmarks.md has the 1- and 2-thread times side by side; on a
   * busy machine the second thread can be slower, so callers that share the cores can pass 1.
   * @default 2 when the machine has two cores or more, else 1
   */
  readonly threads?: number;
  /** Called after each round; return false to stop (cancellation, time budget). */
  readonly onRound?: (round: number, trainLoss: number, validationLoss: number | undefined) => boolean;
}

/**
 * Feature columns, column-major. Numeric columns carry NaN for missing; categorical columns carry
 * category codes 0..253 (NaN for missing or unknown: the exported graph maps unseen values to NaN too).
 */
export interface GbdtData {
  readonly rows: number;
  readonly columns: readonly Float64Array[];
  readonly categorical: readonly boolean[];
}

export interface GbdtModel {
  readonly objective: GbdtObjective;
  /** Scores before the first tree: one per class for multiclass, else one. */
  readonly baseScores: readonly number[];
  /** Trees in round order; a multiclass round adds one tree per class. */
  readonly trees: DecisionTree[];
  readonly rounds: number;
  /** Round count with the best validation loss (equals `rounds` without validation). */
  readonly bestRound: number;
  readonly stoppedEarly: boolean;
}

const MAX_CATEGORY_CODE = 253;

interface Binning {
  /** Per feature: value-bin upper edges (float32 data values); a value goes to bin #edges < value. */
  readonly edges: Float32Array[];
  readonly bins: number[];
}

/** Quantile bin edges from the training rows; edges are float32 data values so `x <= edge` holds in the graph too. */
function fitBinning(data: GbdtData, maxBins: number): Binning {
  const edges: Float32Array[] = [];
  const bins: number[] = [];
  const sampleSize = Math.min(data.rows, 200_000);
  const stride = data.rows / sampleSize;
  for (let f = 0; f < data.columns.length; f++) {
    const column = data.columns[f]!;
    if (data.categorical[f]) {
      let max = -1;
      for (let i = 0; i < data.rows; i++) {
        const v = column[i]!;
        if (v === v && v > max) max = v;
      }
      edges.push(new Float32Array(0));
      bins.push(Math.min(max + 1, MAX_CATEGORY_CODE + 1));
      continue;
    }
    // An evenly strided sample, deterministic, is enough to place 255 quantiles.
    const sample = new Float32Array(sampleSize);
    let n = 0;
    for (let k = 0; k < sampleSize; k++) {
      const v = column[Math.floor(k * stride)]!;
      if (v === v) sample[n++] = v;
    }
    const sorted = sortFloats(sample.subarray(0, n));
    // Distinct values only matter while there are few enough to be bins of their own.
    const distinct: number[] = [];
    for (let i = 0; i < n && distinct.length <= maxBins; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]!);
    let cuts: number[];
    if (distinct.length <= maxBins) {
      cuts = distinct.slice(0, -1);
    } else {
      cuts = [];
      for (let b = 1; b < maxBins; b++) {
        const v = sorted[Math.min(n - 1, Math.floor((b * n) / maxBins))]!;
        if (cuts.length === 0 || v > cuts[cuts.length - 1]!) cuts.push(v);
      }
    }
    edges.push(Float32Array.from(cuts));
    bins.push(cuts.length + 1);
  }
  return { edges, bins };
}

/**
 * The values in ascending order, as `Float32Array.prototype.sort` orders them (-0 before +0; no
 * NaN expected), by a three-pass radix sort on order-preserving integer keys: a comparison sort of
 * 200,000 values per feature was a tenth of a training run.
 */
function sortFloats(values: Float32Array): Float32Array {
  const n = values.length;
  let keys = new Uint32Array(n);
  let other = new Uint32Array(n);
  const bits = new Uint32Array(values.buffer, values.byteOffset, n);
  // Flip negatives entirely and set the sign of positives: unsigned order is then numeric order.
  for (let i = 0; i < n; i++) {
    const u = bits[i]!;
    keys[i] = u & 0x80000000 ? ~u : u | 0x80000000;
  }
  const counts = new Int32Array(2048);
  for (const [shift, width] of [[0, 11], [11, 11], [22, 10]] as const) {
    const mask = (1 << width) - 1;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(keys[i]! >>> shift) & mask]!++;
    let total = 0;
    for (let d = 0; d <= mask; d++) {
      const c = counts[d]!;
      counts[d] = total;
      total += c;
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      const d = (k >>> shift) & mask;
      other[counts[d]!] = k;
      counts[d] = counts[d]! + 1;
    }
    const t = keys;
    keys = other;
    other = t;
  }
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    keys[i] = k & 0x80000000 ? k ^ 0x80000000 : ~k;
  }
  return new Float32Array(keys.buffer, 0, n);
}

/** Bytes per row of binned data: the features, padded to whole 32-bit words. */
const strideOf = (features: number): number => (features + 3) & ~3;

/**
 * Row-major bins (rows × stride, one byte per feature, rows padded to 4-byte words): a histogram
 * pass reads each row's bins contiguously, four at a time.
 */
function binRows(data: GbdtData, binning: Binning): Uint8Array {
  const features = data.columns.length;
  const stride = strideOf(features);
  const rows = data.rows;
  // Shared, so a helper thread can read the bins while building histograms.
  const out = new Uint8Array(new SharedArrayBuffer(Math.max(4, rows * stride)));
  // Edges padded with +Infinity to 255 entries: a fixed 8-step search with no data-dependent loop exit.
  const padded = binning.edges.map((edges) => {
    const p = new Float32Array(255).fill(Number.POSITIVE_INFINITY);
    p.set(edges);
    return p;
  });
  // Blocks of rows, so the row-major output being written stays in cache while each column is read.
  const block = 4096;
  for (let first = 0; first < rows; first += block) {
    const last = Math.min(rows, first + block);
    for (let f = 0; f < features; f++) {
      const column = data.columns[f]!;
      if (data.categorical[f]) binCategories(column, out, stride, f, first, last);
      else binNumbers(column, padded[f]!, out, stride, f, first, last);
    }
  }
  return out;
}

function binNumbers(column: Float64Array, padded: Float32Array, out: Uint8Array, stride: number, f: number, first: number, last: number): void {
  // Branch-free: comparisons become 0/1 arithmetic, since data-dependent branches mispredict half the time.
  for (let i = first; i < last; i++) {
    const v = column[i]!;
    const x = Math.fround(v);
    let bin = 0;
    bin += +(padded[bin + 127]! < x) << 7;
    bin += +(padded[bin + 63]! < x) << 6;
    bin += +(padded[bin + 31]! < x) << 5;
    bin += +(padded[bin + 15]! < x) << 4;
    bin += +(padded[bin + 7]! < x) << 3;
    bin += +(padded[bin + 3]! < x) << 2;
    bin += +(padded[bin + 1]! < x) << 1;
    bin += +(padded[bin]! < x);
    out[i * stride + f] = v === v ? bin : MISSING_BIN;
  }
}

function binCategories(column: Float64Array, out: Uint8Array, stride: number, f: number, first: number, last: number): void {
  for (let i = first; i < last; i++) {
    const v = column[i]!;
    out[i * stride + f] = v >= 0 && v <= MAX_CATEGORY_CODE && v === Math.floor(v) ? v : MISSING_BIN;
  }
}

interface SplitChoice {
  gain: number;
  feature: number;
  /** Numeric: rows with bin <= `bin` go left. Categorical: rows with bin == `bin` go left. */
  bin: number;
  missingLeft: boolean;
  leftG: number;
  leftH: number;
  leftCount: number;
}

interface Leaf {
  readonly node: number;
  /** Where the shards keep the leaf's rows (see {@link RowShards.split}). */
  readonly slot: number;
  readonly depth: number;
  /** Gradient and hessian sums in the histogram's quantised units. */
  readonly g: number;
  readonly h: number;
  readonly count: number;
  readonly histogram: Float64Array;
  split: SplitChoice | undefined;
}

/** A tree under construction, in growable arrays; node 0 is the root. */
class TreeBuilder {
  feature: number[] = [-1];
  threshold: number[] = [0];
  categorical: number[] = [0];
  left: number[] = [-1];
  right: number[] = [-1];
  missingLeft: number[] = [0];
  value: number[] = [0];
  /** Numeric splits: the bin whose upper edge is the threshold, to route binned rows. */
  splitBin: number[] = [0];

  addChildren(parent: number, feature: number, bin: number, threshold: number, categorical: boolean, missingLeft: boolean): [number, number] {
    const l = this.feature.length;
    for (let k = 0; k < 2; k++) {
      this.feature.push(-1);
      this.threshold.push(0);
      this.categorical.push(0);
      this.left.push(-1);
      this.right.push(-1);
      this.missingLeft.push(0);
      this.value.push(0);
      this.splitBin.push(0);
    }
    this.feature[parent] = feature;
    this.threshold[parent] = threshold;
    this.categorical[parent] = categorical ? 1 : 0;
    this.left[parent] = l;
    this.right[parent] = l + 1;
    this.missingLeft[parent] = missingLeft ? 1 : 0;
    this.splitBin[parent] = bin;
    return [l, l + 1];
  }

  build(target: number): DecisionTree {
    return {
      target,
      feature: Int32Array.from(this.feature),
      threshold: Float32Array.from(this.threshold),
      categorical: Uint8Array.from(this.categorical),
      left: Int32Array.from(this.left),
      right: Int32Array.from(this.right),
      missingLeft: Uint8Array.from(this.missingLeft),
      value: Float32Array.from(this.value),
    };
  }
}

/**
 * Fits gradient-boosted trees. `y` holds target values (regression) or class indices. With
 * `validation`, early stopping keeps the trees up to the round of lowest validation loss.
 * Deterministic: the same data, options and seed give the same trees.
 */
export function fitGbdt(data: GbdtData, y: ArrayLike<number>, options: GbdtOptions, validation?: { data: GbdtData; y: ArrayLike<number> }): GbdtModel {
  const rounds = options.rounds ?? 100;
  const learningRate = options.learningRate ?? 0.1;
  const maxLeaves = Math.max(2, options.maxLeaves ?? 31);
  const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
  const minSamplesLeaf = Math.max(1, options.minSamplesLeaf ?? 20);
  const minHessianLeaf = options.minHessianLeaf ?? 1e-3;
  const l2 = options.l2 ?? 1;
  const maxBins = Math.min(255, Math.max(2, options.maxBins ?? 255));
  const rowSubsample = options.rowSubsample ?? 1;
  const featureSubsample = options.featureSubsample ?? 1;
  const patience = options.earlyStoppingRounds ?? 10;
  const random = mulberry32(options.seed ?? 0);
  const objective = options.objective;
  const outputs = objective === 'multiclass' ? options.classes ?? 2 : 1;
  const n = data.rows;
  const features = data.columns.length;
  checkInput(data, y, objective, objective === 'binary' ? 2 : outputs, 'data');
  if (validation) checkInput(validation.data, validation.y, objective, objective === 'binary' ? 2 : outputs, 'validation');

  const binning = fitBinning(data, maxBins);
  const stride = strideOf(features);
  const validationBins = validation ? binRows(validation.data, binning) : undefined;
  const validationRows = validation?.data.rows ?? 0;

  const baseScores = initialScores(objective, y, outputs);
  // Raw scores of the validation rows, row-major rows × outputs, in float64; leaf values are float32 as in the graph.
  const validationRaw = new Float64Array(validationRows * outputs);
  for (let i = 0; i < validationRows; i++) for (let k = 0; k < outputs; k++) validationRaw[i * outputs + k] = baseScores[k]!;
  const threads = options.threads ?? Math.min(2, availableParallelism());
  const shards = new RowShards({ rows: n, features, wordsPerRow: stride >> 2, outputs, objective, maxLeaves, bins: binRows(data, binning), y, baseScores }, threads);
  const pool = new HistogramPool(features * SLOTS * 3);
  const grow: GrowOptions = { maxLeaves, maxDepth, minSamplesLeaf, minHessianLeaf, l2, learningRate };
  const trees: DecisionTree[] = [];
  let best = Number.POSITIVE_INFINITY;
  let bestRound = 0;
  let stoppedEarly = false;
  let round = 0;

  try {
  while (round < rounds) {
    const { maxGradient, maxHessian } = shards.computeGradients();
    // The same row and feature sample for every class tree of a round.
    if (rowSubsample < 1) {
      const sampled = shards.buffers.sampled;
      for (let i = 0; i < n; i++) sampled[i] = random() < rowSubsample ? 1 : 0;
      shards.sample();
    }
    const allowed = sampleFeatures(features, featureSubsample, random);
    for (let k = 0; k < outputs; k++) {
      const scales = gradientScales(maxGradient[k]!, maxHessian[k]!);
      const { tree: builder, leaves, used } = growTree(shards, pool, binning, data.categorical, scales, Math.floor(random() * 4294967296), allowed, k, grow);
      // Leaf values from the exact gradients and hessians of each leaf's rows: quantised sums
      // choose the splits, and rounding then costs nothing in the values themselves.
      const sums = shards.leafSums(k, leaves.length, used);
      for (const leaf of leaves) builder.value[leaf.node] = Math.fround((-sums.gradient[leaf.slot]! / (sums.hessian[leaf.slot]! + l2)) * learningRate);
      const built = builder.build(k);
      // The node arrays as binned rows are routed by them: one element type for every caller.
      const routed: BinnedTree = { ...built, splitBin: Int32Array.from(builder.splitBin), categorical: Int32Array.from(built.categorical), missingLeft: Int32Array.from(built.missingLeft) };
      trees.push(built);
      const values = new Float64Array(leaves.length);
      for (const leaf of leaves) values[leaf.slot] = built.value[leaf.node]!;
      shards.addLeafValues(k, values, routed);
      if (validationBins) addTree(routed, validationBins, stride, validationRows, validationRaw, outputs, k);
    }
    round++;
    // The training loss is only reported: with no one listening, its pass of logarithms over every row is skipped.
    const trainLoss = options.onRound ? shards.loss() : Number.NaN;
    let validationLoss: number | undefined;
    if (validation) {
      validationLoss = validationRows ? lossSum(objective, validationRaw, outputs, 0, 1, validation.y, 1, 0, outputs, 0, validationRows) / validationRows : 0;
      if (validationLoss < best - 1e-10) {
        best = validationLoss;
        bestRound = round;
      } else if (round - bestRound >= patience) {
        stoppedEarly = true;
      }
    } else {
      bestRound = round;
    }
    if (options.onRound && !options.onRound(round, trainLoss, validationLoss)) break;
    if (stoppedEarly) break;
  }
  } finally {
    shards.close();
  }
  trees.length = bestRound * outputs;
  return { objective, baseScores: baseScores.map(Math.fround), trees, rounds: round, bestRound, stoppedEarly };
}

function checkInput(data: GbdtData, y: ArrayLike<number>, objective: GbdtObjective, classes: number, where: string): void {
  if (data.columns.length === 0) throw new Error(`${where}: gradient-boosted trees need at least one feature column`);
  if (data.categorical.length !== data.columns.length) {
    throw new Error(`${where}: ${data.columns.length} columns but ${data.categorical.length} categorical flags`);
  }
  data.columns.forEach((column, f) => {
    if (column.length !== data.rows) throw new Error(`${where}: column ${f} has ${column.length} values, expected ${data.rows} rows`);
  });
  if (y.length !== data.rows) throw new Error(`${where}: ${y.length} targets for ${data.rows} rows`);
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    const ok = objective === 'regression' ? Number.isFinite(v) : Number.isInteger(v) && v >= 0 && v < classes;
    if (!ok) throw new Error(`${where}: target of row ${i} is ${v}; expected ${objective === 'regression' ? 'a finite number' : `a class index below ${classes}`}`);
  }
}

function sampleFeatures(features: number, share: number, random: () => number): Int32Array {
  if (share >= 1) return Int32Array.from({ length: features }, (_, f) => f);
  const take = Math.max(1, Math.round(features * share));
  const all = Array.from({ length: features }, (_, f) => f);
  for (let i = features - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return Int32Array.from(all.slice(0, take).sort((a, b) => a - b));
}

function initialScores(objective: GbdtObjective, y: ArrayLike<number>, outputs: number): number[] {
  const n = y.length;
  if (objective === 'regression') {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += y[i]!;
    return [n ? sum / n : 0];
  }
  const counts = new Float64Array(objective === 'binary' ? 2 : outputs);
  for (let i = 0; i < n; i++) counts[y[i]!]!++;
  const clamp = (p: number): number => Math.min(1 - 1e-7, Math.max(1e-7, p));
  if (objective === 'binary') {
    const p = clamp(counts[1]! / n);
    return [Math.log(p / (1 - p))];
  }
  return Array.from(counts, (c) => Math.log(clamp(c / n)));
}

/** Zeroed histogram buffers, reused from tree to tree instead of allocating ~170 kB per split. */
class HistogramPool {
  readonly #free: Float64Array[] = [];
  readonly #length: number;

  constructor(length: number) {
    this.#length = length;
  }

  take(): Float64Array {
    const reused = this.#free.pop();
    if (!reused) return new Float64Array(this.#length);
    reused.fill(0);
    return reused;
  }

  give(histogram: Float64Array): void {
    this.#free.push(histogram);
  }
}

interface GrowOptions {
  readonly maxLeaves: number;
  readonly maxDepth: number;
  readonly minSamplesLeaf: number;
  readonly minHessianLeaf: number;
  readonly l2: number;
  readonly learningRate: number;
}

/**
 * Leaf-wise growth of the class-`k` tree: always split the leaf with the largest gain, until
 * `maxLeaves`. Returns the leaves (slots 0..leaves-1) and how many rows the tree saw.
 */
function growTree(
  shards: RowShards,
  pool: HistogramPool,
  binning: Binning,
  categorical: readonly boolean[],
  scales: GradientScales,
  seed: number,
  allowed: Int32Array,
  k: number,
  o: GrowOptions,
): { tree: TreeBuilder; leaves: readonly Leaf[]; used: number } {
  const tree = new TreeBuilder();
  const rootHistogram = pool.take();
  const used = shards.startTree(k, scales, seed, allowed, rootHistogram);
  // Every row falls in one slot of any feature: the root's sums, in the histogram's quantised units.
  let G = 0;
  let H = 0;
  for (let j = allowed[0]! * SLOTS * 3, e = j + SLOTS * 3; j < e; j += 3) {
    G += rootHistogram[j]!;
    H += rootHistogram[j + 1]!;
  }
  const leaves: Leaf[] = [{ node: 0, slot: 0, depth: 0, g: G, h: H, count: used, histogram: rootHistogram, split: undefined }];
  leaves[0]!.split = bestSplit(leaves[0]!, binning, categorical, allowed, scales, o);
  let count = 1;
  while (count < o.maxLeaves) {
    let pick = -1;
    for (let i = 0; i < leaves.length; i++) {
      const s = leaves[i]!.split;
      if (s && (pick < 0 || s.gain > leaves[pick]!.split!.gain)) pick = i;
    }
    if (pick < 0) break;
    const leaf = leaves[pick]!;
    const s = leaf.split!;
    const isCategorical = categorical[s.feature]!;
    const threshold = isCategorical ? s.bin : binning.edges[s.feature]![s.bin]!;
    const [leftNode, rightNode] = tree.addChildren(leaf.node, s.feature, s.bin, threshold, isCategorical, s.missingLeft);
    const leftCount = s.leftCount;
    const rightCount = leaf.count - leftCount;
    // Histogram subtraction: build the smaller child, derive the larger from its parent.
    const smallerIsLeft = leftCount <= rightCount;
    const small = pool.take();
    shards.split(leaf.slot, count, leaf.count, { feature: s.feature, bin: s.bin, categorical: isCategorical, missingLeft: s.missingLeft }, smallerIsLeft, small);
    const large = leaf.histogram;
    for (let j = 0; j < large.length; j++) large[j] = large[j]! - small[j]!;
    const depth = leaf.depth + 1;
    const left: Leaf = {
      node: leftNode,
      slot: leaf.slot,
      depth,
      g: s.leftG,
      h: s.leftH,
      count: leftCount,
      histogram: smallerIsLeft ? small : large,
      split: undefined,
    };
    const right: Leaf = {
      node: rightNode,
      slot: count,
      depth,
      g: leaf.g - s.leftG,
      h: leaf.h - s.leftH,
      count: rightCount,
      histogram: smallerIsLeft ? large : small,
      split: undefined,
    };
    count++;
    leaves.splice(pick, 1, left, right);
    if (count < o.maxLeaves) {
      left.split = depth < o.maxDepth ? bestSplit(left, binning, categorical, allowed, scales, o) : undefined;
      right.split = depth < o.maxDepth ? bestSplit(right, binning, categorical, allowed, scales, o) : undefined;
    }
  }
  for (const leaf of leaves) pool.give(leaf.histogram);
  return { tree, leaves, used };
}

/** The best split of a leaf, from its histogram in quantised units (`scales` convert them back). */
function bestSplit(leaf: Leaf, binning: Binning, categorical: readonly boolean[], allowed: Int32Array, scales: GradientScales, o: GrowOptions): SplitChoice | undefined {
  if (leaf.count < 2 * o.minSamplesLeaf) return undefined;
  const { minSamplesLeaf } = o;
  // Gains in quantised units are the true ones times hessian / gradient²: the regularisation and
  // the hessian floor scale the same way, and the gain itself is scaled back when kept.
  const l2 = o.l2 / scales.hessian;
  const minHessianLeaf = o.minHessianLeaf / scales.hessian;
  const toGain = (scales.gradient * scales.gradient) / scales.hessian;
  const G = leaf.g;
  const H = leaf.h;
  const count = leaf.count;
  const parentScore = (G * G) / (H + l2);
  // The best so far in scalars, not an object per improvement: this loop sees every bin of every feature.
  let bestGain = 1e-12 / toGain;
  let bestFeature = -1;
  let bestBin = 0;
  let bestMissingLeft = false;
  let bestG = 0;
  let bestH = 0;
  let bestCount = 0;
  const hist = leaf.histogram;
  for (let a = 0; a < allowed.length; a++) {
    const f = allowed[a]!;
    const base = f * SLOTS * 3;
    const nb = binning.bins[f]!;
    const mj = base + MISSING_BIN * 3;
    const mg = hist[mj]!;
    const mh = hist[mj + 1]!;
    const mc = hist[mj + 2]!;
    const isCategorical = categorical[f]!;
    let lg = 0;
    let lh = 0;
    let lc = 0;
    // Numeric: the rows at bins ≤ b go left. Categorical: one category against the rest, which the
    // graph expresses as one BRANCH_EQ node. Either way with missing values right, then left.
    for (let b = 0, last = isCategorical ? nb : nb - 1; b < last; b++) {
      const j = base + b * 3;
      const c = hist[j + 2]!;
      if (isCategorical) {
        lg = hist[j]!;
        lh = hist[j + 1]!;
        lc = c;
      } else {
        lg += hist[j]!;
        lh += hist[j + 1]!;
        lc += c;
        // Every later threshold leaves even fewer rows on the right.
        if (count - lc < minSamplesLeaf) break;
      }
      if (c === 0) continue;
      let gain = splitGain(lg, lh, lc, G, H, count, l2, minSamplesLeaf, minHessianLeaf, parentScore);
      if (gain > bestGain) {
        bestGain = gain;
        bestFeature = f;
        bestBin = b;
        bestMissingLeft = false;
        bestG = lg;
        bestH = lh;
        bestCount = lc;
      }
      if (mc === 0) continue;
      gain = splitGain(lg + mg, lh + mh, lc + mc, G, H, count, l2, minSamplesLeaf, minHessianLeaf, parentScore);
      if (gain > bestGain) {
        bestGain = gain;
        bestFeature = f;
        bestBin = b;
        bestMissingLeft = true;
        bestG = lg + mg;
        bestH = lh + mh;
        bestCount = lc + mc;
      }
    }
  }
  if (bestFeature < 0) return undefined;
  return { gain: bestGain * toGain, feature: bestFeature, bin: bestBin, missingLeft: bestMissingLeft, leftG: bestG, leftH: bestH, leftCount: bestCount };
}

/** The gain (quantised units) of sending (lg, lh, lc) left and the rest right; -1 when a side is too small. */
function splitGain(lg: number, lh: number, lc: number, G: number, H: number, count: number, l2: number, minSamplesLeaf: number, minHessianLeaf: number, parentScore: number): number {
  const rc = count - lc;
  const rh = H - lh;
  if (lc < minSamplesLeaf || rc < minSamplesLeaf || lh < minHessianLeaf || rh < minHessianLeaf) return -1;
  const rg = G - lg;
  return (lg * lg) / (lh + l2) + (rg * rg) / (rh + l2) - parentScore;
}

/** Adds one tree's leaf values to `raw[:, k]`, routing rows by their bins (equivalent to raw-value routing by construction). */
function addTree(tree: BinnedTree, bins: Uint8Array, stride: number, rows: number, raw: Float64Array, outputs: number, k: number): void {
  for (let i = 0; i < rows; i++) raw[i * outputs + k] = raw[i * outputs + k]! + tree.value[binnedLeaf(tree, bins, i * stride)]!;
}

/** Raw scores (rows × outputs, base scores included) from raw feature values, exactly as the exported graph routes them. */
export function predictGbdtRaw(model: GbdtModel, data: GbdtData): Float64Array {
  const outputs = model.baseScores.length;
  const rows = data.rows;
  const raw = new Float64Array(rows * outputs);
  for (let i = 0; i < rows; i++) for (let k = 0; k < outputs; k++) raw[i * outputs + k] = model.baseScores[k]!;
  const columns = data.columns;
  for (const tree of model.trees) {
    const { feature, threshold, categorical, left, right, missingLeft, value, target } = tree;
    for (let i = 0; i < rows; i++) {
      let node = 0;
      while (left[node]! >= 0) {
        const x = Math.fround(columns[feature[node]!]![i]!);
        let goesLeft: boolean;
        if (x !== x) goesLeft = missingLeft[node] === 1;
        else if (categorical[node]) goesLeft = x === threshold[node];
        else goesLeft = x <= threshold[node]!;
        node = goesLeft ? left[node]! : right[node]!;
      }
      raw[i * outputs + target] = raw[i * outputs + target]! + value[node]!;
    }
  }
  return raw;
}

/** Class probabilities (rows × classes) or values (rows) from raw feature values. */
export function predictGbdt(model: GbdtModel, data: GbdtData): Float64Array {
  const raw = predictGbdtRaw(model, data);
  if (model.objective === 'regression') return raw;
  const rows = data.rows;
  if (model.objective === 'binary') {
    const out = new Float64Array(rows * 2);
    for (let i = 0; i < rows; i++) {
      const p = 1 / (1 + Math.exp(-raw[i]!));
      out[i * 2] = 1 - p;
      out[i * 2 + 1] = p;
    }
    return out;
  }
  const classes = model.baseScores.length;
  const out = new Float64Array(rows * classes);
  for (let i = 0; i < rows; i++) {
    const o = i * classes;
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, raw[o + k]!);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += (out[o + k] = Math.exp(raw[o + k]! - max));
    for (let k = 0; k < classes; k++) out[o + k] = out[o + k]! / sum;
  }
  return out;
}
