import { Worker } from 'node:worker_threads';
import { compiledWorker } from '../platform/worker-script';
import type { GbdtObjective } from './gbdt';
import { buildHistogram, MISSING_BIN, packGradients, SLOTS, sumGradients, type GradientScales, type GradientSource } from './histograms';

/**
 * The training rows of gradient-boosted trees, in two shards that two threads work on side by
 * side. Row r starts in shard ⌊r × SHARDS / rows⌋ and never leaves it: every per-row step of a
 * round (gradients, quantising, partitioning a leaf, its histogram, leaf sums, score updates) runs
 * on each shard alone, and the main thread only merges what the shards return. The shard count is
 * fixed, whatever the thread count, and histogram sums are exact integers, so one thread or two
 * train the same bytes.
 *
 * Within a shard the rows are kept ordered by leaf: splitting a leaf moves its rows (bins, quantised
 * gradient, target and scores) into two runs, so every pass over a leaf is sequential.
 * Reading a deep leaf's rows scattered over the table cost four times as much per row as reading
 * them in a run, and gathering gradients by row id cost as much as the histograms.
 */
export const SHARDS = 2;

/** Below this many rows a task runs on one thread: waking the helper costs more than it saves. */
const PARALLEL_FROM_ROWS = 4_096;
/** A helper that has not answered for this long is taken as dead. */
const HELPER_TIMEOUT_MS = 120_000;
/**
 * Polls of a control word before a thread sleeps on it (about a millisecond). Waking a sleeping
 * thread took ~100 µs here, and a tree hands the helper some 35 tasks, ms apart: sleeping between
 * them made two threads slower than one on 100,000 rows.
 */
const SPINS = 1 << 16;

/** What is trained: the rows, their binned features, the outputs (one per class for multiclass). */
export interface ShardShape {
  readonly rows: number;
  readonly features: number;
  readonly wordsPerRow: number;
  readonly outputs: number;
  readonly objective: GbdtObjective;
  readonly maxLeaves: number;
}

/** Everything both threads read and write; each typed array lives on a SharedArrayBuffer. */
export interface ShardBuffers extends ShardShape {
  /** Binned rows by position: feature f of the row at position p is byte p × wordsPerRow × 4 + f. */
  readonly words: Uint32Array;
  /** The quantised gradient, hessian and count of the row at each position, for the tree being grown. */
  readonly packed: Float64Array;
  /**
   * The rest of the row at each position, `stride` float64s: its target, its raw score per class,
   * and for multiclass its probability per class at the round's start, for binary e^−raw (see
   * {@link STATE_Y}, {@link rawAt}, {@link probabilityAt}). Gradients and hessians follow from
   * these where they are needed, so a moved row carries two or three float64s less; e^−raw follows
   * each score update by one multiplication, so binary rounds take no exponential per row.
   */
  readonly state: Float64Array;
  readonly stride: number;
  /** 1 at the positions in this round's row sample (row subsampling only). */
  readonly sampled: Uint8Array;
  /** The histogram the helper built last (features × SLOTS × [gradient, hessian, count]). */
  readonly histograms: Float64Array;
  /** Task words (see the constants below) and integer results. */
  readonly control: Int32Array;
  /** Scales of the tree being grown: [gradient, hessian]. */
  readonly scales: Float64Array;
  /** Per shard and class, the largest |gradient| and hessian: [shard][class][2]. */
  readonly maxima: Float64Array;
  /** Per shard, its share of the training loss (a sum over its rows). */
  readonly losses: Float64Array;
  /** Per leaf slot and shard, the positions [start, end) of its rows: [slot][shard][2]. */
  readonly leaves: Int32Array;
  /** Per shard and leaf slot, the exact gradient and hessian sums: [shard][slot][2]. */
  readonly leafSums: Float64Array;
  /** Per leaf slot, the value the tree adds (float32, as in the graph). */
  readonly leafValues: Float64Array;
  /** The tree just grown, to route rows outside the sample: [field][node], fields in TreeField order. */
  readonly tree: Int32Array;
  readonly nodeValues: Float64Array;
  /** The features a tree may split on (the first control[ALLOWED_COUNT]). */
  readonly allowed: Int32Array;
}

