// The dead-click window, measured: every clickable control of the demo site clicked once in Chromium, the
// tracker's 1 s verdict ($dead_click or not, as it really sent it) beside what PostHog's 2.75 s rule would
// have said about the same click (docs/detectors.md, "The dead-click window").
//
//   node --test tests/e2e/dead_click_window.test.mjs     (needs build/debug/journey, or JOURNEY_BIN, and
//                                                         `node web/build.mjs`; 50-65 s on a busy 2-core VM)
//   DCW_WORKERS=4 ...                                    visitors clicking at the same time (default 8)
//
// Writes bench/results/dead-click-window.json (every click, its first signs, both verdicts) and prints a table.
//
// How:
//   - `journey serve --demo` on 127.0.0.1 (tests/e2e/lib/browser.mjs), Debian's Chromium, headless.
//   - Discovery, once per page state: the demo's six pages as loaded, plus three states a visitor reaches
//     (calculator after a rejected "Calculate": its error-summary links; calculator with a quote: "Apply now"
//     enabled; application after an empty "Send application": its error-summary links). A control is anything
//     matching CONTROLS, any element with a click/pointer/mouse listener of its own (asked of Chromium through
//     CDP DOMDebugger.getEventListeners, so a handler the demo's JS adds is found without trusting a list),
//     and the outermost element of any hand-cursor area (the rates table's sortable-looking headers). A
//     control a mouse cannot reach (the skip link sits off-screen until focused, the video's fallback link is
//     never rendered) is listed as skipped, with the reason.
//   - Each click starts from a clean slate: the worker's page goes to an empty document, storage and cookies
//     are cleared (so the tracker sees a new visitor with a new session, as in a fresh context, without the
//     cost of a renderer per click), then it loads the page, replays the state's setup, scrolls the control
//     into view, waits until the page has been quiet for 200 ms, and presses the mouse on the control's
//     centre: down, ~100 ms, up, as a person does (page.mouse: Playwright's own click refuses aria-disabled
//     buttons, which are exactly what a dead click is about; and its down/up back to back would let the
//     selectionchange of the mousedown's caret arrive after the click, which PostHog's rule would count).
//     When the click navigates, the next document is an empty page served by the test (the clicked page
//     has unloaded by then, which is all that is measured).
//   - A probe (init script, before the page's and the tracker's scripts) takes the click's time from a
//     capture listener on window (it runs before the tracker's on document) and reports, relative to it, the
//     first of each sign: DOM mutation (a MutationObserver with the tracker's options), resource request
//     (PerformanceObserver; the tracker's own /v1 and /beacon requests are kept apart), scroll (any element),
//     selection change, navigation (the Navigation API's navigate event, same- or cross-document), pagehide,
//     focus change, uncancelled submit, visibility change. It streams them to Node through a binding; a
//     pagehide lost with its page is replaced by the moment Node saw the next document commit (later, so an
//     upper bound). Selection and scroll are also compared with their state at the click once the click's
//     handlers have run: a change a handler made synchronously (field.focus() moves the caret and scrolls)
//     is marked `sync` and counts as immediate for PostHog's 100 ms rules (its event follows a frame later,
//     or much later on a starved CPU, which is not what those rules are about); an event whose state equals
//     the state at the click (a late notice of the mousedown's caret) does not count.
//   - The tracker's verdict is what it sent, read from the store: a $dead_click whose click_id is this
//     click's $click. Its requests are also read as they leave the page; the store must hold exactly the
//     $dead_click events seen on the wire.
//
// The two rules, for the same click:
//   tracker, 1 s   (web/tracker/src/autocapture/clicks.ts) dead when no DOM mutation, no fetch/XHR, no
//                  navigation (page view, pagehide, hidden page, uncancelled submit) within 1000 ms. Not
//                  checked at all: form fields, labels, media, links whose navigation was not cancelled,
//                  clicks that leave a text selection.
//   PostHog, 2.75 s  not dead when a scroll or a selection change follows within 100 ms, or a DOM mutation
//                  within 2500 ms, or the page is left before the decision at 2750 ms (it never reports);
//                  network requests do not count. Applied to the clicks the tracker checks (same
//                  exclusions), so the comparison isolates the window and the signals.
// The test also predicts the tracker's verdict from the probe's signs and requires it to match what the
// tracker sent, click by click: a mismatch is either a probe bug or a tracker bug, and fails loudly.
//
// Asserted: clicks that navigate or change the DOM at once are never dead under either rule; the known inert
// controls (the rates table's sortable-looking headers, "Apply now" before a quote) are dead under both; the
// slow-but-working "Is an adviser free now?" (faq.html, web/demo/src/ts/adviser.ts: waits 1.5 s, then answers)
// is dead at 1 s and not at 2.75 s; nothing leaves 127.0.0.1; no page error or console error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, BIN } from '../integration/lib/journey.mjs';
import { checkBuilt, launchBrowser, sleep, sqlString, startDemoServer, stopDemoServer, waitFor } from './lib/browser.mjs';

const OUT = path.join(ROOT, 'bench/results/dead-click-window.json');
const WORKERS = Number(process.env.DCW_WORKERS || 8); // visitors clicking at the same time
const TRACKER_MS = 1000; // clicks.ts DEAD_CLICK_MS
const PH = { scroll: 100, selection: 100, mutation: 2500, decide: 2750 }; // posthog-js defaults
const MARGIN = 300; // ms after a decision before we conclude (the tracker's $dead_click is an urgent flush)
const QUIET_MS = 200; // ms without a sign before a click

