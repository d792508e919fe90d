import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ModelloopError, ensureError } from './errors';
import { getServices, type Services } from './services';

/** A JSON reply. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers };
}

/**
 * Maps anything a use case threw to the contract's error reply: `{code, error, problems?}` with the
 * status of the code. Unknown errors are a 500 with the invocation id, and are logged in full.
 */
export function errorReply(err: unknown, context: InvocationContext): HttpResponseInit {
  if (err instanceof ModelloopError) {
    return json(err.status, { code: err.code, error: err.message, ...(err.problems.length ? { problems: err.problems } : {}) });
  }
  const error = ensureError(err);
  context.error(`${context.functionName} failed: ${error.stack ?? error.message}`);
  return json(500, {
    code: 'InternalError',
    error: `modelloop hit an unexpected error; it is logged with invocation id ${context.invocationId}.`,
  });
}

/** Reads a JSON body, or throws `InvalidInput` saying where it broke. */
export async function readJson(request: HttpRequest, maxBytes: number): Promise<unknown> {
  assertSize(request, maxBytes);
  const text = await request.text();
  // A string is at most 3 bytes per UTF-16 unit, so most bodies need no byte count at all.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text);
    if (bytes > maxBytes) throw new ModelloopError('PayloadTooLarge', `The body is ${bytes} bytes; the limit is ${maxBytes} (MAX_REQUEST_BYTES).`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    if (text.trim() === '') throw new ModelloopError('InvalidInput', 'The request has no body; send a JSON object.');
    throw new ModelloopError('InvalidInput', `The body is not valid JSON: ${ensureError(err).message}`);
  }
}

/** Refuses a body over the limit from its Content-Length, before reading it. */
export function assertSize(request: HttpRequest, maxBytes: number): void {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    throw new ModelloopError('PayloadTooLarge', `The body is ${declared} bytes; the limit is ${maxBytes}.`);
  }
}

export type HttpUseCase = (request: HttpRequest, context: InvocationContext, services: Services) => Promise<HttpResponseInit>;

/** Wraps an HTTP function body: builds the services, and turns every error into the contract's error reply. */
export function httpFunction(body: HttpUseCase): (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit> {
  return async (request, context) => {
    try {
      return await body(request, context, await getServices());
    } catch (err) {
      return errorReply(err, context);
    }
  };
}
