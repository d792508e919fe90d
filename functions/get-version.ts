import { app } from '@azure/functions';
import { ModelloopError } from '../shared/platform/errors';
import { httpFunction, json } from '../shared/platform/http-reply';
import { assertModelName } from '../shared/data/model-definition';
import { publicView } from '../shared/registry/documents';
import { versionLineage } from '../shared/registry/lineage';
import { readManifest } from '../shared/registry/durable-record';

/**
 * `GET /models/{model}/versions/{version}`: one version's signature, metrics, the candidates its
 * run trained (trainer, parameters, metrics on the evaluation rows) and lineage (run, datasets and
 * reports, alias moves).
 */
export const getVersionHandler = httpFunction(async (request, _context, { registry, blobs }) => {
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
  const [manifest, lineage] = await Promise.all([readManifest(blobs, model, version), versionLineage(registry, doc)]);
  const training = manifest && { candidates: manifest.candidates, seed: manifest.seed, evaluationRows: manifest.evaluationRows };
  return json(200, { ...publicView(doc), ...training, lineage });
});

app.http('get-version', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'models/{model}/versions/{version}',
  handler: getVersionHandler,
});
