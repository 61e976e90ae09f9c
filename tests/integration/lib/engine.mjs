// Helpers for the real-time engine's integration tests (engine_*.test.mjs):
// projects with their settings, a scripted visitor that sends exactly what the
// browser tracker sends (docs/protocol.md), the live channel, and reads of the
// engine's tables.
//
//   const j = await startEngineServer({ projects: { loan: { holdout_pct: 0 } } });
//   const v = new Visitor(j, j.projects.loan);
//   const ws = await v.connect();              // hello already received
//   v.page('/calculator', 0).fieldInvalid('loan-calculator', 'income', 800);
//   await v.send();                            // one batch, times relative to now
//   const [iv] = await waitInterventions(j, v.sessionId, 1);
//
// Times: a visitor's events carry explicit offsets in ms (detectors read them:
// rage clicks need < 1 s between clicks, u-turns < 10 s on the middle page).
// send() places the batch so that its last event happened `lastAgoMs` ago and
// sets sentAt to the real send time, as the tracker does, so the server's clock
// correction (timestamp = receivedAt - (sentAt - originalTimestamp)) keeps the
// offsets exactly.
import http from 'node:http';
import assert from 'node:assert/strict';
import { Server, makeDataDir, createProject, cliResult, waitFor, sqlString, uuid, sleep } from './journey.mjs';
import { connectWs } from './ws.mjs';

// ---------------------------------------------------------------------------
// projects and servers

// Sets a project's settings with the CLI; throws with the CLI's stderr on refusal.
export function setSettings(dataDir, projectId, settings) {
  const r = cliResult(['project', 'settings', String(projectId), '--json', JSON.stringify(settings), '--data', dataDir]);
  if (r.status !== 0) throw new Error(`journey project settings refused ${JSON.stringify(settings).slice(0, 300)}: ${r.stderr}`);
  return r;
}

// Creates a project with these settings in dataDir (the server may or may not run).
export function makeProject(dataDir, name, settings) {
  const p = createProject(dataDir, name);
  if (settings) setSettings(dataDir, p.id, settings);
  return { id: p.id, writeKey: p.write_key, secretKey: p.secret_key, name, settings };
}

// A server with one project per entry of `projects` (name -> settings), created
// and configured before the server starts. j.projects[name] = {id, writeKey, ...};
// j.writeKey / j.projectId are the first project's.
export async function startEngineServer({ projects = { main: { holdout_pct: 0 } }, args = [], dataDir } = {}) {
  dataDir = dataDir || makeDataDir();
  const made = {};
  for (const [name, settings] of Object.entries(projects)) made[name] = makeProject(dataDir, name, settings);
  const first = Object.values(made)[0];
  const s = new Server({ dataDir, args, writeKey: first?.writeKey, projectId: first?.id });
  s.projects = made;
  await s.start();
  return s;
}

// Stops the server and removes its data dir; for t.after / after.
export async function stopServer(j) {
  if (!j) return;
  await j.stop();
  j.cleanup();
}

// ---------------------------------------------------------------------------
// a scripted visitor

let seq = 0;

export class Visitor {
  // project: {writeKey}; opts.sessionId / anonymousId / userAgent to choose them.
  constructor(server, project, { sessionId, anonymousId, userAgent } = {}) {
    this.j = server;
    this.project = project;
    this.writeKey = project.writeKey;
    this.sessionId = sessionId || `${Date.now()}-${uuid().slice(0, 8)}-${++seq}`;
    this.anonymousId = anonymousId || uuid();
    this.userAgent = userAgent ||
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
    this.path = '/';
    this.referrer = '';
    this.queue = [];
    this.sent = []; // every message sent, in order
  }

  // The common fields of every tracker message (docs/protocol.md, "Messages").
  message(type, fields, t) {
    const url = `https://shop.example.test${this.path}`;
    return {
      type,
      messageId: uuid(),
      anonymousId: this.anonymousId,
      ...fields,
      context: {
        sessionId: this.sessionId,
        page: { path: this.path, url, title: `Page ${this.path}`, referrer: this.referrer, search: '' },
        userAgent: this.userAgent,
        library: { name: 'journey.js', version: '0.1.0' },
        screen: { width: 1280, height: 800 },
        locale: 'en-GB',
        timezone: 'Europe/London',
      },
      _t: t, // offset in ms; replaced by originalTimestamp at send time
    };
  }

  // A page view at offset t (ms).
  page(path, t) {
    this.referrer = this.path === path ? this.referrer : `https://shop.example.test${this.path}`;
    this.path = path;
    const url = `https://shop.example.test${path}`;
    this.queue.push(this.message('page', {
      name: `Page ${path}`,
      properties: { path, url, title: `Page ${path}`, referrer: this.referrer, search: '' },
    }, t));
    return this;
  }

