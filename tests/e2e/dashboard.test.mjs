// The dashboard in a real browser against the real server (docs/api.md).
//
//   node --test tests/e2e/dashboard.test.mjs
//
// Setup: builds web/dashboard/dist (and build/debug/journey if missing), creates a project with the demo's goal,
// fills it with history (`journey simulate` when the binary has it, else synthetic sessions through /v1/batch),
// a few dead letters and a trained exit-risk model, and starts `journey serve` on 127.0.0.1:0.
//
// Every page is opened signed in, waits for its charts (a canvas of non-zero size) or tables, and must log no
// console error, CSP violation or uncaught exception, and send nothing off 127.0.0.1. Screenshots of every page
// (1440x900, full page) and of the live page on a phone (390x844) go to tests/e2e/artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LAPTOP, PHONE, buildAll, expectCanvas, launchBrowser, openPage, paintedCharts, readDownload, screenshot, settled, signIn, startSeededServer,
} from './lib/dashboard.mjs';

// Endpoints of docs/api.md the server does not answer yet, or answers wrongly: the tests that need them are
// marked todo (they run, and report, without failing the suite). Delete a line when its endpoint works.
// (e.g. `live: 'endpoint not implemented yet: GET /api/v1/kpis/stream'`). Keys: live, journeys, session, funnels,
// retention, segments, interventions, deadletters, videos, export. Every endpoint the dashboard uses answers today.
const PENDING = {};

const T = { timeout: 90_000 };
let env;
let browser;

before(async () => {
  buildAll();
  env = await startSeededServer({ sessions: 300, days: 14, seed: 1 });
  browser = await launchBrowser();
}, { timeout: 240_000 });

after(async () => {
  await browser?.close();
  if (env) {
    await env.server.stop();
    env.server.cleanup();
  }
});

const url = (p) => env.server.url + p;

// Opens path signed in; runs fn(view); closes the context whatever happens. When fn fails, the page as it was
// is saved as the screenshot `shot` (so a todo page still has a picture of its current state).
async function withPage(path, fn, opts = {}) {
  const view = await openPage(browser, opts);
  try {
    await signIn(view.page, url(path), env.key);
    await fn(view);
  } catch (e) {
    if (opts.shot) await screenshot(view.page, opts.shot).catch(() => undefined);
    throw e;
  } finally {
    await view.context.close();
  }
}

const is401 = (text) => /status of 401/.test(text);

/* ---- sign-in ------------------------------------------------------------------------------------------------ */

test('sign-in is required; a wrong key is refused with the API message; the key goes in sessionStorage and every request', T, async () => {
  const view = await openPage(browser, { allow: [is401] });
  const { page, context } = view;
  try {
    await page.goto(url('/model'));
    await page.locator('#secret-key').waitFor();
    assert.equal(await page.locator('h1.page-title').count(), 0, 'no page before signing in');
    assert.match(await page.title(), /Sign in/);
    assert.equal(await page.getByLabel('Project secret key').getAttribute('type'), 'password');

    await page.getByLabel('Project secret key').fill('sk_not_the_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.locator('.signin-message .error');
    await alert.waitFor();
    const text = await alert.textContent();
    assert.match(text, /refused/i);
    assert.match(text, /unknown_secret_key/);
    assert.equal(await page.locator('h1.page-title').count(), 0);
    await screenshot(page, 'signin');

    await page.getByLabel('Project secret key').fill(env.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Model' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/model', 'the URL asked for is kept');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('journey.secret_key')), env.key);
    assert.deepEqual(await context.cookies(), [], 'no cookies');
    await settled(page);
    const api = view.apiRequests.filter((r) => !r.auth?.includes('sk_not_the_key'));
    assert.ok(api.length >= 2, 'the project check and the page report');
    for (const r of api) assert.equal(r.auth, `Bearer ${env.key}`, `${r.method} ${r.url} carries the key`);
    assert.match(await page.locator('.project-name').textContent(), /Kestrel Loans/);

    await page.getByRole('button', { name: /Sign out/ }).click();
    await page.locator('#secret-key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('journey.secret_key')), null);
    await page.reload();
    await page.locator('#secret-key').waitFor();
    assert.deepEqual(view.problems, []);
  } finally {
    await context.close();
  }
});

