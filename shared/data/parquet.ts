import { parquetMetadata, parquetSchema } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { readColumn } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { getTreePath, isFlatColumn } from 'hyparquet/src/schema.js';
import { ensureError, ModelloopError } from '../platform/errors';
import { ValueColumn, type DropTable } from './drop-table';

/** Rows one column's typed array can hold. */
const MAX_ROWS = 2 ** 31 - 1;

/**
 * Reads a Parquet drop (any codec hyparquet-compressors decodes: snappy, gzip, zstd, brotli, lz4)
 * column chunk by column chunk into typed columns. Only flat columns are read; a nested column
 * (list, map, struct) is refused by name. Rows are numbered from 1 in reports.
 */
export function parseParquet(bytes: Uint8Array, file = 'the file'): DropTable {
  let metadata;
  let tree;
  try {
    metadata = parquetMetadata(bytes);
    // A damaged footer can decode into a schema list that does not hold together; hyparquet then
    // throws a TypeError while building the tree, which is the same "not readable" for the user.
    tree = parquetSchema(metadata);
  } catch (err) {
    throw new ModelloopError('UnsupportedFormat', `${file} is not a readable Parquet file: ${ensureError(err).message}.`);
  }
  const rowCount = Number(metadata.num_rows);
  // A damaged footer can claim any row count: it must be a count the row groups add up to.
  const groupRowTotal = metadata.row_groups.reduce((sum, group) => sum + Number(group.num_rows), 0);
  if (!Number.isSafeInteger(rowCount) || rowCount < 0 || rowCount > MAX_ROWS || groupRowTotal !== rowCount || metadata.row_groups.some((group) => Number(group.num_rows) < 0)) {
    throw new ModelloopError('UnsupportedFormat', `${file} is not a readable Parquet file: its footer says ${String(metadata.num_rows)} rows, which its row groups (${groupRowTotal}) do not add up to or no drop can hold.`);
  }
  const header = tree.children.map((child) => child.element.name);
  const nested = tree.children.filter((child) => child.children.length > 0).map((child) => child.element.name);
  if (nested.length) {
    throw new ModelloopError('UnsupportedFormat', `${file}: column${nested.length > 1 ? 's' : ''} ${nested.map((c) => `"${c}"`).join(', ')} ${nested.length > 1 ? 'are' : 'is'} nested (list, map or struct); drops must have flat columns.`);
  }
  const columns = header.map(() => new ValueColumn(rowCount));
  const index = new Map(header.map((name, i) => [name, i]));
  let groupStart = 0;
  try {
    for (const group of metadata.row_groups) {
      const groupRows = Number(group.num_rows);
      for (const chunk of group.columns) {
        const meta = chunk.meta_data;
        if (!meta) continue;
        const column = columns[index.get(meta.path_in_schema[0]!) ?? -1];
        if (!column) continue;
        const schemaPath = getTreePath(tree, meta.path_in_schema);
        if (!isFlatColumn(schemaPath)) continue;
        const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
        const end = start + Number(meta.total_compressed_size);
        if (start < 0 || end > bytes.byteLength) throw new Error(`column "${meta.path_in_schema.join('.')}" points outside the file`);
        const reader = forwardOnlyReader(new DataView(bytes.buffer, bytes.byteOffset + start, end - start), file);
        const decoder = {
          pathInSchema: meta.path_in_schema,
          element: schemaPath[schemaPath.length - 1]!.element,
          schemaPath,
          compressors,
          utf8: true,
          ...meta,
          parsers: DEFAULT_PARSERS,
        };
        const { data } = readColumn(reader, { groupStart, selectStart: 0, selectEnd: groupRows, groupRows }, decoder);
        let row = groupStart;
        for (const page of data) {
          for (let i = 0; i < page.length && row < groupStart + groupRows; i++) column.set(row++, page[i]);
        }
      }
      groupStart += groupRows;
    }
  } catch (err) {
    if (err instanceof ModelloopError) throw err;
    throw new ModelloopError('UnsupportedFormat', `${file} is not a readable Parquet file: ${ensureError(err).message}.`);
  }
  const lines = new Int32Array(rowCount);
  for (let i = 0; i < rowCount; i++) lines[i] = i + 1;
  return { header, rowCount, lines, columns };
}

/**
 * hyparquet's reader cursor, refusing to move backwards or past the chunk: a damaged page size in
 * a page header would otherwise send the page loop round forever.
 */
function forwardOnlyReader(view: DataView, file: string): { view: DataView; offset: number } {
  let offset = 0;
  return {
    view,
    get offset() {
      return offset;
    },
    set offset(next: number) {
      if (!(next >= offset) || next > view.byteLength + 1) {
        throw new ModelloopError('UnsupportedFormat', `${file} is not a readable Parquet file: a page header points ${next < offset ? 'backwards' : 'past the end of its column chunk'}.`);
      }
      offset = next;
    },
  };
}
