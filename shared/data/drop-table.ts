/**
 * A drop read into columns, whatever its format: the header, the row count, where each row is in
 * the file, and one `DropColumn` per header name. Cells stay in their source form (byte ranges of a
 * CSV, decoded values of JSON Lines or Parquet) until the data contract asks for a type, so reading
 * makes no object per row and no string per number.
 */
export interface DropTable {
  readonly header: readonly string[];
  readonly rowCount: number;
  /** 1-based line in the file where row i starts (CSV, JSON Lines), or its 1-based row number (Parquet). */
  readonly lines: Int32Array;
  readonly columns: readonly DropColumn[];
}

/** One column of a drop, read cell by cell in the type the data contract asks for. */
export interface DropColumn {
  /** The cell as a finite number; NaN when it is empty or not a number. */
  number(row: number): number;
  /** 1 for true, 0 for false, -1 for anything else (case-insensitive `true`/`false` in text). */
  boolean(row: number): number;
  /** Empty text (after trimming), JSON null or a missing key, a Parquet null. */
  isEmpty(row: number): boolean;
  /** The cell as a category value: trimmed text, the same string object for the same value; null when empty. */
  category(row: number): string | null;
  /** The cell as a person reads it in the file, for reports. */
  text(row: number): string;
  /** `number(r)` for every row into `out`, in one tight loop. */
  numbers(out: Float64Array): void;
  /** `category(r)` for every row into `out`, in one tight loop. */
  categories(out: (string | null)[]): void;
  /**
   * Every row's category as an index into the returned distinct values (-1 when empty), so checks
   * and counts run once per distinct value and per cell only on an Int32Array.
   */
  categoryCodes?(codes: Int32Array): string[];
}

/** `categoryCodes` for any column, one Map lookup per cell: for columns without a dictionary of their own. */
export function codesOf(column: DropColumn, codes: Int32Array): string[] {
  const names: string[] = [];
  const index = new Map<string, number>();
  for (let r = 0; r < codes.length; r++) {
    const name = column.category(r);
    if (name === null) {
      codes[r] = -1;
      continue;
    }
    let code = index.get(name);
    if (code === undefined) {
      code = names.length;
      index.set(name, code);
      names.push(name);
    }
    codes[r] = code;
  }
  return names;
}

/** Cell kinds of a `ValueColumn`. */
const EMPTY = 0;
const NUMBER = 1;
const TEXT = 2;
const BOOLEAN = 3;
const OTHER = 4;

/**
 * A column of decoded values (JSON Lines, Parquet): kinds in a byte array, numbers and booleans in a
 * Float64Array, strings only for the cells that are strings.
 */
export class ValueColumn implements DropColumn {
  #kinds: Uint8Array;
  #numbers: Float64Array;
  #strings: (string | undefined)[] | undefined;
  #interned = new Map<string, string>();

  constructor(capacity: number) {
    this.#kinds = new Uint8Array(capacity);
    this.#numbers = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.#kinds.length;
  }

  grow(capacity: number): void {
    const kinds = new Uint8Array(capacity);
    kinds.set(this.#kinds);
    const numbers = new Float64Array(capacity);
    numbers.set(this.#numbers);
    this.#kinds = kinds;
    this.#numbers = numbers;
  }

  /** Stores a decoded value: number, bigint, boolean, string, null/undefined, or anything else as JSON text. */
  set(row: number, value: unknown): void {
    switch (typeof value) {
      case 'number':
        if (Number.isFinite(value)) {
          this.#kinds[row] = NUMBER;
          this.#numbers[row] = value;
        } else if (Number.isNaN(value)) this.#kinds[row] = EMPTY;
        else this.#setText(row, OTHER, String(value));
        return;
      case 'bigint': {
        const n = Number(value);
        if (Number.isSafeInteger(n)) {
          this.#kinds[row] = NUMBER;
          this.#numbers[row] = n;
        } else this.#setText(row, OTHER, value.toString());
        return;
      }
      case 'boolean':
        this.#kinds[row] = BOOLEAN;
        this.#numbers[row] = value ? 1 : 0;
        return;
      case 'string':
        this.#setText(row, TEXT, value);
        return;
      case 'undefined':
        this.#kinds[row] = EMPTY;
        return;
      default:
        if (value === null) this.#kinds[row] = EMPTY;
        else if (value instanceof Date) this.#setText(row, OTHER, value.toISOString());
        else if (value instanceof Uint8Array) this.#setText(row, OTHER, Buffer.from(value).toString('base64'));
        else this.#setText(row, OTHER, safeJson(value));
    }
  }

  #setText(row: number, kind: number, text: string): void {
    this.#kinds[row] = kind;
    (this.#strings ??= [])[row] = text;
  }

  number(row: number): number {
    return this.#kinds[row] === NUMBER ? this.#numbers[row]! : NaN;
  }

  boolean(row: number): number {
    return this.#kinds[row] === BOOLEAN ? this.#numbers[row]! : -1;
  }

  isEmpty(row: number): boolean {
    const kind = this.#kinds[row];
    return kind === EMPTY || (kind === TEXT && this.#strings![row]!.trim() === '');
  }

  category(row: number): string | null {
    switch (this.#kinds[row]) {
      case TEXT: {
        const value = this.#strings![row]!.trim();
        if (value === '') return null;
        let interned = this.#interned.get(value);
        if (interned === undefined) this.#interned.set(value, (interned = value));
        return interned;
      }
      case NUMBER:
      case BOOLEAN:
      case OTHER:
        return this.text(row);
      default:
        return null;
    }
  }

  numbers(out: Float64Array): void {
    const kinds = this.#kinds;
    const numbers = this.#numbers;
    for (let r = 0; r < out.length; r++) out[r] = kinds[r] === NUMBER ? numbers[r]! : NaN;
  }

  categories(out: (string | null)[]): void {
    for (let r = 0; r < out.length; r++) out[r] = this.category(r);
  }

  text(row: number): string {
    switch (this.#kinds[row]) {
      case NUMBER:
        return String(this.#numbers[row]);
      case BOOLEAN:
        return this.#numbers[row] ? 'true' : 'false';
      case TEXT:
      case OTHER:
        return this.#strings![row]!;
      default:
        return '';
    }
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Every cell of a table as the text a person reads in the file, row by row: for tests and small tables. */
export function tableRows(table: DropTable): string[][] {
  return Array.from({ length: table.rowCount }, (_, r) => table.columns.map((column) => column.text(r)));
}
