/**
 * The subset of `onnx.proto3` that modelloop writes, as plain typed values, and its encoder.
 * Field numbers follow onnx.proto3 exactly; only what the exporters need is modelled.
 */

import { ProtobufWriter } from './protobuf-writer';

/** `TensorProto.DataType` values used by modelloop. */
export const TensorDataType = {
  FLOAT: 1,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  DOUBLE: 11,
} as const;

export type TensorDataType = (typeof TensorDataType)[keyof typeof TensorDataType];

/** IR version 8: the one that goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;
/** The default ONNX operator domain. */
export const ONNX_DOMAIN = '';
/** The traditional-ML operator domain (Imputer, Scaler, OneHotEncoder, Linear*). */
export const ONNX_ML_DOMAIN = 'ai.onnx.ml';

/** A dimension: a fixed size, or a symbolic name such as `"N"` (written as `dim_param`). */
export type Dimension = number | string;

/** `ValueInfoProto` whose type is a tensor. */
export interface TensorValueInfo {
  readonly name: string;
  readonly elemType: TensorDataType;
  /** Omit for a tensor of unknown rank. */
  readonly shape?: readonly Dimension[];
  readonly docString?: string;
}

/** `TensorProto` holding float or int64 data, stored in `float_data` / `int64_data`. */
export type TensorProto =
  | {
      readonly name?: string;
      readonly dataType: typeof TensorDataType.FLOAT;
      readonly dims: readonly number[];
      readonly data: ArrayLike<number>;
    }
  | {
      readonly name?: string;
      readonly dataType: typeof TensorDataType.INT64;
      readonly dims: readonly number[];
      /** Safe integers. */
      readonly data: ArrayLike<number>;
    };

/** `AttributeProto`, one variant per `AttributeType` that modelloop writes. */
export type AttributeProto =
  | { readonly name: string; readonly type: 'FLOAT'; readonly value: number }
  | { readonly name: string; readonly type: 'INT'; readonly value: number }
  | { readonly name: string; readonly type: 'STRING'; readonly value: string }
  | { readonly name: string; readonly type: 'TENSOR'; readonly value: TensorProto }
  | { readonly name: string; readonly type: 'FLOATS'; readonly value: ArrayLike<number> }
  | { readonly name: string; readonly type: 'INTS'; readonly value: ArrayLike<number> }
  | { readonly name: string; readonly type: 'STRINGS'; readonly value: readonly string[] };

export interface NodeProto {
  readonly opType: string;
  /** @default '' (the default ONNX domain) */
  readonly domain?: string;
  readonly name?: string;
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly attribute?: readonly AttributeProto[];
  readonly docString?: string;
}

export interface GraphProto {
  readonly name: string;
  /** Topologically sorted. */
  readonly node: readonly NodeProto[];
  readonly initializer?: readonly TensorProto[];
  readonly input: readonly TensorValueInfo[];
  readonly output: readonly TensorValueInfo[];
  readonly valueInfo?: readonly TensorValueInfo[];
  readonly docString?: string;
}

export interface OperatorSetId {
  readonly domain: string;
  readonly version: number;
}

export interface ModelProto {
  readonly irVersion: number;
  readonly opsetImport: readonly OperatorSetId[];
  readonly producerName?: string;
  readonly producerVersion?: string;
  readonly domain?: string;
  readonly modelVersion?: number;
  readonly docString?: string;
  readonly graph: GraphProto;
  /** `metadata_props`, written in insertion order; keys should be distinct. */
  readonly metadataProps?: Readonly<Record<string, string>>;
}

export function floatAttribute(name: string, value: number): AttributeProto {
  return { name, type: 'FLOAT', value };
}

export function intAttribute(name: string, value: number): AttributeProto {
  return { name, type: 'INT', value };
}

export function stringAttribute(name: string, value: string): AttributeProto {
  return { name, type: 'STRING', value };
}

export function tensorAttribute(name: string, value: TensorProto): AttributeProto {
  return { name, type: 'TENSOR', value };
}

/** `values` is written as-is (a `Float32Array` is copied byte for byte, nothing else is allocated). */
export function floatsAttribute(name: string, values: ArrayLike<number>): AttributeProto {
  return { name, type: 'FLOATS', value: values };
}

export function intsAttribute(name: string, values: ArrayLike<number>): AttributeProto {
  return { name, type: 'INTS', value: values };
}

export function stringsAttribute(name: string, values: readonly string[]): AttributeProto {
  return { name, type: 'STRINGS', value: values };
}

export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorProto {
  return { name, dataType: TensorDataType.FLOAT, dims, data };
}

export function int64Tensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorProto {
  return { name, dataType: TensorDataType.INT64, dims, data };
}

export function tensorValueInfo(
  name: string,
  elemType: TensorDataType,
  shape?: readonly Dimension[],
): TensorValueInfo {
  return shape === undefined ? { name, elemType } : { name, elemType, shape };
}

// onnx.proto3 field numbers.
const Model = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  docString: 6,
  graph: 7,
  opsetImport: 8,
  metadataProps: 14,
} as const;
const OperatorSetIdField = { domain: 1, version: 2 } as const;
const StringStringEntry = { key: 1, value: 2 } as const;
const Graph = { node: 1, name: 2, initializer: 5, docString: 10, input: 11, output: 12, valueInfo: 13 } as const;
const Node = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, docString: 6, domain: 7 } as const;
const Attribute = { name: 1, f: 2, i: 3, s: 4, t: 5, floats: 7, ints: 8, strings: 9, type: 20 } as const;
const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const Tensor = { dims: 1, dataType: 2, floatData: 4, int64Data: 7, name: 8 } as const;
const ValueInfo = { name: 1, type: 2, docString: 3 } as const;
const TypeProtoField = { tensorType: 1 } as const;
const TypeTensor = { elemType: 1, shape: 2 } as const;
const TensorShape = { dim: 1 } as const;
const Dim = { dimValue: 1, dimParam: 2 } as const;