  track(event, properties, t) {
    this.queue.push(this.message('track', { event, properties }, t));
    return this;
  }

  // $click; returns its messageId (for $dead_click's click_id) via this.lastClickId.
  click(selector, t, { x = 400, y = 300, tag = 'button', text = 'Apply', interactive = true, disabled = false } = {}) {
    this.track('$click', { selector, text, tag, x, y, interactive, disabled }, t);
    this.lastClickId = this.queue[this.queue.length - 1].messageId;
    return this;
  }

  deadClick(selector, t, { x = 400, y = 300, tag = 'button', clickId = this.lastClickId } = {}) {
    return this.track('$dead_click', { selector, x, y, tag, click_id: clickId, wait_ms: 1000 }, t);
  }

  fieldFocus(form, field, t, { type = 'number' } = {}) {
    return this.track('$field_focus', { form, field, field_type: type }, t);
  }

  fieldChange(form, field, t, { valid = true, length = 5, changeCount = 1, type = 'number' } = {}) {
    return this.track('$field_change', { form, field, field_type: type, length, valid, change_count: changeCount }, t);
  }

  fieldInvalid(form, field, t, { reason = 'rangeUnderflow', message = 'Please enter a value greater than or equal to 1000.', type = 'number' } = {}) {
    return this.track('$field_invalid', { form, field, field_type: type, reason, message, source: 'native' }, t);
  }

  formSubmit(form, t, { valid, fieldCount = 3, filledCount = 3 } = {}) {
    return this.track('$form_submit', { form, field_count: fieldCount, filled_count: filledCount, valid }, t);
  }

  scroll(depth, t, { direction = 'down', reversals = 0, y = depth * 40 } = {}) {
    return this.track('$scroll', { depth, y, direction, reversals }, t);
  }

  visibility(state, t) {
    return this.track('$visibility', { state }, t);
  }

  pageLeave(t, { dwellMs = 0, maxDepth = 0, fieldsFilled = 0, formsStarted = [] } = {}) {
    return this.track('$page_leave', { dwell_ms: dwellMs, max_depth: maxDepth, fields_filled: fieldsFilled, forms_started: formsStarted }, t);
  }

  // One failed attempt at the loan calculator: the income field changed, the
  // browser rejects it, the submit reports valid: false. Offsets from t.
  failedCalculation(t, { form = 'loan-calculator', field = 'income', changeCount = 1 } = {}) {
    return this.fieldChange(form, field, t, { valid: false, length: 3, changeCount })
      .fieldInvalid(form, field, t + 300)
      .formSubmit(form, t + 600, { valid: false });
  }

  // Sends everything queued as one batch. The last queued event is placed
  // lastAgoMs before now; originalTimestamp of each keeps its offset from it.
  // With base (epoch ms), each event is at base + its offset instead (for a
  // visitor whose script spans several batches; the server's clock correction
  // shifts each batch by its own delivery time, a few ms). exact: true sends
  // Segment's `timestamp` instead, which the server keeps as sent (no shift).
  async send({ lastAgoMs = 50, base, exact = false } = {}) {
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return null;
    const maxT = Math.max(...batch.map((m) => m._t));
    // A visitor cannot act in the past: when this batch, placed before now,
    // would start before the last event already sent, wait until it starts
    // after it (a fast server answers the previous batch in less time than
    // this batch's script spans).
    if (base === undefined && !exact && this.sent.length) {
      const lastAt = Math.max(...this.sent.map((m) => m.at));
      const wait = lastAt + 1 + lastAgoMs + maxT - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const now = Date.now();
    if (base === undefined) base = now - lastAgoMs - maxT;
    const sentAt = new Date(now).toISOString();
    for (const m of batch) {
      if (exact) {
        m.timestamp = new Date(base + m._t).toISOString();
      } else {
        m.originalTimestamp = new Date(base + m._t).toISOString();
        m.sentAt = sentAt;
      }
      m.at = base + m._t; // kept for the test (not sent)
      delete m._t;
    }
    const wire = batch.map(({ at, ...m }) => m);
    const res = await this.j.post('/v1/batch', exact ? { batch: wire } : { batch: wire, sentAt }, { key: this.writeKey });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, batch.length, res.text);
    this.sent.push(...batch);
    return res;
  }

  // Sends what is queued as happening now (real time), for time-based scenarios.
  async sendNow() {
    for (const m of this.queue) m._t = 0;
    return this.send({ lastAgoMs: 0 });
  }

