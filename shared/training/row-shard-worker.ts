import { workerData } from 'node:worker_threads';
import { serveShardTasks, type ShardBuffers } from './row-shards';

/** Helper-thread entry of gradient-boosted training: works on the last row shard until told to stop. */
serveShardTasks(workerData as ShardBuffers);
