import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, type Cookie, type HttpResponseInit } from '@azure/functions';
import type { FunctionDefinition } from './function-definition';
import type { Invoker } from './invoker';
import { authorized, hostKeysFrom, presentedKey, type HostKeys } from './keys';
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
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const path = withoutPrefix(url.pathname, this.#options.routePrefix);
      const lookup = path === undefined ? ({ kind: 'not-found' } as const) : this.#table.lookup(method, path);
      if (lookup.kind === 'not-found') {
        return sendError(res, 404, 'RouteNotFound', `No function answers ${method} ${url.pathname}.`);
      }
      if (lookup.kind === 'method-not-allowed') {
        res.setHeader('allow', lookup.allowed.join(', '));
        return sendError(res, 405, 'MethodNotAllowed', `${url.pathname} does not accept ${method}; it accepts ${lookup.allowed.join(', ')}.`);
      }

      // Before the body is read, so an unauthorised caller costs no more than its headers.
      if (!authorized(lookup.value.authLevel, this.#keys, presentedKey(req.headers, url.searchParams))) {
        req.resume();
        return sendError(res, 401, 'Unauthorized', `${method} ${url.pathname} needs a ${lookup.value.authLevel === 'admin' ? 'admin' : 'function or admin'} key, in the x-functions-key header or ?code=.`);
      }
      const body = await readBody(req, this.#options.maxRequestBodyBytes);
      if (body === 'too-large') {
        res.setHeader('connection', 'close');
        return sendError(res, 413, 'PayloadTooLarge', `The request body is larger than ${this.#options.maxRequestBodyBytes} bytes.`);
      }
      const { definition } = lookup.value;
      const request = new HttpRequest({
        method,
        url: url.toString(),
        headers: headersOf(req),
        params: lookup.params,
        body: { bytes: body },
      });
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

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
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
    req.on('end', () => resolve(Buffer.concat(chunks)));
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