  // Opens the live channel for this session and waits for hello.
  async connect(opts = {}) {
    const ws = await connectLive(this.j, this.writeKey, this.sessionId, opts);
    this.ws = ws;
    return ws;
  }
}

// ---------------------------------------------------------------------------
// live channel

export function liveUrl(j, writeKey, sessionId, extra = '') {
  const q = new URLSearchParams();
  if (writeKey !== undefined) q.set('writeKey', writeKey);
  if (sessionId !== undefined) q.set('sessionId', sessionId);
  return `${j.url}/v1/live?${q}${extra}`;
}

// Connects and (unless readPaused) waits for the hello message.
export async function connectLive(j, writeKey, sessionId, opts = {}) {
  const ws = await connectWs(liveUrl(j, writeKey, sessionId), opts);
  assert.equal(ws.status, 101, `live handshake refused: ${ws.responseHead}\n${ws.body ?? ''}`);
  if (!opts.readPaused) {
    const hello = await nextMessage(ws, (m) => m.type === 'hello', 10000, 'hello');
    assert.equal(hello.session_id, sessionId);
    assert.ok(!Number.isNaN(Date.parse(hello.server_time)), `hello.server_time ${hello.server_time}`);
  }
  return ws;
}

// The first message (past or future) matching pred. Like ws.next(), but
// polling ws.messages: ws.next() leaves its timeout timer running after it
// resolves, which holds the test process open for that long.
export function nextMessage(ws, pred = () => true, timeout = 10000, what = 'WebSocket message') {
  return waitFor(() => ws.messages.find(pred), { timeout, interval: 10, what })
    .catch((e) => { throw new Error(`${e.message}; got ${JSON.stringify(ws.messages).slice(0, 2000)}`); });
}

// Asserts that no message matching pred arrives within ms (absence cannot be
// waited on: this is the one bounded wait, used after the condition that would
// have produced the message is known to be done).
export async function expectNoMessage(ws, pred, ms, what = 'message') {
  const already = ws.messages.find(pred);
  assert.equal(already, undefined, `unexpected ${what}: ${JSON.stringify(already)}`);
  await sleep(ms);
  const got = ws.messages.find(pred);
  assert.equal(got, undefined, `unexpected ${what} within ${ms} ms: ${JSON.stringify(got)}`);
}

