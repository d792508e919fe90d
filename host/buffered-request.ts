import type { IncomingHttpHeaders } from 'node:http';

/**
 * What the host hands `HttpRequest` as its native request: the request line, the headers and a body
 * already read into memory. `HttpRequest` reads everything through it, so the handler sees the same
 * `HttpRequest` as under Azure; but building a fetch `Request` (header list, body stream) and reading the
 * body back through a web stream cost more than a small model's whole prediction, so that happens only
 * when a handler asks for what needs it (`body` as a stream, `formData()`, `blob()`).
 */
export class BufferedRequest {
  readonly url: string;
  readonly method: string;
  readonly #incoming: IncomingHttpHeaders;
  /** undefined for GET and HEAD, which have no body in a fetch `Request`. */
  readonly #bytes: Buffer | undefined;
  #headers: Headers | undefined;
  #used = false;
  #native: Request | undefined;

  constructor(url: string, method: string, headers: IncomingHttpHeaders, bytes: Buffer) {
    this.url = url;
    this.method = method;
    this.#incoming = headers;
    this.#bytes = method === 'GET' || method === 'HEAD' ? undefined : bytes;
  }

  get headers(): Headers {
    return (this.#headers ??= headersOf(this.#incoming));
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.#nativeRequest().body;
  }

  get bodyUsed(): boolean {
    return this.#used || (this.#native?.bodyUsed ?? false);
  }

  async text(): Promise<string> {
    if (this.#native && !this.#used) return this.#native.text();
    const bytes = this.#consume();
    // As fetch's text(): UTF-8, a leading byte order mark dropped, bad sequences replaced.
    const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    return bytes.toString('utf8', start);
  }

  async json(): Promise<unknown> {
    if (this.#native && !this.#used) return this.#native.json();
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#native && !this.#used) return this.#native.arrayBuffer();
    const bytes = this.#consume();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  blob(): Promise<Blob> {
    return this.#nativeRequest().blob();
  }

  formData(): Promise<FormData> {
    return this.#nativeRequest().formData();
  }

  clone(): BufferedRequest {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    if (this.#native) return this.#native.clone() as unknown as BufferedRequest;
    const copy = new BufferedRequest(this.url, this.method, this.#incoming, this.#bytes ?? Buffer.alloc(0));
    if (this.#headers) copy.#headers = new Headers(this.#headers);
    return copy;
  }

  #consume(): Buffer {
    if (this.#bytes === undefined) return Buffer.alloc(0);
    if (this.#used) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    return this.#bytes;
  }

  /** The fetch `Request` itself, built on first need, with this request's headers and its body unless that was read. */
  #nativeRequest(): Request {
    return (this.#native ??= new Request(this.url, { method: this.method, headers: this.headers, body: this.#used ? undefined : this.#bytes }));
  }
}

function headersOf(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.append(name, value);
  }
  return headers;
}
