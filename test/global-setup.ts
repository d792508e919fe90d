import type { TestProject } from 'vitest/node';
import { startAzurite, startCosmos } from '../host/emulators';

declare module 'vitest' {
  export interface ProvidedContext {
    storageConnection: string;
    cosmosEndpoint: string;
    cosmosKey: string;
  }
}

/** One Azurite (in memory) and one Cosmos REST server for the whole run, on free ports. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [azurite, cosmos] = await Promise.all([startAzurite(), startCosmos()]);
  project.provide('storageConnection', azurite.connectionString);
  project.provide('cosmosEndpoint', cosmos.endpoint);
  project.provide('cosmosKey', cosmos.key);
  return async () => {
    await Promise.all([azurite.stop(), cosmos.stop()]);
  };
}
