// Replays every request captured from real clients (shared/fixtures/client-captures:
// Segment, RudderStack, PostHog and Jitsu SDKs in node and in a browser, with their
// retries, plus a Snowplow tracker we do not speak) against the real server, in
// capture order, and checks each answer against docs/ingest.md, not against the
// status the capture server happened to give:
//   - a CORS preflight: 204 echoing the origin and the requested headers;
//   - a request of a supported dialect: 200, every message stored exactly once
//     (a retry or a resend is answered as a duplicate), PostHog routes add status 1;
//   - the 40 KB event: 200, that message dead-lettered as message_too_large;
//   - Snowplow: 404 with a JSON body.
// The fixture write keys are replaced by the project's real one everywhere they
// appear (Basic auth, X-Write-Key, query, body).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServer, sqlString } from './lib/journey.mjs';

const DIR = process.env.JOURNEY_FIXTURES || '/work/shared/fixtures/client-captures';
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json') && f !== 'index.json').sort();
const POSTHOG_ROUTE = /^\/(batch|e|i\/v0\/e|capture)\/?$/;

let j;
before(async () => { j = await startServer(); });
after(async () => { await j.stop(); j.cleanup(); });

function withKey(text, key) {
  return text
    .replaceAll('TEST_KEY_ID:TEST_SECRET', key)
    .replace(/TEST_KEY_ID:\*+/g, key)
    .replaceAll('phc_TEST_PROJECT_TOKEN', key)
    .replaceAll('TEST_WRITE_KEY', key);
}

// The captured request, made to carry our key; headers as captured but the ones the
// HTTP client sets itself (host, connection, content-length).
function prepare(req, key) {
  const headers = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (['host', 'connection', 'content-length', 'transfer-encoding'].includes(name)) continue;
    let v = value;
    const basic = /^Basic (.+)$/i.exec(v);
    if (name === 'authorization' && basic) {
      v = 'Basic ' + Buffer.from(withKey(Buffer.from(basic[1], 'base64').toString('utf8'), key)).toString('base64');
    } else {
      v = withKey(v, key);
    }
    headers[name] = v;
  }
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query || {})) query.append(k, withKey(String(v), key));
  const qs = query.toString();
  const text = withKey(req.body?.text ?? '', key);
  let body = Buffer.from(text, 'utf8');
  if (req.body?.decompressed === 'gzip') body = gzipSync(body);
  else assert.equal(req.body?.decompressed ?? null, null, `unexpected body encoding ${req.body?.decompressed}`);
  return { method: req.method, pathname: req.path + (qs ? `?${qs}` : ''), headers, body, text };
}

// The messages a body holds, as [id, message] (messageId, or PostHog's uuid).
function messagesOf(pathname, text) {
  const doc = JSON.parse(text);
  let list;
  if (Array.isArray(doc)) list = doc;
  else if (Array.isArray(doc.batch)) list = doc.batch;
  else list = [doc];
  const posthog = POSTHOG_ROUTE.test(pathname.split('?')[0]);
  return list.map((m) => [posthog ? m.uuid : m.messageId, m]);
}

const SHORT = { t: 'track', p: 'page', s: 'screen', i: 'identify', g: 'group', a: 'alias' };
const POSTHOG_TYPES = { $pageview: 'page', $screen: 'screen', $identify: 'identify', $create_alias: 'alias', $groupidentify: 'group' };
const id = (v) => (v === undefined || v === null || v === '' ? null : String(v)); // "" means missing
const iso = (s) => (s === undefined || s === null ? undefined : Date.parse(s));

// What docs/ingest.md says the events row of a captured message holds.
function expectedRow(pathname, doc, m, headers) {
  if (POSTHOG_ROUTE.test(pathname)) {
    const props = m.properties || {};
    const type = POSTHOG_TYPES[m.event] || 'track';
    const distinct = String(m.distinct_id ?? props.distinct_id);
    const identified = Boolean(props.$user_id || props.$is_identified || props.$is_server);
    // The event's timestamp is the client's clock (an originalTimestamp), except in a
    // historical migration where it is kept as sent.
    const historical = Boolean(doc.historical_migration);
    const row = {
      type,
      event: type === 'page' ? props.title ?? null : type === 'track' ? m.event : null,
      user_id: identified ? distinct : null,
      timestamp: historical ? iso(m.timestamp) : undefined,
      original_timestamp: historical ? undefined : iso(m.timestamp),
      sent_at: iso(m.sent_at ?? doc.sent_at),
      session: props.$session_id,
      path: props.$pathname ?? (props.$current_url ? new URL(props.$current_url).pathname : undefined),
    };
    if (!identified) row.anonymous_id = String(props.$device_id ?? distinct);
    return row;
  }
  const route = /^\/(?:v1|api\/s(?:\/s2s)?)\/([a-z]+)$/.exec(pathname)?.[1];
  const type = route && route !== 'batch' && route !== 'b' && route !== 'import' ? (SHORT[route] || route) : m.type;
  return {
    type,
    event: type === 'track' ? m.event : type === 'page' || type === 'screen' ? m.name ?? null : null,
    user_id: id(m.userId),
    anonymous_id: id(m.anonymousId),
    timestamp: iso(m.timestamp),
    original_timestamp: iso(m.originalTimestamp),
    sent_at: iso(m.sentAt ?? doc.sentAt ?? headers.sentat),
    session: m.context?.sessionId ?? m.context?.session_id ?? m.properties?.$session_id,
    path: m.context?.page?.path,
  };
}

