// Harness of the dashboard's browser tests (tests/e2e/dashboard.test.mjs): builds what is missing, starts the
// real server on loopback with a seeded project, and drives Debian's Chromium through playwright-core.
//
//   const env = await startSeededServer();          // { server, key, seeded: {...} }
//   const browser = await launchBrowser();
//   const v = await openPage(browser, env.server);  // { context, page, problems }
//   await signIn(v.page, env.server.url + '/model', env.key);
//   ...
//   assert.deepEqual(v.problems, []);               // console errors, CSP violations, page errors, off-host requests
//   await v.context.close();
//
// Processes are ended by the PID we started (Server.stop), never by name.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { BIN, ROOT, Server, cli, cliResult, createProject, makeDataDir } from '../../integration/lib/journey.mjs';
import { badMessages, syntheticTraffic } from './seed.mjs';

export const ARTIFACTS = path.join(ROOT, 'tests/e2e/artifacts');
export const LAPTOP = { width: 1440, height: 900 };
export const PHONE = { width: 390, height: 844 };
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const GOAL = { goal: { path: '/demo/thanks.html' } };

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

// The dashboard is built every run (a few seconds: the test must see the current sources); the server binary
// only when missing (`make` is the developer's, and the lead's, to run). E2E_SKIP_BUILD=1 skips the dashboard.
export function buildAll() {
  if (!existsSync(BIN)) run('make', ['-C', ROOT]);
  if (process.env.E2E_SKIP_BUILD !== '1' || !existsSync(path.join(ROOT, 'web/dashboard/dist/index.html'))) {
    run(process.execPath, [path.join(ROOT, 'web/build.mjs'), 'dashboard']);
  }
}

export function hasSimulator() {
  return cliResult(['simulate', '--help'], { timeout: 10000 }).status === 0;
}

// A data dir with one project (goal: the demo's thanks page), history, dead letters and, when training works,
// an exit-risk model; the server running on it. History comes from `journey simulate` when the binary has it
// (plus a dozen synthetic sessions of the last minutes, for the live view), else from synthetic sessions posted
// through /v1/batch (tests/e2e/lib/seed.mjs).
export async function startSeededServer({ sessions = 300, days = 14, seed = 1 } = {}) {
  const dataDir = makeDataDir();
  const project = createProject(dataDir, 'Kestrel Loans');
  cli(['project', 'settings', String(project.id), '--json', JSON.stringify(GOAL), '--data', dataDir]);
  const seeded = { simulator: false, sessions: 0, messages: 0, model: null, deadLetters: 0 };
  if (hasSimulator()) {
    cli(['simulate', '--data', dataDir, '--project', String(project.id), '--sessions', String(sessions), '--days', String(days), '--seed', String(seed)]);
    seeded.simulator = true;
    seeded.sessions = sessions;
  }
  const server = new Server({ dataDir, projectId: project.id, writeKey: project.write_key, args: ['--web-root', path.join(ROOT, 'web')] });
  server.project = project;
  server.secretKey = project.secret_key;
  try {
    await server.start();
    if (!seeded.simulator) {
      const traffic = syntheticTraffic({ sessions, days, seed });
      for (const batch of traffic.batches) {
        const r = await server.post('/v1/batch', { batch });
        if (r.status !== 200) throw new Error(`seeding: /v1/batch answered ${r.status}: ${r.text.slice(0, 300)}`);
      }
      seeded.sessions = traffic.sessions.length;
      seeded.messages = traffic.messages;
    }
    if (seeded.simulator) {
      // The simulator's history ends now; a few sessions struggling in the last minutes feed the live view.
      const live = syntheticTraffic({ sessions: 0, recent: 12, seed });
      for (const batch of live.batches) await server.post('/v1/batch', { batch });
      seeded.recent = live.sessions.length;
    }
    const bad = await server.post('/v1/batch', { batch: badMessages() });
    seeded.deadLetters = bad.json?.rejected ?? 0;
    const trained = cliResult(['train', '--project', String(project.id), '--data', dataDir, '--json'], { timeout: 120000 });
    if (trained.status === 0) {
      const r = await fetch(`${server.url}/api/v1/model/reload`, { method: 'POST', headers: { Authorization: `Bearer ${project.secret_key}` } });
      seeded.model = r.ok ? JSON.parse(trained.stdout) : null;
    } else {
      seeded.trainError = trained.stderr.trim();
    }
  } catch (e) {
    await server.stop();
    server.cleanup();
    throw e;
  }
  return { server, key: project.secret_key, seeded };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

// A fresh context (own sessionStorage) and page. problems collects every console error, CSP violation, ECharts
// warning, uncaught exception and request to anything but 127.0.0.1 (those are aborted). allow: predicates of
// console messages a test expects (e.g. the 401 of a wrong key).
export async function openPage(browser, { viewport = LAPTOP, allow = [] } = {}) {
  // reducedMotion: the dashboard then draws charts without animation, so a screenshot shows them finished.
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, acceptDownloads: true, locale: 'en-US', timezoneId: 'UTC', reducedMotion: 'reduce' });
  const problems = [];
  const apiRequests = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'blob:' || u.protocol === 'data:' || u.hostname === '127.0.0.1') return route.continue();
    problems.push(`request left 127.0.0.1: ${u.href}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    // errors, CSP reports (whatever their level), and ECharts' warnings (a chart drawn on a 0x0 element, a bad option)
    if (m.type() !== 'error' && !/Content.Security.Policy|Refused to|^\[ECharts\]/i.test(m.text())) return;
    const where = m.location()?.url ?? '';
    if (allow.some((a) => a(m.text(), where))) return;
    problems.push(`console.${m.type()}: ${m.text()}${where ? ` (${where})` : ''}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) apiRequests.push({ url: r.url(), method: r.method(), auth: r.headers().authorization ?? null });
  });
  return { context, page, problems, apiRequests };
}

