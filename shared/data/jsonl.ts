import { ModelloopError } from '../platform/errors';
import { MAX_RECORD_BYTES } from './csv';
import { ValueColumn, type DropTable } from './drop-table';

/**
 * Reads JSON Lines: one JSON object per line, blank lines skipped, a UTF-8 BOM allowed. The columns
 * are the keys in the order they first appear; a key a row lacks is an empty cell. Values keep their
 * JSON types (a string "3" is not the number 3). Throws `UnsupportedFormat` naming the line of a
 * line that is not a JSON object.
 */
export function parseJsonLines(input: Uint8Array, file = 'the file'): DropTable {
  const reader = new JsonLinesReader(file);
  reader.push(input);
  return reader.end();
}

/**
 * Reads JSON Lines chunk by chunk into typed columns (`ValueColumn`): complete lines are parsed as
 * they arrive, the unfinished last line waits for the next chunk, so memory is the columns.
 */
export class JsonLinesReader {
  readonly #file: string;
  #carry: Buffer | undefined;
  #started = false;
  readonly #header: string[] = [];
  readonly #columns: ValueColumn[] = [];
  readonly #index = new Map<string, number>();
  #lines = new Int32Array(1024);
  #rows = 0;
  #line = 0;

  constructor(file = 'the file') {
    this.#file = file;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    let bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#carry) bytes = Buffer.concat([this.#carry, bytes]);
    this.#carry = undefined;
    let p = 0;
    if (!this.#started) {
      if (bytes.length < 3) {
        this.#carry = Buffer.from(bytes);
        return;
      }
      this.#started = true;
      if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) p = 3;
    }
    const last = bytes.lastIndexOf(10);
    if (last >= p) {
      this.#readLines(bytes, p, last + 1);
      p = last + 1;
    }
    if (p < bytes.length) {
      if (bytes.length - p > MAX_RECORD_BYTES) {
        throw new ModelloopError('UnsupportedFormat', `${this.#file} is not valid JSON Lines at line ${this.#line + 1}: a line is longer than ${MAX_RECORD_BYTES / 2 ** 20} MiB.`, [
          { path: [this.#line + 1], message: 'line too long' },
        ]);
      }
      this.#carry = Buffer.from(bytes.subarray(p));
    }
  }

  end(): DropTable {
    const rest = this.#carry;
    this.#carry = undefined;
    if (rest) {
      const p = !this.#started && rest.length >= 3 && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf ? 3 : 0;
      this.#started = true;
      this.#readLines(rest, p, rest.length);
    }
    const rows = this.#rows;
    // A column whose key the last rows lack has not grown with them: those cells are empty.
    for (const column of this.#columns) if (column.capacity < rows) column.grow(rows);
    if (rows === 0) throw new ModelloopError('SchemaViolation', `${this.#file} has no records: JSON Lines drops need one JSON object per line.`);
    return { header: this.#header, rowCount: rows, lines: this.#lines.subarray(0, rows), columns: this.#columns };
  }

  /** The lines of `bytes[from, to)`; `to` is just past a line feed, or the end of the file. */
  #readLines(bytes: Buffer, from: number, to: number): void {
    const file = this.#file;
    let p = from;
    while (p < to) {
      this.#line++;
      let end = bytes.indexOf(10, p);
      if (end < 0 || end >= to) end = to;
      const text = bytes.toString('utf8', p, end > p && bytes[end - 1] === 13 ? end - 1 : end);
      p = end + 1;
      if (text.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch (err) {
        throw new ModelloopError('UnsupportedFormat', `${file} is not valid JSON Lines at line ${this.#line}: ${(err as Error).message}.`, [{ path: [this.#line], message: 'not JSON' }]);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new ModelloopError('UnsupportedFormat', `${file} is not valid JSON Lines at line ${this.#line}: each line must be a JSON object ({"column": value, ...}), got ${Array.isArray(record) ? 'an array' : JSON.stringify(record)?.slice(0, 40)}.`, [
          { path: [this.#line], message: 'not an object' },
        ]);
      }
      const row = this.#rows;
      if (row === this.#lines.length) {
        const grown = new Int32Array(row * 2);
        grown.set(this.#lines);
        this.#lines = grown;
      }
      const capacity = this.#lines.length;
      for (const key in record) {
        let c = this.#index.get(key);
        if (c === undefined) {
          c = this.#columns.length;
          this.#index.set(key, c);
          this.#header.push(key);
          this.#columns.push(new ValueColumn(capacity));
        }
        const column = this.#columns[c]!;
        if (column.capacity < capacity) column.grow(capacity);
        column.set(row, (record as Record<string, unknown>)[key]);
      }
      this.#lines[row] = this.#line;
      this.#rows = row + 1;
    }
  }
}
