// A minimal protobuf wire-format reader for tests, written independently of the writer
// (BigInt arithmetic, byte by byte) so that the two cannot share a mistake.

export type WireValue =
  | { readonly wireType: 0; readonly varint: bigint }
  | { readonly wireType: 1; readonly bytes: Uint8Array }
  | { readonly wireType: 2; readonly bytes: Uint8Array }
  | { readonly wireType: 5; readonly bytes: Uint8Array };

export interface WireField {
  readonly field: number;
  readonly value: WireValue;
}

export function readVarint(bytes: Uint8Array, start: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < bytes.length; pos++) {
    const byte = bytes[pos] as number;
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: pos + 1 };
    shift += 7n;
    if (shift > 63n) throw new Error(`varint longer than 10 bytes at ${start}`);
  }
  throw new Error(`truncated varint at ${start}`);
}

export function readFields(bytes: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const key = readVarint(bytes, pos);
    pos = key.next;
    const field = Number(key.value >> 3n);
    const wireType = Number(key.value & 7n);
    switch (wireType) {
      case 0: {
        const v = readVarint(bytes, pos);
        pos = v.next;
        fields.push({ field, value: { wireType: 0, varint: v.value } });
        break;
      }
      case 1:
      case 5: {
        const size = wireType === 1 ? 8 : 4;
        if (pos + size > bytes.length) throw new Error(`truncated fixed field ${field}`);
        fields.push({ field, value: { wireType, bytes: bytes.subarray(pos, pos + size) } });
        pos += size;
        break;
      }
      case 2: {
        const length = readVarint(bytes, pos);
        pos = length.next;
        const end = pos + Number(length.value);
        if (end > bytes.length) throw new Error(`length-delimited field ${field} runs past the end`);
        fields.push({ field, value: { wireType: 2, bytes: bytes.subarray(pos, end) } });
        pos = end;
        break;
      }
      default:
        throw new Error(`unexpected wire type ${wireType} for field ${field}`);
    }
  }
  return fields;
}

export function all(bytes: Uint8Array, field: number): WireValue[] {
  return readFields(bytes)
    .filter((f) => f.field === field)
    .map((f) => f.value);
}

export function only(bytes: Uint8Array, field: number): WireValue {
  const values = all(bytes, field);
  if (values.length !== 1) throw new Error(`expected one field ${field}, found ${values.length}`);
  return values[0] as WireValue;
}

export function bytesOf(value: WireValue): Uint8Array {
  if (value.wireType === 0) throw new Error('varint has no bytes');
  return value.bytes;
}

export function stringOf(value: WireValue): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytesOf(value));
}

export function int64Of(value: WireValue): bigint {
  if (value.wireType !== 0) throw new Error(`expected a varint, got wire type ${value.wireType}`);
  return BigInt.asIntN(64, value.varint);
}

export function unpackInt64s(bytes: Uint8Array): bigint[] {
  const values: bigint[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const v = readVarint(bytes, pos);
    values.push(BigInt.asIntN(64, v.value));
    pos = v.next;
  }
  return values;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}
