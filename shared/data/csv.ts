import { ModelloopError } from '../platform/errors';
import type { DropColumn, DropTable } from './drop-table';

/** @deprecated The name of `DropTable` before drops were read into columns; kept for callers. */
export type TextTable = DropTable;

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;

/**
 * Parses RFC 4180 CSV (quoted fields with commas, quotes and newlines; CRLF, LF or CR; UTF-8 BOM)
 * straight from bytes into columns of cell ranges: no string is made for a cell until the data
 * contract asks for one. The first row is the header; empty lines are skipped. A quote inside an
 * unquoted field is kept as data. Throws `UnsupportedFormat` naming the line of a malformed row,
 * `SchemaViolation` for a missing or bad header.
 */
export function parseCsv(input: Uint8Array, file = 'the file'): DropTable {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const n = bytes.length;
  if (n >= 0x7fffffff) throw new ModelloopError('PayloadTooLarge', `${file} is ${n} bytes; CSV drops must be under 2 GiB.`);
  let p = n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 1;

  // Header: skip leading empty lines, then read one record the slow, simple way.
  while (p < n && (bytes[p] === LF || bytes[p] === CR)) {
    p += bytes[p] === CR && bytes[p + 1] === LF ? 2 : 1;
    line++;
  }
  if (p >= n) throw new ModelloopError('SchemaViolation', `${file} is empty: a header row naming the columns is required.`);
  const header: string[] = [];
  const headerLine = line;
  for (;;) {
    const cell = readCell(bytes, p, file, line);
    header.push(cell.text.trim());
    p = cell.end;
    line += cell.newlines;
    if (p < n && bytes[p] === COMMA) {
      p++;
      continue;
    }
    p = skipRecordEnd(bytes, p);
    line++;
    break;
  }
  const seen = new Set<string>();
  header.forEach((name, index) => {
    if (!name) throw new ModelloopError('SchemaViolation', `${file}: column ${index + 1} of the header (line ${headerLine}) has no name.`);
    if (seen.has(name)) throw new ModelloopError('SchemaViolation', `${file}: the header names column "${name}" twice.`);
    seen.add(name);
  });

  const width = header.length;
  // Every record ends at a line break (or the end), so line breaks bound the row count.
  let capacity = countByte(bytes, p, LF) + 1;
  if (capacity === 1) capacity = countByte(bytes, p, CR) + 1;
  const scan = scanRecords(bytes, p, line, width, capacity, file, header);
  const columns: DropColumn[] = [];
  for (let c = 0; c < width; c++) {
    const offset = c * scan.capacity;
    columns.push(new CsvColumn(bytes, scan.starts.subarray(offset, offset + scan.rows), scan.ends.subarray(offset, offset + scan.rows), scan.unescaped[c]!));
  }
  return { header, rowCount: scan.rows, lines: scan.lines.subarray(0, scan.rows), columns };
}

interface Scan {
  rows: number;
  capacity: number;
  /** Column-major: the cell of row r, column c is at c * capacity + r. */
  starts: Int32Array;
  ends: Int32Array;
  lines: Int32Array;
  unescaped: Map<number, string>[];
}

