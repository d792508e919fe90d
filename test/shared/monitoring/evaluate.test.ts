import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateDueModels, evaluateModel, type EvaluationDeps } from '../../../shared/monitoring/evaluate';
import { InferenceLog } from '../../../shared/monitoring/inference-log';
import { silentLogger, type Logger } from '../../../shared/platform/logger';
import { LogTelemetry, type Telemetry, type TelemetryProperties } from '../../../shared/platform/telemetry';
import { rebuildRegistry } from '../../../shared/registry/rebuild';
import { defineModel } from '../../../shared/registry/define-model';
import { predict } from '../../../shared/serving/predict';
import { retrain } from '../../../shared/training/retrain';
import { drainRetrainRequests } from '../../support/queue';
import { dropFile, separableCsv, testStack, uniqueModel, type TestStack } from '../../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await testStack();
});

/** Rows like separableCsv's features, with x2 moved by `shiftX2` (training has x2 in [0, 10]). */
function rows(n: number, seed: number, shiftX2 = 0): { x1: number; x2: number; color: string; amount: number }[] {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: n }, (_, i) => {
    const positive = i % 2 === 0;
    const x1 = (positive ? 5 : -5) + random() * 2 - 1;
    const x2 = random() * 10 + shiftX2;
    const color = positive ? (random() < 0.8 ? 'red' : 'blue') : random() < 0.8 ? 'blue' : 'red';
    return { x1, x2, color, amount: 3 * x1 - 2 * x2 + 7 };
  });
}

/** separableCsv with every label swapped: what a model trained on the original gets wrong. */
function flippedCsv(n: number, seed: number): string {
  return separableCsv(n, seed).replace(/,(yes|no),/g, (_, label: string) => (label === 'yes' ? ',no,' : ',yes,'));
}

/**
 * A moment a few seconds on: windows end on a whole second a little behind the clock (storage stamps
 * blobs in whole seconds), so rows logged just now belong to an evaluation that runs a little later.
 */
const later = (seconds = 5): Date => new Date(Date.now() + seconds * 1000);

/** Warnings and errors the use case logged, for the assertions on what it says. */
function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warn: (m: string) => warnings.push(m), warnings };
}

function depsOf(log: Logger = silentLogger, telemetry: Telemetry = new LogTelemetry(silentLogger)): EvaluationDeps {
  return { ...stack, log, telemetry };
}

/** Trains the model's pending requests for real, as the retrain function would. */
async function trainPending(model: string): Promise<void> {
  for (const request of (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model)) {
    await retrain({ ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 }, request);
  }
}

/** A classification model with production version 1, trained on 400 well-separated rows. */
async function servedModel(evaluation: Record<string, unknown> = {}): Promise<string> {
  const model = uniqueModel('eval');
  await defineModel(stack, model, { task: 'classification', target: 'label', promotion: { policy: 'manual' }, evaluation: { minRows: 50, ...evaluation } });
  await dropFile(stack, model, 'first.csv', separableCsv(400, 1));
  await trainPending(model);
  expect((await stack.registry.getModel(model))!.aliases.production).toBe(1);
  return model;
}

/** Scores rows through the real predict use case, every row sampled into the inference log. */
async function score(model: string, instances: object[], alias = 'production'): Promise<void> {
  const inferenceLog = new InferenceLog({ blobs: stack.blobs, log: silentLogger, sampleRate: 1, flushIntervalMs: 60_000 });
  await predict({ models: stack.models, maxRows: 10_000, inferenceLog }, { model, selector: { alias }, body: { instances } });
  await inferenceLog.flush();
}

