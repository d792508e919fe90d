import type { SignatureField } from '../documents';
import { WireError, int64s, readMessage, text, type WireField } from './onnx-wire';

/**
 * Static checks of an untrusted ONNX file, before anything loads it: the protobuf is parsed here
 * (bounded, no ONNX Runtime), and the file is refused when it is truncated, points at external
 * data, uses an operator domain or opset outside what modelloop serves, declares a tensor larger
 * than the limit, or has inputs or outputs that are not plain tensors.
 */

export interface InspectionLimits {
  /** Largest file accepted. @default 256 MiB */
  readonly maxBytes: number;
  /** Largest tensor a file may declare, in elements. @default 64 Mi elements */
  readonly maxTensorElements: number;
  /** Largest input one smoke-run row batch may need, in elements. @default 1 Mi */
  readonly maxInputElements: number;
}

export const DEFAULT_INSPECTION_LIMITS: InspectionLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxTensorElements: 64 * 1024 * 1024,
  maxInputElements: 1024 * 1024,
};

/** The operator sets modelloop serves: what its own exports use, and what the design promises to load. */
export const ALLOWED_OPSETS: Readonly<Record<string, number>> = { '': 17, 'ai.onnx': 17, 'ai.onnx.ml': 3 };

/** Why an imported file was refused. The last four come from the isolated load and smoke run. */
export type RefusalCode =
  | 'TooLarge'
  | 'Malformed'
  | 'ExternalData'
  | 'UnknownDomain'
  | 'UnsupportedOpset'
  | 'HugeTensor'
  | 'UnsupportedSignature'
  | 'Timeout'
  | 'MemoryLimit'
  | 'Crashed'
  | 'SmokeRunFailed';

export interface Refusal {
  readonly code: RefusalCode;
  /** Where in the file: `graph.initializer[3] "W"`, `opset_import[1]`, … */
  readonly where: string;
  readonly message: string;
}

export interface ModelSignature {
  readonly irVersion: number;
  readonly opsets: Record<string, number>;
  readonly producer: string;
  readonly inputs: SignatureField[];
  readonly outputs: SignatureField[];
  /** Class labels declared by an `ai.onnx.ml` classifier node, when there is one. */
  readonly labels?: (string | number)[];
  readonly metadata: Record<string, string>;
  readonly nodes: number;
}

export type Inspection = { readonly ok: true; readonly signature: ModelSignature } | { readonly ok: false; readonly refusals: Refusal[] };

const ELEMENT: Record<number, { type: SignatureField['type'] | undefined; bytes: number; name: string }> = {
  1: { type: 'float', bytes: 4, name: 'float' },
  2: { type: undefined, bytes: 1, name: 'uint8' },
  3: { type: undefined, bytes: 1, name: 'int8' },
  4: { type: undefined, bytes: 2, name: 'uint16' },
  5: { type: undefined, bytes: 2, name: 'int16' },
  6: { type: 'int32', bytes: 4, name: 'int32' },
  7: { type: 'int64', bytes: 8, name: 'int64' },
  8: { type: 'string', bytes: 0, name: 'string' },
  9: { type: 'bool', bytes: 1, name: 'bool' },
  10: { type: undefined, bytes: 2, name: 'float16' },
  11: { type: 'double', bytes: 8, name: 'double' },
  12: { type: undefined, bytes: 4, name: 'uint32' },
  13: { type: undefined, bytes: 8, name: 'uint64' },
  16: { type: undefined, bytes: 2, name: 'bfloat16' },
};

const MAX_GRAPH_DEPTH = 16;

export function inspectModel(bytes: Uint8Array, limits: InspectionLimits = DEFAULT_INSPECTION_LIMITS): Inspection {
  if (bytes.byteLength > limits.maxBytes) {
    return refuse('TooLarge', 'file', `the file is ${bytes.byteLength} bytes; the limit is ${limits.maxBytes} (IMPORT_MAX_BYTES)`);
  }
  if (bytes.byteLength === 0) return refuse('Malformed', 'file', 'the file is empty');
  try {
    return new Inspector(bytes, limits).run();
  } catch (err) {
    if (err instanceof WireError) return refuse('Malformed', 'file', `not a readable ONNX model: ${err.message}`);
    throw err;
  }
}

