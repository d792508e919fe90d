import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { assertModelName } from '../shared/data/model-definition';
import { publicView } from '../shared/registry/documents';
import { versionLineage } from '../shared/registry/lineage';

/** `GET /models/{model}/versions/{version}`: one version's signature, metrics and lineage (run, datasets and reports, alias moves). */
export const getVersionHandler = httpFunction(async (request, _context, { registry }) => {
  const model = request.params.model ?? '';
  assertModelName(model);
  const version = Number(request.params.version);
  if (!Number.isInteger(version) || version < 1) {
    throw new ModelloopError('InvalidInput', `Version "${request.params.version}" is not valid: versions are whole numbers from 1.`);
  }
  const doc = await registry.getVersion(model, version);
  if (!doc) {
    if (!(await registry.getModel(model))) throw new ModelloopError('ModelNotFound', `Model "${model}" is not defined.`);
    throw new ModelloopError('VersionNotFound', `Model "${model}" has no version ${version}.`);
  }
  return json(200, { ...publicView(doc), lineage: await versionLineage(registry, doc) });
});

app.http('get-version', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/versions/{version}',
  handler: getVersionHandler,
});
