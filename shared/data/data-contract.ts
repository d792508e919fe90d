import type { FeatureSpec, FeatureType, ModelDefinition } from './model-definition';
import type { TextTable } from './csv';

/**
 * The data contract a model holds its drops to: every feature column with its type, and the
 * target. Written from the definition's `features` when given, else inferred from the first
 * accepted drop, and then held: later drops that break it are rejected, never coerced.
 */
export interface DataContract {
  readonly target: TargetSpec;
  /** In column order. `string` features are checked but not trained on. */
  readonly features: Readonly<Record<string, FeatureSpec>>;
  /** Columns of the first drop that are neither target nor feature, and why (ids, free text). */
  readonly excluded: Readonly<Record<string, string>>;
  /** `definition` when the definition listed the features; else the dataset id it was inferred from. */
  readonly source: string;
}

export interface TargetSpec {
  readonly name: string;
  /** Classification targets are labels; regression targets are numbers. */
  readonly type: 'label' | 'number';
  /** For labels: integers become int64 labels in the model, anything else strings. */
  readonly labelType?: 'integer' | 'string';
}

/** One problem with a row of a drop: the line a person finds in the file, the column, what was expected. */
export interface RowProblem {
  readonly row: number;
  readonly column: string;
  readonly code: 'missing_value' | 'invalid_type' | 'out_of_range' | 'not_allowed';
  readonly expected: string;
  readonly received: string;
}

export interface ColumnStats {
  readonly type: FeatureType | 'label';
  readonly count: number;
  readonly nulls: number;
  readonly min?: number;
  readonly max?: number;
  readonly mean?: number;
  readonly std?: number;
  /** Deciles of the accepted values: the bin edges drift monitoring compares against. */
  readonly quantiles?: number[];
  /** Counts per category (labels for the target), most frequent first, at most 100. */
  readonly categories?: Record<string, number>;
}

/** Typed columns of the accepted rows: numbers as Float64Array (NaN = missing), categories as strings (null = missing). */
export type ColumnValues = Float64Array | (string | null)[];

export interface CheckedTable {
  readonly rowsRead: number;
  readonly acceptedRows: number;
  readonly rejectedRows: number;
  readonly missingColumns: string[];
  readonly extraColumns: string[];
  /** The first `PROBLEM_LIMIT` problems, in file order. */
  readonly problems: RowProblem[];
  /** Totals per `column` and `code`, over every row. */
  readonly problemTotals: Record<string, Record<string, number>>;
  readonly columns: Record<string, ColumnValues>;
  /** Labels (classification) or values (regression) of the accepted rows. */
  readonly target: (string | number)[];
  readonly stats: Record<string, ColumnStats>;
}

export const PROBLEM_LIMIT = 100;
/** A text column with more distinct values than this is free text, not a category. */
const MAX_INFERRED_CATEGORIES = 100;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;
const ID_NAME = /(^|[_\s-])(id|uuid|guid|key)$/i;

function isNumber(cell: string): boolean {
  return DECIMAL.test(cell.trim());
}

/** Infers a contract from a drop, honouring what the definition already says. */
export function inferContract(table: TextTable, definition: ModelDefinition, datasetId: string): DataContract {
  const target = inferTarget(table, definition);
  if (definition.features) {
    return { target, features: definition.features, excluded: {}, source: 'definition' };
  }
  const features: Record<string, FeatureSpec> = {};
  const excluded: Record<string, string> = {};
  table.header.forEach((name, index) => {
    if (name === definition.target) return;
    const inferred = inferColumn(table, index, name);
    if ('excluded' in inferred) excluded[name] = inferred.excluded;
    else features[name] = inferred;
  });
  return { target, features, excluded, source: datasetId };
}

function inferTarget(table: TextTable, definition: ModelDefinition): TargetSpec {
  if (definition.task === 'regression') return { name: definition.target, type: 'number' };
  const index = table.header.indexOf(definition.target);
  let integers = true;
  let any = false;
  if (index >= 0) {
    for (const row of table.rows) {
      const cell = (row[index] ?? '').trim();
      if (cell === '') continue;
      any = true;
      if (!INTEGER.test(cell)) {
        integers = false;
        break;
      }
    }
  }
  return { name: definition.target, type: 'label', labelType: any && integers ? 'integer' : 'string' };
}