// Signs in through the form at url (the dashboard shows it for any path without a key) and waits for the page.
export async function signIn(page, url, key) {
  await page.goto(url);
  await page.locator('#secret-key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('h1.page-title').waitFor();
}

// Waits for a chart's canvas with a non-zero size inside scope (a selector); fails at once with the message
// when the report shows its error state instead.
export async function expectCanvas(page, scope = 'main', { timeout = 15000 } = {}) {
  await page.locator(`${scope} .chart canvas, ${scope} .state-error`).first().waitFor({ state: 'visible', timeout });
  const canvas = page.locator(`${scope} .chart canvas`).first();
  if (!(await canvas.count())) throw new Error(`the report failed: ${(await page.locator(`${scope} .state-error`).first().innerText()).replace(/\s+/g, ' ')}`);
  await canvas.waitFor({ state: 'visible', timeout });
  const box = await canvas.boundingBox();
  if (!box || box.width < 10 || box.height < 10) throw new Error(`chart canvas in ${scope} has no size: ${JSON.stringify(box)}`);
  return box;
}

// Every chart canvas inside scope, and how much of it is painted: [{ label, width, height, painted }] where
// painted is the share of its pixels that are not transparent (ECharts draws on a transparent canvas, so an
// empty chart is ~0 and a drawn one well above 1%). Call once the charts are drawn (reducedMotion: no animation).
export async function paintedCharts(page, scope = 'main') {
  return page.locator(`${scope} .chart`).evaluateAll((charts) => charts.map((chart) => {
    const canvas = chart.querySelector('canvas');
    const out = { label: chart.getAttribute('aria-label') ?? '', width: canvas?.width ?? 0, height: canvas?.height ?? 0, painted: 0 };
    const g = canvas?.getContext('2d');
    if (!g || !out.width || !out.height) return out;
    const px = g.getImageData(0, 0, out.width, out.height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
    out.painted = n / (out.width * out.height);
    return out;
  }));
}

// Waits until no report is loading any more (every aria-busy region done) and the network is quiet.
export async function settled(page, { timeout = 15000 } = {}) {
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]') && !document.querySelector('.state-loading'), null, { timeout });
}

// Fails with the message of the first report that shows its error state.
export async function noReportErrors(page) {
  const err = page.locator('.state-error').first();
  if (await err.count()) throw new Error(`a report failed: ${(await err.innerText()).replace(/\s+/g, ' ')}`);
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // From the top: a full-page capture draws the sticky top bar where the page was scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function readDownload(file) {
  return readFileSync(file, 'utf8');
}