test('a 401 on any request returns to sign-in', T, async () => {
  await withPage('/model', async ({ page, problems }) => {
    await settled(page);
    await page.evaluate(() => sessionStorage.setItem('journey.secret_key', 'sk_revoked'));
    await page.getByRole('button', { name: 'Reload model' }).click();
    await page.locator('#secret-key').waitFor();
    assert.match(await page.locator('.signin-message').textContent(), /Sign in again/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('journey.secret_key')), null);
    assert.deepEqual(problems, []);
  }, { allow: [is401] });
});

/* ---- pages -------------------------------------------------------------------------------------------------- */

test('Live: tiles update every second, the sparkline and the range chart render, the struggling feed links to timelines', { ...T, todo: PENDING.live }, async () => {
  await withPage('/live', async ({ page, problems }) => {
    const eps = page.locator('.live-now .tile').nth(1).locator('.tile-value');
    await page.waitForFunction((el) => el && el.textContent !== '–', await eps.elementHandle(), { timeout: 10000 });
    await page.locator('.live-status .dot-on').waitFor({ timeout: 10000 });
    const first = await page.locator('.live-status').textContent();
    await page.waitForFunction((t) => document.querySelector('.live-status')?.textContent !== t, first, { timeout: 5000 });
    await expectCanvas(page, '.card-live');
    await settled(page);
    await expectCanvas(page, '.page-body > div:last-child');
    // the seed has sessions struggling in the last 25 minutes
    assert.ok(await page.locator('.card-feed .feed-item').count() > 0, 'struggling sessions are listed');
    assert.match(await page.locator('.card-feed .feed-link').first().getAttribute('href'), /^\/session\?(.*&)?id=/);
    await screenshot(page, 'live');
    assert.deepEqual(problems, []);
  }, { shot: 'live' });
});

test('Journeys: the Sankey of paths and the paged session list', { ...T, todo: PENDING.journeys }, async () => {
  await withPage('/journeys?range=30d', async ({ page, problems }) => {
    await page.locator('.table-sessions tbody tr').first().waitFor({ timeout: 15000 });
    await expectCanvas(page);
    await settled(page);
    assert.ok(await page.locator('.table-sessions tbody tr').count() > 5);
    await page.getByRole('button', { name: 'Show table' }).first().click();
    assert.ok(await page.locator('.chart-table tbody tr').first().isVisible());
    await page.getByRole('button', { name: 'Struggled' }).click();
    await settled(page);
    assert.match(page.url(), /show=struggled/);
    await screenshot(page, 'journeys');
    const older = page.getByRole('button', { name: 'Older →' });
    if (await older.isEnabled()) {
      await older.click();
      await settled(page);
      assert.match(await page.locator('.pager-info').textContent(), /Page 2/);
    }
    assert.deepEqual(problems, []);
  }, { shot: 'journeys' });
});

test('Session: the timeline of one session with its signals, risk and interventions', { ...T, todo: PENDING.session }, async () => {
  await withPage('/journeys?range=30d', async ({ page, problems }) => {
    await page.locator('.table-sessions tbody tr').first().waitFor({ timeout: 15000 });
    // a session with struggle signals, for a timeline with something on it
    const link = page.locator('.table-sessions tbody tr', { has: page.locator('.badge-warn') }).locator('a').first();
    await link.click();
    await page.waitForURL(/\/session\?(.*&)?id=/);
    await page.getByRole('heading', { level: 1, name: 'Session' }).waitFor();
    await expectCanvas(page);
    await settled(page);
    assert.ok(await page.getByRole('heading', { name: 'Signals' }).isVisible());
    assert.ok(await page.locator('.table-events tbody tr').count() > 0);
    await screenshot(page, 'session');
    await page.goBack();
    await page.locator('.table-sessions').waitFor();
    assert.deepEqual(problems, []);
  }, { shot: 'session' });
});

const FUNNEL = {
  steps: [{ path: '/demo/' }, { path: '/demo/calculator.html' }, { event: 'Loan Calculated', where: { amount: { gte: 5000 } } }, { path: '/demo/thanks.html' }],
  window: '1d', order: 'loose', by: 'visitor', breakdown: 'device',
};

test('Funnels: a bookmarked funnel renders with per-step numbers; a step lists who dropped', { ...T, todo: PENDING.funnels }, async () => {
  await withPage(`/funnels?range=30d&funnel=${encodeURIComponent(JSON.stringify(FUNNEL))}`, async ({ page, problems }) => {
    await page.locator('.steps > li').first().waitFor();
    assert.equal(await page.locator('.steps > li').count(), 4, 'the builder shows the bookmarked steps');
    await expectCanvas(page);
    await settled(page);
    const rows = page.getByRole('table', { name: 'Funnel steps' }).locator('tbody tr');
    assert.equal(await rows.count(), 4);
    await page.locator('button', { hasText: /dropped$/ }).first().click();
    await page.getByRole('heading', { name: 'Dropped before step 2' }).waitFor();
    await settled(page);
    await screenshot(page, 'funnels');
    assert.deepEqual(problems, []);
  }, { shot: 'funnels' });
});