// What counts as a clickable control besides listeners and hand cursors.
const CONTROLS = 'a[href],button,input:not([type=hidden]),select,textarea,label,summary,[role=button],[onclick],'
  + '[tabindex]:not([tabindex="-1"]),video[controls],audio[controls]';
// The tracker's rules, restated here to predict its verdict (dom.ts INTERACTIVE, clicks.ts NATIVE).
const TRACKER_INTERACTIVE = 'input,textarea,select,label,a,button,summary,[role=button],[onclick]';
const TRACKER_NATIVE = 'input,textarea,select,option,[contenteditable],label,video,audio';

const PAGES = ['index', 'calculator', 'apply', 'faq', 'rates', 'thanks'].map((p) => ({
  name: `${p}.html`, path: `/demo/${p}.html`,
}));
// States a visitor reaches on a page; only the controls named by `only` are clicked in them (the rest of the
// page is the same as on arrival and is clicked there).
const STATES = [
  {
    name: 'calculator.html, after an empty Calculate', path: '/demo/calculator.html', only: '#calc-errors a',
    setup: async (page) => {
      await page.click('#loan-calculator button[type=submit]');
      await page.locator('#calc-errors a').first().waitFor();
    },
  },
  {
    name: 'calculator.html, with a quote', path: '/demo/calculator.html', only: '#apply-now',
    setup: async (page) => {
      await page.fill('#amount', '10000');
      await page.selectOption('#term', '36');
      await page.fill('#income', '30000');
      await page.click('#loan-calculator button[type=submit]');
      await page.locator('#monthly-payment').waitFor();
    },
  },
  {
    name: 'apply.html, after an empty Send application', path: '/demo/apply.html', only: '#application-errors a',
    setup: async (page) => {
      await page.click('#application button[type=submit]');
      await page.locator('#application-errors a').first().waitFor();
    },
  },
];
// Controls whose behaviour we know from the demo's source; each must be found and behave as stated.
const INERT = [ // do nothing at all: dead under both rules
  { page: 'rates.html', match: (c) => c.classes.includes('sort-look'), n: 3, what: 'sortable-looking table header' },
  { page: 'calculator.html', match: (c) => c.id === 'apply-now' && c.ariaDisabled, n: 1, what: '"Apply now" before a quote' },
];
const SLOW = { page: 'faq.html', id: 'adviser-check', what: '"Is an adviser free now?" (waits 1.5 s, then answers)' };

let j;
let browser;
let chromiumVersion = '';

before(async () => {
  checkBuilt();
  j = await startDemoServer();
  browser = await launchBrowser();
  chromiumVersion = browser.version();
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
  await stopDemoServer(j);
});

// ---------------------------------------------------------------------------------------------------------
// in the page

// The probe: runs before every script of every page. Armed from Node just before the click; the first
// trusted click after that is t0, and every sign after it is reported (first of each kind, plus the tracker's
// own requests) through window.__dcwEvent.
function probe({ trackerInteractive, trackerNative }) {
  if (window.__dcw) return;
  const P = (window.__dcw = { armed: false, t0: null, first: {}, quietSince: 0 });
  const now = () => performance.now();
  const send = (ev) => { try { window.__dcwEvent(ev); } catch { /* binding not there yet */ } };
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e.nodeType === 1 && e !== document.documentElement; e = e.parentElement) {
      if (e.id) { parts.unshift('#' + CSS.escape(e.id)); break; }
      let i = 1;
      for (let s = e.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === e.tagName) i++;
      parts.unshift(`${e.tagName.toLowerCase()}:nth-of-type(${i})`);
    }
    return parts.join(' > ');
  };
  P.path = path;
  const short = (n) => {
    const el = n && n.nodeType === 1 ? n : n?.parentElement;
    if (!el) return String(n?.nodeName || '');
    return el.tagName.toLowerCase() + (el.id ? '#' + el.id : el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  };
  const sign = (kind, detail, t = now()) => {
    if (kind !== 'trackerRequest') P.quietSince = Math.max(P.quietSince, t);
    if (P.t0 === null || t < P.t0) return;
    if (kind in P.first) return;
    P.first[kind] = { ms: Math.round((t - P.t0) * 10) / 10, ...detail };
    send({ kind, ms: P.first[kind].ms, ...detail });
  };

  // Selection and scroll position, to tell a change caused by the click from a late notification of an
  // earlier one (the caret the mousedown placed), and to see a change made by the click's own handlers
  // synchronously (field.focus() moves the caret and scrolls at once; the events follow a task or a frame
  // later, which on a starved CPU can be long after).
  const state = () => {
    const s = getSelection();
    return { s: s ? [s.type, s.anchorNode, s.anchorOffset, s.focusNode, s.focusOffset] : [], x: scrollX, y: scrollY };
  };
  const sameSel = (a, b) => a.s.length === b.s.length && a.s.every((v, i) => v === b.s[i]);
  window.addEventListener('click', (e) => {
    if (!P.armed || P.t0 !== null || !e.isTrusted) return;
    P.t0 = now();
    P.snap = state();
    const target = e.target;
    let el = target;
    const interactive = (x) => x.matches(trackerInteractive) || parseInt(x.getAttribute('tabindex'), 10) >= 0;
    while (el && el.nodeType === 1 && !interactive(el)) el = el.parentElement;
    const found = el && el.nodeType === 1 ? el : null;
    const subject = found || target;
    P.subject = subject;
    send({
      kind: 'click', wall: Date.now(), target: short(target), subject: short(subject), subjectPath: path(subject),
      native: !!subject.closest(trackerNative), link: !!subject.closest('a[href]'),
    });
    // The same moment the tracker decides (our timer is set first, so it runs first): was the click's
    // navigation cancelled, and is a text selection left?
    setTimeout(() => {
      const sel = getSelection();
      send({ kind: 'at1s', defaultPrevented: e.defaultPrevented, selection: sel ? sel.type : '' });
    }, 1000);
  }, true);
  window.addEventListener('click', (e) => {
    if (!e.isTrusted || P.t0 === null || P.ended) return;
    P.ended = true;
    const s = state();
    if (!sameSel(s, P.snap)) sign('selection', { type: s.s[0], sync: true });
    if (s.x !== P.snap.x || s.y !== P.snap.y) sign('scroll', { on: 'html', sync: true });
    send({ kind: 'clickEnd', defaultPrevented: e.defaultPrevented });
  });

  new MutationObserver((records) => {
    const r = records[0];
    sign('mutation', { what: `${r.type}${r.attributeName ? ' ' + r.attributeName : ''} on ${short(r.target)}` });
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const u = new URL(e.name);
      const own = /^\/(v1|beacon)\//.test(u.pathname);
      sign(own ? 'trackerRequest' : 'request', { url: u.pathname, type: e.initiatorType }, e.startTime);
    }
  }).observe({ type: 'resource' });
  window.addEventListener('scroll', (e) => {
    const doc = e.target === document;
    if (doc && P.snap && scrollX === P.snap.x && scrollY === P.snap.y) return; // not moved since the click
    sign('scroll', { on: short(doc ? document.documentElement : e.target) });
  }, true);
  document.addEventListener('selectionchange', () => {
    if (P.snap && sameSel(state(), P.snap)) return; // a late notice of a change made before the click
    sign('selection', { type: getSelection()?.type || '' });
  });
  // focus moving out of the clicked element (the tracker counts that as the click working; the clicked
  // button taking the focus itself does not)
  document.addEventListener('focusin', (e) => {
    if (P.subject && P.subject.contains(e.target)) return;
    sign('focus', { to: short(e.target) });
  });
  document.addEventListener('visibilitychange', () => sign('visibility', { state: document.visibilityState }));
  window.addEventListener('submit', (e) => { if (!e.defaultPrevented) sign('submit', { form: short(e.target) }); });
  if (window.navigation) {
    navigation.addEventListener('navigate', (e) => sign('navigation', {
      to: new URL(e.destination.url).pathname + new URL(e.destination.url).hash,
      sameDocument: !!e.hashChange || e.destination.sameDocument,
    }));
  }
  window.addEventListener('pagehide', () => sign('pagehide', {}));
}

