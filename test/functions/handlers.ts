// Importing a function file registers it with @azure/functions (a no-op outside a host) and exports its handler.
export { defineModelHandler } from '../../functions/define-model';
export { getModelHandler } from '../../functions/get-model';
export { getVersionHandler } from '../../functions/get-version';
export { healthHandler } from '../../functions/health';
export { listDatasetsHandler } from '../../functions/list-datasets';
export { listModelsHandler } from '../../functions/list-models';
export { listVersionsHandler } from '../../functions/list-versions';
export { requestRetrainHandler } from '../../functions/request-retrain';
export { retrainHandler } from '../../functions/retrain';
export { scoreHandler } from '../../functions/score';
export { uploadDatasetHandler } from '../../functions/upload-dataset';
export { validateDrop } from '../../functions/validate-drop';