test('Retention: the cohort heatmap and its table', { ...T, todo: PENDING.retention }, async () => {
  await withPage('/retention?range=30d&cohort=week&periods=4', async ({ page, problems }) => {
    await expectCanvas(page);
    await settled(page);
    assert.ok(await page.locator('.table-retention tbody tr').count() >= 2);
    await page.getByLabel('Cohort by').selectOption('day');
    await settled(page);
    await expectCanvas(page);
    assert.match(page.url(), /cohort=day/);
    await screenshot(page, 'retention');
    assert.deepEqual(problems, []);
  }, { shot: 'retention' });
});

test('Segments: two segments compared side by side', { ...T, todo: PENDING.segments }, async () => {
  await withPage('/segments?range=30d', async ({ page, problems }) => {
    await expectCanvas(page);
    await settled(page);
    const head = page.locator('.table-compare thead th');
    assert.equal(await head.count(), 3, 'KPI + mobile + desktop');
    await page.getByRole('button', { name: '+ Add segment' }).click();
    await page.locator('details[open]').getByRole('group', { name: 'Referrer' }).getByLabel('search').check();
    await page.getByRole('button', { name: 'Compare' }).click();
    await settled(page);
    assert.equal(await head.count(), 4);
    assert.match(decodeURIComponent(page.url()), /"referrer":"search"/);
    await screenshot(page, 'segments');
    assert.deepEqual(problems, []);
  }, { shot: 'segments' });
});

test('Interventions: totals, the uplift against the holdout with its interval, and the rules', { ...T, todo: PENDING.interventions }, async () => {
  await withPage('/interventions?range=30d', async ({ page, problems }) => {
    await settled(page);
    await page.getByRole('heading', { name: 'Rules in force' }).waitFor();
    assert.ok(await page.locator('.rules .rule').count() >= 1);
    if (await page.getByRole('heading', { name: 'Uplift against the holdout' }).count()) {
      await expectCanvas(page);
      assert.ok(await page.getByRole('table', { name: 'Uplift against the holdout' }).isVisible());
    } else {
      assert.ok(await page.getByText('No intervention in this range').isVisible());
    }
    await screenshot(page, 'interventions');
    assert.deepEqual(problems, []);
  }, { shot: 'interventions' });
});

test('Model: the model in use, its test metrics against the baselines, and reloading it', T, async () => {
  await withPage('/model', async ({ page, problems }) => {
    await settled(page);
    if (env.seeded.model) {
      await expectCanvas(page);
      const table = page.getByRole('table', { name: /Test metrics/ });
      for (const h of ['XGBoost', 'Logistic regression', 'Trivial baseline']) assert.ok(await table.getByRole('columnheader', { name: h }).isVisible(), h);
      for (const m of ['ROC AUC', 'PR AUC', 'F1', 'Brier score']) assert.ok(await table.getByText(m, { exact: true }).isVisible(), m);
      await page.getByRole('button', { name: 'Reload model' }).click();
      await page.locator('.reload-status').getByText(/Model version \d+ loaded/).waitFor();
    } else {
      assert.ok(await page.getByText('No trained model').isVisible(), `training failed: ${env.seeded.trainError}`);
    }
    await screenshot(page, 'model');
    assert.deepEqual(problems, []);
  }, { shot: 'model' });
});

test('Dead letters: reasons, raw input expandable, replay of a selection shows the result', { ...T, todo: PENDING.deadletters }, async () => {
  await withPage('/deadletters', async ({ page, problems }) => {
    const rows = page.locator('.table-dead tbody tr');
    await rows.first().waitFor({ timeout: 15000 });
    assert.ok(await rows.count() >= env.seeded.deadLetters);
    assert.ok(await page.getByText('missing_field').first().isVisible());
    const expand = page.getByRole('button', { name: /^Show all \d+ characters/ }).first();
    if (await expand.count()) {
      await expand.click();
      assert.equal(await expand.getAttribute('aria-expanded'), 'true');
    }
    await page.getByLabel(/^Select dead letter/).first().check();
    await page.getByRole('button', { name: 'Replay 1 selected' }).click();
    await page.locator('.replay-result').getByText(/Replay done: 1 examined/).waitFor();
    await screenshot(page, 'deadletters');
    assert.deepEqual(problems, []);
  }, { shot: 'deadletters' });
});

