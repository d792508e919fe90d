import * as ort from 'onnxruntime-node';

/**
 * Child-process entry that loads one untrusted ONNX model and runs it on request. It lives in its
 * own process (see `isolated-runner.ts`) so that a file that crashes ONNX Runtime, exhausts
 * memory or never finishes takes down this process only, never the Functions host.
 */
export type ChildRequest =
  | { readonly type: 'load'; readonly bytes: Uint8Array }
  | { readonly type: 'run'; readonly id: number; readonly feeds: Record<string, { type: string; dims: number[]; data: unknown }> };

export type ChildReply =
  | { readonly type: 'loaded'; readonly inputNames: string[]; readonly outputNames: string[] }
  | { readonly type: 'ran'; readonly id: number; readonly outputs: Record<string, { type: string; dims: number[]; data: unknown }> }
  | { readonly type: 'error'; readonly id?: number; readonly message: string };

let session: ort.InferenceSession | undefined;

function reply(message: ChildReply): void {
  process.send?.(message);
}

process.on('message', (message: ChildRequest) => {
  void handle(message).catch((err: unknown) => {
    reply({ type: 'error', ...(message.type === 'run' ? { id: message.id } : {}), message: err instanceof Error ? err.message : String(err) });
  });
});

async function handle(message: ChildRequest): Promise<void> {
  if (message.type === 'load') {
    // One intra-op thread: the host's cores belong to serving.
    session = await ort.InferenceSession.create(message.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'basic' });
    reply({ type: 'loaded', inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
    return;
  }
  if (!session) throw new Error('no model is loaded');
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
  const out = await session.run(feeds);
  const outputs: Record<string, { type: string; dims: number[]; data: unknown }> = {};
  for (const [name, t] of Object.entries(out)) outputs[name] = { type: t.type, dims: [...t.dims], data: t.data };
  reply({ type: 'ran', id: message.id, outputs });
}
