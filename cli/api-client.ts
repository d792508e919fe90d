/** An error reply from the modelloop API: its status, its machine-readable code and message. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A small HTTP client for the modelloop API, with the function/admin key when one is set. */
export class ApiClient {
  readonly #base: string;
  readonly #key: string | undefined;

  constructor(baseUrl: string, key?: string) {
    this.#base = baseUrl.replace(/\/+$/, '');
    this.#key = key;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#key) headers['x-functions-key'] = this.#key;
    let payload: string | Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      payload = body;
      headers['content-type'] = contentType;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, { method, headers, body: payload });
    } catch (err) {
      throw new ApiError(0, 'Unreachable', `cannot reach ${this.#base} (${err instanceof Error ? (err.cause as Error | undefined)?.message ?? err.message : String(err)}). Is the stack running? Start it with "npm start".`);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (!response.ok) {
      const reply = (parsed ?? {}) as { code?: string; error?: string };
      throw new ApiError(response.status, reply.code ?? `HTTP${response.status}`, `${reply.error ?? text ?? response.statusText} (${response.status} ${reply.code ?? ''})`.trim());
    }
    return parsed as T;
  }

  /** Like `request`, but a 404 gives `undefined`. */
  async tryRequest<T = unknown>(method: string, path: string): Promise<T | undefined> {
    try {
      return await this.request<T>(method, path);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }
}
