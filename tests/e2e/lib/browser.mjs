// Harness of the interventions' browser tests (tests/e2e/interventions.test.mjs): `journey serve --demo` on
// loopback with a fresh data dir, Debian's Chromium through playwright-core, a probe in every page that
// timestamps the visitor's actions and the tracker's dialogs, and a visitor who uses the demo loan site
// (docs/demo.md) with real clicks and typing.
//
//   const j = await startDemoServer({ settings: { holdout_pct: 0 } });   // j.writeKey, j.secretKey, j.port
//   const browser = await launchBrowser();
//   const v = await openVisitor(browser, j);        // { context, page, problems, dialogs, frames, batches }
//   await v.goto('/demo/calculator.html');          // and waits for the live channel's hello
//   await struggle(v);                              // three rejected submits, rage clicks on "Apply now"
//   const d = await v.waitDialog();                 // { inserted, frame, latency: {...} }
//   await v.close();
//
// The probe is an init script (it runs before the page's own scripts and outside its CSP). It records
// performance.now() of every click and keydown (capture phase on document, so before the tracker sees
// them), and, through a MutationObserver that follows the tracker's shadow root, the moment a
// role=dialog element is inserted and the next animation frame after it (the first frame that can show
// it). Dialogs are also reported to Node through a binding, so a test can prove none appeared on any page
// of a visit.
//
// Processes are ended by the PID we started (Server.stop), never by name.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, Server, makeDataDir, waitFor, sleep, sqlString } from '../../integration/lib/journey.mjs';

export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
export const WEB = path.join(ROOT, 'web');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const GOAL = { path: '/demo/thanks.html' };

// What the built files must be there for: the tracker bundle and the demo site (node web/build.mjs).
export function checkBuilt() {
  const need = ['tracker/dist/journey.js', 'demo/dist/calculator.html', 'demo/dist/js/site.js'];
  const missing = need.filter((f) => !existsSync(path.join(WEB, f)));
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: run \`node web/build.mjs\` first`);
}

// ---------------------------------------------------------------------------------------------------------
// the server

// `journey serve --demo` on 127.0.0.1:port (0: any free port) with dataDir (fresh unless given). The demo
// project's keys are read from DIR/demo-project.json. `settings` (without a goal, the demo's goal is
// added) replaces the project's settings through PUT /api/v1/settings, as docs/policy.md describes.
export async function startDemoServer({ dataDir, port = 0, settings } = {}) {
  const fresh = !dataDir;
  dataDir = dataDir || makeDataDir();
  const s = new Server({ dataDir, args: ['--demo', '--listen', `127.0.0.1:${port}`, '--web-root', WEB] });
  try {
    await s.start();
    const demo = JSON.parse(readFileSync(path.join(dataDir, 'demo-project.json'), 'utf8'));
    s.writeKey = demo.write_key;
    s.secretKey = demo.secret_key;
    s.projectId = demo.id;
    if (settings) await putSettings(s, settings);
  } catch (e) {
    await s.stop();
    if (fresh) s.cleanup();
    throw e;
  }
  return s;
}

// Starts a stopped server again on the same data dir and the same port.
export async function restartDemoServer(s) {
  const port = s.port;
  s.opts.args = ['--demo', '--listen', `127.0.0.1:${port}`, '--web-root', WEB];
  await s.start();
  if (s.port !== port) throw new Error(`restarted on port ${s.port}, not ${port}`);
  return s;
}

export async function stopDemoServer(s) {
  if (!s) return;
  await s.stop();
  s.cleanup();
}