// The seed's sessions include views of the demo's explainer video (`journey simulate`: its video learners and
// some home-page visitors; the synthetic fallback: a third of the home-page visitors), so every report of the
// page has data: the list, the retention curve with its heat and key moments, pauses, speeds, conversion by
// how much was watched, the latest views.
test('Video: the list, the retention curve with its heat and key moments, pauses, speeds and conversion by watch; exports', { ...T, todo: PENDING.videos }, async () => {
  await withPage('/videos?range=30d', async ({ page, problems }) => {
    const row = page.locator('.table-videos tbody tr', { hasText: 'loan-explainer' });
    await row.waitFor({ timeout: 15000 });
    const plays = Number((await row.locator('td').nth(1).innerText()).replace(/\D/g, ''));
    assert.ok(plays > 0, `the seeded data has views of the explainer (${env.seeded.simulator ? 'journey simulate' : 'synthetic sessions'})`);
    const pick = row.getByRole('button', { name: /Show the report of How our loans work/ });
    assert.equal(await pick.getAttribute('aria-pressed'), 'true', 'the most played video is chosen');

    // the report of the chosen video: totals, then every chart drawn
    await expectCanvas(page, '.card-retention');
    await settled(page);
    const tilesText = await page.locator('.card-video .tiles').innerText();
    assert.match(tilesText, new RegExp(`PLAYS\\s+${plays}\\b`, 'i'), 'the video\'s plays match the list');
    const charts = await paintedCharts(page);
    assert.equal(charts.length, 4, `retention + heat, pauses, speeds, conversion: ${JSON.stringify(charts)}`);
    for (const c of charts) assert.ok(c.painted > 0.01, `an empty chart: ${JSON.stringify(c)}`);
    for (const scope of ['.card-retention', '.card-pauses', '.card-conversion']) {
      assert.ok(await page.locator(`${scope} .chart`).count() >= 1, `a chart in ${scope}`);
    }
    assert.ok(await page.locator('.moments li').count() >= 1, 'key moments are listed');
    const conv = page.getByRole('table', { name: 'Conversion by how much of the video was watched' });
    assert.equal(await conv.locator('tbody tr').count(), 4, 'four watch buckets');
    assert.ok(await conv.getByText('Did not play').isVisible());
    assert.match(await conv.locator('tbody tr').nth(3).innerText(), /%\s+to\s+\d/, 'an interval for the over-75% bucket');
    assert.ok(await page.locator('.card-views tbody tr').count() >= 1, 'the latest views');

    // the relative curve, from the keyboard
    const relative = page.getByRole('button', { name: 'Relative to average' });
    await relative.focus();
    await page.keyboard.press('Enter');
    assert.equal(await relative.getAttribute('aria-pressed'), 'true');
    assert.match(page.url(), /curve=relative/);
    assert.match(await page.locator('.card-retention .chart').getAttribute('aria-label'), /relative to the video’s average/);
    assert.ok((await paintedCharts(page, '.card-retention'))[0].painted > 0.01, 'the relative curve is drawn');

    // exports: the per-second table as CSV, the list as JSON
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the report of How our loans work as CSV' }).click()]);
    assert.match(csv.suggestedFilename(), /^journey-video-loan-explainer-.*\.csv$/);
    const lines = readDownload(await csv.path()).trim().split(/\r?\n/);
    assert.equal(lines[0], 'second,watching,share,relative,plays,rewatches,skips,pauses');
    assert.equal(lines.length, 61, 'a row per second of the 60 s video');
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download videos as JSON' }).click()]);
    const list = JSON.parse(readDownload(await json.path()));
    assert.equal(list.videos.find((v) => v.id === 'loan-explainer')?.plays, plays);

    await screenshot(page, 'videos');
    assert.deepEqual(problems, []);
  }, { shot: 'videos' });
});

/* ---- exports, keyboard, phone ---------------------------------------------------------------------------------- */

