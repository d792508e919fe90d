import type { FeatureSpec, FeatureType, ModelDefinition } from './model-definition';
import { codesOf, type DropColumn, type DropTable } from './drop-table';

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
  /** Distinct values of a category or label column (all of them, not only the 100 counted). */
  readonly distinct?: number;
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
export const MAX_INFERRED_CATEGORIES = 100;
/** Distinct values tracked per column while inferring; a column whose first this-many values are all different counts as all-distinct. */
const DISTINCT_LIMIT = 10_000;
/** Quantiles are taken from at most this many evenly spaced values, so statistics stay linear in the rows. */
const QUANTILE_SAMPLE = 16_384;
const ID_NAME = /(^|[_\s-])(id|uuid|guid|key)$/i;

/** Infers a contract from a drop, honouring what the definition already says. */
export function inferContract(table: DropTable, definition: ModelDefinition, datasetId: string): DataContract {
  const target = inferTarget(table, definition);
  if (definition.features) {
    return { target, features: definition.features, excluded: {}, source: 'definition' };
  }
  const features: Record<string, FeatureSpec> = {};
  const excluded: Record<string, string> = {};
  table.header.forEach((name, index) => {
    if (name === definition.target) return;
    const inferred = inferColumn(table.columns[index]!, table.rowCount, name);
    if ('excluded' in inferred) excluded[name] = inferred.excluded;
    else features[name] = inferred;
  });
  return { target, features, excluded, source: datasetId };
}

function inferTarget(table: DropTable, definition: ModelDefinition): TargetSpec {
  if (definition.task === 'regression') return { name: definition.target, type: 'number' };
  const column = table.columns[table.header.indexOf(definition.target)];
  let integers = true;
  let any = false;
  if (column) {
    for (let r = 0; r < table.rowCount; r++) {
      if (column.isEmpty(r)) continue;
      any = true;
      if (!Number.isInteger(column.number(r))) {
        integers = false;
        break;
      }
    }
  }
  return { name: definition.target, type: 'label', labelType: any && integers ? 'integer' : 'string' };
}

function inferColumn(column: DropColumn, rowCount: number, name: string): FeatureSpec | { excluded: string } {
  let nulls = 0;
  let numbers = 0;
  let integers = 0;
  let booleans = 0;
  let repeated = false;
  let tracking = true;
  const distinct = new Set<string | number>();
  for (let r = 0; r < rowCount; r++) {
    if (column.isEmpty(r)) {
      nulls++;
      continue;
    }
    const value = column.number(r);
    let key: string | number;
    if (value === value) {
      numbers++;
      if (Number.isInteger(value)) integers++;
      key = value;
    } else {
      if (column.boolean(r) >= 0) booleans++;
      if (!tracking) continue;
      key = column.category(r)!;
    }
    if (!tracking) continue;
    if (distinct.has(key)) repeated = true;
    else if (distinct.size < DISTINCT_LIMIT) distinct.add(key);
    else tracking = false;
  }
  const present = rowCount - nulls;
  const nullable = nulls > 0;
  if (present === 0) return { excluded: 'every value is empty' };
  const allDistinct = !repeated && present > 1;
  if (ID_NAME.test(name) && allDistinct) return { excluded: 'an identifier: every value is different' };
  if (numbers === present) return { type: integers === present ? 'integer' : 'number', nullable };
  if (booleans === present) return { type: 'boolean', nullable };
  if (allDistinct && present >= 20) return { excluded: 'free text or an identifier: every value is different' };
  if (tracking && distinct.size <= MAX_INFERRED_CATEGORIES) return { type: 'category', nullable };
  return { type: 'string', nullable };
}

/** What a cell of a feature must be, in the words reports use. */
export function expectedOf(spec: FeatureSpec, code: RowProblem['code']): string {
  switch (code) {
    case 'missing_value':
      return `${spec.type === 'integer' ? 'an' : 'a'} ${spec.type} (column is not nullable)`;
    case 'out_of_range':
      return rangeText(spec);
    case 'not_allowed':
      return `one of ${(spec.values ?? []).join(', ')}`;
    case 'invalid_type':
      return spec.type === 'integer' ? 'an integer' : spec.type === 'boolean' ? 'true or false' : spec.type === 'number' ? 'a number' : 'text';
  }
}

/** What a target cell must be, in the words reports use. */
export function expectedOfTarget(target: TargetSpec, code: RowProblem['code']): string {
  if (code === 'missing_value') return 'a value (the target is required)';
  return target.type === 'number' ? 'a number' : 'an integer label';
}