function inferColumn(table: TextTable, index: number, name: string): FeatureSpec | { excluded: string } {
  let nulls = 0;
  let numbers = 0;
  let integers = 0;
  let booleans = 0;
  const distinct = new Set<string>();
  for (const row of table.rows) {
    const cell = (row[index] ?? '').trim();
    if (cell === '') {
      nulls++;
      continue;
    }
    if (isNumber(cell)) {
      numbers++;
      if (INTEGER.test(cell)) integers++;
    } else if (/^(true|false)$/i.test(cell)) booleans++;
    distinct.add(cell);
  }
  const present = table.rows.length - nulls;
  const nullable = nulls > 0;
  if (present === 0) return { excluded: 'every value is empty' };
  const allDistinct = distinct.size === present && present > 1;
  if (ID_NAME.test(name) && allDistinct) return { excluded: 'an identifier: every value is different' };
  if (numbers === present) return { type: integers === present ? 'integer' : 'number', nullable };
  if (booleans === present) return { type: 'boolean', nullable };
  if (allDistinct && present >= 20) return { excluded: 'free text or an identifier: every value is different' };
  if (distinct.size <= MAX_INFERRED_CATEGORIES) return { type: 'category', nullable };
  return { type: 'string', nullable };
}

/**
 * Checks every row of a table against a contract and returns the accepted rows as typed columns,
 * the problems found (row, column, expected, received) and per-column statistics.
 */
export function checkTable(table: TextTable, contract: DataContract): CheckedTable {
  const header = table.header;
  const required = [contract.target.name, ...Object.keys(contract.features)];
  const missingColumns = required.filter((name) => !header.includes(name));
  const known = new Set(required);
  const extraColumns = header.filter((name) => !known.has(name) && !(name in contract.excluded));
  const empty: CheckedTable = {
    rowsRead: table.rows.length,
    acceptedRows: 0,
    rejectedRows: table.rows.length,
    missingColumns,
    extraColumns,
    problems: [],
    problemTotals: {},
    columns: {},
    target: [],
    stats: {},
  };
  if (missingColumns.length > 0) return empty;

  const features = Object.entries(contract.features);
  const featureIndex = features.map(([name]) => header.indexOf(name));
  const targetIndex = header.indexOf(contract.target.name);
  const problems: RowProblem[] = [];
  const problemTotals: Record<string, Record<string, number>> = {};
  const good = new Uint8Array(table.rows.length);
  const parsed: (number | string | null)[][] = features.map(() => []);
  const target: (string | number)[] = [];
  let accepted = 0;

  const report = (problem: RowProblem): void => {
    if (problems.length < PROBLEM_LIMIT) problems.push(problem);
    const perColumn = (problemTotals[problem.column] ??= {});
    perColumn[problem.code] = (perColumn[problem.code] ?? 0) + 1;
  };

  const rowValues: (number | string | null)[] = new Array(features.length);
  for (let r = 0; r < table.rows.length; r++) {
    const row = table.rows[r]!;
    const line = table.lines[r] ?? r + 2;
    let ok = true;
    for (let f = 0; f < features.length; f++) {
      const [name, spec] = features[f]!;
      const result = checkCell(row[featureIndex[f]!] ?? '', spec);
      if (typeof result === 'object' && result !== null) {
        report({ row: line, column: name, ...result });
        ok = false;
      } else rowValues[f] = result;
    }
    const targetCell = (row[targetIndex] ?? '').trim();
    let targetValue: string | number | undefined;
    if (targetCell === '') {
      report({ row: line, column: contract.target.name, code: 'missing_value', expected: 'a value (the target is required)', received: 'empty' });
      ok = false;
    } else if (contract.target.type === 'number') {
      if (isNumber(targetCell)) targetValue = Number(targetCell);
      else {
        report({ row: line, column: contract.target.name, code: 'invalid_type', expected: 'a number', received: quote(targetCell) });
        ok = false;
      }
    } else if (contract.target.labelType === 'integer' && !INTEGER.test(targetCell)) {
      report({ row: line, column: contract.target.name, code: 'invalid_type', expected: 'an integer label', received: quote(targetCell) });
      ok = false;
    } else targetValue = targetCell;
    if (!ok) continue;
    good[r] = 1;
    accepted++;
    for (let f = 0; f < features.length; f++) parsed[f]!.push(rowValues[f]!);
    target.push(targetValue!);
  }

  const columns: Record<string, ColumnValues> = {};
  const stats: Record<string, ColumnStats> = {};
  features.forEach(([name, spec], f) => {
    const values = parsed[f]!;
    if (spec.type === 'category' || spec.type === 'string') {
      const strings = values as (string | null)[];
      columns[name] = strings;
      stats[name] = categoryStats(spec.type, strings);
    } else {
      const numbers = Float64Array.from(values as (number | null)[], (v) => (v === null ? NaN : v));
      columns[name] = numbers;
      stats[name] = numericStats(spec.type, numbers);
    }
  });
  stats[contract.target.name] =
    contract.target.type === 'number'
      ? numericStats('number', Float64Array.from(target as number[]))
      : categoryStats('label', target as string[]);

  return {
    rowsRead: table.rows.length,
    acceptedRows: accepted,
    rejectedRows: table.rows.length - accepted,
    missingColumns,
    extraColumns,
    problems,
    problemTotals,
    columns,
    target,
    stats,
  };
}

