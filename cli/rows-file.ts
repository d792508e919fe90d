import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { DropColumn } from '../shared/data/drop-table';
import { readDrop } from '../shared/data/read-drop';
import { ModelloopError } from '../shared/platform/errors';

export type Cell = number | string | boolean | null;

/** Rows to score, read from a file, and the body `POST /models/{model}/predict` takes for them. */
export interface RowsFile {
  readonly body: unknown;
  /** The input columns, in file order; empty when the file held a request body of its own. */
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
  /** Where each row is in the file, as a person finds it (CSV and JSON Lines: the line; JSON: the index from 1). */
  readonly where: readonly number[];
  /** `LINE` or `ROW`: what `where` counts. */
  readonly whereLabel: 'LINE' | 'ROW';
}

/**
 * Reads rows to score by the file's extension: `.csv` (a header row; read by the product's own
 * CSV reader, so quoting, BOM and CRLF are handled as for a data drop), `.jsonl` (one JSON object
 * per line), or `.json` (an array of row objects, or any body the API takes, sent as it is).
 * Numbers stay numbers, `true`/`false` become booleans, an empty cell is null.
 */
export async function readRowsFile(path: string): Promise<RowsFile> {
  const bytes = await readFile(path);
  const name = basename(path);
  switch (extname(path).toLowerCase()) {
    case '.csv':
      return splitBody(csvRows(bytes, name));
    case '.jsonl':
      return splitBody(jsonLinesRows(bytes.toString('utf8'), name));
    case '.json':
      return jsonRows(bytes.toString('utf8'), name);
    default:
      throw new ModelloopError('UnsupportedFormat', `"${name}" is not a rows file: name it .csv (with a header row), .jsonl (one object per line) or .json.`);
  }
}

interface Table {
  columns: string[];
  rows: Cell[][];
  where: number[];
  whereLabel: 'LINE' | 'ROW';
}

/** Sent as MLflow's `dataframe_split`: the columns once, then the rows as arrays. */
function splitBody(table: Table): RowsFile {
  if (table.rows.length === 0) throw new ModelloopError('InvalidInput', 'The file has no rows to score.');
  return { body: { dataframe_split: { columns: table.columns, data: table.rows } }, ...table };
}

function csvRows(bytes: Uint8Array, name: string): Table {
  const table = readDrop(bytes, name);
  const rows: Cell[][] = [];
  for (let r = 0; r < table.rowCount; r++) rows.push(table.columns.map((column) => csvCell(column, r)));
  return { columns: [...table.header], rows, where: Array.from(table.lines), whereLabel: 'LINE' };
}

function csvCell(column: DropColumn, row: number): Cell {
  if (column.isEmpty(row)) return null;
  const number = column.number(row);
  if (!Number.isNaN(number)) return number;
  const truth = column.boolean(row);
  if (truth !== -1) return truth === 1;
  return column.category(row);
}

function jsonLinesRows(text: string, name: string): Table {
  const columns: string[] = [];
  const seen = new Map<string, number>();
  const objects: { line: number; row: Record<string, unknown> }[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new ModelloopError('InvalidInput', `${name} line ${i + 1}: not valid JSON (${err instanceof Error ? err.message : String(err)}).`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ModelloopError('InvalidInput', `${name} line ${i + 1}: expected one JSON object per line, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}.`);
    }
    for (const key of Object.keys(value)) {
      if (!seen.has(key)) {
        seen.set(key, columns.length);
        columns.push(key);
      }
    }
    objects.push({ line: i + 1, row: value as Record<string, unknown> });
  }
  // A key a row leaves out is null there, as an empty CSV cell is.
  const rows = objects.map(({ row, line }) => columns.map((column) => jsonCell(row[column], name, line, column)));
  return { columns, rows, where: objects.map((o) => o.line), whereLabel: 'LINE' };
}

function jsonCell(value: unknown, name: string, line: number, column: string): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  throw new ModelloopError('InvalidInput', `${name} line ${line}, "${column}": expected a number, text, true/false or null, got ${JSON.stringify(value)}.`);
}

function jsonRows(text: string, name: string): RowsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelloopError('InvalidInput', `${name} is not valid JSON (${err instanceof Error ? err.message : String(err)}); for one object per line, name it .jsonl.`);
  }
  if (!Array.isArray(parsed)) return { body: parsed, columns: [], rows: [], where: [], whereLabel: 'ROW' };
  const columns = [...new Set(parsed.flatMap((row: unknown) => (typeof row === 'object' && row !== null ? Object.keys(row) : [])))];
  const rows = parsed.map((row: unknown) => columns.map((column) => {
    const value = typeof row === 'object' && row !== null ? (row as Record<string, unknown>)[column] : undefined;
    return value === undefined || value === null || typeof value === 'object' ? null : (value as Cell);
  }));
  return { body: { instances: parsed }, columns, rows, where: parsed.map((_, i) => i + 1), whereLabel: 'ROW' };
}
