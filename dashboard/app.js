// The operators' page: plain ES modules, no build step and no CDN, served by the app itself at
// /dashboard. It speaks the same HTTP API as every other client.

const state = { model: undefined, key: sessionStorage.getItem('modelloop-key') ?? '', view: undefined };
const $ = (selector, root = document) => root.querySelector(selector);

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

async function api(method, path, body, contentType = 'application/json') {
  const headers = {};
  if (state.key) headers['x-functions-key'] = state.key;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body;
    headers['content-type'] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(path, { method, headers, body: payload });
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { error: text };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** Like `api`, but a 404 gives `undefined` (a route or resource that is not there yet). */
async function maybe(method, path) {
  try {
    return await api(method, path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}

let toastTimer;
function toast(message, kind = 'info') {
  const node = $('#toast');
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), kind === 'error' ? 8000 : 4000);
}

function confirmAction(title, text) {
  const dialog = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    $('#confirm-ok').focus();
  });
}

const formatMetric = (value) => (typeof value === 'number' ? value.toFixed(4) : '–');
const formatTime = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

async function refreshHealth() {
  const node = $('#health');
  try {
    const health = await api('GET', '/health');
    node.textContent = `healthy · ${Object.keys(health.parts ?? {}).join(', ')}`;
    node.dataset.state = 'ok';
  } catch (err) {
    node.textContent = `unavailable: ${err.message}`;
    node.dataset.state = 'down';
  }
}

async function refreshModels() {
  let models = [];
  try {
    ({ models } = await api('GET', '/models'));
  } catch (err) {
    toast(`Could not list models: ${err.message}`, 'error');
    return;
  }
  const list = $('#model-list');
  list.replaceChildren(
    ...models.map((m) =>
      el(
        'li',
        {},
        el(
          'button',
          { type: 'button', class: 'model-button', 'aria-current': m.model === state.model ? 'true' : undefined, onclick: () => selectModel(m.model) },
          el('span', { class: 'model-name', text: m.model }),
          el('span', {
            class: 'model-meta',
            text: `${m.task} · production ${m.aliases.production ? `v${m.aliases.production}` : '–'}${m.aliases.challenger ? ` · challenger v${m.aliases.challenger}` : ''}`,
          }),
        ),
      ),
    ),
  );
  $('#no-models').hidden = models.length > 0;
}

async function selectModel(model) {
  state.model = model;
  history.replaceState(null, '', `#${model}`);
  await Promise.all([refreshModels(), refreshDetail(true)]);
}

async function refreshDetail(reset = false) {
  const model = state.model;
  if (!model) return;
  let view;
  let datasets;
  let evaluations;
  try {
    [view, datasets, evaluations] = await Promise.all([
      api('GET', `/models/${model}`),
      maybe('GET', `/models/${model}/datasets`),
      maybe('GET', `/models/${model}/evaluations?limit=10`),
    ]);
  } catch (err) {
    toast(`Could not load ${model}: ${err.message}`, 'error');
    return;
  }
  if (model !== state.model) return;
  const detail = $('#detail');
  if (reset || !$('[data-slot="name"]', detail)) {
    detail.replaceChildren($('#detail-template').content.cloneNode(true));
    bindDetailForms(detail);
  }
  state.view = view;
  renderSummary(detail, view);
  renderVersions(detail, view);
  renderEvaluations(detail, evaluations?.evaluations ?? []);
  renderDrops(detail, datasets?.datasets ?? []);
  const rows = $('#try-rows', detail);
  if (!rows.value) {
    const accepted = (datasets?.datasets ?? []).find((d) => d.status === 'accepted');
    const sample = accepted ? await maybe('GET', `/models/${model}/datasets/${accepted.datasetId}`) : undefined;
    if (!rows.value) rows.value = exampleRows(view, sample?.report?.columns ?? {});
  }
}

function slot(root, name) {
  return $(`[data-slot="${name}"]`, root);
}

function renderSummary(root, view) {
  slot(root, 'name').textContent = view.model;
  const aliases = Object.entries(view.aliases).map(([alias, version]) => `${alias} → v${version}`).join(', ') || 'no aliases yet';
  const summary = slot(root, 'summary');
  summary.replaceChildren(`${view.definition.task} of “${view.definition.target}” · ${aliases}`);
  const production = view.aliases.production;
  const previous = view.versions.map((v) => v.version).filter((v) => production !== undefined && v < production).at(-1);
  if (previous !== undefined) {
    summary.append(' ', el('button', { type: 'button', class: 'secondary', onclick: () => promote(view.model, previous, 'production', true) }, `Roll back to v${previous}`));
  }
}

