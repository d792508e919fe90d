import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, type Cookie, type HttpRequestInit, type HttpResponseInit } from '@azure/functions';
import { BufferedRequest } from './buffered-request';
import type { FunctionDefinition } from './function-definition';
import type { Invoker } from './invoker';
import { authorized, hostKeysFrom, keysEnforced, presentedKey, type HostKeys } from './keys';
import { toError, type HostLogger } from './logger';
import { parseRouteTemplate, RouteTable, type RouteTemplate } from './routes';

export type AuthLevel = 'anonymous' | 'function' | 'admin';

/** An HTTP trigger as the server routes it. */
export interface HttpRoute {
  readonly definition: FunctionDefinition;
  readonly template: RouteTemplate;
  /** Upper-case; empty accepts every method. */
  readonly methods: readonly string[];
  /** Checked against the host's keys when keys are configured (see `keys.ts`); otherwise, as under Core Tools, not. */
  readonly authLevel: AuthLevel;
}

/** The route of an HTTP trigger: its `route` option, or the function name when there is none. */
export function httpRouteOf(definition: FunctionDefinition): HttpRoute {
  const { trigger } = definition;
  const text = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : definition.name;
  let template: RouteTemplate;
  try {
    template = parseRouteTemplate(text);
  } catch (err) {
    throw new Error(`Function '${definition.name}': ${toError(err).message}`);
  }
  const methods = Array.isArray(trigger.methods) ? trigger.methods.map((m) => String(m).toUpperCase()) : [];
  const level = String(trigger.authLevel ?? 'function').toLowerCase();
  const authLevel: AuthLevel = level === 'anonymous' || level === 'admin' ? level : 'function';
  return { definition, template, methods, authLevel };
}

export interface HttpTriggerServerOptions {
  readonly routes: readonly HttpRoute[];
  /** host.json `extensions.http.routePrefix`, without slashes ("" for none). */
  readonly routePrefix: string;
  readonly invoker: Invoker;
  readonly log: HostLogger;
  /** Larger request bodies get 413. */
  readonly maxRequestBodyBytes: number;
  /** @default from the app settings MODELLOOP_FUNCTION_KEYS / MODELLOOP_ADMIN_KEYS (none: not enforced) */
  readonly keys?: HostKeys;
}

/** The JSON error replies of the host itself (not of a function). */
type HostErrorCode = 'RouteNotFound' | 'MethodNotAllowed' | 'Unauthorized' | 'PayloadTooLarge' | 'InternalError' | 'HostStopping';

/** A node:http server that routes requests to HTTP-triggered functions as the Functions host does. */
export class HttpTriggerServer {
  readonly #options: HttpTriggerServerOptions;
  readonly #table = new RouteTable<HttpRoute>();
  readonly #server: Server;
  readonly #keys: HostKeys;
  /** Requests being answered, replies included: stop() lets them finish. */
  readonly #active = new Set<Promise<void>>();
  #stopping = false;

