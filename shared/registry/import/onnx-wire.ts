/**
 * A bounded protobuf wire-format reader for untrusted ONNX files: it never allocates more than
 * the input, never recurses deeper than the caller allows, and reports where a file is broken.
 */

export class WireError extends Error {
  override readonly name = 'WireError';
}

export interface WireField {
  readonly field: number;
  readonly wireType: 0 | 1 | 2 | 5;
  /** Varint value (wire type 0); exact up to 2^53, saturated above. */
  readonly value: number;
  /** Start and end of the payload for wire types 1, 2 and 5. */
  readonly start: number;
  readonly end: number;
}

export function readVarint(bytes: Uint8Array, start: number, end: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  const last = Math.min(end, start + 10);
  for (let at = start; at < last; at++) {
    const byte = bytes[at]!;
    // Plain arithmetic, not bit operations: values above 2^31 stay exact up to 2^53.
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: at + 1 };
  }
  throw new WireError(last - start === 10 ? `a varint at byte ${start} is longer than 10 bytes` : `the file ends inside a varint at byte ${start}: it is truncated`);
}

/** The fields of one message between `start` and `end`. */
export function readMessage(bytes: Uint8Array, start = 0, end = bytes.length): WireField[] {
  const fields: WireField[] = [];
  let at = start;
  while (at < end) {
    const key = readVarint(bytes, at, end);
    at = key.next;
    const field = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    if (field === 0) throw new WireError(`field number 0 at byte ${at}: not a protobuf message`);
    switch (wireType) {
      case 0: {
        const v = readVarint(bytes, at, end);
        fields.push({ field, wireType, value: v.value, start: at, end: v.next });
        at = v.next;
        break;
      }
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (at + size > end) throw new WireError(`the file ends inside field ${field} at byte ${at}`);
        fields.push({ field, wireType, value: 0, start: at, end: at + size });
        at += size;
        break;
      }
      case 2: {
        const length = readVarint(bytes, at, end);
        const from = length.next;
        if (length.value > end - from) {
          throw new WireError(`field ${field} at byte ${at} declares ${length.value} bytes but only ${end - from} remain: the file is truncated or corrupt`);
        }
        fields.push({ field, wireType, value: length.value, start: from, end: from + length.value });
        at = from + length.value;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${wireType} for field ${field} at byte ${at}`);
    }
  }
  return fields;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export function text(bytes: Uint8Array, f: WireField): string {
  return decoder.decode(bytes.subarray(f.start, f.end));
}

/** The int64 values of a repeated field, packed or not. */
export function int64s(bytes: Uint8Array, fields: readonly WireField[], field: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wireType === 0) out.push(signed(f.value));
    else if (f.wireType === 2) {
      for (let at = f.start; at < f.end; ) {
        const v = readVarint(bytes, at, f.end);
        out.push(signed(v.value));
        at = v.next;
      }
    }
  }
  return out;
}

/** Two's complement int64 read as an unsigned varint: values at or above 2^63 are negative. */
function signed(value: number): number {
  return value >= 2 ** 63 ? value - 2 ** 64 : value;
}
