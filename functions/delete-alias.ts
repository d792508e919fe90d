import { app } from '@azure/functions';
import type { AliasMoveDocument } from '../shared/registry/documents';
import { httpFunction, json } from '../shared/platform/http-reply';
import { deleteAliasByOperator, operatorOf } from '../shared/registry/aliases';

/** `DELETE /models/{model}/aliases/{alias}`: removes an alias (`?reason=` says why). */
export const deleteAliasHandler = httpFunction(async (request, _context, services) => {
  const ifMatch = request.headers.get('if-match') ?? undefined;
  const reason = request.query.get('reason') ?? undefined;
  const view = await deleteAliasByOperator(
    services,
    { model: request.params.model ?? '', alias: request.params.alias ?? '', operator: operatorOf(request.headers.get('x-ms-client-principal-name')), ...(ifMatch ? { ifMatch } : {}) },
    reason,
  );
  // The move's fields are the alias-move document's (loose, so typed through an index signature).
  const move = view.move as Pick<AliasMoveDocument, 'from' | 'by'> | undefined;
  if (move) services.telemetry.event('AliasRemoved', { model: view.model, alias: view.alias, from: move.from ?? undefined, by: move.by });
  return json(200, view, view.etag ? { etag: view.etag } : {});
});

app.http('delete-alias', {
  methods: ['DELETE'],
  authLevel: 'admin',
  route: 'models/{model}/aliases/{alias}',
  handler: deleteAliasHandler,
});
