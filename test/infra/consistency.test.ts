import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTAINERS } from '../../shared/platform/blob-store';
import { SETTING_NAMES, loadConfig } from '../../shared/platform/config';
import { RETRAIN_QUEUE } from '../../shared/platform/retrain-queue';

/**
 * Code and infrastructure agree: every app setting, connection, container and queue the functions
 * use is declared in `infra/` (Bicep, read as text: the Bicep CLI cannot be installed here) and in
 * `local.settings.sample.json`, and nothing declared there is unused.
 */
const root = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(root, path), 'utf8');

/** Settings that hold a key or a connection string: the developer's machine only, never Azure app settings. */
const LOCAL_ONLY = new Set(['AzureWebJobsStorage', 'COSMOS_KEY']);
/** Read by the Functions host rather than the app (Core Tools, the local host); Flex Consumption forbids it as an app setting. */
const HOST_ONLY = new Set(['FUNCTIONS_WORKER_RUNTIME']);

interface Sources {
  readonly functionApp: string;
  readonly storage: string;
  readonly serviceBus: string;
  readonly cosmos: string;
  readonly monitoring: string;
  readonly main: string;
  readonly sample: string;
  readonly functions: readonly string[];
  readonly cosmosRegistry: string;
  readonly hostJson: string;
}

function sources(): Sources {
  return {
    functionApp: read('infra/modules/function-app.bicep'),
    storage: read('infra/modules/storage.bicep'),
    serviceBus: read('infra/modules/service-bus.bicep'),
    cosmos: read('infra/modules/cosmos.bicep'),
    monitoring: read('infra/modules/monitoring.bicep'),
    main: read('infra/main.bicep'),
    sample: read('local.settings.sample.json'),
    functions: readdirSync(join(root, 'functions'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => read(`functions/${f}`)),
    cosmosRegistry: read('shared/registry/cosmos-registry.ts'),
    hostJson: read('host.json'),
  };
}

/** The `{ … }` block that follows `marker` in Bicep text, without its braces. */
function blockAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`"${marker}" not found`);
  const open = text.indexOf('{', at);
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces after "${marker}"`);
}

/** Keys of a Bicep object literal, top level only. */
function bicepKeys(block: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (const line of block.split('\n')) {
    const key = depth === 0 ? /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:/.exec(line)?.[1] : undefined;
    if (key) keys.push(key);
    depth += (line.match(/[{[]/g)?.length ?? 0) - (line.match(/[}\]]/g)?.length ?? 0);
  }
  return keys;
}

function bicepStringArray(text: string, variable: string): string[] {
  const match = new RegExp(`var ${variable} = \\[([^\\]]*)\\]`).exec(text);
  if (!match) throw new Error(`var ${variable} not found`);
  return [...match[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

function bicepString(text: string, variable: string): string | undefined {
  return new RegExp(`var ${variable} = '([^']*)'`).exec(text)?.[1];
}

function bicepParamDefault(text: string, param: string): string | undefined {
  return new RegExp(`param ${param} \\w+ = (\\S+)`).exec(text)?.[1];
}

const timeSpanSeconds = (text: string): number => {
  const [h, m, s] = text.split(':').map(Number);
  return (h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0);
};

