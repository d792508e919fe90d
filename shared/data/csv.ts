import { parse, CsvError } from 'csv-parse/sync';
import { ModelloopError } from '../platform/errors';

/** A parsed text table: a header and rows of raw cells, with the file line where each row starts. */
export interface TextTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** 1-based line in the file where row i starts, for reports a person can follow. */
  readonly lines: Int32Array;
}

/**
 * Parses RFC 4180 CSV (quoted fields with commas, quotes and newlines; CRLF or LF; UTF-8 BOM).
 * The first row is the header. Throws `UnsupportedFormat` naming the line of a malformed row.
 */
export function parseCsv(bytes: Uint8Array, file = 'the file'): TextTable {
  let records: { record: string[]; info: { lines: number; empty_lines: number } }[];
  try {
    records = parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      bom: true,
      info: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as unknown as typeof records;
  } catch (err) {
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV${line ? ` at line ${line}` : ''}: ${err.message}`, [
        { path: line ? [line] : [], message: err.message },
      ]);
    }
    throw err;
  }
  const first = records[0];
  if (!first) throw new ModelloopError('SchemaViolation', `${file} is empty: a header row naming the columns is required.`);
  const header = first.record.map((name) => name.trim());
  const seen = new Set<string>();
  header.forEach((name, index) => {
    if (!name) throw new ModelloopError('SchemaViolation', `${file}: column ${index + 1} of the header has no name.`);
    if (seen.has(name)) throw new ModelloopError('SchemaViolation', `${file}: the header names column "${name}" twice.`);
    seen.add(name);
  });
  const rows: string[][] = [];
  const lines = new Int32Array(records.length - 1);
  let previousEnd = first.info.lines;
  let previousEmpty = first.info.empty_lines;
  for (let i = 1; i < records.length; i++) {
    const { record, info } = records[i]!;
    lines[i - 1] = previousEnd + 1 + (info.empty_lines - previousEmpty);
    previousEnd = info.lines;
    previousEmpty = info.empty_lines;
    rows.push(record);
  }
  return { header, rows, lines };
}
