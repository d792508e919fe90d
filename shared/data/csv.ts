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

/** A record (or the header) longer than this is refused: it is almost always an unclosed quote, and a streamed drop would otherwise buffer the rest of the file. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * Parses RFC 4180 CSV (quoted fields with commas, quotes and newlines; CRLF, LF or CR; UTF-8 BOM)
 * straight from bytes into typed columns. The first row is the header; empty lines are skipped. A
 * quote inside an unquoted field is kept as data. Throws `UnsupportedFormat` naming the line of a
 * malformed row, `SchemaViolation` for a missing or bad header.
 */
export function parseCsv(input: Uint8Array, file = 'the file'): DropTable {
  const reader = new CsvReader(file, input.byteLength);
  // In slices, as a stream arrives: the parser's working set stays in cache (measured faster than one push).
  for (let start = 0; start < input.byteLength; start += SLICE_BYTES) reader.push(input.subarray(start, Math.min(input.byteLength, start + SLICE_BYTES)));
  return reader.end();
}

const SLICE_BYTES = 4 * 2 ** 20;

/**
 * Reads CSV chunk by chunk (a blob download, a file stream) into growable typed column buffers:
 * a kind byte per cell, a Float64Array of numbers and an Int32Array of dictionary ids only where a
 * column has such cells. Nothing keeps the file's bytes, so memory is the column data, not the file.
 * A record cut by a chunk boundary is parsed again, whole, with the next chunk.
 */
export class CsvReader {
  readonly #file: string;
  readonly #sizeHint: number;
  #carry: Buffer | undefined;
  /** Bytes of the stream before the current buffer (BOM included). */
  #offset = 0;
  #started = false;
  #line = 1;
  #header: string[] | undefined;
  #columns: CsvColumn[] = [];
  #lines: Int32Array = new Int32Array(0);
  #rows = 0;
  #capacity = 0;