// One pass over the bytes; each cell becomes a [start, end) pair in two flat Int32Arrays, column
// after column, so checking a column later reads contiguous memory. Unquoted cells (the common
// case) cost one compare chain per byte; quoted ones jump from quote to quote with native indexOf.
function scanRecords(bytes: Buffer, from: number, firstLine: number, width: number, initialCapacity: number, file: string, header: readonly string[]): Scan {
  const n = bytes.length;
  let capacity = initialCapacity;
  let starts: Int32Array = new Int32Array(width * capacity);
  let ends: Int32Array = new Int32Array(width * capacity);
  let lines: Int32Array = new Int32Array(capacity);
  const unescaped: Map<number, string>[] = Array.from({ length: width }, () => new Map());
  let rows = 0;
  let p = from;
  let line = firstLine;
  while (p < n) {
    let c = bytes[p]!;
    if (c === LF || c === CR) {
      p += c === CR && bytes[p + 1] === LF ? 2 : 1;
      line++;
      continue;
    }
    if (rows === capacity) {
      const grown = relayout(starts, ends, lines, width, capacity, capacity * 2);
      capacity *= 2;
      ({ starts, ends, lines } = grown);
    }
    const rowLine = line;
    lines[rows] = rowLine;
    let column = 0;
    let at = rows;
    for (;;) {
      if (column === width) throw fieldCountError(file, rowLine, width, width + 1);
      let start: number;
      let end: number;
      if (bytes[p] === QUOTE) {
        start = p + 1;
        let q = start;
        let escaped = false;
        for (;;) {
          q = bytes.indexOf(QUOTE, q);
          if (q < 0) throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${rowLine}: a quoted field is never closed.`, [{ path: [rowLine, header[column]!], message: 'unclosed quote' }]);
          if (bytes[q + 1] === QUOTE) {
            escaped = true;
            q += 2;
          } else break;
        }
        end = q;
        line += countLines(bytes, start, end);
        p = q + 1;
        if (escaped) unescaped[column]!.set(rows, bytes.toString('utf8', start, end).replaceAll('""', '"'));
        if (p < n) {
          c = bytes[p]!;
          if (c !== COMMA && c !== LF && c !== CR) {
            throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: "${String.fromCharCode(c)}" follows the closing quote of field "${header[column]}"; a quoted field must end at a comma or line break.`, [
              { path: [line, header[column]!], message: 'text after closing quote' },
            ]);
          }
        }
      } else {
        start = p;
        while (p < n) {
          c = bytes[p]!;
          if (c === COMMA || c === LF || c === CR) break;
          p++;
        }
        end = p;
      }
      starts[at] = start;
      ends[at] = end;
      column++;
      at += capacity;
      if (p < n && bytes[p] === COMMA) {
        p++;
        continue;
      }
      break;
    }
    if (column !== width) throw fieldCountError(file, rowLine, width, column);
    if (p < n) {
      p += bytes[p] === CR && bytes[p + 1] === LF ? 2 : 1;
      line++;
    }
    rows++;
  }
  return { rows, capacity, starts, ends, lines, unescaped };
}

function relayout(starts: Int32Array, ends: Int32Array, lines: Int32Array, width: number, from: number, to: number): { starts: Int32Array; ends: Int32Array; lines: Int32Array } {
  const s = new Int32Array(width * to);
  const e = new Int32Array(width * to);
  for (let c = 0; c < width; c++) {
    s.set(starts.subarray(c * from, (c + 1) * from), c * to);
    e.set(ends.subarray(c * from, (c + 1) * from), c * to);
  }
  const l = new Int32Array(to);
  l.set(lines);
  return { starts: s, ends: e, lines: l };
}

