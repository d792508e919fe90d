import { beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../../shared/platform/logger';
import { ModelCache } from '../../../shared/serving/model-cache';
import { testStack, uniqueModel, type TestStack } from '../../support/stack';
import { everyDatatypeModel, registerTensorModel } from './tensor-model';
import * as ort from 'onnxruntime-node';

let stack: TestStack;
let model: string;
const built = everyDatatypeModel();

const feeds = () => ({
  x: new ort.Tensor('float32', Float32Array.of(1, 2), [1, 2]),
  n: new ort.Tensor('int64', BigInt64Array.of(1n), [1, 1]),
  i: new ort.Tensor('int32', Int32Array.of(1), [1, 1]),
  d: new ort.Tensor('float64', Float64Array.of(1), [1, 1]),
  b: new ort.Tensor('bool', Uint8Array.of(1), [1, 1]),
  s: new ort.Tensor('string', ['a'], [1, 1]),
});

beforeAll(async () => {
  stack = await testStack();
  model = uniqueModel('cache');
  await registerTensorModel(stack, model, 1, built);
  await registerTensorModel(stack, model, 2, built);
  await registerTensorModel(stack, model, 1, built); // production back on 1
});

describe('ModelCache', () => {
  it('keeps sessions within its byte bound, and releases an evicted session only after its last lease', async () => {
    const cache = new ModelCache({ blobs: stack.blobs, registry: stack.registry, log: silentLogger, maxBytes: built.bytes.byteLength + 1 });
    const old = await cache.acquire(model, { version: 1 });
    const next = await cache.acquire(model, { version: 2 }); // over the bound: version 1 is evicted
    await expect(old.session.run(feeds())).resolves.toHaveProperty('doubled');
    old.release();
    await new Promise((r) => setTimeout(r, 20));
    await expect(old.session.run(feeds())).rejects.toThrow();
    await expect(next.session.run(feeds())).resolves.toHaveProperty('doubled');
    next.release();
    const again = await cache.acquire(model, { version: 1 });
    expect(again.session).not.toBe(old.session);
    again.release();
    await cache.close();
  });

  it('shares one session between concurrent requests for the same version', async () => {
    const cache = new ModelCache({ blobs: stack.blobs, registry: stack.registry, log: silentLogger });
    const leases = await Promise.all([1, 2, 3].map(() => cache.acquire(model, {})));
    expect(new Set(leases.map((l) => l.session)).size).toBe(1);
    leases.forEach((l) => l.release());
    await cache.close();
  });

  it('reuses a resolved alias for aliasCacheMs, then asks the registry again', async () => {
    const other = uniqueModel('cache');
    await registerTensorModel(stack, other, 1, built);
    const cache = new ModelCache({ blobs: stack.blobs, registry: stack.registry, log: silentLogger, aliasCacheMs: 300 });
    expect(await cache.resolve(other)).toBe(1);
    await registerTensorModel(stack, other, 2, built);
    expect(await cache.resolve(other)).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect(await cache.resolve(other)).toBe(2);
  });

  it('answers requests that find the alias expired together with one registry read', async () => {
    const other = uniqueModel('cache');
    await registerTensorModel(stack, other, 1, built);
    let reads = 0;
    const registry = new Proxy(stack.registry, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (name !== 'getModel' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return (...args: unknown[]) => {
          reads++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const cache = new ModelCache({ blobs: stack.blobs, registry, log: silentLogger, aliasCacheMs: 100 });
    expect(await Promise.all(Array.from({ length: 20 }, () => cache.resolve(other)))).toEqual(Array(20).fill(1));
    expect(reads).toBe(1);
    await new Promise((r) => setTimeout(r, 150));
    await registerTensorModel(stack, other, 2, built);
    expect(await Promise.all(Array.from({ length: 20 }, () => cache.resolve(other)))).toEqual(Array(20).fill(2));
    expect(reads).toBe(2);
    await expect(Promise.all([cache.resolve(other, { alias: 'nope' }), cache.resolve(other, { alias: 'nope' })])).rejects.toMatchObject({ code: 'VersionNotFound' });
    expect(reads).toBe(3);
  });

  it('warms a session up at load, and still serves a version whose warm-up fails', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const log: Logger = { ...silentLogger, info: (m: string) => infos.push(m), warn: (m: string) => warnings.push(m) };
    const odd = uniqueModel('cache');
    // The signature says x is a string: the dummy row does not fit the graph, so the warm-up fails.
    await registerTensorModel(stack, odd, 1, { ...built, inputs: built.inputs.map((f) => (f.name === 'x' ? { ...f, type: 'string' as const } : f)) });
    const cache = new ModelCache({ blobs: stack.blobs, registry: stack.registry, log });
    (await cache.acquire(model, {})).release();
    expect(infos.some((m) => /warm-up included/.test(m))).toBe(true);
    expect(warnings).toEqual([]);
    const lease = await cache.acquire(odd, {});
    expect(warnings).toEqual([expect.stringMatching(/Warm-up of .* version 1 failed \(it is served anyway\)/)]);
    await expect(lease.session.run(feeds())).resolves.toHaveProperty('doubled');
    lease.release();
    await cache.close();
  });
});
