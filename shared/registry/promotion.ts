import { CONTAINERS, type BlobStore } from '../platform/blob-store';
import { ensureError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { primaryMetricOf } from '../data/model-definition';
import { higherIsBetter } from '../training/metrics';
import { moveAlias } from './aliases';
import type { ModelDocument, RunDocument, VersionDocument } from './documents';
import { inProcessRunner, planFeeds, scoreOnHoldout, type Holdout, type ScoredVersion } from './holdout';
import { artifactPath } from './manifest';
import type { Registry } from './registry';

export interface PromotionDeps {
  readonly blobs: BlobStore;
  readonly registry: Registry;
  readonly log: Logger;
}

export type PromotionDecision = NonNullable<RunDocument['promotion']>;

export interface PromotionInput {
  readonly model: ModelDocument;
  readonly candidate: VersionDocument;
  /** The evaluation split of the model's data, built only when the policy needs it. */
  readonly loadHoldout?: () => Promise<Holdout | undefined>;
  /** The candidate's score on `holdout`, when it was already taken (imports score in isolation). */
  readonly candidateScore?: ScoredVersion;
}

/**
 * The promotion policy. The first version of a model becomes `production`. Under `auto`, a new
 * version takes `production` only when its primary metric on the evaluation split beats the
 * current production version's on the same rows by `minImprovement`; otherwise, and always
 * under `manual`, it takes `challenger`. Every move says who moved it and why.
 */
export async function applyPromotionPolicy(deps: PromotionDeps, input: PromotionInput): Promise<PromotionDecision> {
  const { candidate } = input;
  const model = candidate.model;
  const policy = input.model.definition.promotion?.policy ?? 'auto';
  const minImprovement = input.model.definition.promotion?.minImprovement ?? 0;
  const metric = primaryMetricOf(input.model.definition);

  const first = await moveAlias(deps, {
    model,
    alias: 'production',
    version: candidate.version,
    by: 'system:first-version',
    reason: 'the model had no production version',
    onlyIfUnset: true,
    retryOnConflict: true,
  });
  const production = first.model.aliases.production;
  if (production === candidate.version) {
    return { decision: 'production', by: 'system:first-version', reason: 'the model had no production version' };
  }
  if (production === undefined) return { decision: 'none', by: `policy:${policy}`, reason: 'production could not be set' };

  const challenger = async (reason: string, extra: Partial<PromotionDecision> = {}): Promise<PromotionDecision> => {
    await moveAlias(deps, { model, alias: 'challenger', version: candidate.version, by: `policy:${policy}`, reason, retryOnConflict: true });
    return { decision: 'challenger', by: `policy:${policy}`, reason, metric, ...extra };
  };

  if (policy === 'manual') return challenger(`promotion policy is manual: production (version ${production}) moves only when an operator moves it`);
  const holdout = await input.loadHoldout?.();
  if (!holdout || holdout.rows === 0) return challenger('there are no evaluation rows to compare it with production on');

  let candidateScore = input.candidateScore;
  let productionScore: ScoredVersion;
  try {
    candidateScore ??= await scoreArtifact(deps, input.model, candidate, holdout);
    const current = await deps.registry.getVersion(model, production);
    if (!current) return challenger(`production version ${production} is not registered`);
    const plan = planFeeds(current.inputs, input.model.contract!, current.featureNames);
    if (!plan.ok) return challenger(`production version ${production} cannot be scored on this data: ${plan.reason}`);
    productionScore = await scoreArtifact(deps, input.model, current, holdout);
  } catch (err) {
    return challenger(`the comparison with production failed: ${ensureError(err).message}`);
  }
  const c = candidateScore.metrics[metric];
  const p = productionScore.metrics[metric];
  const rows = holdout.rows;
  if (c === undefined || p === undefined) return challenger(`${metric} could not be computed for both versions`);
  const improvement = higherIsBetter(metric) ? c - p : p - c;
  const comparison = `${metric} ${fmt(c)} vs production version ${production}'s ${fmt(p)} on the same ${rows} evaluation rows`;
  const extra = { candidate: c, production: p, rows };
  if (!(improvement > 0 && improvement >= minImprovement)) {
    return challenger(`${comparison}: not better by minImprovement ${minImprovement}`, extra);
  }
  const reason = `${comparison}: better by ${fmt(improvement)} (minImprovement ${minImprovement})`;
  const moved = await moveAlias(deps, {
    model,
    alias: 'production',
    version: candidate.version,
    by: 'policy:auto',
    reason,
    retryOnConflict: true,
    expectedFrom: production,
  });
  if (moved.model.aliases.production !== candidate.version) {
    return challenger(`${comparison}, but production was moved to version ${moved.model.aliases.production} meanwhile; left for an operator`, extra);
  }
  return { decision: 'production', by: 'policy:auto', reason, ...extra, metric };
}

async function scoreArtifact(deps: PromotionDeps, model: ModelDocument, version: VersionDocument, holdout: Holdout): Promise<ScoredVersion> {
  const blob = await deps.blobs.read(CONTAINERS.models, artifactPath(model.model, version.version));
  if (!blob) throw new Error(`the artifact of version ${version.version} is missing`);
  const runner = await inProcessRunner(blob.bytes);
  try {
    return await scoreOnHoldout(runner, holdout, version);
  } finally {
    await runner.close();
  }
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}
