/**
 * A small protobuf wire-format writer: enough to serialise ONNX models without an npm
 * protobuf dependency. Fields are written in call order into one growing buffer; nested
 * messages are written in place and their length prefix is patched when they end.
 */

/** Protobuf wire types (the low three bits of a field key). */
export const WireType = {
  VARINT: 0,
  FIXED64: 1,
  LENGTH_DELIMITED: 2,
  FIXED32: 5,
} as const;

export type WireType = (typeof WireType)[keyof typeof WireType];

const TWO_POW_32 = 4294967296;
const INITIAL_CAPACITY = 256;
/** Bytes reserved for a nested message's length before its size is known: covers 2^14 - 1. */
const RESERVED_LENGTH_BYTES = 2;

const utf8 = new TextEncoder();
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes needed to write `value` (an unsigned 32-bit integer) as a varint. */
function varint32Size(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Bytes needed to write `value` (a safe integer, negative as 64-bit two's complement) as a varint. */
function varint64Size(value: number): number {
  if (value >= 0 && value < TWO_POW_32) return varint32Size(value);
  if (value < 0) return 10;
  let size = 5;
  // 2^35 and up: count the 7-bit groups above the first 35 bits.
  for (let rest = Math.floor(value / 2 ** 35); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

function checkField(field: number): void {
  if (!Number.isInteger(field) || field < 1 || field > 536870911) {
    throw new RangeError(`protobuf field number must be an integer in 1..2^29-1, got ${field}`);
  }
}

function checkInt64(value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int64 value must be a safe integer, got ${value}`);
  }
}

/**
 * Writes protobuf fields into a growing `Uint8Array`.
 *
 * Integers are JavaScript numbers: int64 values must be safe integers (|v| < 2^53); negative
 * ones are written as 10-byte two's-complement varints, as protobuf requires for `int64`.
 * Packed repeated fields are written packed (the proto3 default, which proto2 parsers accept).
 */
export class ProtobufWriter {
  #buf: Uint8Array;
  #view: DataView;
  #pos = 0;

  constructor(initialCapacity = INITIAL_CAPACITY) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#pos;
  }

  /** The bytes written so far, as a copy sized exactly. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#pos);
  }

  /** `int32`, `int64`, `uint32`, `uint64`, `bool` and enum fields. */
  varint(field: number, value: number): this {
    checkInt64(value);
    this.#key(field, WireType.VARINT);
    this.#rawVarint64(value);
    return this;
  }

  bool(field: number, value: boolean): this {
    this.#key(field, WireType.VARINT);
    this.#ensure(1);
    this.#buf[this.#pos++] = value ? 1 : 0;
    return this;
  }

  /** `float` (wire type fixed32, IEEE 754 single precision, little-endian). */
  float(field: number, value: number): this {
    this.#key(field, WireType.FIXED32);
    this.#ensure(4);
    this.#view.setFloat32(this.#pos, value, true);
    this.#pos += 4;
    return this;
  }

  /** `fixed32`: an unsigned 32-bit integer, little-endian. */
  fixed32(field: number, value: number): this {
    if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
      throw new RangeError(`fixed32 value must be an integer in 0..2^32-1, got ${value}`);
    }
    this.#key(field, WireType.FIXED32);
    this.#ensure(4);
    this.#view.setUint32(this.#pos, value, true);
    this.#pos += 4;
    return this;
  }

  /** `double` (wire type fixed64, IEEE 754 double precision, little-endian). */
  double(field: number, value: number): this {
    this.#key(field, WireType.FIXED64);
    this.#ensure(8);
    this.#view.setFloat64(this.#pos, value, true);
    this.#pos += 8;
    return this;
  }

  /** `fixed64` from a non-negative safe integer, little-endian. */
  fixed64(field: number, value: number): this {
    checkInt64(value);
    if (value < 0) throw new RangeError(`fixed64 value must not be negative, got ${value}`);
    this.#key(field, WireType.FIXED64);
    this.#ensure(8);
    this.#view.setUint32(this.#pos, value >>> 0, true);
    this.#view.setUint32(this.#pos + 4, Math.floor(value / TWO_POW_32), true);
    this.#pos += 8;
    return this;
  }

  /** `bytes` field. */
  bytes(field: number, value: Uint8Array): this {
    this.#key(field, WireType.LENGTH_DELIMITED);
    this.#rawVarint32(value.length);
    this.#ensure(value.length);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    return this;
  }

  /** `string` field, UTF-8 encoded. */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** Packed `repeated float`. Values are rounded to single precision. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const n = values.length;
    this.#key(field, WireType.LENGTH_DELIMITED);
    this.#rawVarint32(n * 4);
    this.#ensure(n * 4);
    if (littleEndianHost && values instanceof Float32Array) {
      // Already the wire representation: one memcpy.
      this.#buf.set(new Uint8Array(values.buffer, values.byteOffset, n * 4), this.#pos);
      this.#pos += n * 4;
      return this;
    }
    const view = this.#view;
    let pos = this.#pos;
    for (let i = 0; i < n; i++, pos += 4) view.setFloat32(pos, values[i] as number, true);
    this.#pos = pos;
    return this;
  }

  /** Packed `repeated double`. */
  packedDoubles(field: number, values: ArrayLike<number>): this {
    const n = values.length;
    this.#key(field, WireType.LENGTH_DELIMITED);
    this.#rawVarint32(n * 8);
    this.#ensure(n * 8);
    const view = this.#view;
    let pos = this.#pos;
    for (let i = 0; i < n; i++, pos += 8) view.setFloat64(pos, values[i] as number, true);
    this.#pos = pos;
    return this;
  }

  /** Packed `repeated int64` (varints; negative values take 10 bytes each). */
  packedInt64s(field: number, values: ArrayLike<number>): this {
    const n = values.length;
    let size = 0;
    for (let i = 0; i < n; i++) {
      const value = values[i] as number;
      checkInt64(value);
      size += varint64Size(value);
    }
    this.#key(field, WireType.LENGTH_DELIMITED);
    this.#rawVarint32(size);
    this.#ensure(size);
    for (let i = 0; i < n; i++) this.#rawVarint64(values[i] as number);
    return this;
  }

  /**
   * Starts a nested message (or any length-delimited field written piecewise) in `field`.
   * Write its fields with this writer, then pass the returned mark to {@link endMessage}.
   * Messages nest; marks must be ended innermost first.
   */
  beginMessage(field: number): number {
    this.#key(field, WireType.LENGTH_DELIMITED);
    this.#ensure(RESERVED_LENGTH_BYTES);
    const mark = this.#pos;
    this.#pos += RESERVED_LENGTH_BYTES;
    return mark;
  }

  /** Ends the nested message started at `mark`, writing its length prefix. */
  endMessage(mark: number): this {
    const start = mark + RESERVED_LENGTH_BYTES;
    const length = this.#pos - start;
    if (length < 0) throw new RangeError('endMessage called with a mark from beyond the write position');
    const lengthBytes = varint32Size(length);
    if (lengthBytes !== RESERVED_LENGTH_BYTES) {
      // The reserved prefix was the wrong size: slide the body to fit the real one.
      const shift = lengthBytes - RESERVED_LENGTH_BYTES;
      if (shift > 0) this.#ensure(shift);
      this.#buf.copyWithin(start + shift, start, this.#pos);
      this.#pos += shift;
    }
    let pos = mark;
    let rest = length;
    while (rest >= 0x80) {
      this.#buf[pos++] = (rest & 0x7f) | 0x80;
      rest >>>= 7;
    }
    this.#buf[pos] = rest;
    return this;
  }

  #key(field: number, wireType: WireType): void {
    checkField(field);
    this.#rawVarint32(((field << 3) | wireType) >>> 0);
  }

  #rawVarint32(value: number): void {
    this.#ensure(5);
    const buf = this.#buf;
    let pos = this.#pos;
    while (value >= 0x80) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.#pos = pos;
  }

  #rawVarint64(value: number): void {
    if (value >= 0 && value < TWO_POW_32) {
      this.#rawVarint32(value);
      return;
    }
    // Split into 32-bit halves of the 64-bit two's complement; floor keeps `lo` in 0..2^32-1.
    let hi = Math.floor(value / TWO_POW_32);
    let lo = value - hi * TWO_POW_32;
    hi >>>= 0;
    this.#ensure(10);
    const buf = this.#buf;
    let pos = this.#pos;
    while (hi > 0 || lo >= 0x80) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.#pos = pos;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#buf.length) return;
    let capacity = this.#buf.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
    this.#view = new DataView(grown.buffer);
  }
}