export async function putSettings(s, settings) {
  const body = { goal: GOAL, ...settings };
  const res = await fetch(`${s.url}/api/v1/settings`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${s.secretKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`PUT /api/v1/settings answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------------------
// reading the store

export function interventionsOf(j, sessionId) {
  return j.query(`SELECT * FROM interventions WHERE session_id = ${sqlString(sessionId)} ORDER BY created_at, rowid`);
}

export function interventionSteps(j, id) {
  return j.query(`SELECT status FROM intervention_events WHERE intervention_id = ${sqlString(id)} ORDER BY id`)
    .map((r) => r.status);
}

export function waitIntervention(j, sessionId, { timeout = 20000 } = {}) {
  return waitFor(() => interventionsOf(j, sessionId)[0], { timeout, interval: 50, what: `an intervention for ${sessionId}` });
}

export function waitStatus(j, id, status, { timeout = 20000 } = {}) {
  return waitFor(() => {
    const r = j.query(`SELECT status FROM interventions WHERE id = ${sqlString(id)}`)[0];
    return r?.status === status && interventionSteps(j, id).includes(status);
  }, { timeout, interval: 50, what: `intervention ${id} to be ${status}` });
}

export function sessionRow(j, sessionId) {
  return j.query(`SELECT * FROM sessions WHERE session_id = ${sqlString(sessionId)}`)[0];
}

// Every event the engine was handed has been processed (see tests/integration/lib/engine.mjs, settle()).
export async function engineDrained(j, { timeout = 20000 } = {}) {
  await waitFor(async () => {
    const m = await j.metrics();
    return (m.get('journey_engine_latency_seconds_count') ?? 0) >= (m.get('journey_engine_events_total') ?? 0);
  }, { timeout, interval: 50, what: 'engine queues drained' });
}

// ---------------------------------------------------------------------------------------------------------
// the browser

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync'],
  });
}

// Runs in every page before its scripts. See the header.
function probe() {
  if (window.__e2e) return;
  const p = (window.__e2e = { actions: [], dialogs: [] });
  const describe = (el) => (el && el.nodeType === 1 ? el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') : '');
  document.addEventListener('click', (e) => p.actions.push({ kind: 'click', t: performance.now(), target: describe(e.target) }), true);
  document.addEventListener('keydown', (e) => p.actions.push({ kind: 'key', key: e.key, t: performance.now(), target: describe(e.target) }), true);
  const seen = new WeakSet();
  const watched = new WeakSet();
  const scan = (root) => {
    for (const d of root.querySelectorAll('[role=dialog]')) {
      if (seen.has(d)) continue;
      seen.add(d);
      const rec = { inserted: performance.now(), frame: null, label: '', path: location.pathname };
      const title = d.getAttribute('aria-labelledby') && root.getElementById?.(d.getAttribute('aria-labelledby'));
      rec.label = title ? title.textContent : d.getAttribute('aria-label') || '';
      p.dialogs.push(rec);
      requestAnimationFrame(() => {
        rec.frame = performance.now();
        if (typeof window.__e2eDialog === 'function') window.__e2eDialog({ ...rec });
      });
    }
  };
  const follow = () => {
    for (const host of document.querySelectorAll('[data-journey-ui]')) {
      if (!host.shadowRoot) continue;
      if (!watched.has(host.shadowRoot)) {
        watched.add(host.shadowRoot);
        new MutationObserver(() => scan(host.shadowRoot)).observe(host.shadowRoot, { childList: true, subtree: true });
      }
      scan(host.shadowRoot);
    }
  };
  new MutationObserver(follow).observe(document, { childList: true, subtree: true });
}

// A fresh context (its own localStorage, so a new visitor and session) and page on the demo site.
//   problems: console errors, page errors, and requests to anything but 127.0.0.1 (aborted);
//   dialogs: every tracker dialog seen on any page of the visit (via the binding);
//   frames: every message received on the live WebSocket (parsed);
//   batches: the messageIds of every POST /v1/batch or beacon the page made, per request.
export async function openVisitor(browser, j, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  const v = { context, j, problems: [], dialogs: [], frames: [], batches: [], sockets: 0 };
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.hostname === '127.0.0.1') return route.continue();
    v.problems.push(`request left 127.0.0.1: ${u.href}`);
    return route.abort();
  });
  await context.exposeBinding('__e2eDialog', (_source, rec) => { v.dialogs.push(rec); });
  await context.addInitScript(probe);
  const page = await context.newPage();
  v.page = page;
  page.on('console', (m) => { if (m.type() === 'error') v.problems.push(`console.error: ${m.text()}`); });
  page.on('pageerror', (e) => v.problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (r.method() !== 'POST' || !/\/(v1|beacon\/v1)\/batch$/.test(u.pathname)) return;
    try {
      const body = JSON.parse(r.postData() || '{}');
      v.batches.push((body.batch || []).map((m) => m.messageId));
    } catch { v.batches.push(['<unparsable>']); }
  });
  page.on('websocket', (ws) => {
    if (!new URL(ws.url()).pathname.startsWith('/v1/live')) return;
    v.sockets++;
    ws.on('framereceived', (f) => {
      try { v.frames.push(JSON.parse(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8'))); } catch { /* not JSON */ }
    });
  });

  // Opens a page of the demo site and waits until the tracker is loaded and its live channel said hello
  // (so an intervention can be pushed at once).
  v.goto = (pathname) => v.arrive(pathname, () => page.goto(j.url + pathname));
  // Does `action` (a click on a link, a submit) and waits until it has led to `pathname`, ready as above.
  v.arrive = async (pathname, action) => {
    const hellos = v.frames.filter((f) => f.type === 'hello').length;
    await action();
    await page.waitForURL((u) => u.pathname === pathname, { timeout: 15000 });
    await page.waitForFunction(() => typeof window.journey?.version === 'string', null, { timeout: 15000 });
    await waitFor(() => v.frames.filter((f) => f.type === 'hello').length > hellos, { timeout: 15000, interval: 25, what: `the live channel's hello on ${pathname}` });
  };
  // The visitor's session id, from the tracker's localStorage (docs/tracker.md, session.ts).
  v.sessionId = () => page.evaluate(() => JSON.parse(localStorage.getItem('journey.session') || '{}').id);
  v.probe = () => page.evaluate(() => window.__e2e);
  v.queue = () => page.evaluate(() => JSON.parse(localStorage.getItem('journey.queue') || '{"messages":[]}').messages);
  v.dialog = () => page.getByRole('dialog', { name: 'Need help?' });

  // Waits for the offer dialog to be visible; returns when it was inserted and first painted, and how long
  // after the last click or key press before it (performance.now() in the page: one clock).
  v.waitDialog = async ({ timeout = 20000 } = {}) => {
    await v.dialog().waitFor({ state: 'visible', timeout });
    const rec = await page.waitForFunction(() => {
      const d = window.__e2e.dialogs.find((x) => x.label === 'Need help?' && x.frame !== null);
      return d ? { ...d, actions: window.__e2e.actions } : null;
    }, null, { timeout: 5000 }).then((h) => h.jsonValue());
    const before = rec.actions.filter((a) => a.t <= rec.inserted);
    const last = before[before.length - 1];
    return {
      inserted: rec.inserted,
      frame: rec.frame,
      lastAction: last,
      insertedAfterMs: last ? rec.inserted - last.t : null,
      visibleAfterMs: last ? rec.frame - last.t : null,
    };
  };
  v.close = () => context.close();
  return v;
}

// ---------------------------------------------------------------------------------------------------------
// the visitor's moves

// Clicks into a text field (one real click: a triple click would be three clicks, a rage click), selects
// what is there and types `text` key by key.
export async function typeInto(page, selector, text) {
  await page.locator(selector).click();
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text, { delay: 15 });
}

