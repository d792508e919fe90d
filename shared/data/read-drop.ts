import { ModelloopError } from '../platform/errors';
import { parseCsv } from './csv';
import type { DropTable } from './drop-table';
import { parseJsonLines } from './jsonl';
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