// Lists the clickable controls of the page in its current state (see the header). `only` narrows to a
// selector. Returns { controls, skipped }.
async function discover(page, cdp, only) {
  // elements with a listener of their own
  const { result } = await cdp.send('Runtime.evaluate', { expression: 'Array.from(document.querySelectorAll("body, body *"))' });
  const { result: props } = await cdp.send('Runtime.getProperties', { objectId: result.objectId, ownProperties: true });
  const withListener = [];
  for (const p of props) {
    if (!/^\d+$/.test(p.name) || !p.value?.objectId) continue;
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: p.value.objectId });
    const types = [...new Set(listeners.map((l) => l.type).filter((t) => /^(click|dblclick|mouse(down|up)|pointer(down|up)|auxclick)$/.test(t)))];
    if (!types.length) continue;
    const { result: sel } = await cdp.send('Runtime.callFunctionOn', {
      objectId: p.value.objectId, functionDeclaration: 'function () { return window.__dcw.path(this); }', returnByValue: true,
    });
    withListener.push({ path: sel.value, types });
  }
  await cdp.send('Runtime.releaseObject', { objectId: result.objectId });

  return page.evaluate(({ CONTROLS, withListener, only }) => {
    const P = window.__dcw;
    const listenerPaths = new Map(withListener.map((w) => [w.path, w.types]));
    const all = Array.from(document.querySelectorAll('body *'));
    const pointer = (el) => getComputedStyle(el).cursor === 'pointer';
    const cands = new Map(); // el -> reasons
    const add = (el, why) => { if (!cands.has(el)) cands.set(el, []); cands.get(el).push(why); };
    for (const el of all) {
      if (el.closest('[data-journey-ui]')) continue;
      if (el.matches(CONTROLS)) add(el, 'control');
      if (listenerPaths.has(P.path(el))) add(el, 'listener:' + listenerPaths.get(P.path(el)).join('/'));
      if (pointer(el) && !(el.parentElement && pointer(el.parentElement))) add(el, 'hand cursor');
    }
    // an element inside another candidate is the same control, unless it is a control itself
    for (const [el, why] of [...cands]) {
      if (why.includes('control')) continue;
      let a = el.parentElement;
      while (a && !cands.has(a)) a = a.parentElement;
      if (a) cands.delete(el);
    }
    const controls = [];
    const skipped = [];
    for (const [el, why] of cands) {
      if (only && !el.matches(only)) continue;
      const own = el.matches('input,select,textarea,video,audio') ? '' : el.textContent; // not a select's options or a video's fallback
      const text = (el.getAttribute('aria-label') || own || el.getAttribute('name') || el.id || el.tagName.toLowerCase()).replace(/\s+/g, ' ').trim().slice(0, 48);
      const region = el.closest('header') ? 'header' : el.closest('footer') ? 'footer' : el.closest('nav') ? 'nav' : 'main';
      const c = {
        path: P.path(el), tag: el.tagName.toLowerCase(), id: el.id || '', classes: [...el.classList], type: el.getAttribute('type') || '',
        href: el.getAttribute('href') || '', text, region, why, ariaDisabled: el.getAttribute('aria-disabled') === 'true',
      };
      // can a mouse reach it? scrolled to, its centre must hit it
      const style = getComputedStyle(el);
      el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
      const r = el.getClientRects()[0] || { width: 0, height: 0 }; // a wrapped link: its first line
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const hit = r.width > 0 && r.height > 0 ? document.elementFromPoint(x, y) : null;
      if (!r.width || !r.height || style.visibility === 'hidden') skipped.push({ ...c, reason: 'not rendered' });
      else if (!hit) skipped.push({ ...c, reason: `off-screen even when scrolled to (centre at ${Math.round(x)},${Math.round(y)}): a mouse cannot reach it` });
      else if (!(hit === el || el.contains(hit))) skipped.push({ ...c, reason: `covered by ${hit.tagName.toLowerCase()}${hit.className ? '.' + String(hit.className).split(' ')[0] : ''}: a mouse cannot reach it` });
      else controls.push(c);
    }
    window.scrollTo({ top: 0, behavior: 'instant' });
    return { controls, skipped };
  }, { CONTROLS, withListener, only });
}