test('exports: KPI report as CSV (header line) and a funnel as JSON and CSV (a POST report)', { ...T, todo: PENDING.export }, async () => {
  await withPage('/live?range=30d', async ({ page, problems }) => {
    await settled(page);
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download KPIs as CSV' }).click()]);
    assert.match(csv.suggestedFilename(), /^journey-kpis-.*\.csv$/);
    const header = readDownload(await csv.path()).split(/\r?\n/)[0];
    assert.ok(!header.startsWith('{'), `a CSV, not JSON: ${header}`);
    const cols = header.split(',');
    assert.ok(cols.length >= 2, header);
    for (const c of cols) assert.match(c, /^"?[A-Za-z_][\w .:%()-]*"?$/, `header ${header}`);

    await page.goto(url(`/funnels?range=30d&funnel=${encodeURIComponent(JSON.stringify(FUNNEL))}`));
    await settled(page);
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download funnel as JSON' }).click()]);
    const body = JSON.parse(readDownload(await json.path()));
    assert.equal(body.steps.length, 4);
    const [fcsv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download funnel as CSV' }).click()]);
    assert.ok(readDownload(await fcsv.path()).split(/\r?\n/).filter(Boolean).length >= 2, 'a header and rows');
    assert.deepEqual(problems, []);
  });
});

test('keyboard: the skip link, the nav, the date range and the segment picker work without a mouse', T, async () => {
  const view = await openPage(browser, { allow: [() => true] }); // reports may still be missing: not checked here
  const { page } = view;
  try {
    await signIn(page, url('/model'), env.key);
    await settled(page);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const tabTo = async (predicate, what, max = 40) => {
      for (let i = 0; i < max; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(predicate)) return;
      }
      throw new Error(`Tab never reached ${what}`);
    };
    await tabTo(() => document.activeElement?.matches('nav a') && document.activeElement.textContent === 'Retention', 'the Retention nav link');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'focus is visible');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/retention/);
    await page.getByRole('heading', { level: 1, name: 'Retention' }).waitFor();

    await tabTo(() => document.activeElement?.dataset.preset === '30d', 'the 30d range preset');
    await page.keyboard.press('Enter');
    await page.waitForURL(/range=30d/);
    assert.equal(await page.locator('[data-preset="30d"]').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.preset), '30d', 'focus stays on the preset');

    await tabTo(() => document.activeElement?.classList.contains('segment-button'), 'the segment picker');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('.segment-button').getAttribute('aria-expanded'), 'true');
    assert.ok(await page.evaluate(() => !!document.activeElement?.closest('.segment-panel')), 'focus moves into the panel');
    await page.keyboard.press('Space'); // the first checkbox: device desktop
    await tabTo(() => document.activeElement?.textContent === 'Apply segment', 'Apply segment', 60);
    await page.keyboard.press('Enter');
    await page.waitForURL(/segment=/);
    assert.match(await page.locator('.segment-summary').textContent(), /device: desktop/);
    assert.ok(await page.evaluate(() => document.activeElement?.classList.contains('segment-button')), 'focus returns to the picker');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.segment-button').getAttribute('aria-expanded'), 'false');
    assert.ok(await page.evaluate(() => document.activeElement?.classList.contains('segment-button')), 'focus returns to the picker');
  } finally {
    await view.context.close();
  }
});

test('phone: at 390x844 a menu replaces the side nav and no page scrolls sideways', T, async () => {
  const view = await openPage(browser, { viewport: PHONE });
  const { page } = view;
  try {
    await signIn(page, url('/live'), env.key);
    await settled(page).catch(() => undefined);
    const menu = page.getByRole('button', { name: 'Menu' });
    assert.ok(await menu.isVisible());
    assert.ok(!(await page.locator('#nav').isVisible()), 'the nav is folded away');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no horizontal scrolling');
    await page.waitForTimeout(1500); // a few live updates
    await screenshot(page, 'live-phone');
    await menu.click();
    assert.ok(await page.locator('#nav').isVisible());
    assert.equal(await page.getByRole('button', { name: 'Close menu' }).getAttribute('aria-expanded'), 'true');
    await page.getByRole('link', { name: 'Funnels' }).click();
    await page.waitForURL(/\/funnels/);
    assert.ok(!(await page.locator('#nav').isVisible()), 'the menu closes on navigation');
    for (const p of ['/journeys', '/funnels', '/retention', '/segments', '/interventions', '/model', '/deadletters', '/videos']) {
      await page.goto(url(p));
      await page.locator('h1.page-title').waitFor();
      await settled(page).catch(() => undefined);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 1, `${p} scrolls sideways by ${wide}px on a phone`);
    }
    assert.deepEqual(view.problems, []);
  } finally {
    await view.context.close();
  }
});