/** Serialises a model to the ONNX protobuf bytes (what `InferenceSession.create` takes). */
export function encodeModel(model: ModelProto): Uint8Array {
  const w = new ProtobufWriter(4096);
  w.varint(Model.irVersion, model.irVersion);
  if (model.producerName !== undefined) w.string(Model.producerName, model.producerName);
  if (model.producerVersion !== undefined) w.string(Model.producerVersion, model.producerVersion);
  if (model.domain !== undefined) w.string(Model.domain, model.domain);
  if (model.modelVersion !== undefined) w.varint(Model.modelVersion, model.modelVersion);
  if (model.docString !== undefined) w.string(Model.docString, model.docString);
  const graph = w.beginMessage(Model.graph);
  writeGraph(w, model.graph);
  w.endMessage(graph);
  for (const opset of model.opsetImport) {
    const mark = w.beginMessage(Model.opsetImport);
    w.string(OperatorSetIdField.domain, opset.domain);
    w.varint(OperatorSetIdField.version, opset.version);
    w.endMessage(mark);
  }
  for (const [key, value] of Object.entries(model.metadataProps ?? {})) {
    const mark = w.beginMessage(Model.metadataProps);
    w.string(StringStringEntry.key, key);
    w.string(StringStringEntry.value, value);
    w.endMessage(mark);
  }
  return w.finish();
}

function writeGraph(w: ProtobufWriter, graph: GraphProto): void {
  for (const node of graph.node) {
    const mark = w.beginMessage(Graph.node);
    writeNode(w, node);
    w.endMessage(mark);
  }
  w.string(Graph.name, graph.name);
  for (const tensor of graph.initializer ?? []) {
    const mark = w.beginMessage(Graph.initializer);
    writeTensor(w, tensor);
    w.endMessage(mark);
  }
  if (graph.docString !== undefined) w.string(Graph.docString, graph.docString);
  for (const value of graph.input) writeValueInfo(w, Graph.input, value);
  for (const value of graph.output) writeValueInfo(w, Graph.output, value);
  for (const value of graph.valueInfo ?? []) writeValueInfo(w, Graph.valueInfo, value);
}

function writeNode(w: ProtobufWriter, node: NodeProto): void {
  for (const name of node.input) w.string(Node.input, name);
  for (const name of node.output) w.string(Node.output, name);
  if (node.name !== undefined) w.string(Node.name, node.name);
  w.string(Node.opType, node.opType);
  for (const attribute of node.attribute ?? []) {
    const mark = w.beginMessage(Node.attribute);
    writeAttribute(w, attribute);
    w.endMessage(mark);
  }
  if (node.docString !== undefined) w.string(Node.docString, node.docString);
  if (node.domain !== undefined && node.domain !== '') w.string(Node.domain, node.domain);
}

function writeAttribute(w: ProtobufWriter, attribute: AttributeProto): void {
  w.string(Attribute.name, attribute.name);
  w.varint(Attribute.type, AttributeType[attribute.type]);
  switch (attribute.type) {
    case 'FLOAT':
      w.float(Attribute.f, attribute.value);
      return;
    case 'INT':
      w.varint(Attribute.i, attribute.value);
      return;
    case 'STRING':
      w.string(Attribute.s, attribute.value);
      return;
    case 'TENSOR': {
      const mark = w.beginMessage(Attribute.t);
      writeTensor(w, attribute.value);
      w.endMessage(mark);
      return;
    }
    case 'FLOATS':
      w.packedFloats(Attribute.floats, attribute.value);
      return;
    case 'INTS':
      w.packedInt64s(Attribute.ints, attribute.value);
      return;
    case 'STRINGS':
      for (const value of attribute.value) w.string(Attribute.strings, value);
      return;
  }
}

function writeTensor(w: ProtobufWriter, tensor: TensorProto): void {
  let count = 1;
  for (const dim of tensor.dims) count *= dim;
  if (count !== tensor.data.length) {
    const name = tensor.name ?? '(unnamed)';
    throw new RangeError(
      `tensor ${name} has dims [${tensor.dims.join(', ')}] (${count} elements) but ${tensor.data.length} values`,
    );
  }
  w.packedInt64s(Tensor.dims, tensor.dims);
  w.varint(Tensor.dataType, tensor.dataType);
  if (tensor.dataType === TensorDataType.FLOAT) w.packedFloats(Tensor.floatData, tensor.data);
  else w.packedInt64s(Tensor.int64Data, tensor.data);
  if (tensor.name !== undefined) w.string(Tensor.name, tensor.name);
}

function writeValueInfo(w: ProtobufWriter, field: number, value: TensorValueInfo): void {
  const info = w.beginMessage(field);
  w.string(ValueInfo.name, value.name);
  const type = w.beginMessage(ValueInfo.type);
  const tensorType = w.beginMessage(TypeProtoField.tensorType);
  w.varint(TypeTensor.elemType, value.elemType);
  if (value.shape !== undefined) {
    const shape = w.beginMessage(TypeTensor.shape);
    for (const dim of value.shape) {
      const mark = w.beginMessage(TensorShape.dim);
      if (typeof dim === 'string') w.string(Dim.dimParam, dim);
      else w.varint(Dim.dimValue, dim);
      w.endMessage(mark);
    }
    w.endMessage(shape);
  }
  w.endMessage(tensorType);
  w.endMessage(type);
  if (value.docString !== undefined) w.string(ValueInfo.docString, value.docString);
  w.endMessage(info);
}