// ---------------------------------------------------------------------------------------------------------
// in Node

// One visitor per worker: a context and a page, reused from click to click with a clean slate in between
// (see fresh()), since starting a renderer per click costs more than the clicks on a busy 2-core machine.
// Requests to anything but 127.0.0.1 are aborted and reported. Once the click is made (v.clicked), a
// navigation it starts gets an empty page instead of the real one: the clicked page has unloaded by then
// (that is all the measurement needs), and not loading ~70 more pages keeps the run short.
const BLANK = '/__dead_click_window_blank';
async function newVisitor() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC' });
  const v = { context, problems: [], clicked: false, job: null };
  await context.route('**/*', (route) => {
    const req = route.request();
    const u = new URL(req.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.hostname !== '127.0.0.1') {
      v.problems.push(`request left 127.0.0.1: ${u.href}`);
      return route.abort();
    }
    if (u.pathname === BLANK || (v.clicked && req.isNavigationRequest() && req.frame() === v.page.mainFrame())) {
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><link rel=icon href="data:,"><title>blank</title>' });
    }
    return route.continue();
  });
  await context.exposeBinding('__dcwEvent', (_source, ev) => { v.job?.events.push(ev); });
  await context.addInitScript(probe, { trackerInteractive: TRACKER_INTERACTIVE, trackerNative: TRACKER_NATIVE });
  const page = await context.newPage();
  v.page = page;
  v.cdp = await context.newCDPSession(page);
  page.on('pageerror', (e) => v.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') v.problems.push(`console.error: ${m.text()}`); });
  page.on('framenavigated', (f) => {
    const jb = v.job;
    if (f === page.mainFrame() && jb?.clicked && !jb.committed) jb.committed = { url: f.url(), ms: Date.now() - jb.clicked };
  });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!v.job || r.method() !== 'POST' || !/^\/(v1|beacon\/v1)\/batch$/.test(u.pathname)) return;
    let msgs = [];
    try { msgs = JSON.parse(r.postData() || '{}').batch || []; } catch { msgs = [{ event: '<unparsable>' }]; }
    v.job.batches.push({ msgs });
  });
  return v;
}

// A clean slate for the next click: the page leaves for an empty document (no tracker, so nothing writes
// to storage after this), then storage and cookies are cleared, so the next page load is a new visitor
// with a new session, as in a fresh context.
async function fresh(v) {
  v.job = null;
  v.clicked = false;
  v.problems = [];
  for (let i = 0; ; i++) {
    try {
      await v.page.goto(j.url + BLANK);
      break;
    } catch (e) { // a navigation the last click started, still on its way
      if (i === 3 || !/interrupted by another navigation/.test(e.message)) throw e;
      await sleep(100);
    }
  }
  await v.page.evaluate(() => { localStorage.clear(); sessionStorage.clear(); });
  await v.context.clearCookies();
}

// Closing a context while one of its pages is between documents can wait on the route handler of a request
// that will never finish: drop the handlers first.
async function closeVisitor(v) {
  await v.context.unrouteAll({ behavior: 'ignoreErrors' });
  await v.context.close();
}

// Loads the page (and the state), with the tracker loaded and the page quiet.
async function arrive(v, pathname, setup, t = {}) {
  const t0 = Date.now();
  await v.page.goto(j.url + pathname);
  t.goto = Date.now() - t0;
  await v.page.waitForFunction(() => typeof window.journey?.version === 'string' && document.readyState === 'complete'
    && !!JSON.parse(localStorage.getItem('journey.session') || '{}').id, null, { timeout: 15000, polling: 25 });
  t.ready = Date.now() - t0;
  if (setup) await setup(v.page);
  t.setup = Date.now() - t0;
}

async function quiet(page) {
  await page.waitForFunction((ms) => performance.now() - window.__dcw.quietSince > ms, QUIET_MS, { timeout: 15000, polling: 50 });
}

