import { z } from 'zod';

/** The queue of the product contract. */
export const RETRAIN_QUEUE = 'retrain-requests';

/** The `retrain-requests` message body of the product contract, validated on both ends. */
export const retrainRequestSchema = z.object({
  model: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  reason: z.enum(['data', 'manual', 'schedule', 'drift', 'decay']),
  datasets: z.array(z.string()).optional(),
  requestedAt: z.iso.datetime({ offset: true }),
  /** Idempotency key: the same key never trains twice. */
  key: z.string().min(1).max(512),
});

export type RetrainRequest = z.infer<typeof retrainRequestSchema>;

/**
 * Where retrain requests go. Implemented by the Storage queue (local default) and, in Azure,
 * by Service Bus; both carry the same JSON body.
 */
export interface RetrainQueue {
  send(request: RetrainRequest): Promise<void>;
  /** Cheap reachability check for `GET /health`. */
  ping(): Promise<void>;
}