function refuse(code: RefusalCode, where: string, message: string): Inspection {
  return { ok: false, refusals: [{ code, where, message }] };
}

class Inspector {
  readonly #bytes: Uint8Array;
  readonly #limits: InspectionLimits;
  readonly #refusals: Refusal[] = [];
  #nodes = 0;
  #labels: (string | number)[] | undefined;

  constructor(bytes: Uint8Array, limits: InspectionLimits) {
    this.#bytes = bytes;
    this.#limits = limits;
  }

  run(): Inspection {
    const b = this.#bytes;
    const model = readMessage(b);
    const irVersion = model.find((f) => f.field === 1 && f.wireType === 0)?.value;
    const graphField = model.find((f) => f.field === 7 && f.wireType === 2);
    if (irVersion === undefined || !graphField) {
      return refuse('Malformed', 'model', 'not an ONNX model: it has no ir_version or no graph');
    }
    if (irVersion < 3 || irVersion > 10) this.#refuse('UnsupportedOpset', 'ir_version', `IR version ${irVersion} is not supported; export with IR version 3 to 10 (opset ≤ 17)`);
    const opsets: Record<string, number> = {};
    model
      .filter((f) => f.field === 8 && f.wireType === 2)
      .forEach((f, i) => {
        const entry = readMessage(b, f.start, f.end);
        const domainField = entry.find((e) => e.field === 1 && e.wireType === 2);
        const domain = domainField ? text(b, domainField) : '';
        const version = entry.find((e) => e.field === 2 && e.wireType === 0)?.value ?? 0;
        opsets[domain] = version;
        const allowed = ALLOWED_OPSETS[domain];
        if (allowed === undefined) {
          this.#refuse('UnknownDomain', `opset_import[${i}]`, `operator domain "${domain}" is not one modelloop serves (only the default ONNX domain and ai.onnx.ml)`);
        } else if (version < 1 || version > allowed) {
          this.#refuse('UnsupportedOpset', `opset_import[${i}]`, `${domain || 'ai.onnx'} opset ${version} is not supported; export with opset ≤ ${allowed}`);
        }
      });
    if (opsets[''] === undefined && opsets['ai.onnx'] === undefined) this.#refuse('UnsupportedOpset', 'opset_import', 'the model imports no default-domain opset');
    if (model.some((f) => f.field === 25)) this.#refuse('UnknownDomain', 'functions', 'the model defines local functions (custom operators); export without them');
    if (model.some((f) => f.field === 20)) this.#refuse('UnsupportedSignature', 'training_info', 'the model carries training information; export an inference-only model');
    const metadata: Record<string, string> = {};
    for (const f of model.filter((m) => m.field === 14 && m.wireType === 2)) {
      const entry = readMessage(b, f.start, f.end);
      const k = entry.find((e) => e.field === 1 && e.wireType === 2);
      const v = entry.find((e) => e.field === 2 && e.wireType === 2);
      if (k) metadata[text(b, k)] = v ? text(b, v) : '';
    }
    const producerField = model.find((f) => f.field === 2 && f.wireType === 2);

    const graph = readMessage(b, graphField.start, graphField.end);
    this.#graph(graph, 'graph', 0);
    const initializers = new Set(
      graph.filter((f) => f.field === 5 && f.wireType === 2).map((f) => {
        const name = readMessage(b, f.start, f.end).find((e) => e.field === 8 && e.wireType === 2);
        return name ? text(b, name) : '';
      }),
    );
    const inputs = graph
      .filter((f) => f.field === 11 && f.wireType === 2)
      .map((f, i) => this.#valueInfo(f, `graph.input[${i}]`))
      .filter((v): v is SignatureField => v !== undefined && !initializers.has(v.name));
    const outputs = graph
      .filter((f) => f.field === 12 && f.wireType === 2)
      .map((f, i) => this.#valueInfo(f, `graph.output[${i}]`))
      .filter((v): v is SignatureField => v !== undefined);
    if (inputs.length === 0 && this.#refusals.length === 0) this.#refuse('UnsupportedSignature', 'graph.input', 'the model has no inputs');
    if (outputs.length === 0 && this.#refusals.length === 0) this.#refuse('UnsupportedSignature', 'graph.output', 'the model has no outputs');
    for (const input of inputs) {
      const elements = input.shape.reduce((n, d) => n * (d < 0 ? 2 : d), 1);
      if (elements > this.#limits.maxInputElements) {
        this.#refuse('HugeTensor', `input "${input.name}"`, `input "${input.name}" declares shape [${input.shape.join(', ')}]: ${elements} elements for a two-row request (limit ${this.#limits.maxInputElements})`);
      }
    }
    if (this.#refusals.length) return { ok: false, refusals: this.#refusals };
    return {
      ok: true,
      signature: {
        irVersion,
        opsets,
        producer: producerField ? text(b, producerField) : '',
        inputs,
        outputs,
        ...(this.#labels ? { labels: this.#labels } : {}),
        metadata,
        nodes: this.#nodes,
      },
    };
  }

  #refuse(code: RefusalCode, where: string, message: string): void {
    if (this.#refusals.length < 50) this.#refusals.push({ code, where, message });
  }

  #graph(graph: WireField[], where: string, depth: number): void {
    if (depth > MAX_GRAPH_DEPTH) throw new WireError(`subgraphs nest deeper than ${MAX_GRAPH_DEPTH} levels at ${where}`);
    const b = this.#bytes;
    graph.forEach((f) => {
      if (f.wireType !== 2) return;
      if (f.field === 5) this.#tensor(readMessage(b, f.start, f.end), `${where}.initializer`);
      else if (f.field === 15) this.#refuse('UnsupportedSignature', `${where}.sparse_initializer`, 'sparse initializers are not supported');
      else if (f.field === 1) this.#node(readMessage(b, f.start, f.end), `${where}.node`, depth);
    });
  }

  #node(node: WireField[], where: string, depth: number): void {
    const b = this.#bytes;
    this.#nodes++;
    const opField = node.find((f) => f.field === 4 && f.wireType === 2);
    const domainField = node.find((f) => f.field === 7 && f.wireType === 2);
    const op = opField ? text(b, opField) : '?';
    const domain = domainField ? text(b, domainField) : '';
    const here = `${where} ${op}`;
    if (ALLOWED_OPSETS[domain] === undefined) {
      this.#refuse('UnknownDomain', here, `operator ${domain}::${op} is in domain "${domain}", which modelloop does not serve (only the default ONNX domain and ai.onnx.ml)`);
    }
    const attributes = node.filter((f) => f.field === 5 && f.wireType === 2).map((f) => readMessage(b, f.start, f.end));
    for (const attribute of attributes) {
      const nameField = attribute.find((f) => f.field === 1 && f.wireType === 2);
      const name = nameField ? text(b, nameField) : '';
      for (const f of attribute) {
        if (f.wireType !== 2) continue;
        if (f.field === 5 || f.field === 10) this.#tensor(readMessage(b, f.start, f.end), `${here}.${name}`);
        else if (f.field === 6 || f.field === 11) this.#graph(readMessage(b, f.start, f.end), `${here}.${name}`, depth + 1);
      }
      if (domain === 'ai.onnx.ml' && op.endsWith('Classifier') && !this.#labels) {
        if (name === 'classlabels_strings') this.#labels = attribute.filter((f) => f.field === 9 && f.wireType === 2).map((f) => text(b, f));
        if (name === 'classlabels_ints' || name === 'classlabels_int64s') this.#labels = int64s(b, attribute, 8);
      }
    }
  }

  #tensor(tensor: WireField[], where: string): void {
    const b = this.#bytes;
    const nameField = tensor.find((f) => f.field === 8 && f.wireType === 2);
    const label = `${where} "${nameField ? text(b, nameField) : ''}"`;
    const location = tensor.find((f) => f.field === 14 && f.wireType === 0)?.value ?? 0;
    const external = tensor.filter((f) => f.field === 13 && f.wireType === 2);
    if (location === 1 || external.length) {
      const path = external
        .map((f) => readMessage(b, f.start, f.end))
        .find((e) => e.some((x) => x.field === 1 && x.wireType === 2 && text(b, x) === 'location'))
        ?.find((x) => x.field === 2 && x.wireType === 2);
      this.#refuse('ExternalData', label, `tensor keeps its data in an external file${path ? ` ("${text(b, path)}")` : ''}; export a self-contained model (save_as_external_data=False)`);
      return;
    }
    const dims = int64s(b, tensor, 1);
    if (dims.some((d) => d < 0)) {
      this.#refuse('Malformed', label, `tensor declares a negative dimension [${dims.join(', ')}]`);
      return;
    }
    const elements = dims.reduce((n, d) => n * d, 1);
    if (elements > this.#limits.maxTensorElements) {
      this.#refuse('HugeTensor', label, `tensor declares shape [${dims.join(', ')}] = ${elements} elements; the limit is ${this.#limits.maxTensorElements}`);
      return;
    }
    const dataType = tensor.find((f) => f.field === 2 && f.wireType === 0)?.value ?? 0;
    const element = ELEMENT[dataType];
    const raw = tensor.find((f) => f.field === 9 && f.wireType === 2);
    if (raw && element && element.bytes > 0 && raw.end - raw.start !== elements * element.bytes) {
      this.#refuse('Malformed', label, `tensor declares shape [${dims.join(', ')}] of ${element.name} (${elements * element.bytes} bytes) but carries ${raw.end - raw.start} bytes`);
    }
  }

  #valueInfo(f: WireField, where: string): SignatureField | undefined {
    const b = this.#bytes;
    const info = readMessage(b, f.start, f.end);
    const nameField = info.find((x) => x.field === 1 && x.wireType === 2);
    const name = nameField ? text(b, nameField) : '';
    const typeField = info.find((x) => x.field === 2 && x.wireType === 2);
    const here = `${where} "${name}"`;
    if (!typeField) {
      this.#refuse('UnsupportedSignature', here, 'has no type');
      return undefined;
    }
    const type = readMessage(b, typeField.start, typeField.end);
    const tensorType = type.find((x) => x.field === 1 && x.wireType === 2);
    if (!tensorType) {
      const kind = type.some((x) => x.field === 4) ? 'a sequence' : type.some((x) => x.field === 5) ? 'a map' : 'not a dense tensor';
      this.#refuse('UnsupportedSignature', here, `is ${kind}; modelloop serves tensor inputs and outputs only (for scikit-learn classifiers, convert with options={"zipmap": False})`);
      return undefined;
    }
    const tensor = readMessage(b, tensorType.start, tensorType.end);
    const elemType = tensor.find((x) => x.field === 1 && x.wireType === 0)?.value ?? 0;
    const element = ELEMENT[elemType];
    if (!element?.type) {
      this.#refuse('UnsupportedSignature', here, `has element type ${element?.name ?? elemType}; supported are float, double, int64, int32, bool and string`);
      return undefined;
    }
    const shapeField = tensor.find((x) => x.field === 2 && x.wireType === 2);
    const shape = shapeField
      ? readMessage(b, shapeField.start, shapeField.end)
          .filter((x) => x.field === 1 && x.wireType === 2)
          .map((d) => {
            const dim = readMessage(b, d.start, d.end).find((x) => x.field === 1 && x.wireType === 0);
            return dim ? int64s(b, [dim], 1)[0]! : -1;
          })
      : [-1];
    return { name, type: element.type, shape };
  }
}
