import { ModelloopError } from '../platform/errors';
import { ValueColumn, type DropTable } from './drop-table';

/**
 * Reads JSON Lines: one JSON object per line, blank lines skipped, a UTF-8 BOM allowed. The columns
 * are the keys in the order they first appear; a key a row lacks is an empty cell. Values keep their
 * JSON types (a string "3" is not the number 3). Throws `UnsupportedFormat` naming the line of a
 * line that is not a JSON object.
 */
export function parseJsonLines(input: Uint8Array, file = 'the file'): DropTable {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const n = bytes.length;
  let p = n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let capacity = 16;
  for (let i = bytes.indexOf(10, p); i >= 0; i = bytes.indexOf(10, i + 1)) capacity++;
  const header: string[] = [];
  const columns: ValueColumn[] = [];
  const index = new Map<string, number>();
  let lines = new Int32Array(capacity);
  let rows = 0;
  let line = 0;
  while (p < n) {
    line++;
    let end = bytes.indexOf(10, p);
    if (end < 0) end = n;
    const text = bytes.toString('utf8', p, end > p && bytes[end - 1] === 13 ? end - 1 : end);
    p = end + 1;
    if (text.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new ModelloopError('UnsupportedFormat', `${file} is not valid JSON Lines at line ${line}: ${(err as Error).message}.`, [{ path: [line], message: 'not JSON' }]);
    }
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new ModelloopError('UnsupportedFormat', `${file} is not valid JSON Lines at line ${line}: each line must be a JSON object ({"column": value, ...}), got ${Array.isArray(record) ? 'an array' : JSON.stringify(record)?.slice(0, 40)}.`, [
        { path: [line], message: 'not an object' },
      ]);
    }
    if (rows === capacity) {
      capacity *= 2;
      const grown = new Int32Array(capacity);
      grown.set(lines);
      lines = grown;
    }
    for (const key in record) {
      let c = index.get(key);
      if (c === undefined) {
        c = columns.length;
        index.set(key, c);
        header.push(key);
        columns.push(new ValueColumn(capacity));
      }
      const column = columns[c]!;
      if (column.capacity < capacity) column.grow(capacity);
      column.set(rows, (record as Record<string, unknown>)[key]);
    }
    lines[rows++] = line;
  }
  if (rows === 0) throw new ModelloopError('SchemaViolation', `${file} has no records: JSON Lines drops need one JSON object per line.`);
  return { header, rowCount: rows, lines: lines.subarray(0, rows), columns };
}