/**
 * Checks every row of a table against a contract and returns the accepted rows as typed columns,
 * the problems found (row, column, expected, received) and per-column statistics. `contract-schema.ts`
 * states the same rules as a zod schema; this is the fast path, column by column on typed arrays.
 */
export function checkTable(table: DropTable, contract: DataContract): CheckedTable {
  const header = table.header;
  const required = [contract.target.name, ...Object.keys(contract.features)];
  const missingColumns = required.filter((name) => !header.includes(name));
  const known = new Set(required);
  const extraColumns = header.filter((name) => !known.has(name) && !(name in contract.excluded));
  const n = table.rowCount;
  if (missingColumns.length > 0) {
    return { rowsRead: n, acceptedRows: 0, rejectedRows: n, missingColumns, extraColumns, problems: [], problemTotals: {}, columns: {}, target: [], stats: {} };
  }

  const bad = new Uint8Array(n);
  const found: RowProblem[] = [];
  const problemTotals: Record<string, Record<string, number>> = {};
  const sink = (column: string): ProblemSink => {
    const totals: Record<string, number> = {};
    let kept = 0;
    return (row, code, expected, received) => {
      bad[row] = 1;
      totals[code] = (totals[code] ?? 0) + 1;
      problemTotals[column] = totals;
      // Each column keeps its own first PROBLEM_LIMIT: the first PROBLEM_LIMIT overall are among them.
      if (kept++ < PROBLEM_LIMIT) found.push({ row: table.lines[row] ?? row + 1, column, code, expected, received: received() });
    };
  };

  const names = Object.keys(contract.features);
  const full: CheckedColumn[] = names.map((name) => {
    const spec = contract.features[name]!;
    const column = table.columns[header.indexOf(name)]!;
    return checkColumn(column, n, spec, sink(name));
  });
  const targetColumn = table.columns[header.indexOf(contract.target.name)]!;
  const fullTarget = checkTarget(targetColumn, n, contract.target, sink(contract.target.name));

  let accepted = 0;
  for (let r = 0; r < n; r++) accepted += bad[r] ? 0 : 1;
  const keep = accepted === n ? undefined : bad;
  const columns: Record<string, ColumnValues> = {};
  const stats: Record<string, ColumnStats> = {};
  names.forEach((name, f) => {
    const spec = contract.features[name]!;
    const checked = compact(full[f]!, keep, accepted);
    columns[name] = checked.values;
    stats[name] = statsOf(spec.type, checked);
  });
  const checkedTarget = compact(fullTarget, keep, accepted);
  const targetValues = checkedTarget.values;
  const target: (string | number)[] = targetValues instanceof Float64Array ? Array.from(targetValues) : (targetValues as string[]);
  stats[contract.target.name] = statsOf(targetValues instanceof Float64Array ? 'number' : 'label', checkedTarget);

  // Stable sort: problems of one row stay in column order (features, then the target).
  const order = new Map(names.map((name, i) => [name, i]));
  order.set(contract.target.name, names.length);
  found.sort((a, b) => a.row - b.row || order.get(a.column)! - order.get(b.column)!);
  return {
    rowsRead: n,
    acceptedRows: accepted,
    rejectedRows: n - accepted,
    missingColumns,
    extraColumns,
    problems: found.slice(0, PROBLEM_LIMIT),
    problemTotals,
    columns,
    target,
    stats,
  };
}

type ProblemSink = (row: number, code: RowProblem['code'], expected: string, received: () => string) => void;

/** A checked column: its values, and for categories each row's code into the distinct values. */
interface CheckedColumn {
  values: ColumnValues;
  codes?: Int32Array;
  names?: readonly string[];
}

// One function and one loop per feature type, each over one column's typed array, so every loop
// is compiled for one kind of array and the per-cell work is a compare and a store; categories are
// checked per cell on their codes, against verdicts taken once per distinct value. Problems (rare)
// go through the sink.
function checkColumn(column: DropColumn, n: number, spec: FeatureSpec, problem: ProblemSink): CheckedColumn {
  switch (spec.type) {
    case 'number':
    case 'integer':
      return { values: checkNumbers(column, n, spec, problem) };
    case 'boolean':
      return { values: checkBooleans(column, n, spec, problem) };
    case 'category':
    case 'string':
      return checkCategories(column, n, spec, problem);
  }
}