// Resolves with the promise's value, or with `otherwise` after ms (the timer
// is cleared either way, so it never holds the process open).
export async function within(promise, ms, otherwise = 'timed out') {
  let timer;
  const t = new Promise((r) => { timer = setTimeout(() => r(otherwise), ms); });
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

export function close(ws) {
  try { ws?.close(); } catch { /* gone */ }
}

// ---------------------------------------------------------------------------
// reading the engine's tables

export function signalsOf(j, sessionId) {
  return j.query(`SELECT id, kind, score, ts, path, event_id, evidence FROM signals
                  WHERE session_id = ${sqlString(sessionId)} ORDER BY id`)
    .map((r) => ({ ...r, evidence: JSON.parse(r.evidence) }));
}

export function interventionsOf(j, sessionId) {
  return j.query(`SELECT * FROM interventions WHERE session_id = ${sqlString(sessionId)} ORDER BY created_at, rowid`)
    .map((r) => ({ ...r, payload: JSON.parse(r.payload), signals: JSON.parse(r.signals), explanation: r.explanation && JSON.parse(r.explanation) }));
}

export function interventionEvents(j, id) {
  return j.query(`SELECT status, ts, detail FROM intervention_events WHERE intervention_id = ${sqlString(id)} ORDER BY id`);
}

export function sessionRow(j, sessionId) {
  return j.query(`SELECT * FROM sessions WHERE session_id = ${sqlString(sessionId)}`)[0];
}

const TIMEOUT = 15000;

export function waitSignals(j, sessionId, pred, what = 'signals', timeout = TIMEOUT) {
  return waitFor(() => { const s = signalsOf(j, sessionId); return pred(s) && s; }, { timeout, interval: 50, what: `${what} of ${sessionId}` });
}

export function waitInterventions(j, sessionId, n = 1, timeout = TIMEOUT) {
  return waitFor(() => { const r = interventionsOf(j, sessionId); return r.length >= n && r; },
    { timeout, interval: 50, what: `${n} intervention(s) of ${sessionId}` });
}

export function waitStatus(j, id, status, timeout = TIMEOUT) {
  return waitFor(() => j.query(`SELECT status FROM interventions WHERE id = ${sqlString(id)}`)[0]?.status === status,
    { timeout, interval: 50, what: `intervention ${id} ${status}` });
}

export function waitSession(j, sessionId, pred, what = 'session row', timeout = TIMEOUT) {
  return waitFor(() => { const r = sessionRow(j, sessionId); return r && pred(r) && r; }, { timeout, interval: 50, what: `${what} of ${sessionId}` });
}

// Every event the engine was given has been processed (the latency histogram
// counts processed events, journey_engine_events_total submitted ones), then
// a grace of a few flush intervals (100 ms) for the writes those events made to
// be committed: the engine exposes no "writes committed" condition, so this is
// a bounded wait, used only before asserting that something was NOT stored.
export async function settle(j, { graceMs = 400, timeout = TIMEOUT } = {}) {
  await waitFor(async () => {
    const m = await j.metrics();
    return (m.get('journey_engine_latency_seconds_count') ?? 0) >= (m.get('journey_engine_events_total') ?? 0);
  }, { timeout, interval: 50, what: 'engine queues drained' });
  await sleep(graceMs);
}

// The exit risk docs/detectors.md defines, from stored signal rows (the latest
// score of each kind, halving every 10 minutes since it fired), at time `at`.
export function riskOf(signals, at) {
  const latest = new Map();
  for (const s of signals) latest.set(s.kind, s);
  let keep = 1;
  for (const s of latest.values()) {
    const age = at - s.ts;
    const decay = age > 0 ? 0.5 ** (age / 600000) : 1;
    keep *= 1 - 0.8 * decay * s.score / 100;
  }
  return Math.round(100 * (1 - keep));
}

// Per kind, the points it adds: the risk with it minus the risk without it.
export function contributionsOf(signals, at) {
  const total = riskOf(signals, at);
  const kinds = [...new Set(signals.map((s) => s.kind))];
  return Object.fromEntries(kinds.map((k) => [k, total - riskOf(signals.filter((s) => s.kind !== k), at)]));
}

// The stored `signals` of a decision: per kind, its latest score, max and count.
export function summaryOf(signals) {
  const m = new Map();
  for (const s of signals) {
    const e = m.get(s.kind) || { kind: s.kind, score: 0, max_score: 0, count: 0 };
    e.score = s.score;
    e.max_score = Math.max(e.max_score, s.score);
    e.count++;
    m.set(s.kind, e);
  }
  return [...m.values()];
}

// Checks a decision row against the signals that led to it (those of events up
// to the deciding one): its stored signals, risk and explanation.
export function assertDecisionMatches(iv, signals) {
  const before = signals.filter((s) => s.event_id <= iv.event_id);
  const sortByKind = (a) => [...a].sort((x, y) => x.kind.localeCompare(y.kind));
  assert.deepEqual(sortByKind(iv.signals), sortByKind(summaryOf(before)), 'the decision stores the signals that led to it');
  assert.equal(iv.risk, riskOf(before, iv.created_at), 'the decision stores the risk of those signals');
  assert.equal(iv.explanation.source, 'rules');
  assert.equal(iv.explanation.risk, iv.risk);
  const contrib = contributionsOf(before, iv.created_at);
  assert.deepEqual(Object.fromEntries(iv.explanation.contributions.map((c) => [c.feature, c.points])), contrib,
    'the explanation gives each kind its share of the risk');
}

// The message the browser receives for a decision row (docs/protocol.md).
export function assertPushed(msg, iv) {
  assert.equal(msg.type, 'intervention');
  assert.deepEqual(msg, iv.payload, 'the socket carries exactly the stored payload');
  assert.equal(msg.id, iv.id);
  assert.equal(msg.action, iv.action);
  assert.equal(msg.rule, iv.rule);
  assert.equal(Date.parse(msg.expires_at), iv.expires_at);
}

// ---------------------------------------------------------------------------
// metrics, responses, webhooks

export async function metric(j, name) {
  return (await j.metrics()).get(name) ?? 0;
}

export async function respond(j, writeKey, id, status, sessionId) {
  const body = { status };
  if (sessionId) body.sessionId = sessionId;
  return j.post(`/v1/interventions/${encodeURIComponent(id)}/response?writeKey=${encodeURIComponent(writeKey)}`, body, { key: null });
}

export async function pending(j, writeKey, sessionId) {
  return j.get(`/v1/interventions/${encodeURIComponent(sessionId)}/pending?writeKey=${encodeURIComponent(writeKey)}`);
}

// A tiny HTTP server on 127.0.0.1 that records POST bodies (a project's webhook_url).
export async function webhookReceiver() {
  const calls = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      calls.push({ method: req.method, url: req.url, headers: req.headers, text, json });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    calls,
    url: `http://127.0.0.1:${srv.address().port}/hook`,
    close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }),
  };
}

export { sleep, waitFor, uuid, sqlString };