// control words
const TASK = 0;
const DONE = 1;
const STOP = 2;
const KIND = 3;
const ALLOWED_COUNT = 4;
/** Integer parameters of a task. */
const PARAM = 5;
/** Per shard, where its sampled rows end (positions shardStart..end are in the tree). */
const SAMPLED_END = 12;
/** Per shard, the boundary a split left. */
const MID = 12 + SHARDS;
const CONTROL_WORDS = 12 + 2 * SHARDS;

const enum Task {
  Gradients = 1,
  Sample,
  Pack,
  Histogram,
  Split,
  LeafSums,
  AddValues,
  Loss,
}

/** Fields of the routing tree, each an array over its nodes. */
const enum TreeField {
  Feature,
  Bin,
  Categorical,
  Left,
  Right,
  MissingLeft,
  Count,
}
/** A binary leaf value this large recomputes e^−raw (one exponential per row) rather than scaling it, which could overflow. */
const EXACT_FROM = 30;

export const shardStart = (rows: number, shard: number): number => Math.floor((rows * shard) / SHARDS);

/** Where a row's target, and class k's raw score and probability, sit in its state. */
const STATE_Y = 0;
const rawAt = (k: number): number => 1 + k;
const probabilityAt = (outputs: number, k: number): number => 1 + outputs + k;
const stateStride = (objective: GbdtObjective, outputs: number): number => (objective === 'regression' ? 2 : 1 + 2 * outputs);

/** The split of a leaf, as the shards apply it. */
export interface ShardSplit {
  readonly feature: number;
  readonly bin: number;
  readonly categorical: boolean;
  readonly missingLeft: boolean;
}

/** How a grown tree routes binned rows: per node, arrays over the nodes (left < 0 at a leaf). */
export interface BinnedRouting {
  readonly feature: ArrayLike<number>;
  /** Numeric: rows with bin ≤ splitBin go left. Categorical: rows with bin = splitBin go left. */
  readonly splitBin: ArrayLike<number>;
  readonly categorical: ArrayLike<number>;
  readonly left: ArrayLike<number>;
  readonly right: ArrayLike<number>;
  readonly missingLeft: ArrayLike<number>;
}

/** A grown tree with its nodes' values (leaves' values; 0 elsewhere). */
export interface BinnedTree extends BinnedRouting {
  readonly value: ArrayLike<number>;
}

/** The node a binned row reaches: its bins are bytes[base + feature]. */
export function binnedLeaf(tree: BinnedRouting, bytes: Uint8Array, base: number): number {
  const { feature, splitBin, categorical, left, right, missingLeft } = tree;
  let node = 0;
  while (left[node]! >= 0) {
    const bin = bytes[base + feature[node]!]!;
    let goesLeft: boolean;
    if (bin === MISSING_BIN) goesLeft = missingLeft[node] === 1;
    else if (categorical[node] === 1) goesLeft = bin === splitBin[node];
    else goesLeft = bin <= splitBin[node]!;
    node = goesLeft ? left[node]! : right[node]!;
  }
  return node;
}

export interface RowShardsInit extends ShardShape {
  /** Row-major bins, by row, on a SharedArrayBuffer: becomes the shards' `words`, and is reordered. */
  readonly bins: Uint8Array;
  readonly y: ArrayLike<number>;
  readonly baseScores: readonly number[];
}