describe('scheduled evaluation', () => {
  it('a window scored from the training distribution stays under every threshold and asks for nothing', async () => {
    const model = await servedModel();
    await score(model, rows(300, 11));
    const outcome = await evaluateModel(depsOf(), model, { trigger: 'manual', now: later() });
    expect(outcome.kind).toBe('evaluated');
    const evaluation = outcome.kind === 'evaluated' ? outcome.evaluation : undefined!;
    expect(evaluation).toMatchObject({ status: 'healthy', findings: [], production: { version: 1, alias: 'production', drift: { status: 'measured', rows: 300, drifted: [] } } });
    expect(evaluation.retrain).toBeUndefined();
    const { features, prediction } = evaluation.production.drift;
    expect(Object.keys(features).sort()).toEqual(['amount', 'color', 'x1', 'x2']);
    for (const figures of [...Object.values(features), prediction!]) {
      expect(figures.value).toBeLessThan(evaluation.thresholds.drift);
      expect(figures.nullRate).toBe(0);
    }
    expect(features.x1!.outOfRangeRate).toBeLessThan(0.05);
    expect(features.color!.unseenRate).toBe(0);
    expect(evaluation.production.quality).toMatchObject({ status: 'no-new-data', decayed: false });
    expect((await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model)).toEqual([]);
  });

  it('a shifted feature trips drift, names it in a warning, and requests exactly one retrain for the window', async () => {
    const model = await servedModel();
    await score(model, rows(300, 12, 20));
    const log = recordingLog();
    const events: { name: string; properties: TelemetryProperties | undefined }[] = [];
    const telemetry: Telemetry = { event: (name, properties) => events.push({ name, properties }), metric: () => {} };
    const now = later();
    // A duplicate timer delivery evaluates the same window at the same moment.
    const outcomes = await Promise.all([evaluateModel(depsOf(log, telemetry), model, { trigger: 'schedule', now }), evaluateModel(depsOf(log, telemetry), model, { trigger: 'schedule', now })]);
    const evaluated = outcomes.filter((o) => o.kind === 'evaluated');
    expect(evaluated).toHaveLength(1);
    const evaluation = evaluated[0]!.kind === 'evaluated' ? evaluated[0]!.evaluation : undefined!;
    expect(evaluation.status).toBe('alert');
    expect(evaluation.production.drift.drifted).toContain('x2');
    expect(evaluation.production.drift.drifted).not.toContain('x1');
    expect(evaluation.production.drift.features.x2!.value).toBeGreaterThan(1);
    expect(evaluation.production.drift.features.x2!.outOfRangeRate).toBe(1);
    expect(evaluation.findings).toContainEqual(expect.stringMatching(/^drift: x2 PSI \d+\.\d+ > 0\.2 over 300 sampled rows$/));
    expect(evaluation.findings).toContainEqual(expect.stringMatching(/^data quality: x2 100\.0% of values outside the training range/));
    expect(evaluation.retrain).toEqual({ reason: 'drift', key: `evaluation:${model}:${evaluation.windowStart}` });
    expect(log.warnings.join('\n')).toMatch(new RegExp(`Evaluation of "${model}" version 1 .*: alert\\. drift: x2 PSI .*Retrain requested \\(reason drift`));
    expect(events).toContainEqual({ name: 'DriftAlert', properties: { model, version: 1, metric: 'drift:x2', value: evaluation.production.drift.features.x2!.value, threshold: 0.2 } });
    expect(events.every((e) => e.properties?.metric !== 'drift:x1')).toBe(true);

    const requests = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
    expect(requests).toEqual([{ model, reason: 'drift', requestedAt: evaluation.evaluatedAt, key: evaluation.retrain!.key }]);
    // No drop is newer than what version 1 learned from: the retrain says so rather than register the same model.
    const deps = { ...stack, timeBudgetSeconds: 60, holdoutFraction: 0.2 };
    expect(await retrain(deps, requests[0]!)).toMatchObject({ kind: 'skipped', reason: expect.stringMatching(/^Retrain for drift skipped: version 1 was trained on every accepted drop there is \(1\)/) });

    // The next window has no new scoring rows: nothing measured, nothing asked.
    const next = await evaluateModel(depsOf(), model, { trigger: 'schedule', now: later(10) });
    expect(next).toMatchObject({ kind: 'evaluated', evaluation: { status: 'insufficient-data', windowStart: evaluation.windowEnd, production: { drift: { status: 'too-few-rows', rows: 0 } } } });
    expect((await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model)).toEqual([]);
  });

  it('a model that gets new labelled data wrong trips decay, and the challenger is reported beside production', async () => {
    const model = await servedModel();
    // Version 2 trains on a second drop and, under the manual policy, becomes the challenger.
    await dropFile(stack, model, 'second.csv', separableCsv(200, 2));
    await trainPending(model);
    expect((await stack.registry.getModel(model))!.aliases).toEqual({ production: 1, challenger: 2 });
    // Then labels turn: a drop neither version was trained on (its retrain request is left waiting).
    await dropFile(stack, model, 'turned.csv', flippedCsv(200, 3));
    await drainRetrainRequests(stack.storageConnection, stack.queueName);
    await score(model, rows(120, 13), 'challenger');

    const log = recordingLog();
    const outcome = await evaluateModel(depsOf(log), model, { trigger: 'manual', now: later() });
    const evaluation = outcome.kind === 'evaluated' ? outcome.evaluation : undefined!;
    expect(evaluation.status).toBe('alert');
    const production = evaluation.production;
    expect(production.quality).toMatchObject({ status: 'measured', rows: 400, decayed: true, primaryMetric: 'accuracy' });
    expect(production.quality.datasets).toHaveLength(2);
    // Right on the unseen second drop, wrong on every row of the turned one.
    expect(production.quality.metrics!.accuracy).toBeCloseTo(0.5, 1);
    expect(production.quality.trainingMetrics.accuracy).toBeGreaterThan(0.95);
    expect(production.quality.worsening).toBeGreaterThan(0.4);
    expect(evaluation.findings[0]).toMatch(/^decay: accuracy 0\.\d+ on 400 new labelled rows vs [\d.]+ at training: \d+\.\d% worse \(decay threshold 10\.0%\)$/);
    expect(evaluation.retrain?.reason).toBe('decay');
    expect(log.warnings.join('\n')).toMatch(/alert\. decay: accuracy/);

    expect(evaluation.challenger).toMatchObject({ version: 2, alias: 'challenger', quality: { status: 'measured', rows: 200, decayed: true }, drift: { status: 'measured', rows: 120 } });
    expect(evaluation.challenger!.quality.metrics!.accuracy).toBeLessThan(0.05);
    expect(production.drift).toMatchObject({ status: 'too-few-rows', rows: 0 });
    const requests = (await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model);
    expect(requests.map((r) => r.reason)).toEqual(['decay']);
  });

  it('a model without a production version is skipped; an unknown model is an error', async () => {
    const model = uniqueModel('eval');
    await defineModel(stack, model, { task: 'regression', target: 'amount' });
    expect(await evaluateModel(depsOf(), model, { trigger: 'manual' })).toEqual({ kind: 'skipped', reason: `Model "${model}" has no production version to evaluate.` });
    await expect(evaluateModel(depsOf(), uniqueModel('nope'), { trigger: 'manual' })).rejects.toMatchObject({ code: 'ModelNotFound' });
  });

  it('says why there is no window yet: production too new, or already evaluated up to now', async () => {
    const model = await servedModel();
    const registered = new Date((await stack.registry.getVersion(model, 1))!.createdAt);
    expect(await evaluateModel(depsOf(), model, { trigger: 'manual', now: registered })).toEqual({
      kind: 'skipped',
      reason: `Model "${model}" has had version 1 in production only since ${registered.toISOString()}; the next window closes a few seconds from now.`,
    });
    const now = later();
    const first = await evaluateModel(depsOf(), model, { trigger: 'manual', now });
    expect(first.kind).toBe('evaluated');
    const windowEnd = first.kind === 'evaluated' ? first.evaluation.windowEnd : '';
    expect(await evaluateModel(depsOf(), model, { trigger: 'manual', now })).toEqual({
      kind: 'skipped',
      reason: `Model "${model}" has been evaluated up to ${windowEnd}; the next window closes a few seconds from now.`,
    });
  });

  it('the timer evaluates a model when its own schedule is due, and not again before the next occurrence', async () => {
    const model = await servedModel({ schedule: '0 0 6 * * *', retrain: false });
    await score(model, rows(100, 14, 20));
    const morning = new Date(Date.UTC(2099, 0, 1, 6, 0, 0));
    const first = (await evaluateDueModels(depsOf(), { defaultSchedule: '0 0 * * * *', now: morning })).filter((r) => r.model === model);
    expect(first).toHaveLength(1);
    expect(first[0]!.outcome).toMatchObject({ kind: 'evaluated', evaluation: { trigger: 'schedule', status: 'alert' } });
    // retrain: false reports the drift without asking for a retrain.
    expect(first[0]!.outcome.kind === 'evaluated' && first[0]!.outcome.evaluation.retrain).toBeUndefined();
    const laterThatDay = new Date(Date.UTC(2099, 0, 1, 18, 0, 0));
    expect((await evaluateDueModels(depsOf(), { defaultSchedule: '0 0 * * * *', now: laterThatDay })).filter((r) => r.model === model)).toEqual([]);
    const nextMorning = new Date(Date.UTC(2099, 0, 2, 6, 0, 0));
    expect((await evaluateDueModels(depsOf(), { defaultSchedule: '0 0 * * * *', now: nextMorning })).filter((r) => r.model === model)).toHaveLength(1);
    expect((await drainRetrainRequests(stack.storageConnection, stack.queueName)).filter((r) => r.model === model)).toEqual([]);

    // Windows close on the second, two seconds behind the clock.
    const listed = await stack.registry.listEvaluations(model);
    expect(listed.map((e) => e.windowEnd)).toEqual(['2099-01-02T05:59:58.000Z', '2099-01-01T05:59:58.000Z']);
    expect(listed.map((e) => e.evaluatedAt)).toEqual([nextMorning.toISOString(), morning.toISOString()]);
    expect((await stack.registry.listEvaluations(model, { from: '2099-01-01T12:00:00.000Z' })).map((e) => e.evaluatedAt)).toEqual([nextMorning.toISOString()]);
    expect((await stack.registry.listEvaluations(model, { to: '2099-01-01T12:00:00.000Z' })).map((e) => e.evaluatedAt)).toEqual([morning.toISOString()]);

    // Evaluations are part of the durable record: a registry rebuilt from blob storage has them back.
    const fresh = await testStack({ storageConnection: stack.storageConnection });
    await rebuildRegistry(stack.blobs, fresh.registry);
    expect((await fresh.registry.listEvaluations(model)).map((e) => e.windowEnd)).toEqual(listed.map((e) => e.windowEnd));
  });
});