function checkRow(where, row, exp) {
  assert.equal(row.type, exp.type, `${where}: type`);
  assert.equal(row.event, exp.event, `${where}: event`);
  assert.equal(row.user_id, exp.user_id, `${where}: user_id`);
  if ('anonymous_id' in exp) assert.equal(row.anonymous_id, exp.anonymous_id, `${where}: anonymous_id`);
  if (exp.sent_at !== undefined) assert.equal(row.sent_at, exp.sent_at, `${where}: sent_at`);
  if (exp.original_timestamp !== undefined) assert.equal(row.original_timestamp, exp.original_timestamp, `${where}: originalTimestamp`);
  let ts;
  if (exp.timestamp !== undefined) ts = exp.timestamp; // kept as sent
  else if (exp.original_timestamp !== undefined && exp.sent_at !== undefined) ts = row.received_at - (exp.sent_at - exp.original_timestamp);
  else ts = row.received_at;
  assert.equal(row.timestamp, Math.min(ts, row.received_at), `${where}: timestamp`);
  if (exp.session !== undefined) assert.equal(row.session_id, String(exp.session), `${where}: the SDK's session id`);
  if (exp.path !== undefined) assert.equal(row.path, exp.path, `${where}: path`);
}

const seen = new Set(); // message ids stored so far (one project for every file)

for (const file of FILES) {
  test(`fixture ${file}`, async () => {
    const capture = JSON.parse(readFileSync(path.join(DIR, file), 'utf8'));
    assert.ok(capture.requests.length > 0);
    for (const [i, req] of capture.requests.entries()) {
      const where = `${file} request ${i + 1} (${req.method} ${req.url})`;
      const p = prepare(req, j.writeKey);
      const res = await j.request(p.pathname, { method: p.method, headers: p.headers, body: p.body.length ? p.body : undefined });
      assert.ok(res.headers['x-request-id'], `${where}: X-Request-Id`);

      if (req.method === 'OPTIONS') {
        assert.equal(res.status, 204, where);
        assert.equal(res.text, '', `${where}: a 204 has no body`);
        assert.equal(res.headers['access-control-allow-origin'], req.headers.origin, where);
        assert.equal(res.headers['access-control-allow-headers'], req.headers['access-control-request-headers'], where);
        assert.match(res.headers['access-control-allow-methods'], /\bPOST\b/, where);
        continue;
      }

      assert.ok(res.json && typeof res.json === 'object', `${where}: a JSON body, got ${res.text.slice(0, 200)}`);
      assert.match(res.headers['content-type'], /^application\/json/, where);

      if (file.startsWith('snowplow-')) {
        assert.equal(res.status, 404, where);
        assert.equal(res.json.success, false);
        assert.equal(res.json.error.code, 'not_found');
        continue;
      }

      assert.equal(res.status, 200, `${where}: ${res.text.slice(0, 300)}`);
      assert.equal(res.json.success, true, where);
      if (POSTHOG_ROUTE.test(req.path)) assert.equal(res.json.status, 1, `${where}: PostHog's own answer`);
      if (req.headers.origin) assert.equal(res.headers['access-control-allow-origin'], req.headers.origin, where);

      const messages = messagesOf(req.path, p.text);
      const oversize = messages.filter(([, m]) => Buffer.byteLength(JSON.stringify(m)) > 32 * 1024);
      const ids = messages.map(([id]) => id);
      assert.ok(ids.every((id) => typeof id === 'string' && id), `${where}: every captured message has an id`);
      const dup = ids.filter((id) => seen.has(id)).length;
      assert.equal(res.json.duplicates, dup, `${where}: duplicates`);
      assert.equal(res.json.rejected, oversize.length, `${where}: rejected ${JSON.stringify(res.json.errors)}`);
      assert.equal(res.json.accepted, ids.length - dup - oversize.length, `${where}: accepted`);

      const rows = j.query(`SELECT * FROM events WHERE message_id IN (${ids.map(sqlString).join(',')})`);
      const counts = new Map();
      for (const r of rows) counts.set(r.message_id, (counts.get(r.message_id) || 0) + 1);
      const doc = JSON.parse(p.text);
      for (const [id, m] of messages) {
        if (oversize.some(([oid]) => oid === id)) {
          assert.equal(counts.get(id), undefined, `${where}: ${id} is not stored`);
          const dl = j.query(`SELECT kind, reason, length(raw) AS len FROM dead_letters WHERE request_id = ${sqlString(res.json.request_id)}`);
          assert.deepEqual(dl, [{ kind: 'message', reason: 'message_too_large', len: Buffer.byteLength(JSON.stringify(m)) }], where);
          assert.deepEqual(res.json.errors.map((e) => e.code), ['message_too_large'], where);
          assert.equal(res.json.dead_lettered, true, where);
        } else {
          assert.equal(counts.get(id), 1, `${where}: ${id} stored exactly once`);
          if (!seen.has(id)) {
            checkRow(`${where} ${m.type || m.event || ''} ${id}`, rows.find((r) => r.message_id === id), expectedRow(req.path, doc, m, req.headers));
          }
          seen.add(id);
        }
      }
    }
  });
}

test('the fixtures cover every dialect and both preflights and retries', () => {
  const routes = new Set();
  for (const file of FILES) {
    for (const r of JSON.parse(readFileSync(path.join(DIR, file), 'utf8')).requests) routes.add(`${r.method} ${r.path}`);
  }
  for (const r of ['OPTIONS /v1/page', 'POST /v1/batch', 'POST /v1/b', 'POST /v1/t', 'POST /e/', 'POST /batch/', 'POST /api/s/track', 'POST /api/s/s2s/track']) {
    assert.ok(routes.has(r), r);
  }
  assert.ok(FILES.length >= 40, `${FILES.length} capture files`);
});
