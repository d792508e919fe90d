import { createHash } from 'node:crypto';
import { ModelloopError } from '../platform/errors';
import { CsvReader, parseCsv } from './csv';
import type { DropTable } from './drop-table';
import { JsonLinesReader, parseJsonLines } from './jsonl';
import { parseParquet } from './parquet';
import type { DropReport } from './drop-report';

const FORMATS: Record<string, DropReport['fileFormat']> = { '.csv': 'csv', '.jsonl': 'jsonl', '.parquet': 'parquet' };

/** The drop format a file name says, by its extension. */
export function formatOf(file: string): DropReport['fileFormat'] | undefined {
  const dot = file.lastIndexOf('.');
  return dot < 0 ? undefined : FORMATS[file.slice(dot).toLowerCase()];
}

/**
 * Reads a drop's bytes into a table by its file format: the one entry point that validation
 * (`ingest-drop.ts`) and training (`train-model.ts`) both read drops through.
 */
export function readDrop(bytes: Uint8Array, file: string): DropTable {
  const format = formatOf(file);
  switch (format) {
    case 'csv':
      return parseCsv(bytes, file);
    case 'jsonl':
      return parseJsonLines(bytes, file);
    case 'parquet':
      return parseParquet(bytes, file);
    default:
      throw new ModelloopError('UnsupportedFormat', `"${file}" is not a data file: name it .csv, .jsonl or .parquet.`);
  }
}

/** A drop read from a stream: its content hash and size always; its table unless it could not be read. */
export interface StreamedDrop {
  /** SHA-256 of the whole content, hex: the dataset id. */
  readonly datasetId: string;
  readonly bytes: number;
  /** The drop as columns; absent when `error` says why (unreadable, or over `maxBytes`). */
  readonly table?: DropTable;
  readonly error?: ModelloopError;
}

export interface StreamOptions {
  /** Stop parsing past this many bytes (the content is still hashed to the end): `PayloadTooLarge`. @default no limit */
  readonly maxBytes?: number;
  /** The content's length, if known: column buffers are sized once from it instead of doubling. */
  readonly sizeHint?: number;
}

/**
 * Reads a drop from a stream of chunks (a blob download, a file stream) in one pass: each chunk is
 * hashed for the dataset id and parsed into growable typed column buffers, so memory is the column
 * data, not the file. CSV and JSON Lines are parsed as the chunks arrive; Parquet keeps its footer
 * at the end of the file, so its chunks are gathered (up to `maxBytes`) and decoded whole. A drop
 * over `maxBytes` is hashed but not parsed; a drop that cannot be read is hashed to the end too, so
 * either way its report has the content's id.
 */
export async function readDropStream(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, file: string, options: StreamOptions = {}): Promise<StreamedDrop> {
  const format = formatOf(file);
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const hash = createHash('sha256');
  let bytes = 0;
  let error: ModelloopError | undefined = format ? undefined : new ModelloopError('UnsupportedFormat', `"${file}" is not a data file: name it .csv, .jsonl or .parquet.`);
  // A stream announced over the limit is only hashed; one that grows past it stops being parsed,
  // and what it had parsed is let go at once.
  if (!error && (options.sizeHint ?? 0) > max) error = tooLarge(options.sizeHint!, max);
  let reader: ChunkReader | undefined = error
    ? undefined
    : format === 'csv'
      ? new CsvReader(file, options.sizeHint)
      : format === 'jsonl'
        ? new JsonLinesReader(file)
        : new WholeFile(file);
  for await (const chunk of chunks) {
    hash.update(chunk);
    bytes += chunk.byteLength;
    if (!reader) continue;
    const current = reader;
    error = bytes > max ? tooLarge(bytes, max) : attempt(() => current.push(chunk));
    if (error) reader = undefined;
  }
  if (bytes > max) error = tooLarge(bytes, max);
  let table: DropTable | undefined;
  if (!error && reader) {
    const current = reader;
    error = attempt(() => void (table = current.end()));
  }
  return { datasetId: hash.digest('hex'), bytes, ...(table && !error ? { table } : {}), ...(error ? { error } : {}) };
}

interface ChunkReader {
  push(chunk: Uint8Array): void;
  end(): DropTable;
}

/** Parquet's reader: the chunks gathered, decoded at the end. */
class WholeFile implements ChunkReader {
  readonly #file: string;
  readonly #chunks: Buffer[] = [];

  constructor(file: string) {
    this.#file = file;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(Buffer.from(chunk));
  }

  end(): DropTable {
    const bytes = Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    return parseParquet(bytes, this.#file);
  }
}

/** A reader's ModelloopError as a value; anything else is a bug and is thrown. */
function attempt(read: () => void): ModelloopError | undefined {
  try {
    read();
    return undefined;
  } catch (err) {
    if (err instanceof ModelloopError) return err;
    throw err;
  }
}

/** The refusal of a drop over `MAX_DROP_BYTES`, in bytes and in units a person reads. */
export function tooLarge(bytes: number, max: number): ModelloopError {
  return new ModelloopError('PayloadTooLarge', `The drop is ${sizeText(bytes)}, over the limit of ${sizeText(max)} set by MAX_DROP_BYTES; split it into smaller drops or raise the setting.`);
}

function sizeText(bytes: number): string {
  if (bytes < 2 ** 20) return `${bytes} bytes`;
  const [unit, size] = bytes >= 2 ** 30 ? ['GiB', 2 ** 30] : ['MiB', 2 ** 20];
  return `${(bytes / size).toFixed(2)} ${unit} (${bytes} bytes)`;
}
