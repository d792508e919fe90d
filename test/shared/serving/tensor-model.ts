import { createHash } from 'node:crypto';
import { encodeModel, IR_VERSION, ONNX_DOMAIN, tensorValueInfo, TensorDataType, type NodeProto, type TensorValueInfo } from '../../../shared/onnx/onnx-model';
import type { BlobStore } from '../../../shared/platform/blob-store';
import type { SignatureField, VersionDocument } from '../../../shared/registry/documents';
import { artifactPath, manifestPath } from '../../../shared/registry/manifest';
import type { Registry } from '../../../shared/registry/registry';

const TYPE_NAME: Record<number, SignatureField['type']> = {
  [TensorDataType.FLOAT]: 'float',
  [TensorDataType.DOUBLE]: 'double',
  [TensorDataType.INT32]: 'int32',
  [TensorDataType.INT64]: 'int64',
  [TensorDataType.BOOL]: 'bool',
  [TensorDataType.STRING]: 'string',
};

/**
 * A plain-tensor ONNX model of every V2 datatype, as a data scientist might bring one:
 * `x` FP32 [-1, 2] → `doubled` = x + x; `n` INT64 → `count`; `i` INT32 → `small`; `d` FP64 → `precise`;
 * `b` BOOL → `negated` = not b; `s` BYTES → `name`.
 */
export function everyDatatypeModel(): { bytes: Uint8Array; inputs: SignatureField[]; outputs: SignatureField[] } {
  const inputs: TensorValueInfo[] = [
    tensorValueInfo('x', TensorDataType.FLOAT, ['N', 2]),
    tensorValueInfo('n', TensorDataType.INT64, ['N', 1]),
    tensorValueInfo('i', TensorDataType.INT32, ['N', 1]),
    tensorValueInfo('d', TensorDataType.DOUBLE, ['N', 1]),
    tensorValueInfo('b', TensorDataType.BOOL, ['N', 1]),
    tensorValueInfo('s', TensorDataType.STRING, ['N', 1]),
  ];
  const outputs: TensorValueInfo[] = [
    tensorValueInfo('doubled', TensorDataType.FLOAT, ['N', 2]),
    tensorValueInfo('count', TensorDataType.INT64, ['N', 1]),
    tensorValueInfo('small', TensorDataType.INT32, ['N', 1]),
    tensorValueInfo('precise', TensorDataType.DOUBLE, ['N', 1]),
    tensorValueInfo('negated', TensorDataType.BOOL, ['N', 1]),
    tensorValueInfo('name', TensorDataType.STRING, ['N', 1]),
  ];
  const node: NodeProto[] = [
    { opType: 'Add', input: ['x', 'x'], output: ['doubled'] },
    { opType: 'Identity', input: ['n'], output: ['count'] },
    { opType: 'Identity', input: ['i'], output: ['small'] },
    { opType: 'Identity', input: ['d'], output: ['precise'] },
    { opType: 'Not', input: ['b'], output: ['negated'] },
    { opType: 'Identity', input: ['s'], output: ['name'] },
  ];
  const bytes = encodeModel({ irVersion: IR_VERSION, opsetImport: [{ domain: ONNX_DOMAIN, version: 17 }], producerName: 'test', graph: { name: 'every-datatype', node, input: inputs, output: outputs } });
  const signature = (v: TensorValueInfo): SignatureField => ({ name: v.name, type: TYPE_NAME[v.elemType]!, shape: (v.shape ?? []).map((d) => (typeof d === 'number' ? d : -1)) });
  return { bytes, inputs: inputs.map(signature), outputs: outputs.map(signature) };
}

/** Registers ONNX bytes as the given version of a model directly in the registry (artifact first, then documents), and points `production` at it. */
export async function registerTensorModel(
  deps: { blobs: BlobStore; registry: Registry },
  model: string,
  version: number,
  built: { bytes: Uint8Array; inputs: SignatureField[]; outputs: SignatureField[] },
): Promise<VersionDocument> {
  const now = new Date().toISOString();
  await deps.blobs.write('models', artifactPath(model, version), built.bytes);
  const existing = await deps.registry.getModel(model);
  if (!existing) {
    await deps.registry.createModel({ model, id: 'model', type: 'model', definition: { task: 'regression', target: 'y' }, aliases: { production: version }, latestVersion: version, createdAt: now, updatedAt: now } as never);
  } else {
    await deps.registry.upsertModel({ ...existing, aliases: { ...existing.aliases, production: version }, latestVersion: Math.max(existing.latestVersion, version), updatedAt: now });
  }
  return deps.registry.upsertVersion({
    model,
    id: `version-${version}`,
    type: 'version',
    version,
    task: 'regression',
    source: 'imported',
    trainer: 'onnx',
    artifact: `models/${artifactPath(model, version)}`,
    manifest: `models/${manifestPath(model, version)}`,
    sha256: createHash('sha256').update(built.bytes).digest('hex'),
    inputs: built.inputs,
    outputs: built.outputs,
    metrics: {},
    primaryMetric: 'rmse',
    datasets: [],
    trainingRows: 0,
    createdAt: now,
  } as VersionDocument);
}