/** Allocates the shared buffers; the bins are taken over, not copied. */
export function shardBuffers(init: RowShardsInit): ShardBuffers {
  const { rows, features, outputs, maxLeaves } = init;
  const shared = <T>(Type: new (buffer: SharedArrayBuffer) => T, bytesPerElement: number, length: number): T =>
    new Type(new SharedArrayBuffer(Math.max(1, length) * bytesPerElement));
  if (!(init.bins.buffer instanceof SharedArrayBuffer) || init.bins.byteOffset % 4 !== 0 || init.bins.length < rows * init.wordsPerRow * 4) {
    throw new Error(`The bins must be ${rows} rows of ${init.wordsPerRow} 32-bit words on a SharedArrayBuffer, 4-byte aligned`);
  }
  const stride = stateStride(init.objective, outputs);
  const state = shared(Float64Array, 8, rows * stride);
  for (let i = 0, o = 0; i < rows; i++, o += stride) {
    state[o + STATE_Y] = init.y[i]!;
    for (let k = 0; k < outputs; k++) state[o + rawAt(k)] = init.baseScores[k]!;
    if (init.objective === 'binary') state[o + probabilityAt(1, 0)] = Math.exp(-init.baseScores[0]!);
  }
  const maxNodes = 2 * maxLeaves;
  const control = shared(Int32Array, 4, CONTROL_WORDS);
  for (let s = 0; s < SHARDS; s++) control[SAMPLED_END + s] = shardStart(rows, s + 1);
  return {
    rows,
    features,
    wordsPerRow: init.wordsPerRow,
    outputs,
    objective: init.objective,
    maxLeaves,
    words: new Uint32Array(init.bins.buffer, init.bins.byteOffset, rows * init.wordsPerRow),
    packed: shared(Float64Array, 8, rows),
    state,
    stride,
    sampled: shared(Uint8Array, 1, rows),
    histograms: shared(Float64Array, 8, features * SLOTS * 3),
    control,
    scales: shared(Float64Array, 8, 2),
    maxima: shared(Float64Array, 8, SHARDS * outputs * 2),
    losses: shared(Float64Array, 8, SHARDS),
    leaves: shared(Int32Array, 4, maxLeaves * SHARDS * 2),
    leafSums: shared(Float64Array, 8, SHARDS * maxLeaves * 2),
    leafValues: shared(Float64Array, 8, maxLeaves),
    tree: shared(Int32Array, 4, TreeField.Count * maxNodes),
    nodeValues: shared(Float64Array, 8, maxNodes),
    allowed: shared(Int32Array, 4, features),
  };
}

/**
 * The shards and the helper thread that works on the second one. Each method runs one task on
 * every shard (the second on the helper when the task is big enough) and returns when both are done.
 */
export class RowShards {
  readonly buffers: ShardBuffers;
  readonly #tally: Float64Array;
  #helper: Worker | undefined;
  #task = 0;

  constructor(init: RowShardsInit, threads: number) {
    this.buffers = shardBuffers(init);
    this.#tally = new Float64Array(init.features * SLOTS);
    const script = threads > 1 && init.rows >= 2 * PARALLEL_FROM_ROWS ? helperScript() : undefined;
    if (script) {
      this.#helper = new Worker(script, { workerData: this.buffers });
      this.#helper.unref();
    }
  }

  /** Threads at work: 2 with a helper, else 1. */
  get threads(): number {
    return this.#helper ? 2 : 1;
  }

  /** Gradients and hessians of every row from its raw scores; returns each class's largest |gradient| and hessian. */
  computeGradients(): { maxGradient: Float64Array; maxHessian: Float64Array } {
    this.#run(Task.Gradients, this.buffers.rows);
    const { outputs, maxima } = this.buffers;
    const maxGradient = new Float64Array(outputs);
    const maxHessian = new Float64Array(outputs);
    for (let s = 0; s < SHARDS; s++) {
      for (let k = 0; k < outputs; k++) {
        maxGradient[k] = Math.max(maxGradient[k]!, maxima[(s * outputs + k) * 2]!);
        maxHessian[k] = Math.max(maxHessian[k]!, maxima[(s * outputs + k) * 2 + 1]!);
      }
    }
    return { maxGradient, maxHessian };
  }

  /** Moves the rows at the positions marked in `buffers.sampled` to the front of each shard; returns how many there are. */
  sample(): number {
    this.#run(Task.Sample, this.buffers.rows);
    return this.#sampledRows();
  }

  /**
   * Starts a tree for class `k`: quantises the sampled rows' gradients with `scales`, makes leaf
   * slot 0 the root and fills `out` (zeroed by the caller) with its histogram over `allowed`.
   */
  startTree(k: number, scales: GradientScales, seed: number, allowed: Int32Array, out: Float64Array): number {
    const { control, leaves } = this.buffers;
    this.buffers.scales[0] = scales.gradient;
    this.buffers.scales[1] = scales.hessian;
    this.buffers.allowed.set(allowed);
    control[ALLOWED_COUNT] = allowed.length;
    control[PARAM] = k;
    control[PARAM + 1] = seed | 0;
    const used = this.#sampledRows();
    this.#run(Task.Pack, used);
    for (let s = 0; s < SHARDS; s++) {
      leaves[s * 2] = shardStart(this.buffers.rows, s);
      leaves[s * 2 + 1] = control[SAMPLED_END + s]!;
    }
    control[PARAM] = 0;
    this.#run(Task.Histogram, used, out);
    return used;
  }