function checkNumbers(column: DropColumn, n: number, spec: FeatureSpec, problem: ProblemSink): Float64Array {
  const nullable = spec.nullable === true;
  const out = new Float64Array(n);
  const integer = spec.type === 'integer';
  const min = spec.min ?? -Infinity;
  const max = spec.max ?? Infinity;
  const allowed = spec.values ? new Set(spec.values.map(Number)) : undefined;
  column.numbers(out);
  for (let r = 0; r < n; r++) {
    const value = out[r]!;
    if (value === value) {
      if (integer && !Number.isInteger(value)) problem(r, 'invalid_type', expectedOf(spec, 'invalid_type'), () => quote(column.text(r)));
      else if (value < min || value > max) problem(r, 'out_of_range', expectedOf(spec, 'out_of_range'), () => column.text(r).trim());
      else if (allowed && !allowed.has(value)) problem(r, 'not_allowed', expectedOf(spec, 'not_allowed'), () => column.text(r).trim());
    } else if (column.isEmpty(r)) {
      if (!nullable) problem(r, 'missing_value', expectedOf(spec, 'missing_value'), () => 'empty');
    } else problem(r, 'invalid_type', expectedOf(spec, 'invalid_type'), () => quote(column.text(r)));
  }
  return out;
}

function checkBooleans(column: DropColumn, n: number, spec: FeatureSpec, problem: ProblemSink): Float64Array {
  const nullable = spec.nullable === true;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const value = column.boolean(r);
    if (value >= 0) out[r] = value;
    else {
      out[r] = NaN;
      if (!column.isEmpty(r)) problem(r, 'invalid_type', expectedOf(spec, 'invalid_type'), () => quote(column.text(r)));
      else if (!nullable) problem(r, 'missing_value', expectedOf(spec, 'missing_value'), () => 'empty');
    }
  }
  return out;
}

function checkCategories(column: DropColumn, n: number, spec: FeatureSpec, problem: ProblemSink): CheckedColumn {
  const nullable = spec.nullable === true;
  const allowed = spec.values ? new Set(spec.values.map(String)) : undefined;
  const codes = new Int32Array(n);
  const names = column.categoryCodes ? column.categoryCodes(codes) : codesOf(column, codes);
  const permitted = allowed ? Uint8Array.from(names, (name) => (allowed.has(name) ? 1 : 0)) : undefined;
  const out: (string | null)[] = new Array(n);
  for (let r = 0; r < n; r++) {
    const code = codes[r]!;
    if (code < 0) {
      out[r] = null;
      if (!nullable) problem(r, 'missing_value', expectedOf(spec, 'missing_value'), () => 'empty');
    } else {
      out[r] = names[code]!;
      if (permitted && !permitted[code]) problem(r, 'not_allowed', expectedOf(spec, 'not_allowed'), () => quote(names[code]!));
    }
  }
  return { values: out, codes, names };
}

function checkTarget(column: DropColumn, n: number, target: TargetSpec, problem: ProblemSink): CheckedColumn {
  if (target.type === 'number') {
    const out = new Float64Array(n);
    column.numbers(out);
    for (let r = 0; r < n; r++) {
      const value = out[r]!;
      if (value !== value) {
        if (column.isEmpty(r)) problem(r, 'missing_value', expectedOfTarget(target, 'missing_value'), () => 'empty');
        else problem(r, 'invalid_type', expectedOfTarget(target, 'invalid_type'), () => quote(column.text(r)));
      }
    }
    return { values: out };
  }
  const codes = new Int32Array(n);
  const names = column.categoryCodes ? column.categoryCodes(codes) : codesOf(column, codes);
  const out: (string | null)[] = new Array(n);
  const integer = target.labelType === 'integer';
  for (let r = 0; r < n; r++) {
    const code = codes[r]!;
    if (code < 0) {
      out[r] = null;
      problem(r, 'missing_value', expectedOfTarget(target, 'missing_value'), () => 'empty');
    } else {
      const value = names[code]!;
      out[r] = value;
      if (integer && !Number.isInteger(column.number(r))) problem(r, 'invalid_type', expectedOfTarget(target, 'invalid_type'), () => quote(value));
    }
  }
  return { values: out, codes, names };
}

