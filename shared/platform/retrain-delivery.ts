import { retrain, type RetrainDeps, type RetrainOutcome } from '../training/retrain';
import { ensureError } from './errors';
import { retrainRequestSchema } from './retrain-queue';
import type { Telemetry } from './telemetry';

/** One delivery of a retrain request, as either queue trigger reports it. */
export interface RetrainDelivery {
  /** 1 on the first delivery (Service Bus `deliveryCount`, Storage queue `dequeueCount`). */
  readonly deliveryCount: number;
  /** Deliveries before the message is parked: queue `maxDeliveryCount` / host.json `maxDequeueCount`. */
  readonly maxDeliveries: number;
  readonly messageId?: string | undefined;
  /** Service Bus only: the session the message came in, which is its model. */
  readonly sessionId?: string | undefined;
}

/** Reads the delivery from `context.triggerMetadata` of a Service Bus or Storage queue trigger. */
export function deliveryOf(triggerMetadata: Readonly<Record<string, unknown>> | undefined, maxDeliveries: number): RetrainDelivery {
  const count = Number(triggerMetadata?.deliveryCount ?? triggerMetadata?.dequeueCount ?? 1);
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  return {
    deliveryCount: Number.isFinite(count) && count >= 1 ? count : 1,
    maxDeliveries,
    messageId: text(triggerMetadata?.messageId),
    sessionId: text(triggerMetadata?.sessionId),
  };
}

export interface RetrainReceiverDeps extends RetrainDeps {
  readonly telemetry: Telemetry;
}

/**
 * Handles one delivered retrain request, whichever queue carried it. A malformed body is logged
 * and settled (returns undefined: retrying cannot fix it). A failure that may be transient is
 * logged with the attempt number and thrown, so the queue delivers it again; on the last
 * delivery the log and a `RetrainDeadLettered` event say why it is being parked.
 */
export async function receiveRetrainRequest(deps: RetrainReceiverDeps, body: unknown, delivery: RetrainDelivery): Promise<RetrainOutcome | undefined> {
  const { log } = deps;
  const parsed = retrainRequestSchema.safeParse(decodeBody(body));
  if (!parsed.success) {
    log.error(`Discarded a malformed retrain request${delivery.messageId ? ` (message ${delivery.messageId})` : ''}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
    return undefined;
  }
  const request = parsed.data;
  if (delivery.sessionId !== undefined && delivery.sessionId !== request.model) {
    log.warn(`Retrain request ${request.key} for "${request.model}" arrived in session "${delivery.sessionId}"; sessions are per model, so it may overlap another run of "${request.model}".`);
  }
  const started = Date.now();
  let outcome: RetrainOutcome;
  try {
    outcome = await retrain(deps, request);
  } catch (err) {
    const error = ensureError(err);
    const attempt = `delivery ${delivery.deliveryCount} of ${delivery.maxDeliveries}`;
    if (delivery.deliveryCount >= delivery.maxDeliveries) {
      log.error(`Retrain request ${request.key} for "${request.model}" failed on its last ${attempt}; it is parked (dead-letter / poison queue). Reason: ${error.message}`);
      deps.telemetry.event('RetrainDeadLettered', { model: request.model, key: request.key, reason: error.message, deliveries: delivery.deliveryCount });
    } else {
      log.warn(`Retrain request ${request.key} for "${request.model}" failed on ${attempt}; it will be delivered again. ${error.message}`);
    }
    throw error;
  }
  const seconds = (Date.now() - started) / 1000;
  // Other outcomes (a duplicate, a request folded into a running one) changed nothing worth an event.
  if (outcome.kind === 'registered') {
    deps.telemetry.event('TrainingFinished', { model: request.model, status: 'registered', reason: request.reason, version: outcome.version, seconds });
    deps.telemetry.metric('modelloop.training.seconds', seconds, { model: request.model, status: 'registered' });
    if (outcome.promoted) deps.telemetry.event('VersionPromoted', { model: request.model, version: outcome.version, by: 'system:retrain' });
  } else if (outcome.kind === 'failed' || outcome.kind === 'skipped') {
    if (outcome.kind === 'skipped') log.warn(`Retrain request ${request.key} skipped: ${outcome.reason}`);
    deps.telemetry.event('TrainingFinished', { model: request.model, status: outcome.kind, reason: request.reason, seconds });
    if (outcome.kind === 'failed') deps.telemetry.metric('modelloop.training.seconds', seconds, { model: request.model, status: 'failed' });
  } else {
    log.info(`Retrain request ${request.key} for "${request.model}": ${outcome.kind}, nothing to do.`);
  }
  return outcome;
}

/** The Functions host hands over JSON already parsed, or as text or bytes, depending on the trigger. */
function decodeBody(body: unknown): unknown {
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) || body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : undefined;
  if (text === undefined) return body;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