type CellProblem = Pick<RowProblem, 'code' | 'expected' | 'received'>;

function checkCell(raw: string, spec: FeatureSpec): number | string | null | CellProblem {
  const cell = raw.trim();
  if (cell === '') {
    return spec.nullable ? null : { code: 'missing_value', expected: `a ${spec.type} (column is not nullable)`, received: 'empty' };
  }
  switch (spec.type) {
    case 'number':
    case 'integer': {
      if (!isNumber(cell) || (spec.type === 'integer' && !INTEGER.test(cell))) {
        return { code: 'invalid_type', expected: spec.type === 'integer' ? 'an integer' : 'a number', received: quote(cell) };
      }
      const value = Number(cell);
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        return { code: 'out_of_range', expected: rangeText(spec), received: cell };
      }
      if (spec.values && !spec.values.includes(value)) {
        return { code: 'not_allowed', expected: `one of ${spec.values.join(', ')}`, received: cell };
      }
      return value;
    }
    case 'boolean': {
      if (!/^(true|false)$/i.test(cell)) return { code: 'invalid_type', expected: 'true or false', received: quote(cell) };
      return cell.toLowerCase() === 'true' ? 1 : 0;
    }
    case 'category':
    case 'string': {
      if (spec.values && !spec.values.map(String).includes(cell)) {
        return { code: 'not_allowed', expected: `one of ${spec.values.join(', ')}`, received: quote(cell) };
      }
      return cell;
    }
  }
}

function rangeText(spec: FeatureSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return `between ${spec.min} and ${spec.max}`;
  return spec.min !== undefined ? `at least ${spec.min}` : `at most ${spec.max}`;
}

function quote(cell: string): string {
  return JSON.stringify(cell.length > 60 ? `${cell.slice(0, 57)}...` : cell);
}

export function numericStats(type: FeatureType, values: Float64Array): ColumnStats {
  // Welford's update keeps the variance stable on large, offset values.
  let count = 0;
  let mean = 0;
  let m2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    count++;
    const delta = v - mean;
    mean += delta / count;
    m2 += delta * (v - mean);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const nulls = values.length - count;
  if (count === 0) return { type, count, nulls };
  const sorted = values.filter((v) => !Number.isNaN(v)).sort();
  const quantiles: number[] = [];
  for (let q = 1; q < 10; q++) quantiles.push(sorted[Math.min(sorted.length - 1, Math.floor((q / 10) * sorted.length))]!);
  return { type, count, nulls, min, max, mean, std: count > 1 ? Math.sqrt(m2 / (count - 1)) : 0, quantiles };
}

export function categoryStats(type: FeatureType | 'label', values: readonly (string | null)[]): ColumnStats {
  const counts = new Map<string, number>();
  let nulls = 0;
  for (const v of values) {
    if (v === null) nulls++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 100);
  return { type, count: values.length - nulls, nulls, categories: Object.fromEntries(top) };
}