/** Keeps the accepted rows, in place: a Float64Array becomes a view of its first `accepted` values. */
function compact(column: CheckedColumn, bad: Uint8Array | undefined, accepted: number): CheckedColumn {
  if (!bad) return column;
  const { values, codes } = column;
  if (values instanceof Float64Array) return { values: compactNumbers(values, bad, accepted) };
  compactStrings(values, bad, accepted);
  return { values, ...(codes ? { codes: compactCodes(codes, bad, accepted), names: column.names! } : {}) };
}

// Three copies of one loop, one per array kind, so each stays compiled for its kind.
function compactNumbers(values: Float64Array, bad: Uint8Array, accepted: number): Float64Array {
  for (let r = 0, w = 0; r < values.length; r++) if (!bad[r]) values[w++] = values[r]!;
  return values.subarray(0, accepted);
}

function compactCodes(codes: Int32Array, bad: Uint8Array, accepted: number): Int32Array {
  for (let r = 0, w = 0; r < codes.length; r++) if (!bad[r]) codes[w++] = codes[r]!;
  return codes.subarray(0, accepted);
}

function compactStrings(values: (string | null)[], bad: Uint8Array, accepted: number): void {
  for (let r = 0, w = 0; r < values.length; r++) if (!bad[r]) values[w++] = values[r]!;
  values.length = accepted;
}

function statsOf(type: FeatureType | 'label', column: CheckedColumn): ColumnStats {
  if (column.values instanceof Float64Array) return numericStats(type as FeatureType, column.values);
  if (column.codes) return codeStats(type, column.codes, column.names!);
  return categoryStats(type, column.values);
}

/** `categoryStats` from codes: counted in an Int32Array, one entry per distinct value. */
function codeStats(type: FeatureType | 'label', codes: Int32Array, names: readonly string[]): ColumnStats {
  const counts = new Int32Array(names.length);
  let nulls = 0;
  for (let r = 0; r < codes.length; r++) {
    const code = codes[r]!;
    if (code < 0) nulls++;
    else counts[code]!++;
  }
  const present: [string, number][] = [];
  for (let k = 0; k < names.length; k++) if (counts[k]! > 0) present.push([names[k]!, counts[k]!]);
  return { type, count: codes.length - nulls, nulls, distinct: present.length, categories: topCategories(present) };
}

function topCategories(counts: [string, number][]): Record<string, number> {
  return Object.fromEntries(counts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 100));
}

function rangeText(spec: FeatureSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return `between ${spec.min} and ${spec.max}`;
  return spec.min !== undefined ? `at least ${spec.min}` : `at most ${spec.max}`;
}

/** A cell as reports quote it: JSON-quoted, cut at 60 characters. */
export function quote(cell: string): string {
  return JSON.stringify(cell.length > 60 ? `${cell.slice(0, 57)}...` : cell);
}

/**
 * Count, nulls (NaN), min, max, mean, standard deviation and deciles of a numeric column. Deciles
 * come from at most 16,384 evenly spaced values, so large drops cost a small sort, not a full one.
 */
export function numericStats(type: FeatureType, values: Float64Array): ColumnStats {
  // Two passes (mean, then squared deviations): as stable as Welford's update, without a division per value.
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) continue;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = count > 0 ? sum / count : 0;
  const nulls = values.length - count;
  if (count === 0) return { type, count, nulls };
  // The second pass also takes every stride-th value for the quantiles.
  const stride = Math.max(1, Math.ceil(count / QUANTILE_SAMPLE));
  const sample = new Float64Array(Math.ceil(count / stride));
  let taken = 0;
  let m2 = 0;
  for (let i = 0, skip = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v) continue;
    m2 += (v - mean) * (v - mean);
    if (skip === 0) {
      sample[taken++] = v;
      skip = stride;
    }
    skip--;
  }
  const sorted = sample.subarray(0, taken).sort();
  const quantiles: number[] = [];
  for (let q = 1; q < 10; q++) quantiles.push(sorted[Math.min(sorted.length - 1, Math.floor((q / 10) * sorted.length))]!);
  return { type, count, nulls, min, max, mean, std: count > 1 ? Math.sqrt(m2 / (count - 1)) : 0, quantiles };
}

/** Count, nulls and the 100 most frequent values of a category (or label) column. */
export function categoryStats(type: FeatureType | 'label', values: readonly (string | null)[]): ColumnStats {
  const counts = new Map<string, number>();
  let nulls = 0;
  for (const v of values) {
    if (v === null) nulls++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return { type, count: values.length - nulls, nulls, distinct: counts.size, categories: topCategories([...counts.entries()]) };
}