function renderVersions(root, view) {
  const body = slot(root, 'versions');
  body.replaceChildren(
    ...[...view.versions].reverse().map((v) =>
      el(
        'tr',
        {},
        el('td', { text: `v${v.version}` }),
        el('td', { text: v.aliases.join(', ') || '–' }),
        el('td', { text: v.trainer }),
        el('td', { text: `${v.primaryMetric} ${formatMetric(v.metrics[v.primaryMetric])}` }),
        el('td', { text: String(v.trainingRows) }),
        el('td', { text: formatTime(v.createdAt) }),
        el(
          'td',
          {},
          v.aliases.includes('production')
            ? el('span', { class: 'badge', text: 'serving' })
            : el('button', { type: 'button', onclick: () => promote(view.model, v.version, 'production', false) }, `Promote v${v.version}`),
        ),
      ),
    ),
  );
  slot(root, 'no-versions').hidden = view.versions.length > 0;
  drawVersionChart(slot(root, 'version-chart'), slot(root, 'version-chart-caption'), view);
}

/** Bars of the primary metric per version; the production version is filled, the others outlined. */
function drawVersionChart(svg, caption, view) {
  const versions = view.versions.filter((v) => typeof v.metrics[v.primaryMetric] === 'number');
  svg.replaceChildren();
  if (versions.length === 0) {
    svg.setAttribute('hidden', '');
    caption.textContent = '';
    return;
  }
  svg.removeAttribute('hidden');
  const metric = versions[0].primaryMetric;
  const values = versions.map((v) => v.metrics[v.primaryMetric]);
  const max = Math.max(...values, 1e-9);
  const width = Math.max(240, versions.length * 56);
  const height = 140;
  const ns = 'http://www.w3.org/2000/svg';
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'xMinYMid meet');
  svg.setAttribute('aria-label', `${metric} by version: ${versions.map((v, i) => `v${v.version} ${formatMetric(values[i])}`).join(', ')}`);
  versions.forEach((v, i) => {
    const barHeight = (values[i] / max) * (height - 40);
    const x = 12 + i * 56;
    const rect = document.createElementNS(ns, 'rect');
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(height - 20 - barHeight));
    rect.setAttribute('width', '40');
    rect.setAttribute('height', String(Math.max(1, barHeight)));
    rect.setAttribute('class', v.aliases.includes('production') ? 'bar production' : 'bar');
    const value = document.createElementNS(ns, 'text');
    value.setAttribute('x', String(x + 20));
    value.setAttribute('y', String(height - 24 - barHeight));
    value.setAttribute('class', 'bar-value');
    value.textContent = formatMetric(values[i]);
    const label = document.createElementNS(ns, 'text');
    label.setAttribute('x', String(x + 20));
    label.setAttribute('y', String(height - 5));
    label.setAttribute('class', 'bar-label');
    label.textContent = `v${v.version}`;
    svg.append(rect, value, label);
  });
  caption.textContent = `${metric} on each version's evaluation rows (filled: production)`;
}

function renderEvaluations(root, evaluations) {
  const latest = evaluations[0];
  const summary = slot(root, 'evaluation-summary');
  if (latest) {
    summary.replaceChildren(
      el('span', { class: `status ${latest.status}`, text: latest.status }),
      ` · v${latest.production.version} over ${formatTime(latest.windowStart)} – ${formatTime(latest.windowEnd)}`,
      latest.retrain ? ` · retrain requested (${latest.retrain.reason})` : '',
    );
  } else summary.replaceChildren();
  slot(root, 'findings').replaceChildren(...(latest?.findings ?? []).map((finding) => el('li', { text: finding })));
  drawDriftChart(slot(root, 'drift-chart'), slot(root, 'drift-chart-caption'), latest);
  const describeDrift = (d) => (d.status === 'measured' ? (d.drifted.length ? `drift in ${d.drifted.join(', ')} (${d.rows} rows)` : `none (${d.rows} rows)`) : d.message);
  const describeQuality = (q) =>
    q.status === 'measured' ? `${q.primaryMetric} ${formatMetric(q.metrics?.[q.primaryMetric])} vs ${formatMetric(q.trainingMetrics[q.primaryMetric])}${q.decayed ? ' (decay)' : ''}` : q.status.replace(/-/g, ' ');
  slot(root, 'evaluations').replaceChildren(
    ...evaluations.map((e) =>
      el(
        'tr',
        {},
        el('td', { text: formatTime(e.windowEnd) }),
        el('td', {}, el('span', { class: `status ${e.status}`, text: e.status })),
        el('td', { text: `v${e.production.version}` }),
        el('td', { text: describeDrift(e.production.drift) }),
        el('td', { text: describeQuality(e.production.quality) }),
        el('td', { text: e.challenger ? `v${e.challenger.version}: ${describeQuality(e.challenger.quality)}` : '–' }),
      ),
    ),
  );
  slot(root, 'no-evaluations').hidden = evaluations.length > 0;
}

