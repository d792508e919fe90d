import { z } from 'zod';
import { scheduleProblem } from '../monitoring/schedule';
import { ModelloopError, describeProblems, problemsFromZod } from '../platform/errors';

/** `^[a-z0-9][a-z0-9-]{0,62}$`, from the product contract. */
export const MODEL_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const featureTypeSchema = z.enum(['number', 'integer', 'boolean', 'category', 'string']);
export type FeatureType = z.infer<typeof featureTypeSchema>;

export const featureSpecSchema = z
  .object({
    type: featureTypeSchema,
    nullable: z.boolean().optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
  })
  .strict()
  .refine((f) => f.min === undefined || f.max === undefined || f.min <= f.max, { message: 'min must not exceed max', path: ['min'] });
export type FeatureSpec = z.infer<typeof featureSpecSchema>;

const classificationMetrics = ['accuracy', 'f1', 'auc', 'logloss'] as const;
const regressionMetrics = ['rmse', 'mae', 'r2'] as const;

/** The model definition of the product contract (`PUT /models/{model}` or `datasets/{model}/model.json`). */
export const modelDefinitionSchema = z
  .object({
    task: z.enum(['classification', 'regression'], { error: 'must be "classification" or "regression"' }),
    target: z.string({ error: 'is required: the name of the column to predict' }).min(1, 'must name a column'),
    features: z.record(z.string().min(1), featureSpecSchema).optional(),
    primaryMetric: z.enum([...classificationMetrics, ...regressionMetrics]).optional(),
    trainers: z.array(z.enum(['gbdt', 'linear'])).min(1).optional(),
    promotion: z
      .object({ policy: z.enum(['auto', 'manual']).default('auto'), minImprovement: z.number().min(0).default(0) })
      .strict()
      .optional(),
    evaluation: z
      .object({
        /** Six-field NCRONTAB; default: the app's EVALUATION_SCHEDULE (hourly). */
        schedule: z
          .string()
          .superRefine((text, ctx) => {
            const problem = scheduleProblem(text);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        /** Drift threshold on PSI (numbers) and Jensen–Shannon distance (categories, predicted labels). @default 0.2 */
        driftThreshold: z.number().positive().optional(),
        /** Relative worsening of the primary metric on new labelled data that counts as decay. @default 0.1 */
        decayThreshold: z.number().positive().optional(),
        /** Null-rate increase, out-of-range or unseen-category rate of inference inputs that is reported as a warning. @default 0.1 */
        dataQualityThreshold: z.number().positive().max(1).optional(),
        /** Fewest sampled rows (drift) or labelled rows (decay) a measure needs to count; fewer make PSI noisy. @default 500 */
        minRows: z.number().int().positive().optional(),
        /** Whether drift or decay asks for a retrain (reason `drift` or `decay`). @default true */
        retrain: z.boolean().optional(),
      })
      .strict()
      .optional(),
    training: z
      .object({
        window: z
          .object({ maxRows: z.number().int().positive().optional(), maxAgeDays: z.number().positive().optional() })
          .strict()
          .optional(),
        timeBudgetSeconds: z.number().positive().optional(),
      })
      .strict()
      .optional(),
    /** Share of bad rows a drop may have and still be accepted (the bad rows are dropped and reported). */
    maxRejectedFraction: z.number().min(0).max(1).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.features && d.target in d.features) {
      ctx.addIssue({ code: 'custom', path: ['features', d.target], message: 'the target column cannot also be a feature' });
    }
    if (d.primaryMetric) {
      const allowed: readonly string[] = d.task === 'classification' ? classificationMetrics : regressionMetrics;
      if (!allowed.includes(d.primaryMetric)) {
        ctx.addIssue({ code: 'custom', path: ['primaryMetric'], message: `must be one of ${allowed.join(', ')} for ${d.task}` });
      }
    }
  });

export type ModelDefinition = z.infer<typeof modelDefinitionSchema>;

export function assertModelName(model: string): void {
  if (!MODEL_NAME.test(model)) {
    throw new ModelloopError(
      'InvalidInput',
      `Model name "${model}" is not valid: use 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit.`,
      [{ path: ['model'], message: 'must match ^[a-z0-9][a-z0-9-]{0,62}$', received: model }],
    );
  }
}

/** Validates a definition body; throws `InvalidDefinition` naming every bad field. */
export function parseModelDefinition(body: unknown): ModelDefinition {
  const parsed = modelDefinitionSchema.safeParse(body);
  if (!parsed.success) {
    const problems = problemsFromZod(parsed.error.issues);
    throw new ModelloopError('InvalidDefinition', `The model definition is not valid: ${describeProblems(problems)}`, problems);
  }
  return parsed.data;
}

export function primaryMetricOf(definition: ModelDefinition): string {
  return definition.primaryMetric ?? (definition.task === 'classification' ? 'accuracy' : 'rmse');
}
