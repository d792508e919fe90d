import { StringDecoder } from 'node:string_decoder';
import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import type { InferenceLogLine } from './inference-log';

/** What a pass over the inference log read, for the evaluation to report. */
export interface LogReadSummary {
  blobs: number;
  lines: number;
  /** Lines that were not a JSON object with `time`, `version`, `inputs` and `outputs`; skipped. */
  malformed: number;
}

const DAY_MS = 86_400_000;
/**
 * Rows are buffered before they are written (INFERENCE_LOG_FLUSH_SECONDS), so a blob can be written
 * after the hour folder it is named by; folders are searched this far before the window.
 */
const MAX_WRITE_LAG_MS = DAY_MS;

/**
 * Every sampled row of one model whose blob was written in [from, to), read as a stream, in batches
 * of the rows one downloaded chunk holds. A window is defined by when rows reached the log, not when
 * they were scored, so rows still buffered when one evaluation runs are counted by the next, never
 * lost and never counted twice. Only the year, month and day folders that exist and can hold such
 * blobs are listed, and each blob is split into lines chunk by chunk: memory stays that of a chunk
 * whatever the window holds.
 */
export async function* readInferenceLog(blobs: BlobStore, model: string, from: Date, to: Date, summary?: LogReadSummary): AsyncGenerator<InferenceLogLine[]> {
  const start = from.getTime();
  const end = to.getTime();
  for (const prefix of await dayFolders(blobs, model, start - MAX_WRITE_LAG_MS, end)) {
    const listed = await blobs.list(CONTAINERS.inferenceLogs, prefix);
    listed.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const blob of listed) {
      const written = blob.lastModified.getTime();
      if (!(written >= start && written < end)) continue;
      const opened = await blobs.openRead(CONTAINERS.inferenceLogs, blob.name);
      if (!opened) continue;
      if (summary) summary.blobs++;
      const decoder = new StringDecoder('utf8');
      let carry = '';
      const parse = (texts: string[]): InferenceLogLine[] => {
        const lines: InferenceLogLine[] = [];
        for (const text of texts) {
          if (!text.trim()) continue;
          const line = parseLine(text);
          if (line) lines.push(line);
          else if (summary) summary.malformed++;
        }
        if (summary) summary.lines += lines.length;
        return lines;
      };
      for await (const chunk of opened.stream) {
        const texts = (carry + decoder.write(chunk as Buffer)).split('\n');
        carry = texts.pop()!;
        yield parse(texts);
      }
      yield parse([carry + decoder.end()]);
    }
  }
}

/** `{model}/{yyyy}/{mm}/{dd}/` folders overlapping [start, end), oldest first, found by descending the folders that exist. */
async function dayFolders(blobs: BlobStore, model: string, start: number, end: number): Promise<string[]> {
  const out: string[] = [];
  const overlaps = (from: number, to: number): boolean => from < end && to > start;
  const numbered = async (prefix: string): Promise<{ prefix: string; n: number }[]> =>
    (await blobs.listFolders(CONTAINERS.inferenceLogs, prefix))
      .map((folder) => ({ prefix: folder, n: Number(folder.slice(prefix.length, -1)) }))
      .filter((f) => Number.isInteger(f.n))
      .sort((a, b) => a.n - b.n);
  for (const year of await numbered(`${model}/`)) {
    if (!overlaps(Date.UTC(year.n, 0, 1), Date.UTC(year.n + 1, 0, 1))) continue;
    for (const month of await numbered(year.prefix)) {
      if (!overlaps(Date.UTC(year.n, month.n - 1, 1), Date.UTC(year.n, month.n, 1))) continue;
      for (const day of await numbered(month.prefix)) {
        const dayStart = Date.UTC(year.n, month.n - 1, day.n);
        if (overlaps(dayStart, dayStart + DAY_MS)) out.push(day.prefix);
      }
    }
  }
  return out;
}

function parseLine(text: string): InferenceLogLine | undefined {
  try {
    const value = JSON.parse(text) as Partial<InferenceLogLine> | null;
    if (!value || typeof value !== 'object' || typeof value.time !== 'string' || typeof value.version !== 'number') return undefined;
    if (!value.inputs || typeof value.inputs !== 'object' || !value.outputs || typeof value.outputs !== 'object') return undefined;
    return value as InferenceLogLine;
  } catch {
    return undefined;
  }
}
