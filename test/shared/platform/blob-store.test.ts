import { randomUUID } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, inject, it } from 'vitest';
import { BlobStore, isConditionFailure } from '../../../shared/platform/blob-store';

/** A container name no other test uses, so it starts out missing. */
const freshContainer = (): string => `missing-${randomUUID().slice(0, 8)}`;

describe('BlobStore with a container that does not exist yet', () => {
  const connection = inject('storageConnection');
  const exists = (container: string): Promise<boolean> => BlobServiceClient.fromConnectionString(connection).getContainerClient(container).exists();

  it('finds nothing in it, and reading or listing does not create it', async () => {
    const blobs = new BlobStore(connection);
    const container = freshContainer();
    expect(await blobs.read(container, 'a.json')).toBeUndefined();
    expect(await blobs.openRead(container, 'a.json')).toBeUndefined();
    expect(await blobs.list(container, 'a/')).toEqual([]);
    expect(await blobs.listFolders(container, 'a/')).toEqual([]);
    expect(await blobs.delete(container, 'a.json')).toBe(false);
    expect(await exists(container)).toBe(false);
  });

  it('creates it on the first write, which lands, and keeps the write conditions', async () => {
    const blobs = new BlobStore(connection);
    const container = freshContainer();
    const etag = await blobs.write(container, 'a/b.json', '{"x":1}', { ifNotExists: true, contentType: 'application/json' });
    expect(etag).not.toBe('');
    expect(await exists(container)).toBe(true);
    expect((await blobs.readJson(container, 'a/b.json'))?.value).toEqual({ x: 1 });
    expect((await blobs.list(container, 'a/')).map((blob) => blob.name)).toEqual(['a/b.json']);
    expect(await blobs.listFolders(container, '')).toEqual(['a/']);
    const again = await blobs.write(container, 'a/b.json', '{"x":2}', { ifNotExists: true }).catch((err: unknown) => err);
    expect(isConditionFailure(again)).toBe(true);
  });

  it('answers a write that expects an ETag in it with a condition failure', async () => {
    const blobs = new BlobStore(connection);
    const container = freshContainer();
    const stale = await blobs.write(container, 'c.json', '{}', { ifMatch: '"0x8D000000000000"' }).catch((err: unknown) => err);
    expect(isConditionFailure(stale)).toBe(true);
    expect(await blobs.read(container, 'c.json')).toBeUndefined();
  });
});
