import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

/** Built into `dist/dashboard/` by `npm run build`; this file runs from `dist/functions/`. */
const ASSETS = join(__dirname, '..', 'dashboard');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** `GET /dashboard` and its assets: the operators' page, served by the app itself. */
export async function dashboardHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const asset = request.params.asset || 'index.html';
  const path = normalize(join(ASSETS, asset));
  const type = TYPES[extname(path)];
  if (!path.startsWith(ASSETS + sep) || !type) return { status: 404, jsonBody: { code: 'RouteNotFound', error: `No dashboard asset "${asset}".` } };
  try {
    return {
      status: 200,
      body: await readFile(path),
      headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
    };
  } catch {
    return { status: 404, jsonBody: { code: 'RouteNotFound', error: `No dashboard asset "${asset}". Was the app built (npm run build)?` } };
  }
}

app.http('dashboard', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'dashboard/{*asset}',
  handler: dashboardHandler,
});