/** One bar per input (and the predictions): its drift measure in the latest window, the threshold dashed. */
function drawDriftChart(svg, caption, evaluation) {
  svg.replaceChildren();
  const drift = evaluation?.production.drift;
  const items = drift
    ? [...Object.entries(drift.features), ...(drift.prediction ? [['(prediction)', drift.prediction]] : [])].filter(([, f]) => typeof f.value === 'number')
    : [];
  if (items.length === 0) {
    svg.setAttribute('hidden', '');
    caption.textContent = '';
    return;
  }
  svg.removeAttribute('hidden');
  const threshold = evaluation.thresholds.drift;
  const max = Math.max(threshold * 1.5, ...items.map(([, f]) => f.value));
  const labelWidth = 130;
  const barSpace = 360;
  const rowHeight = 22;
  const width = labelWidth + barSpace + 70;
  const height = items.length * rowHeight + 10;
  const ns = 'http://www.w3.org/2000/svg';
  const node = (tag, attributes, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attributes)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  };
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('aria-label', `Drift per input: ${items.map(([name, f]) => `${name} ${f.measure === 'psi' ? 'PSI' : 'JS'} ${formatMetric(f.value)}${f.drifted ? ' (drifted)' : ''}`).join(', ')}; threshold ${threshold}`);
  items.forEach(([name, f], i) => {
    const y = 5 + i * rowHeight;
    svg.append(
      node('text', { x: labelWidth - 6, y: y + 14, class: 'drift-label', 'text-anchor': 'end' }, name),
      node('rect', { x: labelWidth, y: y + 3, width: Math.max(1, (f.value / max) * barSpace), height: rowHeight - 8, class: f.drifted ? 'drift-bar drifted' : 'drift-bar' }),
      node('text', { x: labelWidth + (f.value / max) * barSpace + 4, y: y + 14, class: 'drift-value' }, `${formatMetric(f.value)}`),
    );
  });
  const x = labelWidth + (threshold / max) * barSpace;
  svg.append(node('line', { x1: x, x2: x, y1: 0, y2: height, class: 'threshold' }));
  caption.textContent = `Drift of each input and of the predictions in the latest window (PSI for numbers, Jensen–Shannon distance for categories); dashed: the threshold ${threshold}, red: above it.`;
}

function renderDrops(root, datasets) {
  slot(root, 'drops').replaceChildren(
    ...datasets.map((d) =>
      el(
        'tr',
        { 'data-status': d.status },
        el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => showReport(d) }, d.files.join(', '))),
        el('td', {}, el('span', { class: `status ${d.status}`, text: d.status })),
        el('td', { text: `${d.acceptedRows} / ${d.rowsRead}` }),
        el('td', { text: d.message }),
        el('td', { text: formatTime(d.receivedAt) }),
      ),
    ),
  );
  slot(root, 'no-drops').hidden = datasets.length > 0;
}

async function showReport(dataset) {
  const panel = slot($('#detail'), 'report');
  panel.hidden = false;
  panel.replaceChildren(el('p', { text: 'Loading report…' }));
  let detail;
  try {
    detail = await api('GET', `/models/${dataset.model}/datasets/${dataset.datasetId}`);
  } catch (err) {
    panel.replaceChildren(el('p', { text: `Could not load the report: ${err.message}` }));
    return;
  }
  const report = detail.report ?? {};
  const problems = report.problems ?? [];
  const parts = [
    el('h4', { text: `Report for ${dataset.files[0]}` }),
    el('p', { text: `${report.message ?? dataset.message} Rows read ${report.rowsRead ?? dataset.rowsRead}, accepted ${report.acceptedRows ?? dataset.acceptedRows}, rejected ${report.rejectedRows ?? dataset.rejectedRows}.` }),
    report.missingColumns?.length ? el('p', { text: `Missing columns: ${report.missingColumns.join(', ')}` }) : undefined,
    report.extraColumns?.length ? el('p', { text: `Extra columns (ignored): ${report.extraColumns.join(', ')}` }) : undefined,
    problems.length
      ? el(
          'table',
          { class: 'grid' },
          el('caption', { text: `First ${problems.length} problems` }),
          el('thead', {}, el('tr', {}, ...['Line', 'Column', 'Problem', 'Expected', 'Received'].map((h) => el('th', { scope: 'col', text: h })))),
          el(
            'tbody',
            {},
            ...problems.map((p) => el('tr', {}, el('td', { text: String(p.row) }), el('td', { text: p.column }), el('td', { text: p.code }), el('td', { text: p.expected }), el('td', { text: p.received }))),
          ),
        )
      : el('p', { text: 'No row problems.' }),
    el('button', { type: 'button', class: 'secondary', onclick: () => (panel.hidden = true) }, 'Close report'),
  ];
  panel.replaceChildren(...parts.filter((part) => part !== undefined));
  panel.querySelector('h4').setAttribute('tabindex', '-1');
  panel.querySelector('h4').focus();
}