  /** `sizeHint`: the stream's length if known, to size the column buffers once instead of doubling them. */
  constructor(file = 'the file', sizeHint = 0) {
    this.#file = file;
    this.#sizeHint = sizeHint;
  }

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    let bytes = toBuffer(chunk);
    if (this.#carry) bytes = Buffer.concat([this.#carry, bytes]);
    this.#carry = undefined;
    const used = this.#parse(bytes, false);
    if (used < bytes.length) {
      if (bytes.length - used > MAX_RECORD_BYTES) {
        throw new ModelloopError('UnsupportedFormat', `${this.#file} is not valid CSV at line ${this.#line}: a record is longer than ${MAX_RECORD_BYTES / 2 ** 20} MiB (is a quoted field never closed?).`, [
          { path: [this.#line], message: 'record too long' },
        ]);
      }
      this.#carry = Buffer.from(bytes.subarray(used));
    }
    this.#offset += used;
  }

  end(): DropTable {
    const rest = this.#carry ?? Buffer.alloc(0);
    this.#carry = undefined;
    this.#parse(rest, true);
    const header = this.#header;
    if (!header) throw new ModelloopError('SchemaViolation', `${this.#file} is empty: a header row naming the columns is required.`);
    return { header, rowCount: this.#rows, lines: this.#lines.subarray(0, this.#rows), columns: this.#columns };
  }

  /** Parses the complete records of `bytes`; returns how many bytes were used (the rest is an unfinished record). */
  #parse(bytes: Buffer, final: boolean): number {
    let p = 0;
    if (!this.#started) {
      if (bytes.length < 3 && !final) return 0;
      this.#started = true;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) p = 3;
    }
    if (!this.#header) {
      const after = this.#readHeader(bytes, p, final);
      if (after < 0) return final ? bytes.length : p;
      p = after;
    }
    return this.#records(bytes, p, final);
  }

  /** The header record, the slow, simple way; -1 when it is not complete in `bytes` yet. */
  #readHeader(bytes: Buffer, from: number, final: boolean): number {
    const n = bytes.length;
    let p = from;
    let line = this.#line;
    while (p < n && (bytes[p] === LF || bytes[p] === CR)) {
      if (bytes[p] === CR && p + 1 === n && !final) return -1;
      p += bytes[p] === CR && bytes[p + 1] === LF ? 2 : 1;
      line++;
    }
    if (p >= n) {
      if (final) throw new ModelloopError('SchemaViolation', `${this.#file} is empty: a header row naming the columns is required.`);
      return -1;
    }
    const header: string[] = [];
    const headerLine = line;
    for (;;) {
      const cell = readCell(bytes, p, this.#file, line, final);
      if (!cell) return -1;
      header.push(cell.text.trim());
      p = cell.end;
      line += cell.newlines;
      if (p < n && bytes[p] === COMMA) {
        p++;
        continue;
      }
      break;
    }
    if (p < n && bytes[p] === CR && p + 1 === n && !final) return -1;
    const seen = new Set<string>();
    header.forEach((name, index) => {
      if (!name) throw new ModelloopError('SchemaViolation', `${this.#file}: column ${index + 1} of the header (line ${headerLine}) has no name.`);
      if (seen.has(name)) throw new ModelloopError('SchemaViolation', `${this.#file}: the header names column "${name}" twice.`);
      seen.add(name);
    });
    // The record's line break is left for the record loop, which counts it like any other.
    this.#line = line;
    this.#header = header;
    this.#columns = header.map(() => new CsvColumn());
    this.#grow(1024, 0);
    return p;
  }

  #grow(capacity: number, rows: number): void {
    const lines = new Int32Array(capacity);
    lines.set(this.#lines.subarray(0, rows));
    this.#lines = lines;
    for (const column of this.#columns) column.grow(capacity, rows);
    this.#capacity = capacity;
  }

  /** Room for one more row: doubling, or at once to the estimate from the stream's known length. */
  #ensureRoom(rows: number, consumed: number): void {
    if (rows < this.#capacity) return;
    let capacity = this.#capacity * 2;
    if (this.#sizeHint > 0 && consumed > 0) capacity = Math.max(capacity, Math.ceil((rows * this.#sizeHint * 1.05) / consumed) + 16);
    this.#grow(capacity, rows);
  }

  // One pass over the bytes. Unquoted cells (the common case) cost one compare chain per byte to find
  // their end and one more pass to read them as a number or look them up in the column's dictionary;
  // quoted ones jump from quote to quote with native indexOf. A record that reaches the end of a
  // non-final buffer is undone (its cells are rewritten when it is parsed again) and left to carry.
  #records(bytes: Buffer, from: number, final: boolean): number {
    const n = bytes.length;
    const file = this.#file;
    const header = this.#header!;
    const columns = this.#columns;
    const width = columns.length;
    let rows = this.#rows;
    let line = this.#line;
    let lines = this.#lines;
    let capacity = this.#capacity;
    let p = from;
    while (p < n) {
      let c = bytes[p]!;
      if (c === LF) {
        p++;
        line++;
        continue;
      }
      if (c === CR) {
        if (p + 1 === n && !final) break;
        p += bytes[p + 1] === LF ? 2 : 1;
        line++;
        continue;
      }
      const recordStart = p;
      const rowLine = line;
      if (rows === capacity) {
        this.#ensureRoom(rows, this.#offset + p);
        lines = this.#lines;
        capacity = this.#capacity;
      }
      lines[rows] = rowLine;
      let column = 0;
      let complete = true;
      for (;;) {
        if (column === width) throw fieldCountError(file, rowLine, width, width + 1);
        const target = columns[column]!;
        if (bytes[p] === QUOTE) {
          const start = p + 1;
          let q = start;
          let escaped = false;
          for (;;) {
            q = bytes.indexOf(QUOTE, q);
            if (q < 0 || (q + 1 === n && !final)) break;
            if (bytes[q + 1] === QUOTE) {
              escaped = true;
              q += 2;
            } else break;
          }
          if (q < 0 || (q + 1 === n && !final)) {
            if (!final) {
              complete = false;
              break;
            }
            throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${rowLine}: a quoted field is never closed.`, [{ path: [rowLine, header[column]!], message: 'unclosed quote' }]);
          }
          line += countLines(bytes, start, q);
          p = q + 1;
          if (p < n) {
            c = bytes[p]!;
            if (c !== COMMA && c !== LF && c !== CR) {
              throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: "${String.fromCharCode(c)}" follows the closing quote of field "${header[column]}"; a quoted field must end at a comma or line break.`, [
                { path: [line, header[column]!], message: 'text after closing quote' },
              ]);
            }
          }
          if (escaped) {
            const text = Buffer.from(bytes.toString('utf8', start, q).replaceAll('""', '"'), 'utf8');
            target.put(rows, text, 0, text.length);
          } else target.put(rows, bytes, start, q);
        } else {
          // The common case in one pass: a plain decimal (the shape whose text toFixed gives back)
          // is read while its end is found. Anything else goes on to the end of the field and `put`.
          const start = p;
          let i = p;
          const negative = i < n && bytes[i] === 45;
          if (negative) i++;
          const integerStart = i;
          let mantissa = 0;
          let d = 0;
          // `>>> 0` turns "below '0'" into a large number: one unsigned compare per digit.
          while (i < n && (d = (bytes[i]! - 48) >>> 0) <= 9) {
            mantissa = mantissa * 10 + d;
            i++;
          }
          const integerDigits = i - integerStart;
          let fraction = 0;
          if (i < n && bytes[i] === 46 && integerDigits > 0) {
            const fractionStart = ++i;
            while (i < n && (d = (bytes[i]! - 48) >>> 0) <= 9) {
              mantissa = mantissa * 10 + d;
              i++;
            }
            fraction = i - fractionStart || -1;
          }
          c = i < n ? bytes[i]! : -1;
          if (
            (i < n ? c === COMMA || c === LF || c === CR : final) &&
            integerDigits > 0 &&
            fraction >= 0 &&
            integerDigits + fraction <= 15 &&
            (integerDigits === 1 || bytes[integerStart] !== 48) &&
            !(negative && mantissa === 0)
          ) {
            const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
            target.putNumber(rows, negative ? -value : value, fraction);
            p = i;
          } else {
            // The rest of the field, hashed on the way for the dictionary.
            let hash = FNV_OFFSET;
            for (let k = start; k < i; k++) hash = Math.imul(hash ^ bytes[k]!, FNV_PRIME);
            p = i;
            while (p < n) {
              c = bytes[p]!;
              if (c === COMMA || c === LF || c === CR) break;
              hash = Math.imul(hash ^ c, FNV_PRIME);
              p++;
            }
            if (p === n && !final) {
              complete = false;
              break;
            }
            target.put(rows, bytes, start, p, hash);
          }
        }
        column++;
        if (p < n && bytes[p] === COMMA) {
          p++;
          if (p === n && !final) {
            complete = false;
            break;
          }
          continue;
        }
        break;
      }
      if (!complete) {
        p = recordStart;
        line = rowLine;
        break;
      }
      if (column !== width) throw fieldCountError(file, rowLine, width, column);
      rows++;
    }
    this.#rows = rows;
    this.#line = line;
    return p;
  }
}

function toBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

function fieldCountError(file: string, line: number, expected: number, received: number): ModelloopError {
  const more = received > expected ? `more than ${expected}` : `${received}`;
  return new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: the row has ${more} fields, the header has ${expected}.`, [
    { path: [line], message: 'wrong number of fields', expected: String(expected), received: String(received) },
  ]);
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

/** One field for the header: its text, where it ends, and the line breaks inside it; undefined when it may continue past `bytes`. */
function readCell(bytes: Buffer, p: number, file: string, line: number, final: boolean): { text: string; end: number; newlines: number } | undefined {
  const n = bytes.length;
  if (bytes[p] !== QUOTE) {
    let q = p;
    while (q < n && bytes[q] !== COMMA && bytes[q] !== LF && bytes[q] !== CR) q++;
    if (q === n && !final) return undefined;
    return { text: bytes.toString('utf8', p, q), end: q, newlines: 0 };
  }
  let q = p + 1;
  for (;;) {
    q = bytes.indexOf(QUOTE, q);
    if (q < 0 || (q + 1 === n && !final)) {
      if (!final) return undefined;
      throw new ModelloopError('UnsupportedFormat', `${file} is not valid CSV at line ${line}: a quoted header field is never closed.`);
    }
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

/** Cell kinds of a `CsvColumn`: 0..MAX_FIXED are numbers written with that many decimals. */
const MAX_FIXED = 20;
/** A number whose text is what `String` makes of it (long decimals, as Python and JS print doubles). */
const SHORTEST = 21;
/** Anything else non-empty: text in the column's dictionary. */
const TEXT = 22;
const EMPTY = -1;

/** Set by `readNumber`: the kind a numeric cell is stored as. */
let numberKind = TEXT;

/**
 * `parseNumber`, and whether the cell's text can be rebuilt from the number: `-?(0|[1-9]d*)(.d+)?`
 * with at most 15 digits is exactly `value.toFixed(decimals)`; longer ones are kept as numbers when
 * `String(value)` gives them back. Anything else (spaces, `+`, leading zeros, exponents, `-0`) keeps its text.
 */
function readNumber(b: Uint8Array, s: number, e: number): number {
  let i = s;
  let negative = false;
  let c = b[i]!;
  if (c === 45) {
    negative = true;
    i++;
  } else if (c === 43) {
    numberKind = TEXT;
    return parseNumber(b, s, e);
  }
  let mantissa = 0;
  let digits = 0;
  let d: number;
  const integerStart = i;
  while (i < e && (d = b[i]! - 48) >= 0 && d <= 9) {
    mantissa = mantissa * 10 + d;
    digits++;
    i++;
  }
  const integerDigits = digits;
  let fraction = 0;
  if (i < e && b[i] === 46) {
    i++;
    while (i < e && (d = b[i]! - 48) >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      digits++;
      fraction++;
      i++;
    }
  }
  // Not the canonical shape (exponent, spaces, ".5", "5.", "007"): the general parser, text kept.
  if (i !== e || integerDigits === 0 || (fraction === 0 && b[e - 1] === 46) || (integerDigits > 1 && b[integerStart] === 48)) {
    numberKind = TEXT;
    return parseNumber(b, s, e);
  }
  if (digits <= 15) {
    if (negative && mantissa === 0) {
      numberKind = TEXT;
      return -0;
    }
    numberKind = fraction <= MAX_FIXED ? fraction : TEXT;
    const value = fraction === 0 ? mantissa : mantissa / POW10[fraction]!;
    return negative ? -value : value;
  }
  const text = latin1(b, s, e);
  const value = Number(text);
  if (!Number.isFinite(value)) {
    numberKind = TEXT;
    return NaN;
  }
  numberKind = String(value) === text ? SHORTEST : TEXT;
  return value;
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
  const c = b[i]!;
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
 * A CSV column as typed buffers: a kind per cell (empty, a number with its decimals, or text), the
 * numbers in a Float64Array and text as ids into the column's dictionary, each array made only once
 * the column has such a cell. Text comes back from the number where the number says it exactly.
 */
class CsvColumn implements DropColumn {
  kinds: Int8Array = new Int8Array(0);
  values: Float64Array | undefined;
  ids: Int32Array | undefined;
  readonly dictionary = new ByteDictionary();
  #numericCategories: Map<number, string> | undefined;

  grow(capacity: number, rows: number): void {
    const kinds = new Int8Array(capacity);
    kinds.set(this.kinds.subarray(0, rows));
    this.kinds = kinds;
    if (this.values) {
      // Every row from here on is written (a number or NaN), so only the copied rows need values.
      const values = new Float64Array(capacity);
      values.set(this.values.subarray(0, rows));
      this.values = values;
    }
    if (this.ids) {
      const ids = new Int32Array(capacity);
      ids.set(this.ids.subarray(0, rows));
      this.ids = ids;
    }
  }

  /** Stores the cell `b[s, e)` (a field's bytes, quotes and escapes already removed) as row `row`; `hash` is `hashOf(b, s, e)` if known. */
  put(row: number, b: Uint8Array, s: number, e: number, hash = hashOf(b, s, e)): void {
    if (s === e) {
      this.kinds[row] = EMPTY;
      if (this.values) this.values[row] = NaN;
      return;
    }
    // Only text that starts like a number (after spaces) is read as one.
    const first = b[s]!;
    const value = (first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46 || first === SPACE || first === TAB ? readNumber(b, s, e) : NaN;
    if (value === value) {
      (this.values ??= new Float64Array(this.kinds.length).fill(NaN, 0, row))[row] = value;
      if (numberKind !== TEXT) {
        this.kinds[row] = numberKind;
        return;
      }
    } else if (this.values) this.values[row] = NaN;
    this.kinds[row] = TEXT;
    (this.ids ??= new Int32Array(this.kinds.length))[row] = this.dictionary.intern(b, s, e, hash);
  }

  /** Stores a number whose text is `value.toFixed(decimals)`. */
  putNumber(row: number, value: number, decimals: number): void {
    (this.values ??= new Float64Array(this.kinds.length).fill(NaN, 0, row))[row] = value;
    this.kinds[row] = decimals;
  }

  number(row: number): number {
    return this.values ? this.values[row]! : NaN;
  }

  boolean(row: number): number {
    return this.kinds[row] === TEXT ? this.dictionary.booleans[this.ids![row]!]! : -1;
  }

  isEmpty(row: number): boolean {
    const kind = this.kinds[row]!;
    return kind === EMPTY || (kind === TEXT && this.dictionary.categories[this.ids![row]!] === null);
  }

  category(row: number): string | null {
    const kind = this.kinds[row]!;
    if (kind === TEXT) return this.dictionary.categories[this.ids![row]!]!;
    if (kind === EMPTY) return null;
    // A number: its text, one string per value.
    const value = this.values![row]!;
    const map = (this.#numericCategories ??= new Map());
    let text = map.get(value);
    if (text === undefined) map.set(value, (text = this.text(row)));
    return text;
  }

  numbers(out: Float64Array): void {
    if (this.values) out.set(this.values.subarray(0, out.length));
    else out.fill(NaN);
  }

  categories(out: (string | null)[]): void {
    const kinds = this.kinds;
    const ids = this.ids;
    const categories = this.dictionary.categories;
    for (let r = 0; r < out.length; r++) {
      const kind = kinds[r]!;
      out[r] = kind === TEXT ? categories[ids![r]!]! : kind === EMPTY ? null : this.category(r);
    }
  }

  categoryCodes(codes: Int32Array): string[] {
    const names: string[] = [];
    const index = new Map<string, number>();
    const codeOf = (name: string | null): number => {
      if (name === null) return -1;
      let code = index.get(name);
      if (code === undefined) {
        code = names.length;
        index.set(name, code);
        names.push(name);
      }
      return code;
    };
    // One lookup per dictionary entry; per cell, an Int32Array read.
    const entryCodes = Int32Array.from(this.dictionary.categories, codeOf);
    const kinds = this.kinds;
    const ids = this.ids;
    for (let r = 0; r < codes.length; r++) {
      const kind = kinds[r]!;
      codes[r] = kind === TEXT ? entryCodes[ids![r]!]! : kind === EMPTY ? -1 : codeOf(this.category(r));
    }
    return names;
  }

  text(row: number): string {
    const kind = this.kinds[row]!;
    if (kind === TEXT) return this.dictionary.texts[this.ids![row]!]!;
    if (kind === EMPTY) return '';
    const value = this.values![row]!;
    return kind === SHORTEST ? String(value) : value.toFixed(kind);
  }
}

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** FNV-1a of a byte range: the dictionary's key hash. */
function hashOf(b: Uint8Array, s: number, e: number): number {
  let hash = FNV_OFFSET;
  for (let i = s; i < e; i++) hash = Math.imul(hash ^ b[i]!, FNV_PRIME);
  return hash;
}

/**
 * The distinct texts of a column, keyed by their bytes: an open-addressing table on an FNV-1a hash,
 * so the millionth "month-to-month" costs a hash and a compare, not a new string. Keeps its own
 * copy of each key's bytes, so the chunk it came from can go.
 */
class ByteDictionary {
  /** Open addressing, four Int32s per slot (entry or -1, hash, key start, key length): one probe reads one cache line. */
  #table: Int32Array = ByteDictionary.#empty(64);
  #size = 64;
  #keys: Uint8Array = new Uint8Array(256);
  #keyBytes = 0;
  readonly texts: string[] = [];
  /** Trimmed text, one string object per value; null when the text is only spaces. */
  readonly categories: (string | null)[] = [];
  /** 1 true, 0 false, -1 neither (case-insensitive, trimmed). */
  readonly booleans: number[] = [];
  readonly #trimmed = new Map<string, string>();

  static #empty(size: number): Int32Array {
    const table = new Int32Array(size * 4);
    for (let i = 0; i < table.length; i += 4) table[i] = -1;
    return table;
  }

  /** The entry of `b[s, e)`, whose `hashOf` is `hash`, added if new. */
  intern(b: Uint8Array, s: number, e: number, hash: number): number {
    const table = this.#table;
    const keys = this.#keys;
    const length = e - s;
    const mask = this.#size - 1;
    let slot = hash & mask;
    for (;;) {
      const at = slot << 2;
      const entry = table[at]!;
      if (entry < 0) break;
      if (table[at + 1] === hash && table[at + 3] === length) {
        const start = table[at + 2]! - s;
        let i = s;
        while (i < e && keys[start + i] === b[i]) i++;
        if (i === e) return entry;
      }
      slot = (slot + 1) & mask;
    }
    const entry = this.texts.length;
    const at = slot << 2;
    table[at] = entry;
    table[at + 1] = hash;
    table[at + 2] = this.#keyBytes;
    table[at + 3] = length;
    this.#add(b, s, e);
    if (this.texts.length * 2 > this.#size) this.#rehash();
    return entry;
  }

  #add(b: Uint8Array, s: number, e: number): void {
    const length = e - s;
    if (this.#keyBytes + length > this.#keys.length) {
      const keys = new Uint8Array(Math.max(this.#keys.length * 2, this.#keyBytes + length));
      keys.set(this.#keys.subarray(0, this.#keyBytes));
      this.#keys = keys;
    }
    this.#keys.set(b.subarray(s, e), this.#keyBytes);
    this.#keyBytes += length;
    const text = Buffer.from(b.buffer, b.byteOffset + s, length).toString('utf8');
    const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, '');
    let category: string | null = null;
    if (trimmed !== '') {
      category = this.#trimmed.get(trimmed) ?? trimmed;
      this.#trimmed.set(trimmed, category);
    }
    const lower = trimmed.toLowerCase();
    this.texts.push(text);
    this.categories.push(category);
    this.booleans.push(lower === 'true' ? 1 : lower === 'false' ? 0 : -1);
  }

  #rehash(): void {
    const size = this.#size * 2;
    const table = ByteDictionary.#empty(size);
    const old = this.#table;
    for (let at = 0; at < old.length; at += 4) {
      if (old[at]! < 0) continue;
      let slot = old[at + 1]! & (size - 1);
      while (table[slot << 2]! >= 0) slot = (slot + 1) & (size - 1);
      table.set(old.subarray(at, at + 4), slot << 2);
    }
    this.#table = table;
    this.#size = size;
  }
}
