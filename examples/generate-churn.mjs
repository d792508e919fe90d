// Writes examples/churn.csv: a synthetic customer table whose churn label follows a clear rule,
// with a margin around the boundary, so a linear model separates it. Deterministic (seeded).
import { writeFileSync } from 'node:fs';

let state = 42;
const random = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return state / 4294967296;
};
const contracts = ['month-to-month', 'one-year', 'two-year'];
const rows = ['customer_id,tenure_months,monthly_charges,contract,support_calls,paperless,churned'];
let id = 10_000;
while (rows.length <= 400) {
  const tenure = Math.floor(random() * 72) + 1;
  const charges = Math.round((20 + random() * 100) * 100) / 100;
  const contract = contracts[Math.floor(random() * 3)];
  const calls = Math.floor(random() * 8);
  const paperless = random() < 0.5;
  const score = 0.04 * charges - 0.06 * tenure + 0.9 * calls - (contract === 'two-year' ? 3 : contract === 'one-year' ? 1.5 : 0) - 2.2;
  if (Math.abs(score) < 0.8) continue; // keep a margin: the example is meant to be learnable
  rows.push([id++, tenure, charges, contract, calls, paperless, score > 0 ? 'yes' : 'no'].join(','));
}
writeFileSync(new URL('./churn.csv', import.meta.url), rows.join('\n') + '\n');
console.log(`wrote ${rows.length - 1} rows`);