// One click on one control, by visitor v (on a clean slate). Resolves to the job, filled in.
async function clickOnce(v, job) {
  const { page } = v;
  job.events = [];
  job.batches = [];
  job.timing = { start: Date.now() };
  await fresh(v);
  v.job = job;
  try {
    await arrive(v, job.path, job.setup, job.timing);
    job.session = await page.evaluate(() => JSON.parse(localStorage.getItem('journey.session') || '{}').id);
    await page.evaluate((p) => document.querySelector(p)?.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' }), job.control.path);
    await quiet(page);
    job.timing.quiet = Date.now() - job.timing.start;
    const at = await page.evaluate((p) => {
      const el = document.querySelector(p);
      if (!el) return { error: 'not found' };
      const r = el.getClientRects()[0];
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (!hit || !(hit === el || el.contains(hit))) return { error: `centre hits ${hit?.tagName}` };
      window.__dcw.armed = true;
      return { x, y };
    }, job.control.path);
    if (at.error) throw new Error(`${job.key}: ${at.error}`);
    // A press like a person's (~100 ms between down and up), not Playwright's back-to-back down/up: the
    // caret a mousedown puts into text fires selectionchange, which must come before the click, as it does
    // for a real visitor, not just after it (PostHog's rule would count it as a response to the click).
    await page.mouse.move(at.x, at.y);
    v.clicked = true;
    await page.mouse.down();
    const down = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
    await sleep(Math.max(0, 100 - (Date.now() - down)));
    await page.mouse.up();
    const clicked = (job.clicked = Date.now());
    job.timing.arrive = clicked - job.timing.start;
    const first = (kind) => job.events.find((e) => e.kind === kind);
    // Done when the verdicts are certain (plus MARGIN, for the tracker's urgent $dead_click to be on its way):
    //   the page was left (pagehide): nothing of it can run any more;
    //   a click the tracker does not check: after its 1 s (to see that it indeed sends nothing);
    //   else once each rule has seen a sign and the tracker's 1 s has passed, or at PostHog's 2.75 s.
    for (;;) {
      const el = Date.now() - clicked;
      const c = first('click');
      const end = first('clickEnd');
      const nav = first('navigation');
      const crossDoc = nav && !nav.sameDocument;
      const excluded = c && (c.native || (c.link && end && !end.defaultPrevented));
      const trackerSign = ['mutation', 'pagehide', 'visibility', 'submit'].some((k) => first(k)?.ms < TRACKER_MS)
        || (nav && nav.sameDocument && nav.ms < TRACKER_MS) || (crossDoc && job.committed?.ms < TRACKER_MS)
        || (first('request') && first('request').ms < TRACKER_MS && /fetch|xmlhttprequest/.test(first('request').type));
      const phSign = crossDoc || phBefore(first('scroll'), PH.scroll) || phBefore(first('selection'), PH.selection) || first('mutation')?.ms < PH.mutation;
      if (first('pagehide') || (crossDoc && job.committed)) break; // the clicked document is gone
      if (crossDoc && el < 10000) { await sleep(25); continue; } // leaving: wait for it to be gone
      if (excluded && el >= TRACKER_MS + MARGIN) break;
      if (trackerSign && phSign && el >= TRACKER_MS + MARGIN) break;
      if (el >= PH.decide + MARGIN) break;
      await sleep(25);
    }
  } finally {
    job.timing.total = Date.now() - job.timing.start;
    job.problems = v.problems;
    v.job = null;
  }
  return job;
}

// The verdicts of one finished job.
// `rows`: the store's $click and $dead_click events of the job's session (a fresh visitor per click).
// For PostHog's 100 ms rules, a scroll or selection change the click's own handlers made (sync) counts as
// immediate: it is there before the handlers return, and its event follows a frame or a task later (later
// still on a starved CPU, which is not what the rule is about).
const phBefore = (sg, ms) => !!sg && (sg.sync || sg.ms < ms);

function judge(job, rows) {
  const ev = (k) => job.events.find((e) => e.kind === k);
  const click = ev('click');
  assert.ok(click, `${job.key}: the probe saw no click`);
  const at1s = ev('at1s');
  const clickEnd = ev('clickEnd');
  const signs = {};
  for (const k of ['mutation', 'request', 'scroll', 'selection', 'navigation', 'pagehide', 'focus', 'submit', 'visibility', 'trackerRequest']) {
    const e = ev(k);
    if (e) { const { kind, ...rest } = e; void kind; signs[k] = rest; }
  }
  // The tracker's verdict, from the store: the $click events of this click (stamped at or after it; the
  // state's setup clicks came earlier) and any $dead_click naming one of them.
  const mine = rows.filter((r) => r.original_timestamp >= click.wall).map((r) => ({ ...r, p: JSON.parse(r.payload) }));
  const clicks = mine.filter((r) => r.event === '$click');
  const deads = rows.filter((r) => r.event === '$dead_click').map((r) => ({ ...r, p: JSON.parse(r.payload) }));
  const wireDead = job.batches.flatMap((b) => b.msgs).filter((m) => m.event === '$dead_click').map((m) => m.messageId);
  const prevented = (at1s ?? clickEnd)?.defaultPrevented ?? false;
  // The page's own pagehide report can be lost with the page; Node saw the next document commit, which is
  // after it (an upper bound on when it happened).
  if (!signs.pagehide && job.committed && signs.navigation && !signs.navigation.sameDocument) {
    signs.pagehide = { ms: job.committed.ms, seen_by: 'node: the next document committed' };
  }

  // Which clicks the tracker checks at all (clicks.ts), and so which the comparison covers.
  let excluded = null;
  if (click.native) excluded = 'form field, label or media';
  else if (click.link && !prevented) excluded = 'link, navigation not cancelled';
  else if (at1s?.selection === 'Range') excluded = 'left a text selection';
  const checked = !excluded;

  const before = (k, ms) => signs[k] && signs[k].ms < ms;
  const crossDoc = signs.navigation && !signs.navigation.sameDocument;
  const trackerActivity = before('mutation', TRACKER_MS) || before('pagehide', TRACKER_MS)
    || (signs.navigation?.sameDocument && before('navigation', TRACKER_MS)) /* a new page view */
    || before('visibility', TRACKER_MS) || before('submit', TRACKER_MS)
    || before('scroll', TRACKER_MS) || before('focus', TRACKER_MS)
    || (before('request', TRACKER_MS) && /fetch|xmlhttprequest/.test(signs.request.type));
  const predicted1s = checked && !trackerActivity;
  const ph = checked && !(phBefore(signs.scroll, PH.scroll) || phBefore(signs.selection, PH.selection) || before('mutation', PH.mutation)
    || (crossDoc && before('pagehide', PH.decide))); /* left before the decision: never reported */
  const dead1s = deads.some((d) => clicks.some((c) => c.message_id === d.p.properties.click_id));
  return {
    key: job.key, page: job.pageName, state: job.state || null,
    control: { tag: job.control.tag, id: job.control.id, classes: job.control.classes, text: job.control.text, href: job.control.href, ariaDisabled: job.control.ariaDisabled, region: job.control.region, found_by: job.control.why, selector: job.control.path },
    tracker_subject: click.subject,
    checked_by_tracker: checked, excluded_because: excluded,
    signs,
    tracker: {
      clicks: clicks.map((c) => ({ id: c.message_id, tag: c.p.properties.tag, selector: c.p.properties.selector, x: c.p.properties.x, y: c.p.properties.y })),
      dead_clicks: deads.map((d) => ({ id: d.message_id, click_id: d.p.properties.click_id, selector: d.p.properties.selector })),
      dead_click_on_wire: wireDead,
    },
    timing_ms: { ...job.timing, start: undefined },
    dead_1s: dead1s, predicted_dead_1s: predicted1s, dead_2750ms: ph,
    problems: job.problems,
  };
}

function why(r) {
  const s = r.signs;
  const f = (k) => (s[k] ? `${k} at ${Math.round(s[k].ms)} ms` : null);
  if (r.dead_1s && !r.dead_2750ms) {
    if (s.mutation && s.mutation.ms >= TRACKER_MS && s.mutation.ms < PH.mutation) {
      return `first DOM change at ${Math.round(s.mutation.ms)} ms (${s.mutation.what}): after the tracker's 1 s, inside PostHog's 2.5 s; the handler waits before doing anything`;
    }
    const focus = s.focus ? `; the click moved the focus to ${s.focus.to}` : '';
    const when = (sg) => (sg.sync ? 'by the click\'s handler' : `at ${Math.round(sg.ms)} ms`);
    if (phBefore(s.scroll, PH.scroll)) return `scrolled ${when(s.scroll)} and no DOM change${focus}: PostHog counts a scroll within 100 ms, the tracker does not`;
    if (phBefore(s.selection, PH.selection)) return `selection changed ${when(s.selection)} and no DOM change${focus}: PostHog counts it, the tracker does not`;
    return `signs: ${Object.keys(s).map(f).filter(Boolean).join(', ')}`;
  }
  if (!r.dead_1s && r.dead_2750ms) {
    if (s.request && !s.mutation) return `${s.request.type} request at ${Math.round(s.request.ms)} ms and no DOM change: the tracker counts requests, PostHog does not`;
    return `signs: ${Object.keys(s).map(f).filter(Boolean).join(', ') || 'none'}`;
  }
  return '';
}

const label = (c) => `${c.tag}${c.id ? '#' + c.id : ''}${!c.id && c.classes.length ? '.' + c.classes.slice(0, 2).join('.') : ''} "${c.text}"`;

// ---------------------------------------------------------------------------------------------------------

test('every clickable control of the demo, clicked once: the tracker\'s 1 s window against PostHog\'s 2.75 s', { timeout: 240_000 }, async () => {
  const started = Date.now();

  // 1. discovery, one context per page state, and 2. one click per control, each in a fresh context: one
  // queue, so the clicking starts while the last pages are still being discovered
  const views = [...PAGES.map((p) => ({ pageName: p.name, path: p.path })),
    ...STATES.map((s) => ({ pageName: s.path.split('/').pop(), path: s.path, state: s.name, setup: s.setup, only: s.only }))];
  const jobs = [];
  const skipped = [];
  const done = [];
  const discoverView = async (v, view, vi) => {
    await fresh(v);
    {
      await arrive(v, view.path, view.setup);
      await quiet(v.page);
      const d = await discover(v.page, v.cdp, view.only);
      assert.deepEqual(v.problems, [], `${view.path}: ${v.problems.join('; ')}`);
      for (const c of d.skipped) skipped.push({ order: [vi, skipped.length], page: view.state || view.pageName, control: label(c), selector: c.path, reason: c.reason });
      return d.controls.map((c, ci) => ({
        order: [vi, ci], key: `${view.state || view.pageName} | ${label(c)}`, pageName: view.pageName, path: view.path, state: view.state, setup: view.setup, control: c,
      }));
    }
  };
  const runClick = async (v, jb) => {
    if (process.env.DCW_DEBUG) console.log('start', jb.key);
    let timer;
    const r = await Promise.race([clickOnce(v, jb), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${jb.key}: no verdict after 30 s (${JSON.stringify(jb.timing)}, events ${JSON.stringify(jb.events)})`)), 30000); })]);
    clearTimeout(timer);
    if (process.env.DCW_DEBUG) console.log('done', jb.key, JSON.stringify(jb.timing));
    return r;
  };
  const queue = views.map((view, vi) => ({ view, vi }));
  let busy = 0;
  let failed = null;
  await Promise.all(Array.from({ length: WORKERS }, async () => {
    const v = await newVisitor();
    while (!failed) {
      const task = queue.shift();
      if (!task) {
        if (!busy) break;
        await sleep(25);
        continue;
      }
      busy++;
      try {
        if (task.job) done.push(await runClick(v, task.job));
        else for (const jb of await discoverView(v, task.view, task.vi)) { jobs.push(jb); queue.push({ job: jb }); }
      } catch (e) {
        failed = failed || e;
      } finally {
        busy--;
      }
    }
    await closeVisitor(v);
  }));
  if (failed) throw failed;
  const byOrder = (a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1];
  done.sort(byOrder);
  skipped.sort(byOrder);
  for (const s of skipped) delete s.order;

  // the controls we know of from the demo's source must all have been found
  for (const k of INERT) {
    const n = jobs.filter((jb) => jb.pageName === k.page && !jb.state && k.match(jb.control)).length;
    assert.equal(n, k.n, `${k.page}: expected ${k.n} ${k.what}, found ${n}`);
  }
  assert.ok(jobs.some((jb) => jb.pageName === SLOW.page && jb.control.id === SLOW.id && jb.control.why.some((w) => w.startsWith('listener'))),
    `${SLOW.page}: #${SLOW.id} not found by its click listener (is web/demo/dist current? node web/build.mjs)`);
  assert.ok(jobs.some((jb) => jb.control.id === 'apply-now' && jb.control.why.some((w) => w.startsWith('listener'))), '#apply-now not found by its click listener');
  const clicked = Date.now();

  // 3. the tracker's verdicts, from the store; it must hold exactly the $dead_click events seen on the wire
  const wireDead = new Set(done.flatMap((jb) => jb.batches.flatMap((b) => b.msgs)).filter((m) => m.event === '$dead_click').map((m) => m.messageId));
  const stored = await waitFor(() => {
    const rows = j.query("SELECT message_id FROM events WHERE event = '$dead_click'");
    return rows.length >= wireDead.size ? rows : null;
  }, { timeout: 10000, interval: 100, what: 'the $dead_click events in the store' });
  const storedDead = new Set(stored.map((r) => r.message_id));
  const sessions = done.map((jb) => jb.session);
  assert.equal(new Set(sessions).size, done.length, 'every click has a session of its own');
  const rows = j.query(`SELECT session_id, event, message_id, original_timestamp, payload FROM events
    WHERE event IN ('$click', '$dead_click') AND session_id IN (${sessions.map(sqlString).join(',')})`);
  const bySession = new Map(sessions.map((sid) => [sid, []]));
  for (const r of rows) bySession.get(r.session_id).push(r);
  const results = done.map((jb) => judge(jb, bySession.get(jb.session)));

  // 4. figures
  const checked = results.filter((r) => r.checked_by_tracker);
  const count = (f) => results.filter(f).length;
  const totals = {
    clicks: results.length,
    checked_by_tracker: checked.length,
    not_checked: Object.fromEntries([...new Set(results.map((r) => r.excluded_because).filter(Boolean))].map((e) => [e, count((r) => r.excluded_because === e)])),
    dead_1s: count((r) => r.dead_1s),
    dead_2750ms: count((r) => r.dead_2750ms),
    dead_both: count((r) => r.dead_1s && r.dead_2750ms),
    dead_only_1s: count((r) => r.dead_1s && !r.dead_2750ms),
    dead_only_2750ms: count((r) => !r.dead_1s && r.dead_2750ms),
    skipped_unreachable: skipped.length,
    clicks_stored_as_two_click_events: count((r) => r.tracker.clicks.length === 2),
  };
  const disagreements = results.filter((r) => r.dead_1s !== r.dead_2750ms).map((r) => ({
    control: r.key, dead_1s: r.dead_1s, dead_2750ms: r.dead_2750ms, why: why(r),
  }));
  const agreedDead = results.filter((r) => r.dead_1s && r.dead_2750ms).map((r) => ({
    control: r.key,
    note: r.signs.focus && r.signs.focus.ms < PH.decide ? `works, but only moves the focus (to ${r.signs.focus.to}): no DOM change, no scroll` : 'does nothing',
  }));
  const twice = results.filter((r) => r.tracker.clicks.length === 2);
  const trackerNotes = twice.length ? [{
    note: 'one click on a <label> is stored as two $click events at the same x,y: the label, then the control the browser clicks for it (its activation behaviour); two such clicks within 1 s make the 3 clicks of a rage click',
    clicks: twice.map((r) => ({ control: r.key, events: r.tracker.clicks.map((c) => `${c.tag} ${c.selector} (${c.x},${c.y})`) })),
  }] : [];
  const tracker = /VERSION = '([^']+)'/.exec(readFileSync(path.join(ROOT, 'web/tracker/src/version.ts'), 'utf8'))?.[1] ?? '';
  const report = {
    what: 'dead-click window: tracker (1 s) vs PostHog-style (2.75 s) on every clickable control of the demo site',
    command: 'node --test tests/e2e/dead_click_window.test.mjs',
    when: new Date().toISOString(),
    chromium: chromiumVersion, tracker_version: tracker, journey_bin: path.relative(ROOT, BIN) || BIN,
    rules: {
      tracker_1s: 'dead if no DOM mutation, fetch/XHR, navigation, hidden page or uncancelled submit within 1000 ms (clicks.ts)',
      posthog_2750ms: 'not dead if scroll or selection change within 100 ms, DOM mutation within 2500 ms, or the page left before 2750 ms; requests do not count',
      compared_on: 'the clicks the tracker checks (not form fields, labels, media, uncancelled links, clicks leaving a text selection)',
    },
    totals, disagreements, agreed_dead: agreedDead, tracker_notes: trackerNotes,
    verdicts: results.map((r) => `${r.key}: ${r.checked_by_tracker ? `${r.dead_1s ? 'dead' : 'ok'} at 1 s, ${r.dead_2750ms ? 'dead' : 'ok'} at 2.75 s` : `not checked (${r.excluded_because})`}`),
    store: { dead_click_on_wire: wireDead.size, dead_click_stored: storedDead.size },
    timing_s: { total: (clicked - started) / 1000, workers: WORKERS },
    skipped, clicks: results,
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');

  // summary table: the counts, then every click the tracker checks (DCW_VERBOSE=1: every click)
  const lines = [];
  const pad = (x, n) => String(x).padEnd(n);
  const num = (x) => String(x).padStart(4);
  lines.push('', `dead-click window (${PAGES.length} pages + ${STATES.length} states of the demo, Chromium ${chromiumVersion}):`);
  lines.push(`  clicks                                        ${num(totals.clicks)}`);
  for (const [k, n] of Object.entries(totals.not_checked)) lines.push(`    not checked by the tracker: ${pad(k, 33)}${num(n)}`);
  lines.push(`    checked by the tracker (compared)           ${num(totals.checked_by_tracker)}`);
  lines.push(`  dead at 1 s (tracker, as stored)              ${num(totals.dead_1s)}`);
  lines.push(`  dead at 2.75 s (PostHog's rule)               ${num(totals.dead_2750ms)}`);
  lines.push(`  dead under both                               ${num(totals.dead_both)}`);
  lines.push(`  dead at 1 s only                              ${num(totals.dead_only_1s)}`);
  lines.push(`  dead at 2.75 s only                           ${num(totals.dead_only_2750ms)}`);
  lines.push(`  controls a mouse cannot reach (skipped)       ${num(totals.skipped_unreachable)}`);
  lines.push('', `  ${pad('page / state', 44)} ${pad('control', 44)} ${pad('first signs (ms after the click)', 52)} 1 s   2.75 s`);
  for (const r of results) {
    if (!r.checked_by_tracker && !process.env.DCW_VERBOSE) continue;
    const sg = Object.entries(r.signs).filter(([k]) => k !== 'trackerRequest').map(([k, v]) => `${k} ${Math.round(v.ms)}${v.sync ? '*' : ''}`).join(', ') || '-';
    const v1 = r.checked_by_tracker ? (r.dead_1s ? 'DEAD' : 'ok') : '-';
    const v2 = r.checked_by_tracker ? (r.dead_2750ms ? 'DEAD' : 'ok') : '-';
    lines.push(`  ${pad(r.state || r.page, 44)} ${pad(label(r.control).slice(0, 44), 44)} ${pad(sg.slice(0, 52), 52)} ${pad(v1, 5)} ${v2}`);
  }
  lines.push('  (* made by the click\'s own handlers, before they returned: immediate for PostHog\'s 100 ms rules)', '');
  for (const d of disagreements) lines.push(`  ${d.dead_1s ? 'dead at 1 s only' : 'dead at 2.75 s only'}: ${d.control}: ${d.why}`);
  for (const d of agreedDead) lines.push(`  dead under both: ${d.control}: ${d.note}`);
  for (const n of trackerNotes) lines.push(`  tracker: ${n.note} (${n.clicks.length} clicks)`);
  lines.push(`  ${path.relative(ROOT, OUT)} written; ${report.timing_s.total.toFixed(1)} s for discovery and clicks (${WORKERS} visitors at a time)`);
  console.log(lines.join('\n'));

  // 5. the obvious truths
  for (const r of results) {
    assert.deepEqual(r.problems, [], `${r.key}: ${r.problems.join('; ')}`);
    // the tracker sent what its own rule, applied to the probe's signs, says it should
    assert.equal(r.dead_1s, r.predicted_dead_1s, `${r.key}: the tracker ${r.dead_1s ? 'sent' : 'did not send'} $dead_click, its rule on the probe's signs says ${r.predicted_dead_1s ? 'dead' : 'not dead'}: ${JSON.stringify(r.signs)}`);
    assert.ok(r.tracker.dead_clicks.length <= 1, `${r.key}: ${r.tracker.dead_clicks.length} $dead_click for one click`);
    assert.equal(r.tracker.dead_clicks.length, r.dead_1s ? 1 : 0, `${r.key}: a $dead_click that names no $click of this click`);
    // navigating, or changing the DOM at once: never dead
    const nav = r.signs.navigation;
    if ((nav && nav.ms < TRACKER_MS) || (r.signs.mutation && r.signs.mutation.ms < 100)) {
      assert.equal(r.dead_1s, false, `${r.key} navigates or changes the page at once, yet the tracker called it dead`);
      assert.equal(r.dead_2750ms, false, `${r.key} navigates or changes the page at once, yet PostHog's rule calls it dead`);
    }
  }
  for (const k of INERT) {
    for (const r of results.filter((x) => x.page === k.page && !x.state && k.match(x.control))) {
      assert.equal(r.dead_1s, true, `${r.key} (${k.what}) does nothing, yet no $dead_click`);
      assert.equal(r.dead_2750ms, true, `${r.key} (${k.what}) does nothing, yet PostHog's rule does not call it dead`);
    }
  }
  const slow = results.find((r) => r.page === SLOW.page && r.control.id === SLOW.id);
  assert.ok(slow.signs.mutation && slow.signs.mutation.ms >= TRACKER_MS && slow.signs.mutation.ms < PH.mutation, `${SLOW.what}: first DOM change at ${slow.signs.mutation?.ms} ms`);
  assert.equal(slow.dead_1s, true, `${SLOW.what}: the tracker did not call it dead`);
  assert.equal(slow.dead_2750ms, false, `${SLOW.what}: PostHog's rule called it dead`);
  assert.deepEqual([...storedDead].sort(), [...wireDead].sort(), 'the $dead_click events in the store are not the ones sent');
});
