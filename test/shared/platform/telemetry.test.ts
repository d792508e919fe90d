import { describe, expect, it } from 'vitest';
import { ingestionCredential, LogTelemetry } from '../../../shared/platform/telemetry';

describe('LogTelemetry (no Application Insights connection string)', () => {
  it('writes each event as one key=value line, quoting only values with spaces', () => {
    const lines: string[] = [];
    const telemetry = new LogTelemetry({ info: (m) => lines.push(m), warn: () => {}, error: () => {} });
    telemetry.event('TrainingFinished', { model: 'churn', status: 'registered', version: 2, note: 'two words', skipped: undefined });
    expect(lines).toEqual(['[event] TrainingFinished model=churn status=registered version=2 note="two words"']);
  });

  it('summarises metrics in memory instead of logging each value', () => {
    const lines: string[] = [];
    const telemetry = new LogTelemetry({ info: (m) => lines.push(m), warn: () => {}, error: () => {} });
    for (const ms of [4, 2, 9]) telemetry.metric('modelloop.scoring.latency_ms', ms, { model: 'churn' });
    telemetry.metric('modelloop.scoring.latency_ms', Number.NaN, { model: 'churn' });
    expect(lines).toEqual([]);
    expect([...telemetry.summaries()]).toEqual([['modelloop.scoring.latency_ms model=churn', { count: 3, sum: 15, min: 2, max: 9 }]]);
  });
});

describe('Entra ID sign-in to Application Insights ingestion (APPLICATIONINSIGHTS_AUTHENTICATION_STRING)', () => {
  it('uses the connection string alone when no authentication string is set', () => {
    expect(ingestionCredential(undefined)).toBeUndefined();
    expect(ingestionCredential('')).toBeUndefined();
  });

  it('signs in with the managed identity the string names, user-assigned or system-assigned', () => {
    // The app loads @azure/identity lazily through require (CommonJS), so the class is compared by name.
    const userAssigned = ingestionCredential('Authorization=AAD;ClientId=00000000-0000-0000-0000-000000000001') as unknown as { clientId?: string };
    expect(userAssigned.constructor.name).toBe('ManagedIdentityCredential');
    expect(userAssigned.clientId).toBe('00000000-0000-0000-0000-000000000001');
    const systemAssigned = ingestionCredential('authorization=aad') as unknown as { clientId?: string };
    expect(systemAssigned.constructor.name).toBe('ManagedIdentityCredential');
    expect(systemAssigned.clientId).toBeUndefined();
  });

  it('refuses a string it cannot read, naming the setting and the expected form', () => {
    expect(() => ingestionCredential('Authorization=Key')).toThrow(/APPLICATIONINSIGHTS_AUTHENTICATION_STRING must start with "Authorization=AAD"/);
    expect(() => ingestionCredential('AAD')).toThrow(/"AAD" is not key=value; expected "Authorization=AAD;ClientId=<client id>"/);
  });
});