/** A starting row for the try-it form, from the newest accepted drop's column statistics. */
function exampleRows(view, stats) {
  const features = view.contract?.features ?? {};
  const row = {};
  for (const [name, spec] of Object.entries(features)) {
    const s = stats[name] ?? {};
    if (spec.type === 'category' || spec.type === 'string') row[name] = Object.keys(s.categories ?? {})[0] ?? '';
    else if (spec.type === 'boolean') row[name] = false;
    else row[name] = typeof s.mean === 'number' ? Math.round(s.mean * 100) / 100 : 0;
  }
  return JSON.stringify([row], null, 2);
}

async function promote(model, version, alias, rollback) {
  const ok = await confirmAction(
    rollback ? `Roll back ${model}?` : `Promote v${version}?`,
    `Point “${alias}” of ${model} at version ${version}. Requests without a version are served by it within seconds.`,
  );
  if (!ok) return;
  try {
    await api('PUT', `/models/${model}/aliases/${alias}`, { version });
    toast(`${alias} of ${model} now points at v${version}.`);
  } catch (err) {
    toast(`Could not move ${alias}: ${err.message}`, 'error');
  }
  await Promise.all([refreshModels(), refreshDetail()]);
}

function bindDetailForms(root) {
  slot(root, 'upload-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = event.target.elements.file.files[0];
    if (!file) return;
    try {
      const reply = await api('PUT', `/datasets/${state.model}/${encodeURIComponent(file.name)}`, file, file.name.endsWith('.csv') ? 'text/csv' : 'application/octet-stream');
      toast(`Uploaded ${file.name} (dataset ${reply.datasetId.slice(0, 12)}); validating…`);
      event.target.reset();
      watch(8);
    } catch (err) {
      toast(`Upload failed: ${err.message}`, 'error');
    }
  });
  slot(root, 'evaluate-now').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const reply = await api('POST', `/models/${state.model}/evaluate`);
      const evaluation = reply.evaluation;
      toast(evaluation ? `Evaluated ${state.model}: ${evaluation.status}${evaluation.findings.length ? ` (${evaluation.findings.length} finding(s))` : ''}.` : `Nothing to evaluate: ${reply.reason ?? reply.status}`);
    } catch (err) {
      toast(`Could not evaluate: ${err.message}`, 'error');
    } finally {
      button.disabled = false;
    }
    await refreshDetail();
  });
  slot(root, 'try-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const out = slot(root, 'try-result');
    let rows;
    try {
      rows = JSON.parse(event.target.elements.rows.value);
    } catch (err) {
      out.textContent = `The rows are not valid JSON: ${err.message}`;
      return;
    }
    try {
      const reply = await api('POST', `/models/${state.model}/predict`, Array.isArray(rows) ? { instances: rows } : rows);
      out.textContent = JSON.stringify(reply, null, 2);
    } catch (err) {
      out.textContent = `${err.code ?? 'Error'}: ${err.message}`;
    }
  });
}

/** Refreshes every second for a while, so a new verdict and version appear without a reload. */
function watch(seconds) {
  let left = seconds;
  const tick = async () => {
    await Promise.all([refreshModels(), refreshDetail()]);
    if (--left > 0) setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
}

$('#define-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target.elements;
  const name = form.name.value.trim();
  try {
    await api('PUT', `/models/${name}`, { task: form.task.value, target: form.target.value.trim() });
    toast(`Model ${name} defined. Upload a drop to train it.`);
    event.target.reset();
    await selectModel(name);
  } catch (err) {
    toast(`Could not define ${name}: ${err.message}`, 'error');
  }
});

$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.key = $('#key').value;
  sessionStorage.setItem('modelloop-key', state.key);
  toast(state.key ? 'Key set for this tab.' : 'Key cleared.');
  refreshModels();
});

$('#key').value = state.key;
refreshHealth();
refreshModels().then(() => {
  const fromHash = decodeURIComponent(location.hash.slice(1));
  if (fromHash) selectModel(fromHash);
});
setInterval(() => {
  refreshHealth();
  refreshModels();
  refreshDetail();
}, 10_000);
