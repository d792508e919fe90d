// hyparquet's public reader is async (it fetches byte ranges); drops are already in memory, so
// `parquet.ts` drives its synchronous column decoder directly. These are the parts it uses.
declare module 'hyparquet/src/column.js' {
  export function readColumn(
    reader: { view: DataView; offset: number },
    rowGroupSelect: { groupStart: number; selectStart: number; selectEnd: number; groupRows: number },
    columnDecoder: Record<string, unknown>,
  ): { data: ArrayLike<unknown>[]; skipped: number };
}
declare module 'hyparquet/src/schema.js' {
  export function getTreePath(tree: unknown, name: string[]): { element: unknown }[];
  export function isFlatColumn(schemaPath: unknown[]): boolean;
}
declare module 'hyparquet/src/convert.js' {
  export const DEFAULT_PARSERS: Record<string, unknown>;
}
