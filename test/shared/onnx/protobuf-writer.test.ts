import { describe, expect, it } from 'vitest';
import { ProtobufWriter } from '../../../shared/onnx/protobuf-writer';
import { bytesOf, hex, int64Of, only, readFields, stringOf, unpackInt64s } from './wire-reader';

describe('ProtobufWriter', () => {
  it('writes varints as the protobuf encoding guide shows them', () => {
    // The guide's example: field 1 = 150 is 08 96 01.
    expect(hex(new ProtobufWriter().varint(1, 150).finish())).toBe('08 96 01');
    expect(hex(new ProtobufWriter().varint(2, 0).finish())).toBe('10 00');
    expect(hex(new ProtobufWriter().varint(1, -1).finish())).toBe('08 ff ff ff ff ff ff ff ff ff 01');
    // A key above field 15 takes two bytes: (20 << 3) | 0 = 160.
    expect(hex(new ProtobufWriter().varint(20, 1).finish())).toBe('a0 01 01');
  });

  it('round-trips int64 values across every varint length, negative ones as two\u2019s complement', () => {
    const values = [
      0, 1, 127, 128, 300, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 42 + 5,
      2 ** 49 - 1, 2 ** 49, Number.MAX_SAFE_INTEGER, -1, -2, -128, -(2 ** 31), -(2 ** 32) - 7, Number.MIN_SAFE_INTEGER,
    ];
    const w = new ProtobufWriter(16);
    for (const value of values) w.varint(3, value);
    w.packedInt64s(4, values);
    const bytes = w.finish();
    const decoded = readFields(bytes)
      .filter((f) => f.field === 3)
      .map((f) => int64Of(f.value));
    expect(decoded).toEqual(values.map(BigInt));
    expect(unpackInt64s(bytesOf(only(bytes, 4)))).toEqual(values.map(BigInt));
  });

  it('writes floats, doubles and fixed-width integers little-endian', () => {
    const bytes = new ProtobufWriter()
      .float(1, 1.5)
      .float(2, Number.NaN)
      .double(3, -2.25)
      .fixed32(4, 0xdeadbeef)
      .fixed64(5, 2 ** 40 + 1)
      .bool(6, true)
      .finish();
    const fixed = (field: number): DataView => {
      const b = bytesOf(only(bytes, field));
      return new DataView(b.buffer, b.byteOffset, b.byteLength);
    };
    expect(fixed(1).getFloat32(0, true)).toBe(1.5);
    expect(Number.isNaN(fixed(2).getFloat32(0, true))).toBe(true);
    expect(fixed(3).getFloat64(0, true)).toBe(-2.25);
    expect(fixed(4).getUint32(0, true)).toBe(0xdeadbeef);
    expect(fixed(5).getBigUint64(0, true)).toBe(2n ** 40n + 1n);
    expect(int64Of(only(bytes, 6))).toBe(1n);
  });

  it('writes strings as UTF-8 with a byte-length prefix', () => {
    const bytes = new ProtobufWriter().string(1, 'größe ✓').string(2, '').finish();
    expect(stringOf(only(bytes, 1))).toBe('größe ✓');
    expect(bytesOf(only(bytes, 1)).length).toBe(11);
    expect(stringOf(only(bytes, 2))).toBe('');
  });

  it('writes packed floats identically from a Float32Array and from plain numbers', () => {
    const values = [0.1, -3, 1e-7, 65504, Math.PI];
    const fromArray = new ProtobufWriter().packedFloats(7, values).finish();
    const typed = new Float32Array(values);
    // A view into a larger buffer, to check the fast path honours byteOffset.
    const padded = new Float32Array(values.length + 2);
    padded.set(typed, 1);
    const fromView = new ProtobufWriter().packedFloats(7, padded.subarray(1, 1 + values.length)).finish();
    expect(hex(fromView)).toBe(hex(fromArray));
    const payload = bytesOf(only(fromArray, 7));
    expect(Array.from(new Float32Array(payload.slice().buffer))).toEqual(Array.from(typed));
  });

  it('prefixes nested messages with their exact length, whatever its varint size', () => {
    // Lengths around the 1-, 2- and 3-byte varint boundaries (the writer reserves 2 bytes).
    for (const bodySize of [0, 1, 127, 128, 16383, 16384, 300_000]) {
      const w = new ProtobufWriter(8);
      w.varint(1, 42);
      const outer = w.beginMessage(2);
      const inner = w.beginMessage(3);
      if (bodySize > 0) w.bytes(4, new Uint8Array(bodySize).fill(7));
      w.endMessage(inner);
      w.string(5, 'after');
      w.endMessage(outer);
      w.varint(6, 43);
      const bytes = w.finish();
      expect(w.length).toBe(bytes.length);

      expect(int64Of(only(bytes, 1))).toBe(42n);
      expect(int64Of(only(bytes, 6))).toBe(43n);
      const outerBytes = bytesOf(only(bytes, 2));
      expect(stringOf(only(outerBytes, 5))).toBe('after');
      const innerBytes = bytesOf(only(outerBytes, 3));
      if (bodySize === 0) {
        expect(innerBytes.length).toBe(0);
      } else {
        const body = bytesOf(only(innerBytes, 4));
        expect(body.length).toBe(bodySize);
        expect(body.every((b) => b === 7)).toBe(true);
      }
    }
  });

  it('rejects values it cannot encode exactly', () => {
    expect(() => new ProtobufWriter().varint(1, 2 ** 53)).toThrow(/safe integer/);
    expect(() => new ProtobufWriter().varint(1, 1.5)).toThrow(/safe integer/);
    expect(() => new ProtobufWriter().packedInt64s(1, [1, Number.NaN])).toThrow(/safe integer/);
    expect(() => new ProtobufWriter().varint(0, 1)).toThrow(/field number/);
    expect(() => new ProtobufWriter().fixed32(1, -1)).toThrow(/fixed32/);
    expect(() => new ProtobufWriter().fixed64(1, -1)).toThrow(/fixed64/);
  });
});
