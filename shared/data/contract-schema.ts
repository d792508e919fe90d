import { z } from 'zod';
import type { FeatureSpec } from './model-definition';
import { expectedOf, expectedOfTarget, quote, type DataContract, type RowProblem, type TargetSpec } from './data-contract';

type Code = RowProblem['code'];

/** Empty and blank strings are missing values in every format, as they are in a CSV. */
const blankAsNull = (value: unknown): unknown => (value === undefined || (typeof value === 'string' && value.trim() === '') ? null : value);

function featureSchema(spec: FeatureSpec): z.ZodType {
  const fail = (code: Code) => ({ error: code, abort: true });
  let schema: z.ZodType;
  switch (spec.type) {
    case 'number':
    case 'integer': {
      let number = z.number(fail('invalid_type'));
      if (spec.type === 'integer') number = number.int(fail('invalid_type'));
      if (spec.min !== undefined) number = number.min(spec.min, fail('out_of_range'));
      if (spec.max !== undefined) number = number.max(spec.max, fail('out_of_range'));
      const allowed = spec.values?.map(Number);
      schema = allowed ? number.refine((v) => allowed.includes(v), fail('not_allowed')) : number;
      break;
    }
    case 'boolean':
      schema = z.boolean(fail('invalid_type'));
      break;
    case 'category':
    case 'string': {
      const text = z.preprocess(asText, z.string(fail('invalid_type')));
      const allowed = spec.values?.map(String);
      schema = allowed ? text.refine((v) => allowed.includes(v), fail('not_allowed')) : text;
      break;
    }
  }
  return z.preprocess(blankAsNull, spec.nullable ? schema.nullable() : required(schema));
}

/** A value that must be present: null fails with `missing_value` before the type is looked at. */
function required(schema: z.ZodType): z.ZodType {
  return z
    .unknown()
    .transform((value, ctx) => {
      if (value !== null) return value;
      ctx.addIssue({ code: 'custom', message: 'missing_value' });
      return z.NEVER;
    })
    .pipe(schema as z.ZodType<unknown, {} | undefined>);
}

/** Categories are labels: a JSON number, boolean or object is read as its text. */
const asText = (value: unknown): unknown =>
  value === null || value === undefined ? value : typeof value === 'string' ? value.trim() : typeof value === 'object' ? (JSON.stringify(value) ?? String(value)) : String(value);

function targetSchema(target: TargetSpec): z.ZodType {
  const value =
    target.type === 'number'
      ? z.number({ error: 'invalid_type' })
      : target.labelType === 'integer'
        ? z.number({ error: 'invalid_type' }).int({ error: 'invalid_type' })
        : z.preprocess(asText, z.string({ error: 'invalid_type' }));
  return z.preprocess(blankAsNull, required(value));
}

/**
 * The data contract as a zod schema for one row of decoded values (a JSON object, a scoring
 * request's instance): every feature and the target, with extra fields passed through. Each issue's
 * message is the `RowProblem` code. `checkTable` applies the same rules column by column, fast; the
 * tests hold the two to the same verdicts.
 */
export function rowSchemaOf(contract: DataContract): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(contract.features)) shape[name] = featureSchema(spec);
  shape[contract.target.name] = targetSchema(contract.target);
  return z.looseObject(shape);
}

/** Checks rows of decoded values against the contract's zod schema; `firstRow` is the row number of `records[0]`. */
export function checkRecords(records: readonly Record<string, unknown>[], contract: DataContract, firstRow = 1): RowProblem[] {
  const schema = rowSchemaOf(contract);
  const problems: RowProblem[] = [];
  records.forEach((record, index) => {
    const parsed = schema.safeParse(record);
    if (parsed.success) return;
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const column = String(issue.path[0] ?? '');
      if (seen.has(column)) continue;
      seen.add(column);
      const code = toCode(issue.message);
      const spec = contract.features[column];
      const expected = spec ? expectedOf(spec, code) : expectedOfTarget(contract.target, code);
      problems.push({ row: firstRow + index, column, code, expected, received: received(record[column], code, spec?.type === 'number' || spec?.type === 'integer') });
    }
  });
  return problems;
}

function toCode(message: string): Code {
  return message === 'missing_value' || message === 'out_of_range' || message === 'not_allowed' ? message : 'invalid_type';
}

function received(value: unknown, code: Code, numeric: boolean): string {
  if (code === 'missing_value') return 'empty';
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value) ?? String(value);
  if (code === 'out_of_range' || (code === 'not_allowed' && numeric)) return text.trim();
  return quote(code === 'not_allowed' ? text.trim() : text);
}
