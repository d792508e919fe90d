import { z } from 'zod';
import { datasetDocumentId, type DatasetDocument } from '../registry/documents';
import { reportPath } from '../registry/manifest';

/**
 * `reports/{model}/{dataset-id}.json`: the verdict on one drop, written for every drop, accepted
 * or not. It is also the durable record the registry's dataset documents are rebuilt from.
 */
export const dropReportSchema = z
  .object({
    format: z.literal('modelloop.report/1'),
    model: z.string(),
    /** sha256 of the content, hex: the same bytes under any name are the same dataset. */
    datasetId: z.string(),
    files: z.array(z.string()).min(1),
    fileFormat: z.enum(['csv', 'jsonl', 'parquet']),
    bytes: z.number().int().min(0),
    status: z.enum(['accepted', 'rejected', 'pending']),
    /** One sentence a person can act on. */
    message: z.string(),
    /** Why a drop was not accepted, as an API error code: `SchemaViolation`, `UnsupportedFormat`, `PayloadTooLarge`, `ModelNotFound` (pending). */
    code: z.string().optional(),
    receivedAt: z.string(),
    checkedAt: z.string(),
    rowsRead: z.number().int().min(0),
    acceptedRows: z.number().int().min(0),
    rejectedRows: z.number().int().min(0),
    missingColumns: z.array(z.string()),
    extraColumns: z.array(z.string()),
    problems: z.array(
      z.object({ row: z.number().int(), column: z.string(), code: z.string(), expected: z.string(), received: z.string() }),
    ),
    problemTotals: z.record(z.string(), z.record(z.string(), z.number())),
    columns: z.record(z.string(), z.unknown()),
    /** Where the contract the drop was checked against came from. */
    contractSource: z.string().optional(),
  })
  .loose();

export type DropReport = z.infer<typeof dropReportSchema>;

export function datasetDocumentFromReport(report: DropReport): DatasetDocument {
  return {
    id: datasetDocumentId(report.datasetId),
    type: 'dataset',
    model: report.model,
    datasetId: report.datasetId,
    files: report.files,
    status: report.status,
    format: report.fileFormat,
    bytes: report.bytes,
    rowsRead: report.rowsRead,
    acceptedRows: report.acceptedRows,
    rejectedRows: report.rejectedRows,
    report: `reports/${reportPath(report.model, report.datasetId)}`,
    message: report.message,
    ...(report.code ? { code: report.code } : {}),
    receivedAt: report.receivedAt,
    missingColumns: report.missingColumns,
    extraColumns: report.extraColumns,
    problems: report.problems,
    problemTotals: report.problemTotals,
    columns: report.columns,
  };
}
