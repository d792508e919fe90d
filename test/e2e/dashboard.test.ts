import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, eventually, root, startLocalStackProcess, type LocalStackProcess } from '../support/local-stack';

/**
 * The operators' page in headless Chromium (Debian's, installed by .ci/run) against the whole local
 * stack: define a model, upload a drop, watch the version appear, promote and roll back, try a
 * prediction — with the keyboard and mouse only, and no console errors. Keeps a screenshot.
 */
const CHROMIUM = '/usr/bin/chromium';
const artefacts = join(root, 'test-results');

let stack: LocalStackProcess;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  // Every scored row is logged and written within a second, so the evaluation below sees them at once.
  stack = await startLocalStackProcess({ env: { INFERENCE_LOG_SAMPLE_RATE: '1', INFERENCE_LOG_FLUSH_SECONDS: '1' } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('response', (response) => response.status() >= 400 && consoleErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`));
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
});

describe.skipIf(!existsSync(CHROMIUM))('the dashboard', () => {
  it('takes a person from an empty stack to a served, promoted and rolled-back model', async () => {
    await page.goto(`${stack.url}/dashboard`);
    await expect.poll(() => page.locator('#health').textContent()).toMatch(/healthy/);
    await expect.poll(() => page.locator('#no-models').isVisible()).toBe(true);

    // Define a model with the keyboard only.
    await page.locator('#define-name').focus();
    await page.keyboard.type('churn');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.type('churned');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-slot="name"]').textContent()).toBe('churn');
    await expect.poll(() => page.locator('#model-list').textContent()).toMatch(/churn\s*classification · production –/);

    // Upload the example drop; the verdict and version 1 appear without a reload.
    await page.locator('#upload-file').setInputFiles(join(root, 'examples', 'churn.csv'));
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.locator('[data-slot="drops"]').textContent(), { timeout: 30_000 }).toMatch(/churn\.csv\s*accepted\s*400 \/ 400/);
    await expect.poll(() => page.locator('[data-slot="versions"]').textContent(), { timeout: 30_000 }).toMatch(/v1\s*production\s*logistic-regression/);
    expect(await page.locator('[data-slot="version-chart"] rect').count()).toBe(1);

    // A second, different drop trains version 2; production stays on version 1 until promoted.
    const second = await call(stack.url, 'POST', '/models/churn/retrain', { key: 'dashboard-test' });
    expect(second.status).toBe(202);
    await expect.poll(() => page.locator('[data-slot="versions"] tr').count(), { timeout: 30_000 }).toBe(2);

    // Promote version 2, confirming in the dialog.
    await page.getByRole('button', { name: 'Promote v2' }).click();
    await expect.poll(() => page.locator('#confirm').getAttribute('open')).not.toBeNull();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(async () => (await call(stack.url, 'GET', '/models/churn')).json.aliases.production).toBe(2);
    await expect.poll(() => page.locator('[data-slot="summary"]').textContent()).toMatch(/production → v2/);

    // Roll back: cancel once (nothing moves), then confirm.
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect((await call(stack.url, 'GET', '/models/churn')).json.aliases.production).toBe(2);
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(async () => (await call(stack.url, 'GET', '/models/churn')).json.aliases.production).toBe(1);

    // A rejected drop's report is readable row by row.
    await call(stack.url, 'PUT', '/datasets/churn/bad.csv', 'customer_id,tenure_months,monthly_charges,contract,support_calls,paperless,churned\n1,abc,20,one-year,1,true,no\n', 'text/csv');
    await expect.poll(() => page.locator('[data-slot="drops"]').textContent(), { timeout: 30_000 }).toMatch(/bad\.csv\s*rejected/);
    await page.getByRole('button', { name: 'bad.csv' }).click();
    await expect.poll(() => page.locator('[data-slot="report"]').textContent()).toMatch(/2\s*tenure_months\s*invalid_type\s*an integer\s*"abc"/);

    // Try it: the form is prefilled from the data; a prediction comes back.
    await page.locator('#try-rows').fill(JSON.stringify([{ tenure_months: 60, monthly_charges: 25, contract: 'two-year', support_calls: 0, paperless: false }]));
    await page.getByRole('button', { name: 'Predict' }).click();
    await expect.poll(() => page.locator('[data-slot="try-result"]').textContent()).toMatch(/"predictions": \[\s*"no"\s*\]/);

    // Evaluations: customers far outside the training data are scored; "Evaluate now" shows the drift.
    const definition = { task: 'classification', target: 'churned', evaluation: { minRows: 20 } };
    expect((await call(stack.url, 'PUT', '/models/churn', definition)).status).toBe(200);
    const drifted = Array.from({ length: 40 }, (_, i) => ({ tenure_months: 300 + i, monthly_charges: 40 + i, contract: 'two-year', support_calls: i % 4, paperless: i % 2 === 0 }));
    expect((await call(stack.url, 'POST', '/models/churn/predict', { instances: drifted })).status).toBe(200);
    // The rows reach the log within a second, and a window closes on a whole second two seconds behind
    // the clock: an evaluation a few seconds from now sees them. Until then "Evaluate now" says so.
    const evaluations = page.locator('[data-slot="evaluations"]');
    const toast = page.locator('#toast');
    let said = '';
    for (let attempt = 0; attempt < 8 && !said.startsWith('Evaluated churn: alert'); attempt++) {
      await page.waitForTimeout(2000);
      const rowsBefore = await evaluations.locator('tr').count();
      await toast.evaluate((node) => void (node.textContent = ''));
      await page.getByRole('button', { name: 'Evaluate now' }).click();
      await expect.poll(() => toast.textContent()).toMatch(/^(Evaluated churn|Nothing to evaluate)/);
      said = (await toast.textContent()) ?? '';
      // The page reloads the evaluations after the toast: wait for the new row before reading it.
      if (said.startsWith('Evaluated churn')) await expect.poll(() => evaluations.locator('tr').count()).toBeGreaterThan(rowsBefore);
    }
    expect(said).toMatch(/^Evaluated churn: alert \(\d+ finding\(s\)\)\.$/);
    await expect.poll(() => evaluations.locator('tr').first().textContent()).toMatch(/alert\s*v1\s*drift in [^(]*tenure_months/);
    await expect.poll(() => page.locator('[data-slot="findings"]').textContent()).toMatch(/drift: tenure_months PSI \d+\.\d+ > 0\.2 over 41 sampled rows/);
    // 41: the 40 rows above and the one tried in the form.
    expect(await page.locator('[data-slot="drift-chart"] rect.drifted').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-slot="drift-chart"]').getAttribute('aria-label')).toMatch(/tenure_months PSI \d+\.\d+ \(drifted\)/);

    mkdirSync(artefacts, { recursive: true });
    await page.screenshot({ path: join(artefacts, 'dashboard.png'), fullPage: true });
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