// The centre of an element, for page.mouse (Playwright's locator.click() refuses aria-disabled buttons,
// which is exactly what this visitor clicks).
export async function centre(page, selector) {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not on screen`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

// One press of "Calculate"; resolves when the page has answered it (an error summary or a quote).
export async function calculate(page) {
  await page.getByRole('button', { name: 'Calculate' }).click();
}

// On calculator.html: three rejected submissions, each on a different field (amount too large; then a term
// too short for the amount; then an income typed as a monthly figure), so each field is rejected once and
// the struggle is the retrying (calculator_retry), not one field's errors. Values are the caller's, so
// a test can look for them in the store. Resolves after the third rejection is on screen.
export async function rejectedSubmissions(page, { bigAmount = '61,827', amount = '25,000', income = '47,391', monthlyIncome = '2,483' } = {}) {
  // 1: amount over the maximum
  await typeInto(page, '#amount', bigAmount);
  await page.locator('#term').selectOption('36');
  await typeInto(page, '#income', income);
  await calculate(page);
  await page.locator('#amount[aria-invalid="true"]').waitFor();
  // 2: a large loan over 12 months
  await typeInto(page, '#amount', amount);
  await page.locator('#term').selectOption('12');
  await calculate(page);
  await page.locator('#term[aria-invalid="true"]').waitFor();
  // 3: a monthly income
  await page.locator('#term').selectOption('36');
  await typeInto(page, '#income', monthlyIncome);
  await calculate(page);
  await page.locator('#income[aria-invalid="true"]').waitFor();
}

// Clicks the still-disabled "Apply now" `n` times, a few px apart, ~200 ms apart: a rage click (each click
// goes out in its own request; 200 ms apart they cannot overtake each other on the way to the engine).
export async function rageClickApplyNow(page, n = 3) {
  const c = await centre(page, '#apply-now');
  for (let i = 0; i < n; i++) {
    if (i) await sleep(200);
    await page.mouse.click(c.x + (i % 2 ? 3 : -2), c.y + (i % 3) - 1);
  }
}

// The struggling visitor of docs/demo.md on calculator.html.
export async function struggle(v, values) {
  await rejectedSubmissions(v.page, values);
  await rageClickApplyNow(v.page);
}

export { sleep, waitFor, sqlString };
