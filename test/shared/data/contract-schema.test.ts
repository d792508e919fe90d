import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRecords, rowSchemaOf } from '../../../shared/data/contract-schema';
import { checkTable, type DataContract } from '../../../shared/data/data-contract';
import { parseJsonLines } from '../../../shared/data/jsonl';

const contract: DataContract = {
  target: { name: 'y', type: 'label', labelType: 'string' },
  features: {
    age: { type: 'integer', min: 0, max: 120 },
    income: { type: 'number', nullable: true, min: 0 },
    member: { type: 'boolean', nullable: true },
    plan: { type: 'category', values: ['basic', 'pro'] },
    score: { type: 'number', values: [1, 2, 3] },
  },
  excluded: {},
  source: 'definition',
};

describe('the data contract as a zod schema', () => {
  it('accepts a good row and passes extra fields through', () => {
    const parsed = rowSchemaOf(contract).parse({ age: 30, income: null, member: true, plan: ' pro ', score: 2, y: 'yes', note: 'kept' });
    expect(parsed).toMatchObject({ age: 30, plan: 'pro', note: 'kept' });
  });

  it('reports each bad field as {row, column, code, expected, received}', () => {
    expect(checkRecords([{ age: -1, income: 'lots', member: 'no', plan: 'gold', score: 4, y: '' }], contract, 7)).toEqual([
      { row: 7, column: 'age', code: 'out_of_range', expected: 'between 0 and 120', received: '-1' },
      { row: 7, column: 'income', code: 'invalid_type', expected: 'a number', received: '"lots"' },
      { row: 7, column: 'member', code: 'invalid_type', expected: 'true or false', received: '"no"' },
      { row: 7, column: 'plan', code: 'not_allowed', expected: 'one of basic, pro', received: '"gold"' },
      { row: 7, column: 'score', code: 'not_allowed', expected: 'one of 1, 2, 3', received: '4' },
      { row: 7, column: 'y', code: 'missing_value', expected: 'a value (the target is required)', received: 'empty' },
    ]);
    expect(checkRecords([{ member: null, income: 5, plan: 'pro', score: 1, y: 'n', age: 2.5 }], contract)).toEqual([
      { row: 1, column: 'age', code: 'invalid_type', expected: 'an integer', received: '"2.5"' },
    ]);
  });

  it('gives the same verdict as the fast column checker, cell by cell', () => {
    const cell = fc.oneof(
      fc.integer({ min: -5, max: 130 }),
      fc.double({ min: -10, max: 10, noNaN: true }),
      fc.constantFrom(1, 2, 3, 4, true, false, null, '', ' ', 'basic', 'pro', ' pro', 'gold', '7', 'yes', 'no'),
      fc.constant(undefined),
    );
    const row = fc.record({ age: cell, income: cell, member: cell, plan: cell, score: cell, y: cell });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 20 }), (rows) => {
        const records = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
        // Every key on the first line, so no column is missing; a missing key later is an empty cell.
        // JSON Lines lines number from 1, as checkRecords' rows do here.
        const first = { age: null, income: null, member: null, plan: null, score: null, y: null, ...records[0] };
        const table = parseJsonLines(Buffer.from([first, ...records.slice(1)].map((r) => JSON.stringify(r)).join('\n')));
        const fast = checkTable(table, contract);
        const slow = checkRecords(records, contract);
        expect(fast.problems).toEqual(slow.slice(0, 100));
        expect(fast.acceptedRows).toBe(records.length - new Set(slow.map((p) => p.row)).size);
      }),
      { numRuns: 300 },
    );
  });
});