  /**
   * Splits the rows of leaf `slot`: those going left stay in `slot`, the others move to slot
   * `rightSlot`; `out` (zeroed) receives the histogram of the side named by `buildLeft`.
   */
  split(slot: number, rightSlot: number, rows: number, split: ShardSplit, buildLeft: boolean, out: Float64Array): void {
    const { control, leaves } = this.buffers;
    control[PARAM] = slot;
    control[PARAM + 1] = split.feature;
    control[PARAM + 2] = split.bin;
    control[PARAM + 3] = split.categorical ? 1 : 0;
    control[PARAM + 4] = split.missingLeft ? 1 : 0;
    control[PARAM + 5] = buildLeft ? 1 : 0;
    this.#run(Task.Split, rows, out);
    for (let s = 0; s < SHARDS; s++) {
      const at = (slot * SHARDS + s) * 2;
      const to = (rightSlot * SHARDS + s) * 2;
      const mid = control[MID + s]!;
      leaves[to] = mid;
      leaves[to + 1] = leaves[at + 1]!;
      leaves[at + 1] = mid;
    }
  }

  /** The exact gradient and hessian sums of class `k` over the rows of leaf slots 0..slots-1. */
  leafSums(k: number, slots: number, rows: number): { gradient: Float64Array; hessian: Float64Array } {
    const { control, leafSums, maxLeaves } = this.buffers;
    control[PARAM] = k;
    control[PARAM + 1] = slots;
    this.#run(Task.LeafSums, rows);
    const gradient = new Float64Array(slots);
    const hessian = new Float64Array(slots);
    // Shard by shard, in shard order: the float sums then do not depend on the thread count.
    for (let s = 0; s < SHARDS; s++) {
      for (let l = 0; l < slots; l++) {
        gradient[l] = gradient[l]! + leafSums[(s * maxLeaves + l) * 2]!;
        hessian[l] = hessian[l]! + leafSums[(s * maxLeaves + l) * 2 + 1]!;
      }
    }
    return { gradient, hessian };
  }

  /**
   * Adds leaf slot l's value `values[l]` to the class-`k` raw score of its rows; rows outside the
   * row sample are routed down `tree` by their bins.
   */
  addLeafValues(k: number, values: ArrayLike<number>, tree: BinnedTree): void {
    const { control, leafValues, nodeValues } = this.buffers;
    for (let l = 0; l < values.length; l++) leafValues[l] = values[l]!;
    control[PARAM] = k;
    control[PARAM + 1] = values.length;
    const nodes = tree.left.length;
    const routing = this.buffers.tree;
    const maxNodes = routing.length / TreeField.Count;
    for (let node = 0; node < nodes; node++) {
      routing[TreeField.Feature * maxNodes + node] = tree.feature[node]!;
      routing[TreeField.Bin * maxNodes + node] = tree.splitBin[node]!;
      routing[TreeField.Categorical * maxNodes + node] = tree.categorical[node]!;
      routing[TreeField.Left * maxNodes + node] = tree.left[node]!;
      routing[TreeField.Right * maxNodes + node] = tree.right[node]!;
      routing[TreeField.MissingLeft * maxNodes + node] = tree.missingLeft[node]!;
      nodeValues[node] = tree.value[node]!;
    }
    this.#run(Task.AddValues, this.buffers.rows);
  }

  /** The mean training loss at the current raw scores. */
  loss(): number {
    this.#run(Task.Loss, this.buffers.rows);
    let sum = 0;
    for (let s = 0; s < SHARDS; s++) sum += this.buffers.losses[s]!;
    return this.buffers.rows ? sum / this.buffers.rows : 0;
  }