  constructor(options: HttpTriggerServerOptions) {
    this.#options = options;
    this.#keys = options.keys ?? hostKeysFrom(process.env);
    for (const route of options.routes) this.#table.add(route.template, route.methods, route);
    this.#server = createServer((req, res) => {
      const handling = this.#handle(req, res);
      this.#active.add(handling);
      void handling.finally(() => this.#active.delete(handling));
    });
  }

  /** Listens and resolves with the actual port (useful with port 0). */
  listen(port: number, hostname: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, hostname, () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting connections; requests that still arrive on open connections get 503. */
  stopAccepting(): void {
    this.#stopping = true;
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  /** Waits up to `timeoutMs` for the requests being answered to be written out. */
  async drain(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#active]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** Closes every connection; call after drain(). */
  async close(): Promise<void> {
    if (!this.#stopping) this.stopAccepting();
    this.#server.closeAllConnections();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      if (this.#stopping) {
        res.setHeader('connection', 'close');
        return sendError(res, 503, 'HostStopping', 'The host is shutting down; try again when it is back.');
      }
      const target = requestTarget(req);
      const path = withoutPrefix(target.pathname, this.#options.routePrefix);
      const lookup = path === undefined ? ({ kind: 'not-found' } as const) : this.#table.lookup(method, path);
      if (lookup.kind === 'not-found') {
        return sendError(res, 404, 'RouteNotFound', `No function answers ${method} ${target.pathname}.`);
      }
      if (lookup.kind === 'method-not-allowed') {
        res.setHeader('allow', lookup.allowed.join(', '));
        return sendError(res, 405, 'MethodNotAllowed', `${target.pathname} does not accept ${method}; it accepts ${lookup.allowed.join(', ')}.`);
      }

      // Before the body is read, so an unauthorised caller costs no more than its headers.
      const { authLevel } = lookup.value;
      if (authLevel !== 'anonymous' && keysEnforced(this.#keys) && !authorized(authLevel, this.#keys, presentedKey(req.headers, new URLSearchParams(target.search)))) {
        req.resume();
        return sendError(res, 401, 'Unauthorized', `${method} ${target.pathname} needs a ${authLevel === 'admin' ? 'admin' : 'function or admin'} key, in the x-functions-key header or ?code=.`);
      }
      const body = await readBody(req, this.#options.maxRequestBodyBytes);
      if (body === 'too-large') {
        res.setHeader('connection', 'close');
        return sendError(res, 413, 'PayloadTooLarge', `The request body is larger than ${this.#options.maxRequestBodyBytes} bytes.`);
      }
      const { definition } = lookup.value;
      // The library's own HttpRequest, over a native request that builds a fetch Request only when asked to.
      const request = new HttpRequest({
        nativeRequest: new BufferedRequest(target.href, method, req.headers, body),
        params: lookup.params,
        // Without a query string there is nothing to parse; with one, HttpRequest parses it from the URL.
        ...(target.search === '' ? { query: {} } : {}),
      } as unknown as HttpRequestInit);
      const outcome = await this.#options.invoker.invoke(definition, {
        input: request,
        reason: 'This function was programmatically called via the host APIs.',
      });
      if (!outcome.succeeded) {
        return sendError(res, 500, 'InternalError', `Function '${definition.name}' failed (invocation ${outcome.invocationId}); the host log has the details.`);
      }
      await writeResult(res, outcome.result, method, definition.name);
    } catch (err) {
      const error = toError(err);
      this.#options.log({ level: 'error', category: 'Host.General', message: `HTTP ${method} ${req.url ?? ''}: ${error.message}`, error });
      if (!res.headersSent) sendError(res, 500, 'InternalError', error.message);
      else res.destroy(error);
    }
  }
}

function withoutPrefix(pathname: string, routePrefix: string): string | undefined {
  const path = pathname.replace(/^\/+|\/+$/g, '');
  if (routePrefix === '') return path;
  const lowerPath = path.toLowerCase();
  const lowerPrefix = routePrefix.toLowerCase();
  if (lowerPath === lowerPrefix) return '';
  return lowerPath.startsWith(`${lowerPrefix}/`) ? path.slice(routePrefix.length + 1) : undefined;
}

interface RequestTarget {
  readonly pathname: string;
  /** `?…` or "". */
  readonly search: string;
  readonly href: string;
}

// A path and query of only these characters, without dot segments or a leading "//", is what URL parsing
// would return unchanged: no need to parse it.
const PLAIN_TARGET = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e)/i;
const PLAIN_HOST = /^[A-Za-z0-9.\-]+(?::\d+)?$/;
const origins = new Map<string, string>();

/** The request's URL as `new URL(req.url, http://<host>)` reads it, without parsing the common plain case. */
function requestTarget(req: IncomingMessage): RequestTarget {
  const raw = req.url ?? '/';
  const host = req.headers.host ?? 'localhost';
  const query = raw.indexOf('?');
  const pathname = query < 0 ? raw : raw.slice(0, query);
  if (PLAIN_TARGET.test(raw) && !DOT_SEGMENT.test(pathname) && PLAIN_HOST.test(host)) {
    let origin = origins.get(host);
    if (origin === undefined) {
      origin = new URL(`http://${host}`).origin;
      if (origins.size > 64) origins.clear();
      origins.set(host, origin);
    }
    const search = query < 0 || query === raw.length - 1 ? '' : raw.slice(query);
    return { pathname, search, href: origin + pathname + (query < 0 ? '' : raw.slice(query)) };
  }
  const url = new URL(raw, `http://${host}`);
  return { pathname: url.pathname, search: url.search, href: url.href };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        chunks.length = 0;
        resolve('too-large');
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, status: number, code: HostErrorCode, error: string): void {
  const body = JSON.stringify({ code, error });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Writes what the handler returned: an `HttpResponse`, or an `HttpResponseInit` (`status` default 200,
 * `headers`, `cookies`, `body` as string/bytes/stream, `jsonBody`). Nothing returned is 204.
 */
async function writeResult(res: ServerResponse, result: unknown, method: string, functionName: string): Promise<void> {
  if (result === undefined || result === null) {
    res.writeHead(204);
    res.end();
    return;
  }
  if (typeof result !== 'object') {
    throw new Error(`Function '${functionName}' returned a ${typeof result}. The HTTP response must be an object with optional properties "body", "jsonBody", "status", "headers" and "cookies".`);
  }
  if (writePlainResult(res, result, method)) return;
  const response = isHttpResponse(result) ? result : new HttpResponse(result as HttpResponseInit);
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const setCookies = [...response.headers.getSetCookie(), ...response.cookies.map(serializeCookie)];
  if (setCookies.length > 0) headers['set-cookie'] = setCookies;
  res.writeHead(response.status, headers);
  if (method === 'HEAD' || !response.body) {
    res.end();
    return;
  }
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    if (!res.write(chunk)) await new Promise<void>((resolve) => res.once('drain', resolve));
  }
  res.end();
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Printable ASCII without surrounding whitespace: what fetch's Headers keeps as given. (Node writes headers and a
// string body in one UTF-8 write, so a Latin-1 value would change bytes: those go the HttpResponse way.)
const PLAIN_VALUE = /^(?:[\x21-\x7e](?:[\t\x20-\x7e]*[\x21-\x7e])?)?$/;
// Framing is the host's to write.
const FRAMING_HEADERS = new Set(['set-cookie', 'content-length', 'transfer-encoding']);

/**
 * Writes the common reply — a plain `HttpResponseInit` with a `jsonBody`, a string or bytes body, and
 * plain string headers — straight to the socket, exactly as `new HttpResponse(init)` would have put it
 * (the same status, headers and body bytes, plus a content-length). False when the reply needs the
 * library's `HttpResponse` (cookies, streams, Headers objects, anything unusual): then nothing is written.
 */
function writePlainResult(res: ServerResponse, result: object, method: string): boolean {
  if (isHttpResponse(result)) return false;
  const init = result as HttpResponseInit;
  const status = init.status ?? 200;
  if (!Number.isInteger(status) || status < 200 || status > 599) return false;
  if (init.cookies !== undefined && init.cookies.length > 0) return false;
  const given = init.headers;
  if (given !== undefined && (given === null || typeof given !== 'object' || Object.getPrototypeOf(given) !== Object.prototype)) return false;
  const headers: Record<string, string> = {};
  for (const name in given as Record<string, unknown> | undefined) {
    const value = (given as Record<string, unknown>)[name];
    const lower = name.toLowerCase();
    if (typeof value !== 'string' || !TOKEN.test(name) || !PLAIN_VALUE.test(value) || FRAMING_HEADERS.has(lower) || Object.hasOwn(headers, lower)) return false;
    headers[lower] = value;
  }
  let body: string | Uint8Array | undefined;
  if (NULL_BODY_STATUSES.has(status)) body = undefined;
  else if (init.jsonBody !== undefined && init.jsonBody !== null) {
    const text: unknown = JSON.stringify(init.jsonBody);
    if (typeof text !== 'string') return false;
    body = text;
    headers['content-type'] ??= 'application/json';
  } else if (init.body === undefined || init.body === null) body = undefined;
  else if (typeof init.body === 'string') {
    body = init.body;
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
  } else if (init.body instanceof Uint8Array) body = init.body;
  else return false;
  if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
  res.writeHead(status, headers);
  if (method === 'HEAD' || body === undefined) res.end();
  else res.end(body);
  return true;
}

// The handler's `HttpResponse` may come from another copy of @azure/functions, so `instanceof` is not enough.
function isHttpResponse(value: object): value is HttpResponse {
  const candidate = value as Partial<HttpResponse>;
  return value instanceof HttpResponse || (typeof candidate.arrayBuffer === 'function' && typeof candidate.status === 'number' && typeof candidate.headers?.get === 'function');
}

function serializeCookie(cookie: Cookie): string {
  let text = `${cookie.name}=${encodeURIComponent(cookie.value)}`;
  if (cookie.domain) text += `; Domain=${cookie.domain}`;
  if (cookie.path) text += `; Path=${cookie.path}`;
  if (cookie.expires !== undefined) text += `; Expires=${new Date(cookie.expires).toUTCString()}`;
  if (cookie.maxAge !== undefined) text += `; Max-Age=${cookie.maxAge}`;
  if (cookie.secure) text += '; Secure';
  if (cookie.httpOnly) text += '; HttpOnly';
  if (cookie.sameSite) text += `; SameSite=${cookie.sameSite}`;
  return text;
}
