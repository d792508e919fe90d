import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRowsFile } from '../../cli/rows-file';

const dir = mkdtempSync(join(tmpdir(), 'modelloop-rows-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('reading rows to score from a file', () => {
  it('sends a CSV as dataframe_split: numbers stay numbers, true/false become booleans, an empty cell is null', async () => {
    const rows = await readRowsFile(file('rows.csv', '\uFEFFtenure,charges,contract,paperless,note\r\n2,95.5,month-to-month,true,"late, twice"\r\n60,,two-year,FALSE,\r\n'));
    expect(rows.body).toEqual({
      dataframe_split: {
        columns: ['tenure', 'charges', 'contract', 'paperless', 'note'],
        data: [
          [2, 95.5, 'month-to-month', true, 'late, twice'],
          [60, null, 'two-year', false, null],
        ],
      },
    });
    expect(rows).toMatchObject({ where: [2, 3], whereLabel: 'LINE' });
  });

  it('sends JSON Lines as dataframe_split, with a key a row leaves out as null', async () => {
    const rows = await readRowsFile(file('rows.jsonl', '{"x1": 5, "color": "red"}\n\n{"x1": -5, "color": null, "flag": true}\n'));
    expect(rows.body).toEqual({ dataframe_split: { columns: ['x1', 'color', 'flag'], data: [[5, 'red', null], [-5, null, true]] } });
    expect(rows.where).toEqual([1, 3]);
  });

  it('sends a JSON array as instances and any other JSON body as it is', async () => {
    expect((await readRowsFile(file('rows.json', '[{"x1": 1}]'))).body).toEqual({ instances: [{ x1: 1 }] });
    const body = { inputs: { x1: [1, 2] } };
    expect((await readRowsFile(file('body.json', JSON.stringify(body)))).body).toEqual(body);
  });

  it('says which line of a JSON Lines file is broken', async () => {
    await expect(readRowsFile(file('broken.jsonl', '{"x1": 1}\n{"x1": \n'))).rejects.toMatchObject({ code: 'InvalidInput', message: /^broken\.jsonl line 2: not valid JSON/ });
    await expect(readRowsFile(file('array.jsonl', '[1, 2]\n'))).rejects.toMatchObject({ code: 'InvalidInput', message: /array\.jsonl line 1: expected one JSON object per line, got an array/ });
    await expect(readRowsFile(file('nested.jsonl', '{"x1": {"a": 1}}\n'))).rejects.toMatchObject({ message: /nested\.jsonl line 1, "x1": expected a number, text, true\/false or null/ });
  });

  it('refuses a file it cannot read by its extension, and a file without rows', async () => {
    await expect(readRowsFile(file('rows.txt', 'x1\n1\n'))).rejects.toMatchObject({ code: 'UnsupportedFormat', message: /"rows\.txt" is not a rows file: name it \.csv/ });
    await expect(readRowsFile(file('empty.csv', 'x1,x2\n'))).rejects.toMatchObject({ code: 'InvalidInput', message: 'The file has no rows to score.' });
  });
});
