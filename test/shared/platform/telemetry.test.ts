import { describe, expect, it } from 'vitest';
import { LogTelemetry } from '../../../shared/platform/telemetry';

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
