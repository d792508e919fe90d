import type { InvocationContext } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { describe, expect, inject, it } from 'vitest';
import { BLOB_POISON_QUEUE, parseBlobPath } from '../../host/blob-trigger';
import { FunctionsHost } from '../../host/functions-host';
import { APP_FIXTURE, collectingLogger, eventually, FAST_POLLING, sleep, uniqueName } from './helpers';

const storageConnection = inject('storageConnection');
const blobs = BlobServiceClient.fromConnectionString(storageConnection);
const queues = QueueServiceClient.fromConnectionString(storageConnection);

interface Call {
  content: string;
  metadata: Record<string, unknown> | undefined;
}

function createHost(hostId: string, container: string, onBlob: (blob: Buffer, context: InvocationContext) => unknown, maxDequeueCount = 5): FunctionsHost {
  const host = new FunctionsHost({
    scriptRoot: APP_FIXTURE,
    hostJson: { version: '2.0', extensions: { queues: { maxDequeueCount } } },
    port: 0,
    log: collectingLogger().log,
    storageConnection,
    hostId,
    polling: FAST_POLLING,
  });
  host.register(
    'ingest',
    { bindings: { drop: { type: 'blobTrigger', direction: 'in', path: `${container}/{model}/{name}`, connection: 'ModelloopUnsetBlobSetting' } } },
    onBlob,
  );
  return host;
}

async function upload(container: string, name: string, content: string): Promise<void> {
  await blobs.getContainerClient(container).getBlockBlobClient(name).upload(content, Buffer.byteLength(content));
}

describe('blob path patterns', () => {
  it('captures the parameters of the path, a literal extension too', () => {
    const path = parseBlobPath('models-incoming/{model}/{file}.onnx', 'test');
    expect(path.container).toBe('models-incoming');
    expect(path.prefix).toBe('');
    expect(path.match('iris/v2.onnx')).toEqual({ model: 'iris', file: 'v2' });
    expect(path.match('iris/v2.json')).toBeUndefined();
    expect(parseBlobPath('datasets/drops/{name}', 'test').prefix).toBe('drops/');
  });

  it('rejects a container with a parameter', () => {
    expect(() => parseBlobPath('{container}/{name}', "Function 'x'")).toThrow(/Function 'x'.*must be a literal/);
  });
});

describe('blob trigger', () => {
  it('fires once per blob, again when its content (ETag) changes, and not after a restart', async () => {
    const container = uniqueName('datasets');
    const hostId = uniqueName('host');
    const calls: Call[] = [];
    const record = (blob: Buffer, context: InvocationContext): void => {
      calls.push({ content: blob.toString(), metadata: context.triggerMetadata });
    };

    const first = createHost(hostId, container, record);
    await first.start();
    try {
      await upload(container, 'iris/drop-1.csv', 'a,b\n1,2\n');
      await upload(container, 'iris/empty.csv', '');
      await upload(container, 'not-under-a-model.csv', 'x');
      await eventually(() => calls.length === 2);
      await sleep(1_000);
      expect(calls).toHaveLength(2);

      const drop = calls.find((call) => call.content === 'a,b\n1,2\n');
      expect(drop?.metadata).toMatchObject({
        model: 'iris',
        name: 'drop-1.csv',
        blobTrigger: `${container}/iris/drop-1.csv`,
        uri: expect.stringContaining(`/${container}/iris/drop-1.csv`),
        properties: { length: 8, contentLength: 8, etag: expect.stringMatching(/^".+"$/) },
        metadata: {},
      });
      expect(calls.find((call) => call.content === '')?.metadata).toMatchObject({ name: 'empty.csv', properties: { length: 0 } });

      await upload(container, 'iris/drop-1.csv', 'a,b\n3,4\n');
      await eventually(() => calls.length === 3);
      expect(calls[2]?.content).toBe('a,b\n3,4\n');
    } finally {
      await first.stop();
    }

    const second = createHost(hostId, container, record);
    await second.start();
    try {
      await sleep(1_500);
      expect(calls).toHaveLength(3);
      await upload(container, 'iris/drop-2.csv', 'a,b\n5,6\n');
      await eventually(() => calls.length === 4);
      expect(calls[3]?.metadata).toMatchObject({ name: 'drop-2.csv' });
    } finally {
      await second.stop();
    }
  });

  it('parks a blob whose function always fails in webjobs-blobtrigger-poison after maxDequeueCount attempts', async () => {
    const container = uniqueName('reports');
    const hostId = uniqueName('host');
    let attempts = 0;
    const host = createHost(hostId, container, () => {
      attempts++;
      throw new Error('cannot parse');
    }, 2);
    await host.start();
    try {
      await upload(container, 'iris/broken.csv', 'not,a\ncsv');
      const poison = queues.getQueueClient(BLOB_POISON_QUEUE);
      const mine = async (): Promise<Record<string, string>[]> => {
        const peeked = await poison.peekMessages({ numberOfMessages: 32 }).catch(() => ({ peekedMessageItems: [] }));
        return peeked.peekedMessageItems
          .map((item) => JSON.parse(Buffer.from(item.messageText, 'base64').toString()) as Record<string, string>)
          .filter((message) => message.ContainerName === container);
      };
      await eventually(async () => (await mine()).length > 0);
      await sleep(1_000);
      const messages = await mine();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toEqual({
        Type: 'BlobTrigger',
        FunctionId: 'Host.Functions.ingest',
        BlobType: 'BlockBlob',
        ContainerName: container,
        BlobName: 'iris/broken.csv',
        ETag: expect.stringMatching(/^".+"$/),
      });
      expect(attempts).toBe(2);

      const receipt = blobs
        .getContainerClient('azure-webjobs-hosts')
        .getBlobClient(`blobreceipts/${hostId}/Host.Functions.ingest/${messages[0]?.ETag}/${container}/iris/broken.csv`);
      const properties = await receipt.getProperties();
      expect(Object.keys(properties.metadata ?? {}).map((key) => key.toLowerCase())).not.toContain('incomplete');
    } finally {
      await host.stop();
    }
  });
});
