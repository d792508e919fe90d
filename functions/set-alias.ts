import { app } from '@azure/functions';
import type { AliasMoveDocument } from '../shared/registry/documents';
import { httpFunction, json, readJson } from '../shared/platform/http-reply';
import { operatorOf, setAliasByOperator } from '../shared/registry/aliases';

/** `PUT /models/{model}/aliases/{alias}` with `{"version": N}`: promote or roll back. `If-Match` makes it conditional. */
export const setAliasHandler = httpFunction(async (request, _context, services) => {
  const body = await readJson(request, services.config.maxRequestBytes);
  const ifMatch = request.headers.get('if-match') ?? undefined;
  const view = await setAliasByOperator(
    services,
    { model: request.params.model ?? '', alias: request.params.alias ?? '', operator: operatorOf(request.headers.get('x-ms-client-principal-name')), ...(ifMatch ? { ifMatch } : {}) },
    body,
  );
  // The move's fields are the alias-move document's (loose, so typed through an index signature).
  const move = view.move as Pick<AliasMoveDocument, 'from' | 'by'> | undefined;
  if (move) services.telemetry.event('VersionPromoted', { model: view.model, alias: view.alias, version: view.version ?? undefined, from: move.from ?? undefined, by: move.by });
  return json(200, view, view.etag ? { etag: view.etag } : {});
});

app.http('set-alias', {
  methods: ['PUT'],
  authLevel: 'admin',
  route: 'models/{model}/aliases/{alias}',
  handler: setAliasHandler,
});