  close(): void {
    if (!this.#helper) return;
    const control = this.buffers.control;
    Atomics.store(control, STOP, 1);
    Atomics.store(control, TASK, ++this.#task);
    Atomics.notify(control, TASK);
    void this.#helper.terminate();
    this.#helper = undefined;
  }

  #sampledRows(): number {
    let used = 0;
    for (let s = 0; s < SHARDS; s++) used += this.buffers.control[SAMPLED_END + s]! - shardStart(this.buffers.rows, s);
    return used;
  }

  /**
   * Runs the task set in the control words on every shard: the last one on the helper when `rows`
   * makes it worth it. Histograms the main thread builds go straight into `out`; the helper's is
   * added to it after.
   */
  #run(kind: Task, rows: number, out?: Float64Array): void {
    const control = this.buffers.control;
    control[KIND] = kind;
    if (!this.#helper || rows < PARALLEL_FROM_ROWS) {
      for (let s = 0; s < SHARDS; s++) runShardTask(this.buffers, s, this.#tally, out);
      return;
    }
    const task = ++this.#task;
    Atomics.store(control, TASK, task);
    Atomics.notify(control, TASK);
    for (let s = 0; s < SHARDS - 1; s++) runShardTask(this.buffers, s, this.#tally, out);
    if (!awaitChange(control, DONE, task - 1, HELPER_TIMEOUT_MS)) throw new Error('The training helper thread stopped answering.');
    if (out) {
      const allowed = this.buffers.allowed.subarray(0, control[ALLOWED_COUNT]!);
      const theirs = this.buffers.histograms;
      for (let a = 0; a < allowed.length; a++) {
        for (let j = allowed[a]! * SLOTS * 3, e = j + SLOTS * 3; j < e; j++) out[j] = out[j]! + theirs[j]!;
      }
    }
  }
}

/** The helper thread's loop: the last shard's part of every task, until told to stop. */
export function serveShardTasks(buffers: ShardBuffers): void {
  const control = buffers.control;
  const tally = new Float64Array(buffers.features * SLOTS);
  let seen = 0;
  for (;;) {
    awaitChange(control, TASK, seen, Number.POSITIVE_INFINITY);
    seen = Atomics.load(control, TASK);
    if (Atomics.load(control, STOP) === 1) return;
    const kind = control[KIND] as Task;
    if (kind === Task.Histogram || kind === Task.Split) buffers.histograms.fill(0);
    runShardTask(buffers, SHARDS - 1, tally, buffers.histograms);
    Atomics.store(control, DONE, seen);
    Atomics.notify(control, DONE);
  }
}

/**
 * Returns once `control[at]` is no longer `from`: polling first, then sleeping; false if that took
 * longer than `timeoutMs`.
 */
function awaitChange(control: Int32Array, at: number, from: number, timeoutMs: number): boolean {
  for (let i = 0; i < SPINS; i++) if (Atomics.load(control, at) !== from) return true;
  const started = Date.now();
  for (;;) {
    // Wait on the value just compared: a change stored in between then wakes us at once.
    if (Atomics.load(control, at) !== from) return true;
    Atomics.wait(control, at, from, 1000);
    if (Date.now() - started > timeoutMs) return false;
  }
}

/** The compiled helper script; under vitest the sources are TypeScript, so use the copy `npm test` builds. */
function helperScript(): string | undefined {
  // Without a built helper, one thread trains the same model.
  return compiledWorker(__dirname, 'row-shard-worker.js');
}

/** One shard's part of the task in the control words; a histogram it builds is added to `out`. */
function runShardTask(b: ShardBuffers, shard: number, tally: Float64Array, out: Float64Array | undefined): void {
  const control = b.control;
  const start = shardStart(b.rows, shard);
  const end = shardStart(b.rows, shard + 1);
  const allowed = b.allowed.subarray(0, control[ALLOWED_COUNT]!);
  const histogram = (from: number, to: number): void => buildHistogram(b.words, b.wordsPerRow, b.features, b.packed, from, to, allowed, tally, out!);
  const leaf = (slot: number): number => (slot * SHARDS + shard) * 2;
  switch (control[KIND] as Task) {
    case Task.Gradients:
      computeGradients(b, start, end, b.maxima.subarray(shard * b.outputs * 2, (shard + 1) * b.outputs * 2));
      return;
    case Task.Sample:
      control[SAMPLED_END + shard] = partitionSample(b, start, end);
      return;
    case Task.Pack: {
      // One random stream per shard, so a row's rounding does not depend on which thread packs it.
      const seed = (control[PARAM + 1]! + Math.imul(shard, 0x9e3779b9)) >>> 0;
      const scales = { gradient: b.scales[0]!, hessian: b.scales[1]! };
      packGradients(gradientSource(b, control[PARAM]!), start, control[SAMPLED_END + shard]!, scales, seed, b.packed);
      return;
    }
    case Task.Histogram: {
      const at = leaf(control[PARAM]!);
      histogram(b.leaves[at]!, b.leaves[at + 1]!);
      return;
    }
    case Task.Split: {
      const at = leaf(control[PARAM]!);
      const from = b.leaves[at]!;
      const to = b.leaves[at + 1]!;
      const split = { feature: control[PARAM + 1]!, bin: control[PARAM + 2]!, categorical: control[PARAM + 3] === 1, missingLeft: control[PARAM + 4] === 1 };
      const mid = partitionLeaf(b, from, to, split);
      control[MID + shard] = mid;
      if (control[PARAM + 5] === 1) histogram(from, mid);
      else histogram(mid, to);
      return;
    }
    case Task.LeafSums: {
      const source = gradientSource(b, control[PARAM]!);
      const slots = control[PARAM + 1]!;
      for (let l = 0; l < slots; l++) {
        const at = leaf(l);
        sumGradients(source, b.leaves[at]!, b.leaves[at + 1]!, b.leafSums, (shard * b.maxLeaves + l) * 2);
      }
      return;
    }
    case Task.AddValues: {
      const k = control[PARAM]!;
      const slots = control[PARAM + 1]!;
      const { state, stride } = b;
      for (let l = 0; l < slots; l++) {
        const value = b.leafValues[l]!;
        const at = leaf(l);
        const from = b.leaves[at]! * stride;
        const to = b.leaves[at + 1]! * stride;
        if (b.objective !== 'binary') {
          for (let o = from + rawAt(k); o < to; o += stride) state[o] = state[o]! + value;
        } else if (Math.abs(value) < EXACT_FROM) {
          const factor = Math.exp(-value);
          for (let o = from; o < to; o += stride) {
            state[o + 1] = state[o + 1]! + value;
            state[o + 2] = state[o + 2]! * factor;
          }
        } else {
          for (let o = from; o < to; o += stride) state[o + 2] = Math.exp(-(state[o + 1] = state[o + 1]! + value));
        }
      }
      routeUnsampled(b, control[SAMPLED_END + shard]!, end, k);
      return;
    }
    case Task.Loss:
      b.losses[shard] = lossSum(b.objective, b.state, b.stride, rawAt(0), 1, b.state, b.stride, STATE_Y, b.outputs, start, end);
      return;
  }
}

/**
 * Each row's class probabilities from its raw scores (multiclass; binary keeps e^−raw up to date as
 * it goes), and the largest |gradient| and hessian per class into `maxima` ([class][2]), which set
 * the quantisation scales.
 */
function computeGradients(b: ShardBuffers, start: number, end: number, maxima: Float64Array): void {
  const { state, outputs, stride } = b;
  maxima.fill(0);
  if (b.objective === 'regression') {
    let maxG = 0;
    for (let o = start * stride, e = end * stride; o < e; o += stride) maxG = Math.max(maxG, Math.abs(state[o + 1]! - state[o]!));
    maxima[0] = maxG;
    maxima[1] = end > start ? 1 : 0;
  } else if (b.objective === 'binary') {
    let maxG = 0;
    let maxH = 0;
    for (let o = start * stride, e = end * stride; o < e; o += stride) {
      const p = 1 / (1 + state[o + 2]!);
      maxG = Math.max(maxG, Math.abs(p - state[o]!));
      maxH = Math.max(maxH, p * (1 - p));
    }
    maxima[0] = maxG;
    maxima[1] = Math.max(maxH, 1e-16);
  } else {
    for (let o = start * stride, e = end * stride; o < e; o += stride) {
      let max = -Infinity;
      for (let k = 0; k < outputs; k++) max = Math.max(max, state[o + rawAt(k)]!);
      // Each exponential is computed once, parked in the probability's place, then normalised.
      let sum = 0;
      for (let k = 0; k < outputs; k++) sum += state[o + probabilityAt(outputs, k)] = Math.exp(state[o + rawAt(k)]! - max);
      const label = state[o]!;
      for (let k = 0; k < outputs; k++) {
        const p = state[o + probabilityAt(outputs, k)]! / sum;
        state[o + probabilityAt(outputs, k)] = p;
        maxima[k * 2] = Math.max(maxima[k * 2]!, Math.abs(p - (label === k ? 1 : 0)));
        maxima[k * 2 + 1] = Math.max(maxima[k * 2 + 1]!, p * (1 - p));
      }
    }
    for (let k = 0; k < outputs; k++) maxima[k * 2 + 1] = Math.max(maxima[k * 2 + 1]!, 1e-16);
  }
}

/** Where the class-k tree's gradients come from, in the shards' state. */
function gradientSource(b: ShardBuffers, k: number): GradientSource {
  const regression = b.objective === 'regression';
  return {
    values: b.state,
    stride: b.stride,
    targetAt: STATE_Y,
    scoreAt: regression ? rawAt(0) : probabilityAt(b.outputs, k),
    loss: regression ? 'squared' : b.objective === 'binary' ? 'logistic' : 'log',
    classIndex: b.objective === 'multiclass' ? k : -1,
  };
}

/**
 * The training loss summed over rows start..end-1 (squared error, log loss or softmax
 * cross-entropy). Row i's class-k raw score is `raw[i × rawStride + rawFirst + k × rawStep]` and
 * its target `y[i × yStride + yAt]`: the shards' interleaved state and plain arrays alike.
 */
export function lossSum(
  objective: GbdtObjective,
  raw: Float64Array,
  rawStride: number,
  rawFirst: number,
  rawStep: number,
  y: ArrayLike<number>,
  yStride: number,
  yAt: number,
  outputs: number,
  start: number,
  end: number,
): number {
  let loss = 0;
  if (objective === 'regression') {
    for (let i = start; i < end; i++) loss += (raw[i * rawStride + rawFirst]! - y[i * yStride + yAt]!) ** 2;
  } else if (objective === 'binary') {
    for (let i = start; i < end; i++) {
      const s = raw[i * rawStride + rawFirst]!;
      // log(1 + e^s) - y s, computed without overflow.
      loss += (s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - y[i * yStride + yAt]! * s;
    }
  } else {
    for (let i = start; i < end; i++) {
      const o = i * rawStride + rawFirst;
      let max = -Infinity;
      for (let k = 0; k < outputs; k++) max = Math.max(max, raw[o + k * rawStep]!);
      let sum = 0;
      for (let k = 0; k < outputs; k++) sum += Math.exp(raw[o + k * rawStep]! - max);
      loss += max + Math.log(sum) - raw[o + y[i * yStride + yAt]! * rawStep]!;
    }
  }
  return loss;
}

/** Swaps the rows at positions p and q: `w` words of bins, the quantised gradient and `stride` float64s of state. */
function swapRows(words: Uint32Array, w: number, packed: Float64Array, state: Float64Array, stride: number, p: number, q: number): void {
  for (let x = p * w, z = q * w, e = x + w; x < e; x++, z++) {
    const t = words[x]!;
    words[x] = words[z]!;
    words[z] = t;
  }
  const t = packed[p]!;
  packed[p] = packed[q]!;
  packed[q] = t;
  for (let x = p * stride, z = q * stride, e = x + stride; x < e; x++, z++) {
    const t = state[x]!;
    state[x] = state[z]!;
    state[z] = t;
  }
}

const BLOCK = 64;
const misplacedLeft = new Int32Array(BLOCK);
const misplacedRight = new Int32Array(BLOCK);

/**
 * Partitions positions from..to-1 so the rows going left come first; returns the boundary. Block
 * partitioning (after Edelkamp and Weiß's BlockQuicksort): each block's misplaced rows are found
 * with branch-free counting, then swapped in pairs, so only misplaced rows move and no branch
 * depends on the data. Not stable; deterministic, which is what reproducibility needs.
 */
function partitionLeaf(b: ShardBuffers, from: number, to: number, split: ShardSplit): number {
  const goesLeft = new Uint8Array(256);
  for (let bin = 0; bin < MISSING_BIN; bin++) goesLeft[bin] = (split.categorical ? bin === split.bin : bin <= split.bin) ? 1 : 0;
  goesLeft[MISSING_BIN] = split.missingLeft ? 1 : 0;
  const bytes = new Uint8Array(b.words.buffer, b.words.byteOffset, b.words.byteLength);
  const stride = b.wordsPerRow * 4;
  const { words, wordsPerRow, packed, state } = b;
  const rowState = b.stride;
  const f = split.feature;
  let lo = from;
  let hi = to;
  let leftCount = 0;
  let leftNext = 0;
  let rightCount = 0;
  let rightNext = 0;
  // [lo, hi) is undecided; every row before lo goes left and every row from hi on goes right.
  while (hi - lo >= 2 * BLOCK) {
    if (leftCount === 0) {
      leftNext = 0;
      for (let k = 0, at = lo * stride + f; k < BLOCK; k++, at += stride) {
        misplacedLeft[leftCount] = k;
        leftCount += 1 - goesLeft[bytes[at]!]!;
      }
    }
    if (rightCount === 0) {
      rightNext = 0;
      for (let k = 0, at = (hi - 1) * stride + f; k < BLOCK; k++, at -= stride) {
        misplacedRight[rightCount] = k;
        rightCount += goesLeft[bytes[at]!]!;
      }
    }
    const pairs = Math.min(leftCount, rightCount);
    for (let t = 0; t < pairs; t++) swapRows(words, wordsPerRow, packed, state, rowState, lo + misplacedLeft[leftNext + t]!, hi - 1 - misplacedRight[rightNext + t]!);
    leftCount -= pairs;
    rightCount -= pairs;
    leftNext += pairs;
    rightNext += pairs;
    if (leftCount === 0) lo += BLOCK;
    if (rightCount === 0) hi -= BLOCK;
  }
  // Fewer than two blocks are left: a plain two-pointer pass finishes them.
  let i = lo;
  let j = hi - 1;
  for (;;) {
    while (i <= j && goesLeft[bytes[i * stride + f]!] === 1) i++;
    while (i <= j && goesLeft[bytes[j * stride + f]!] === 0) j--;
    if (i >= j) break;
    swapRows(words, wordsPerRow, packed, state, rowState, i, j);
    i++;
    j--;
  }
  return i;
}

/** Moves the shard's sampled rows (`sampled[position]` = 1) to its front; returns where they end. Once a round. */
function partitionSample(b: ShardBuffers, from: number, to: number): number {
  const sampled = b.sampled;
  let i = from;
  let j = to - 1;
  for (;;) {
    while (i <= j && sampled[i] === 1) i++;
    while (i <= j && sampled[j] === 0) j--;
    if (i >= j) break;
    swapRows(b.words, b.wordsPerRow, b.packed, b.state, b.stride, i, j);
    i++;
    j--;
  }
  return i;
}

/** Adds the tree's value to the class-`k` raw score of the rows at positions from..to-1, routing each by its bins. */
function routeUnsampled(b: ShardBuffers, from: number, to: number, k: number): void {
  if (from >= to) return;
  const t = b.tree;
  const n = t.length / TreeField.Count;
  const field = (f: TreeField): Int32Array => t.subarray(f * n, (f + 1) * n);
  const routing: BinnedRouting = {
    feature: field(TreeField.Feature),
    splitBin: field(TreeField.Bin),
    categorical: field(TreeField.Categorical),
    left: field(TreeField.Left),
    right: field(TreeField.Right),
    missingLeft: field(TreeField.MissingLeft),
  };
  const bytes = new Uint8Array(b.words.buffer, b.words.byteOffset, b.words.byteLength);
  const stride = b.wordsPerRow * 4;
  for (let p = from; p < to; p++) {
    const node = binnedLeaf(routing, bytes, p * stride);
    const j = p * b.stride + rawAt(k);
    b.state[j] = b.state[j]! + b.nodeValues[node]!;
    if (b.objective === 'binary') b.state[j + 1] = Math.exp(-b.state[j]!);
  }
}