function fieldCountError(file: string, line: number, expected: number, received: number): ModelloopError {
  const more = received > expected ? `more than ${expected}` : `${received}`;
  return new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: the row has ${more} fields, the header has ${expected}.`, [
    { path: [line], message: 'wrong number of fields', expected: String(expected), received: String(received) },
  ]);
}

function countByte(bytes: Buffer, from: number, byte: number): number {
  let count = 0;
  for (let i = bytes.indexOf(byte, from); i >= 0; i = bytes.indexOf(byte, i + 1)) count++;
  return count;
}

/** Line breaks inside a quoted field: LF, CRLF and a lone CR each count once. */
function countLines(bytes: Uint8Array, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === LF) count++;
    else if (c === CR && bytes[i + 1] !== LF) count++;
  }
  return count;
}

function skipRecordEnd(bytes: Uint8Array, p: number): number {
  if (p >= bytes.length) return p;
  return p + (bytes[p] === CR && bytes[p + 1] === LF ? 2 : 1);
}

/** One field for the header: its text, where it ends, and the line breaks inside it. */
function readCell(bytes: Buffer, p: number, file: string, line: number): { text: string; end: number; newlines: number } {
  const n = bytes.length;
  if (bytes[p] !== QUOTE) {
    let q = p;
    while (q < n && bytes[q] !== COMMA && bytes[q] !== LF && bytes[q] !== CR) q++;
    return { text: bytes.toString('utf8', p, q), end: q, newlines: 0 };
  }
  let q = p + 1;
  for (;;) {
    q = bytes.indexOf(QUOTE, q);
    if (q < 0) throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: a quoted header field is never closed.`);
    if (bytes[q + 1] === QUOTE) q += 2;
    else break;
  }
  const after = bytes[q + 1];
  if (q + 1 < n && after !== COMMA && after !== LF && after !== CR) {
    throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: text follows the closing quote of a header field.`);
  }
  return { text: bytes.toString('utf8', p + 1, q).replaceAll('""', '"'), end: q + 1, newlines: countLines(bytes, p + 1, q) };
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * A CSV column: cell ranges into the file's bytes. Numbers are parsed from the bytes; categories
 * are interned by a byte hash, so a repeated value costs no new string.
 */
class CsvColumn implements DropColumn {
  readonly #bytes: Buffer;
  readonly #starts: Int32Array;
  readonly #ends: Int32Array;
  readonly #unescaped: Map<number, string>;
  #interner: ByteInterner | undefined;

  constructor(bytes: Buffer, starts: Int32Array, ends: Int32Array, unescaped: Map<number, string>) {
    this.#bytes = bytes;
    this.#starts = starts;
    this.#ends = ends;
    this.#unescaped = unescaped;
  }

  number(row: number): number {
    if (this.#unescaped.size > 0 && this.#unescaped.has(row)) return numberFromText(this.#unescaped.get(row)!);
    return parseNumber(this.#bytes, this.#starts[row]!, this.#ends[row]!);
  }

  boolean(row: number): number {
    if (this.#unescaped.size > 0 && this.#unescaped.has(row)) return booleanFromText(this.#unescaped.get(row)!);
    const b = this.#bytes;
    let s = this.#starts[row]!;
    let e = this.#ends[row]!;
    while (s < e && (b[s] === SPACE || b[s] === TAB)) s++;
    while (e > s && (b[e - 1] === SPACE || b[e - 1] === TAB)) e--;
    // ASCII letters | 0x20 are lower case.
    if (e - s === 4 && (b[s]! | 0x20) === 0x74 && (b[s + 1]! | 0x20) === 0x72 && (b[s + 2]! | 0x20) === 0x75 && (b[s + 3]! | 0x20) === 0x65) return 1;
    if (e - s === 5 && (b[s]! | 0x20) === 0x66 && (b[s + 1]! | 0x20) === 0x61 && (b[s + 2]! | 0x20) === 0x6c && (b[s + 3]! | 0x20) === 0x73 && (b[s + 4]! | 0x20) === 0x65) return 0;
    return -1;
  }

  isEmpty(row: number): boolean {
    if (this.#unescaped.size > 0 && this.#unescaped.has(row)) return this.#unescaped.get(row)!.trim() === '';
    const b = this.#bytes;
    for (let i = this.#starts[row]!, e = this.#ends[row]!; i < e; i++) if (b[i] !== SPACE && b[i] !== TAB) return false;
    return true;
  }

  category(row: number): string | null {
    if (this.#unescaped.size > 0 && this.#unescaped.has(row)) {
      const text = this.#unescaped.get(row)!.trim();
      return text === '' ? null : text;
    }
    const b = this.#bytes;
    let s = this.#starts[row]!;
    let e = this.#ends[row]!;
    while (s < e && (b[s] === SPACE || b[s] === TAB)) s++;
    while (e > s && (b[e - 1] === SPACE || b[e - 1] === TAB)) e--;
    if (s === e) return null;
    return (this.#interner ??= new ByteInterner(b)).intern(s, e);
  }

  numbers(out: Float64Array): void {
    const bytes = this.#bytes;
    const starts = this.#starts;
    const ends = this.#ends;
    for (let r = 0; r < out.length; r++) out[r] = parseNumber(bytes, starts[r]!, ends[r]!);
    for (const [row, text] of this.#unescaped) out[row] = numberFromText(text);
  }

  categories(out: (string | null)[]): void {
    const b = this.#bytes;
    const starts = this.#starts;
    const ends = this.#ends;
    const interner = (this.#interner ??= new ByteInterner(b));
    for (let r = 0; r < out.length; r++) {
      let s = starts[r]!;
      let e = ends[r]!;
      while (s < e && (b[s] === SPACE || b[s] === TAB)) s++;
      while (e > s && (b[e - 1] === SPACE || b[e - 1] === TAB)) e--;
      out[r] = s === e ? null : interner.intern(s, e);
    }
    for (const [row, text] of this.#unescaped) out[row] = text.trim() === '' ? null : text.trim();
  }

  text(row: number): string {
    return this.#unescaped.get(row) ?? this.#bytes.toString('utf8', this.#starts[row]!, this.#ends[row]!);
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function numberFromText(text: string): number {
  const cell = text.trim();
  if (!DECIMAL.test(cell)) return NaN;
  const value = Number(cell);
  return Number.isFinite(value) ? value : NaN;
}

function booleanFromText(text: string): number {
  const cell = text.trim().toLowerCase();
  return cell === 'true' ? 1 : cell === 'false' ? 0 : -1;
}

/**
 * `[+-]digits[.digits][e[+-]digits]` (or `.digits`), spaces and tabs around it, from bytes. Up to 15
 * significant digits and a decimal exponent within ±22, one exact multiply or divide gives the
 * correctly rounded double (Clinger's fast path); anything longer goes through `Number`.
 */
export function parseNumber(b: Uint8Array, s: number, e: number): number {
  while (s < e && (b[s] === SPACE || b[s] === TAB)) s++;
  while (e > s && (b[e - 1] === SPACE || b[e - 1] === TAB)) e--;
  if (s === e) return NaN;
  let i = s;
  let negative = false;
  let c = b[i]!;
  if (c === 45 || c === 43) {
    negative = c === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  let d: number;
  while (i < e && (d = b[i]! - 48) >= 0 && d <= 9) {
    mantissa = mantissa * 10 + d;
    digits++;
    i++;
  }
  if (i < e && b[i] === 46) {
    i++;
    while (i < e && (d = b[i]! - 48) >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      digits++;
      fraction++;
      i++;
    }
  }
  if (digits === 0) return NaN;
  let exponent = 0;
  if (i < e && (b[i] === 101 || b[i] === 69)) {
    i++;
    let negativeExponent = false;
    if (i < e && (b[i] === 45 || b[i] === 43)) {
      negativeExponent = b[i] === 45;
      i++;
    }
    let exponentDigits = 0;
    while (i < e && (d = b[i]! - 48) >= 0 && d <= 9) {
      if (exponent < 100000) exponent = exponent * 10 + d;
      exponentDigits++;
      i++;
    }
    if (exponentDigits === 0) return NaN;
    if (negativeExponent) exponent = -exponent;
  }
  if (i !== e) return NaN;
  let value: number;
  const scale = exponent - fraction;
  if (digits <= 15 && scale >= -22 && scale <= 22) value = scale >= 0 ? mantissa * POW10[scale]! : mantissa / POW10[-scale]!;
  else value = Math.abs(Number(latin1(b, s, e)));
  if (!Number.isFinite(value)) return NaN;
  return negative ? -value : value;
}

function latin1(b: Uint8Array, s: number, e: number): string {
  return Buffer.isBuffer(b) ? (b as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(s, e) : Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

/**
 * Interns the strings of byte ranges: an open-addressing table keyed by an FNV-1a hash of the bytes,
 * so the millionth "month-to-month" costs a hash and a compare, not a new string.
 */
class ByteInterner {
  readonly #bytes: Buffer;
  #slots: Int32Array = new Int32Array(64).fill(-1);
  #hashes: Int32Array = new Int32Array(64);
  #starts: number[] = [];
  #ends: number[] = [];
  #strings: string[] = [];

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  intern(s: number, e: number): string {
    const b = this.#bytes;
    let hash = 0x811c9dc5 | 0;
    for (let i = s; i < e; i++) hash = Math.imul(hash ^ b[i]!, 0x01000193);
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const entry = this.#slots[slot]!;
      if (entry < 0) break;
      if (this.#hashes[slot] === hash && this.#same(entry, s, e)) return this.#strings[entry]!;
      slot = (slot + 1) & mask;
    }
    const entry = this.#strings.length;
    const text = b.toString('utf8', s, e);
    this.#strings.push(text);
    this.#starts.push(s);
    this.#ends.push(e);
    this.#slots[slot] = entry;
    this.#hashes[slot] = hash;
    if (this.#strings.length * 2 > this.#slots.length) this.#rehash();
    return text;
  }

  #same(entry: number, s: number, e: number): boolean {
    const es = this.#starts[entry]!;
    if (this.#ends[entry]! - es !== e - s) return false;
    const b = this.#bytes;
    for (let i = 0; i < e - s; i++) if (b[es + i] !== b[s + i]) return false;
    return true;
  }

  #rehash(): void {
    const size = this.#slots.length * 2;
    const slots = new Int32Array(size).fill(-1);
    const hashes = new Int32Array(size);
    for (let old = 0; old < this.#slots.length; old++) {
      const entry = this.#slots[old]!;
      if (entry < 0) continue;
      let slot = this.#hashes[old]! & (size - 1);
      while (slots[slot]! >= 0) slot = (slot + 1) & (size - 1);
      slots[slot] = entry;
      hashes[slot] = this.#hashes[old]!;
    }
    this.#slots = slots;
    this.#hashes = hashes;
  }
}
