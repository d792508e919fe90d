/** Evaluation metrics, computed the way scikit-learn defines them. */

export type MetricName = 'accuracy' | 'f1' | 'auc' | 'logloss' | 'rmse' | 'mae' | 'r2';

/** Whether a larger value of the metric is better. */
export function higherIsBetter(metric: string): boolean {
  return metric === 'accuracy' || metric === 'f1' || metric === 'auc' || metric === 'r2';
}

/**
 * Classification metrics from true class indices and predicted probabilities (rows × classes).
 * `f1` is macro-averaged; `auc` is reported for two classes only.
 */
export function classificationMetrics(y: Int32Array, probabilities: Float64Array, classes: number): Record<string, number> {
  const rows = y.length;
  let correct = 0;
  let logloss = 0;
  const tp = new Float64Array(classes);
  const fp = new Float64Array(classes);
  const fn = new Float64Array(classes);
  for (let i = 0; i < rows; i++) {
    const offset = i * classes;
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[offset + c]! > probabilities[offset + best]!) best = c;
    const truth = y[i]!;
    if (best === truth) {
      correct++;
      tp[truth]!++;
    } else {
      fp[best]!++;
      fn[truth]!++;
    }
    logloss -= Math.log(Math.min(1 - 1e-15, Math.max(1e-15, probabilities[offset + truth]!)));
  }
  let f1 = 0;
  for (let c = 0; c < classes; c++) {
    const denominator = 2 * tp[c]! + fp[c]! + fn[c]!;
    f1 += denominator === 0 ? 0 : (2 * tp[c]!) / denominator;
  }
  const metrics: Record<string, number> = {
    accuracy: rows ? correct / rows : 0,
    f1: f1 / classes,
    logloss: rows ? logloss / rows : 0,
  };
  if (classes === 2) metrics.auc = binaryAuc(y, probabilities);
  return metrics;
}

/** Area under the ROC curve by the rank statistic (ties share their average rank). */
function binaryAuc(y: Int32Array, probabilities: Float64Array): number {
  const rows = y.length;
  const order = Array.from({ length: rows }, (_, i) => i).sort((a, b) => probabilities[a * 2 + 1]! - probabilities[b * 2 + 1]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < rows; ) {
    let j = i;
    const score = probabilities[order[i]! * 2 + 1]!;
    while (j < rows && probabilities[order[j]! * 2 + 1]! === score) j++;
    const averageRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) {
      if (y[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j;
  }
  const negatives = rows - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export function regressionMetrics(y: Float64Array, predicted: Float64Array): Record<string, number> {
  const rows = y.length;
  let mean = 0;
  for (let i = 0; i < rows; i++) mean += y[i]!;
  mean /= rows || 1;
  let squared = 0;
  let absolute = 0;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const error = y[i]! - predicted[i]!;
    squared += error * error;
    absolute += Math.abs(error);
    total += (y[i]! - mean) ** 2;
  }
  return {
    rmse: rows ? Math.sqrt(squared / rows) : 0,
    mae: rows ? absolute / rows : 0,
    r2: total === 0 ? (squared === 0 ? 1 : 0) : 1 - squared / total,
  };
}