/** Every disagreement between code, infra and the sample settings, as sentences. Empty when they agree. */
function disagreements(src: Sources): string[] {
  const problems: string[] = [];
  const infraSettings = bicepKeys(blockAfter(blockAfter(src.functionApp, "resource appSettings 'config'"), 'properties:'));
  const sample = JSON.parse(src.sample) as { Values: Record<string, string>; Notes?: Record<string, string> };
  const sampleSettings = Object.keys(sample.Values);
  const code = new Set(SETTING_NAMES);

  for (const name of SETTING_NAMES) {
    if (!sampleSettings.includes(name)) problems.push(`${name} is read by the app but missing from local.settings.sample.json`);
    if (LOCAL_ONLY.has(name)) {
      if (infraSettings.includes(name)) problems.push(`${name} holds a key or connection string and must not be an Azure app setting`);
    } else if (!infraSettings.includes(name)) problems.push(`${name} is read by the app but not declared in infra/modules/function-app.bicep`);
  }
  for (const name of infraSettings) if (!code.has(name)) problems.push(`${name} is declared in infra but the app never reads it`);
  for (const name of sampleSettings) if (!code.has(name) && !HOST_ONLY.has(name)) problems.push(`${name} is in local.settings.sample.json but the app never reads it`);
  for (const name of sampleSettings) if (!sample.Notes?.[name]) problems.push(`${name} has no line in local.settings.sample.json "Notes"`);
  for (const name of Object.keys(sample.Notes ?? {})) if (!sampleSettings.includes(name)) problems.push(`Notes describe ${name}, which is not a setting`);

  // Connections named by triggers: identity-based in Azure (`<name>__…`), a value or `<name>__…` locally.
  const connections = new Set(src.functions.flatMap((text) => [...text.matchAll(/connection:\s*'([^']+)'/g)].map((m) => m[1]!)));
  const identitySettings: Record<string, string[]> = {
    AzureWebJobsStorage: ['blobServiceUri', 'queueServiceUri', 'credential', 'clientId'],
    ServiceBus: ['fullyQualifiedNamespace', 'credential', 'clientId'],
  };
  for (const connection of connections) {
    const needed = identitySettings[connection];
    if (!needed) {
      problems.push(`connection "${connection}" has no identity-based settings defined in this test`);
      continue;
    }
    for (const suffix of needed) {
      const name = `${connection}__${suffix}`;
      if (!infraSettings.includes(name)) problems.push(`connection "${connection}" needs ${name} in infra`);
      if (!code.has(name)) problems.push(`connection "${connection}" uses ${name}, which the app does not read`);
    }
    if (!sampleSettings.some((s) => s === connection || s.startsWith(`${connection}__`))) problems.push(`connection "${connection}" is not in local.settings.sample.json`);
  }
  for (const name of infraSettings) {
    const prefix = name.split('__')[0]!;
    if (name.includes('__') && !connections.has(prefix) && !code.has(name)) problems.push(`${name} belongs to connection "${prefix}", which no function uses`);
  }

  const containers = bicepStringArray(src.storage, 'containerNames');
  for (const name of Object.values(CONTAINERS)) if (!containers.includes(name)) problems.push(`container ${name} is used by the app but not declared in infra`);
  for (const name of containers) if (!Object.values<string>(CONTAINERS).includes(name)) problems.push(`container ${name} is declared in infra but the app never uses it`);

  const storageQueues = bicepStringArray(src.storage, 'queueNames');
  if (storageQueues.join() !== RETRAIN_QUEUE) problems.push(`storage queues in infra are [${storageQueues.join(', ')}], the app uses [${RETRAIN_QUEUE}]`);
  if (bicepString(src.serviceBus, 'queueName') !== RETRAIN_QUEUE) problems.push(`the Service Bus queue in infra is not ${RETRAIN_QUEUE}`);
  for (const property of ['requiresSession: true', 'requiresDuplicateDetection: true', 'maxDeliveryCount: maxDeliveryCount']) {
    if (!src.serviceBus.includes(property)) problems.push(`the Service Bus queue lacks ${property}`);
  }

  const defaults = loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', COSMOS_ENDPOINT: 'http://127.0.0.1:8081', COSMOS_KEY: 'k' });
  if (bicepString(src.cosmos, 'databaseName') !== defaults.cosmos.database) problems.push(`the Cosmos DB database in infra is not ${defaults.cosmos.database}`);
  if (bicepString(src.cosmos, 'containerName') !== defaults.cosmos.container) problems.push(`the Cosmos DB container in infra is not ${defaults.cosmos.container}`);
  const partitionKey = /partitionKey: \{ paths: \['([^']+)'\]/.exec(src.cosmosRegistry)?.[1];
  if (bicepString(src.cosmos, 'partitionKeyPath') !== partitionKey) problems.push(`the Cosmos DB partition key in infra is not the app's ${partitionKey}`);

  // Retry budget: one number of deliveries everywhere, and a timeout that lets a training finish.
  const host = JSON.parse(src.hostJson) as {
    functionTimeout: string;
    extensions: { queues: { maxDequeueCount: number }; blobs: { poisonBlobThreshold: number }; serviceBus: { maxAutoLockRenewalDuration: string } };
  };
  const deliveries = [
    ['RETRAIN_MAX_DELIVERIES default', defaults.retrain.maxDeliveries],
    ['local.settings.sample.json RETRAIN_MAX_DELIVERIES', Number(sample.Values.RETRAIN_MAX_DELIVERIES)],
    ['host.json queues.maxDequeueCount', host.extensions.queues.maxDequeueCount],
    ['infra maxDeliveryCount', Number(bicepParamDefault(src.main, 'maxDeliveryCount'))],
  ] as const;
  if (new Set(deliveries.map(([, n]) => n)).size !== 1) problems.push(`deliveries disagree: ${deliveries.map(([what, n]) => `${what} ${n}`).join(', ')}`);
  const budget = Number(bicepParamDefault(src.main, 'trainingTimeBudgetSeconds'));
  if (budget !== defaults.trainingTimeBudgetSeconds) problems.push(`infra trainingTimeBudgetSeconds ${budget} is not the app's default ${defaults.trainingTimeBudgetSeconds}`);
  const timeout = timeSpanSeconds(host.functionTimeout);
  if (timeout < defaults.trainingTimeBudgetSeconds + 60) problems.push(`host.json functionTimeout ${host.functionTimeout} leaves no room after a ${defaults.trainingTimeBudgetSeconds} s training`);
  if (timeSpanSeconds(host.extensions.serviceBus.maxAutoLockRenewalDuration) < timeout) problems.push('host.json serviceBus.maxAutoLockRenewalDuration is shorter than functionTimeout: a lock could lapse mid-training');

  // Telemetry ingestion by Entra ID only: no key-based ingestion, and both the host and the app sign in.
  if (!src.monitoring.includes('DisableLocalAuth: true')) problems.push('Application Insights accepts key-based ingestion (set DisableLocalAuth: true)');
  if (!/APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=\$\{identityClientId\}'/.test(src.functionApp)) {
    problems.push('APPLICATIONINSIGHTS_AUTHENTICATION_STRING does not sign in with the app identity');
  }

  const infra = [src.main, src.functionApp, src.storage, src.serviceBus, src.cosmos, src.monitoring].join('\n');
  for (const secret of ['listKeys(', 'AccountKey=', 'SharedAccessKey', 'listConnectionStrings(', 'primaryMasterKey']) {
    if (infra.includes(secret)) problems.push(`infra reads a key (${secret}); use the managed identity`);
  }
  const roles: Record<string, string> = {
    'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    'Azure Service Bus Data Sender': '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
    'Azure Service Bus Data Receiver': '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
    'Cosmos DB Built-in Data Contributor': '00000000-0000-0000-0000-000000000002',
    'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  };
  for (const [role, id] of Object.entries(roles)) if (!infra.includes(id)) problems.push(`infra does not assign ${role}`);
  return problems;
}

/** The same sources with one line edited, as a careless change would. */
function edited(src: Sources, file: keyof Omit<Sources, 'functions'>, change: (text: string) => string): Sources {
  const text = change(src[file]);
  if (text === src[file]) throw new Error(`the edit did not change ${file}`);
  return { ...src, [file]: text };
}

describe('code and infrastructure', () => {
  const src = sources();

  it('agree: settings, connections, containers, queues, Cosmos DB, deliveries, roles', () => {
    expect(disagreements(src)).toEqual([]);
  });

  it('disagree when infra loses a setting the app reads', () => {
    const without = edited(src, 'functionApp', (t) => t.replace(/^\s*HOLDOUT_FRACTION:.*\n/m, ''));
    expect(disagreements(without)).toEqual(['HOLDOUT_FRACTION is read by the app but not declared in infra/modules/function-app.bicep']);
  });

  it('disagree when local.settings.sample.json loses a setting the app reads', () => {
    const without = edited(src, 'sample', (t) => t.replace(/^\s*"ALIAS_CACHE_SECONDS": "2",\n/m, ''));
    expect(disagreements(without)).toEqual([
      'ALIAS_CACHE_SECONDS is read by the app but missing from local.settings.sample.json',
      'Notes describe ALIAS_CACHE_SECONDS, which is not a setting',
    ]);
  });

  it('disagree when either side declares a setting nobody reads', () => {
    const infra = edited(src, 'functionApp', (t) => t.replace("HOLDOUT_FRACTION: '0.2'", "HOLDOUT_FRACTION: '0.2'\n      LEGACY_QUEUE_NAME: 'old'"));
    expect(disagreements(infra)).toEqual(['LEGACY_QUEUE_NAME is declared in infra but the app never reads it']);
    const sample = edited(src, 'sample', (t) => t.replace('"Values": {', '"Values": {\n    "LEGACY_QUEUE_NAME": "old",'));
    expect(disagreements(sample)).toEqual([
      'LEGACY_QUEUE_NAME is in local.settings.sample.json but the app never reads it',
      'LEGACY_QUEUE_NAME has no line in local.settings.sample.json "Notes"',
    ]);
  });

  it('disagree when a key reaches the Azure app settings, or a container, queue or retry count drifts', () => {
    const key = edited(src, 'functionApp', (t) => t.replace("COSMOS_CREDENTIAL: 'managedidentity'", "COSMOS_CREDENTIAL: 'managedidentity'\n      COSMOS_KEY: cosmosAccount.listKeys().primaryMasterKey"));
    expect(disagreements(key)).toEqual([
      'COSMOS_KEY holds a key or connection string and must not be an Azure app setting',
      'infra reads a key (listKeys(); use the managed identity',
      'infra reads a key (primaryMasterKey); use the managed identity',
    ]);
    expect(disagreements(edited(src, 'storage', (t) => t.replace("'inference-logs'\n", '')))).toEqual(['container inference-logs is used by the app but not declared in infra']);
    expect(disagreements(edited(src, 'serviceBus', (t) => t.replace('requiresSession: true', 'requiresSession: false')))).toEqual(['the Service Bus queue lacks requiresSession: true']);
    expect(disagreements(edited(src, 'hostJson', (t) => t.replace('"maxDequeueCount": 5', '"maxDequeueCount": 10')))[0]).toMatch(/^deliveries disagree: .*host.json queues.maxDequeueCount 10/);
  });

  it('disagree when telemetry ingestion takes keys again, or the app cannot publish with its identity', () => {
    expect(disagreements(edited(src, 'monitoring', (t) => t.replace('DisableLocalAuth: true', 'DisableLocalAuth: false')))).toEqual([
      'Application Insights accepts key-based ingestion (set DisableLocalAuth: true)',
    ]);
    expect(disagreements(edited(src, 'monitoring', (t) => t.replace(/var monitoringMetricsPublisher = '[^']+'/, "var monitoringMetricsPublisher = 'x'")))).toEqual([
      'infra does not assign Monitoring Metrics Publisher',
    ]);
    expect(disagreements(edited(src, 'functionApp', (t) => t.replace(/^\s*APPLICATIONINSIGHTS_AUTHENTICATION_STRING:.*\n/m, '')))).toEqual([
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING is read by the app but not declared in infra/modules/function-app.bicep',
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING does not sign in with the app identity',
    ]);
  });
});
