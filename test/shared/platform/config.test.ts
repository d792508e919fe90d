import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/platform/config';

const required = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', COSMOS_ENDPOINT: 'http://127.0.0.1:8081', COSMOS_KEY: 'k' };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(required)).toMatchObject({
      cosmos: { endpoint: 'http://127.0.0.1:8081', database: 'modelloop', container: 'registry' },
      trainingTimeBudgetSeconds: 600,
      holdoutFraction: 0.2,
      aliasCacheSeconds: 2,
      maxRequestRows: 10_000,
    });
  });

  it('names every missing or malformed setting at once, counting empty strings as unset', () => {
    const attempt = () => loadConfig({ AzureWebJobsStorage: '', COSMOS_ENDPOINT: 'not a url', HOLDOUT_FRACTION: '2' });
    expect(attempt).toThrow(/AzureWebJobsStorage is required/);
    expect(attempt).toThrow(/COSMOS_ENDPOINT must be the Cosmos DB account endpoint URL/);
    expect(attempt).toThrow(/COSMOS_KEY is required/);
    expect(attempt).toThrow(/HOLDOUT_FRACTION/);
  });

  it('reads numbers from strings, as app settings are', () => {
    expect(loadConfig({ ...required, TRAINING_TIME_BUDGET_SECONDS: '30', MAX_REQUEST_ROWS: '5' })).toMatchObject({ trainingTimeBudgetSeconds: 30, maxRequestRows: 5 });
  });
});
