import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../../shared/data/csv';
import { categoryStats, checkTable, inferContract, numericStats } from '../../../shared/data/data-contract';

const table = (text: string) => parseCsv(Buffer.from(text));

describe('inferring a data contract', () => {
  it('infers types and nullability, and leaves out identifiers', () => {
    const rows = ['customer_id,age,income,member,plan,churned'];
    for (let i = 0; i < 30; i++) rows.push(`${1000 + i},${20 + i},${i % 5 === 0 ? '' : 1000.5 + i},${i % 2 ? 'true' : 'false'},${['basic', 'pro'][i % 2]},${i % 3 ? 'yes' : 'no'}`);
    const contract = inferContract(table(rows.join('\n')), { task: 'classification', target: 'churned' }, 'abc');
    expect(contract.features).toEqual({
      age: { type: 'integer', nullable: false },
      income: { type: 'number', nullable: true },
      member: { type: 'boolean', nullable: false },
      plan: { type: 'category', nullable: false },
    });
    expect(Object.keys(contract.excluded)).toEqual(['customer_id']);
    expect(contract.target).toEqual({ name: 'churned', type: 'label', labelType: 'string' });
    expect(contract.source).toBe('abc');
  });

  it('uses the definition\'s features when it lists them', () => {
    const contract = inferContract(table('x,y\n1,2\n'), { task: 'regression', target: 'y', features: { x: { type: 'number', max: 10 } } }, 'abc');
    expect(contract.features).toEqual({ x: { type: 'number', max: 10 } });
    expect(contract.source).toBe('definition');
  });

  it('leaves out free text and columns with no values, and keeps many-valued text as string', () => {
    const rows = ['note,empty,city,y'];
    for (let i = 0; i < 300; i++) rows.push(`note number ${i},,city-${i % 150},${i % 2}`);
    const contract = inferContract(table(rows.join('\n')), { task: 'classification', target: 'y' }, 'abc');
    expect(contract.excluded).toEqual({ note: 'free text or an identifier: every value is different', empty: 'every value is empty' });
    expect(contract.features).toEqual({ city: { type: 'string', nullable: false } });
  });

  it('makes integer labels integer', () => {
    expect(inferContract(table('x,y\n1,0\n2,1\n'), { task: 'classification', target: 'y' }, 'a').target.labelType).toBe('integer');
  });
});

describe('checking a drop against the contract', () => {
  const contract = inferContract(table('x,color,y\n1.5,red,a\n2.5,blue,b\n'), { task: 'classification', target: 'y' }, 'first');

  it('reports a missing column and accepts no rows', () => {
    const checked = checkTable(table('x,color\n1,red\n'), contract);
    expect(checked.missingColumns).toEqual(['y']);
    expect(checked.acceptedRows).toBe(0);
  });

  it('records each bad cell with its line, column, expected and received', () => {
    const checked = checkTable(table('x,color,y,extra\n1,red,a,1\nabc,blue,b,2\n3,,a,3\n4,red,,4\n'), contract);
    expect(checked.rowsRead).toBe(4);
    expect(checked.acceptedRows).toBe(1);
    expect(checked.problems).toEqual([
      { row: 3, column: 'x', code: 'invalid_type', expected: 'a number', received: '"abc"' },
      { row: 4, column: 'color', code: 'missing_value', expected: 'a category (column is not nullable)', received: 'empty' },
      { row: 5, column: 'y', code: 'missing_value', expected: 'a value (the target is required)', received: 'empty' },
    ]);
    expect(checked.problemTotals).toEqual({ x: { invalid_type: 1 }, color: { missing_value: 1 }, y: { missing_value: 1 } });
    expect(checked.extraColumns).toEqual(['extra']);
  });

  it('enforces min, max and allowed values from the definition', () => {
    const strict = inferContract(table('x,c,y\n1,a,1\n'), { task: 'regression', target: 'y', features: { x: { type: 'number', min: 0, max: 10 }, c: { type: 'category', values: ['a', 'b'] } } }, 'd');
    const checked = checkTable(table('x,c,y\n-1,a,1\n11,b,1\n5,z,1\n5,a,1\n'), strict);
    expect(checked.problems.map((p) => [p.row, p.code, p.expected])).toEqual([
      [2, 'out_of_range', 'between 0 and 10'],
      [3, 'out_of_range', 'between 0 and 10'],
      [4, 'not_allowed', 'one of a, b'],
    ]);
    expect(checked.acceptedRows).toBe(1);
  });

  it('keeps the first 100 problems in file order and counts them all', () => {
    const rows = ['x,color,y'];
    for (let i = 0; i < 300; i++) rows.push(i % 2 ? `${i},red,a` : `bad,,a`);
    const checked = checkTable(table(rows.join('\n')), contract);
    expect(checked.problems).toHaveLength(100);
    expect(checked.problems.slice(0, 3).map((p) => [p.row, p.column])).toEqual([[2, 'x'], [2, 'color'], [4, 'x']]);
    expect(checked.problems.at(-1)).toMatchObject({ row: 100, column: 'color' });
    expect(checked.problemTotals).toEqual({ x: { invalid_type: 150 }, color: { missing_value: 150 } });
    expect(checked.rejectedRows).toBe(150);
  });

  it('returns typed columns and statistics of the accepted rows', () => {
    const checked = checkTable(table('x,color,y\n1,red,a\n3,blue,b\n5,red,a\n'), contract);
    expect(Array.from(checked.columns.x as Float64Array)).toEqual([1, 3, 5]);
    expect(checked.columns.color).toEqual(['red', 'blue', 'red']);
    expect(checked.target).toEqual(['a', 'b', 'a']);
    expect(checked.stats.x).toMatchObject({ count: 3, nulls: 0, min: 1, max: 5, mean: 3, std: 2 });
    expect(checked.stats.color).toMatchObject({ categories: { red: 2, blue: 1 } });
    expect(checked.stats.y).toMatchObject({ type: 'label', categories: { a: 2, b: 1 } });
  });
});

describe('column statistics', () => {
  it('gives count, nulls, mean, standard deviation and deciles, from a sample on large columns', () => {
    const values = Float64Array.from({ length: 200_001 }, (_, i) => (i === 5 ? NaN : i));
    const stats = numericStats('number', values);
    expect(stats).toMatchObject({ count: 200_000, nulls: 1, min: 0, max: 200_000 });
    expect(stats.mean).toBeCloseTo(100_000.0, 0);
    expect(stats.std).toBeCloseTo(57_735.4, 0);
    stats.quantiles!.forEach((q, i) => expect(Math.abs(q - (i + 1) * 20_000)).toBeLessThan(20));
  });

  it('counts categories, most frequent first, and how many distinct values there are', () => {
    expect(categoryStats('category', ['b', 'a', null, 'b'])).toEqual({ type: 'category', count: 3, nulls: 1, distinct: 2, categories: { b: 2, a: 1 } });
  });
});
