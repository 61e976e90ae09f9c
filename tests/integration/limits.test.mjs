// Server-enforced limits and privacy settings (docs/ingest.md: the 429 and 403 rows
// of "Answers", "Enrichment"): the per-IP request rate, the per-write-key message
// rate, cors_origins, and ip_mode anonymize | full | none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeDataDir, createProject, uuid, waitFor, sqlString } from './lib/journey.mjs';

const track = (over = {}) => ({ type: 'track', event: 'Limits', userId: 'u-lim', messageId: `lim-${uuid()}`, ...over });
const stored = (j, id) => j.countEvents(`message_id = ${sqlString(id)}`);

function assertRateLimited(res) {
  assert.equal(res.status, 429, res.text);
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/, 'Retry-After in whole seconds');
  assert.equal(res.json.success, false);
  assert.equal(res.json.error.code, 'rate_limited');
  assert.equal(res.json.request_id, res.headers.get('x-request-id'));
}

test('per-IP rate limit: after the burst, 429 with Retry-After and a JSON error; nothing stored; the resend is stored', async (t) => {
  const RATE = 5;
  const j = await startServer({ args: ['--rate-limit-ip', String(RATE), '--rate-limit-ip-burst', String(RATE)] });
  t.after(async () => { await j.stop(); j.cleanup(); });

  const started = Date.now();
  const okIds = [];
  let limited;
  let limitedMsg;
  for (let i = 0; i < 100 && !limited; i++) {
    const m = track();
    const res = await j.post('/v1/batch', { batch: [m] });
    if (res.status === 200) okIds.push(m.messageId);
    else { limited = res; limitedMsg = m; }
  }
  const elapsedS = (Date.now() - started) / 1000;
  assert.ok(limited, 'a request was refused');
  assertRateLimited(limited);
  // The whole burst passes; beyond it only what the bucket refilled meanwhile.
  assert.ok(okIds.length >= RATE, `${okIds.length} requests passed`);
  assert.ok(okIds.length <= RATE + Math.ceil(elapsedS * RATE), `${okIds.length} requests passed in ${elapsedS}s`);
  assert.equal(stored(j, limitedMsg.messageId), 0, 'nothing stored for the 429');
  for (const id of okIds) assert.equal(stored(j, id), 1);

  // The client resends after the refill: stored once.
  const res = await waitFor(async () => {
    const r = await j.post('/v1/batch', { batch: [limitedMsg] });
    if (r.status !== 429) return r;
    assertRateLimited(r);
    return false;
  }, { timeout: 10000, interval: 100, what: 'the bucket to refill' });
  assert.equal(res.status, 200);
  assert.equal(res.json.accepted, 1);
  assert.equal(stored(j, limitedMsg.messageId), 1);
});

test('per-write-key rate limit counts messages; another project keeps its own budget', async (t) => {
  const dataDir = makeDataDir();
  const other = createProject(dataDir, 'Other');
  const j = await startServer({ dataDir, args: ['--rate-limit-key', '10', '--rate-limit-key-burst', '20'] });
  t.after(async () => { await j.stop(); j.cleanup(); });

  const batch = (n) => Array.from({ length: n }, () => track());
  const first = batch(15);
  const second = batch(15);
  const third = batch(5);
  let res = await j.post('/v1/batch', { batch: first });
  assert.equal(res.status, 200);
  assert.equal(res.json.accepted, 15);
  // 5 messages left in the bucket (plus about 10 a second): 15 more do not fit.
  res = await j.post('/v1/batch', { batch: second });
  assertRateLimited(res);
  for (const m of second) assert.equal(stored(j, m.messageId), 0, 'nothing of a refused batch is stored');
  // The other project is not affected.
  const otherBatch = batch(15);
  res = await j.post('/v1/batch', { batch: otherBatch }, { key: other.write_key });
  assert.equal(res.status, 200, res.text);
  assert.equal(j.countEvents(`project_id = ${other.id}`), 15);
  // 5 still fit in this project's bucket.
  res = await j.post('/v1/batch', { batch: third });
  assert.equal(res.status, 200, res.text);

  // Resent once the bucket has refilled: stored once.
  res = await waitFor(async () => {
    const r = await j.post('/v1/batch', { batch: second });
    return r.status === 429 ? false : r;
  }, { timeout: 10000, interval: 100, what: 'the key bucket to refill' });
  assert.equal(res.status, 200);
  assert.equal(res.json.accepted, 15);
  for (const m of [...first, ...second, ...third]) assert.equal(stored(j, m.messageId), 1);
});

test('CORS: an origin outside cors_origins gets 403 (preflight and POST); a listed one is answered with Access-Control-Allow-Origin', async (t) => {
  const j = await startServer({ args: ['--cors-origins', 'https://a.example,https://c.example'] });
  t.after(async () => { await j.stop(); j.cleanup(); });

  const preflight = (origin) => fetch(`${j.url}/v1/batch`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Content-Type, Authorization, AnonymousId, SentAt' },
  });

  let res = await preflight('https://b.example');
  assert.equal(res.status, 403);
  let body = await res.json();
  assert.equal(body.success, false);
  assert.equal(body.error.code, 'origin_not_allowed');
  assert.equal(res.headers.get('access-control-allow-origin'), null);

  const refused = track();
  const post = await j.post('/v1/batch', { batch: [refused] }, { headers: { Origin: 'https://b.example' } });
  assert.equal(post.status, 403);
  assert.equal(post.json.error.code, 'origin_not_allowed');
  assert.equal(post.headers.get('access-control-allow-origin'), null);
  assert.equal(stored(j, refused.messageId), 0);
  assert.equal(j.countDeadLetters(), 0, '403 keeps nothing');

  for (const origin of ['https://a.example', 'https://c.example']) {
    res = await preflight(origin);
    assert.equal(res.status, 204, origin);
    assert.equal(res.headers.get('access-control-allow-origin'), origin);
    assert.equal(res.headers.get('access-control-allow-headers'), 'Content-Type, Authorization, AnonymousId, SentAt');
    assert.match(res.headers.get('access-control-allow-methods'), /\bPOST\b/);
    assert.match(res.headers.get('vary') ?? '', /Origin/);
    const m = track();
    const ok = await j.post('/v1/batch', { batch: [m] }, { headers: { Origin: origin } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('access-control-allow-origin'), origin);
    assert.equal(stored(j, m.messageId), 1);
  }

  // A server-side client sends no Origin: not a browser, not subject to CORS.
  const m = track();
  body = await j.post('/v1/batch', { batch: [m] });
  assert.equal(body.status, 200);
  assert.equal(stored(j, m.messageId), 1);
});

// ---- ip_mode --------------------------------------------------------------------

async function ipScenario(t, mode) {
  const j = await startServer({ args: mode ? ['--ip-mode', mode] : [] });
  t.after(async () => { await j.stop(); j.cleanup(); });
  const msgs = {
    v4: track({ context: { ip: '203.0.113.77' } }),
    conn: track(), // no context.ip: the connection's address (127.0.0.1)
    v6: track({ context: { ip: '2001:db8:abcd:12:1:2:3:4' } }),
    dead: track({ userId: null, context: { ip: '203.0.113.77' } }), // missing_id: dead-lettered
  };
  const res = await j.post('/v1/batch', { batch: Object.values(msgs) }, { headers: { 'X-Forwarded-For': '198.51.100.9' } });
  assert.equal(res.status, 200);
  assert.equal(res.json.accepted, 3);
  const ph = { event: 'ph ip', distinct_id: 'd-1', uuid: `ph-${uuid()}`, properties: { $ip: '203.0.113.77', $is_server: true } };
  const phRes = await j.post('/batch/', { api_key: j.writeKey, batch: [ph] }, { key: null });
  assert.equal(phRes.status, 200);
  const row = (m) => j.query(`SELECT * FROM events WHERE message_id = ${sqlString(m.messageId)}`)[0];
  const [dead] = j.query('SELECT cast(raw AS TEXT) AS raw, context FROM dead_letters');
  return { j, rows: { v4: row(msgs.v4), conn: row(msgs.conn), v6: row(msgs.v6), ph: row({ messageId: ph.uuid }) }, dead };
}

test('ip_mode anonymize (the default): IPv4 keeps three octets, IPv6 48 bits, in the column and the payload; no trace of the full address', async (t) => {
  const { rows, dead } = await ipScenario(t, undefined);
  assert.equal(rows.v4.ip, '203.0.113.0');
  assert.equal(JSON.parse(rows.v4.payload).context.ip, '203.0.113.0');
  assert.equal(rows.conn.ip, '127.0.0.0', 'X-Forwarded-For is ignored without trust_proxy');
  assert.equal(rows.v6.ip, '2001:db8:abcd::');
  assert.equal(JSON.parse(rows.v6.payload).context.ip, '2001:db8:abcd::');
  assert.equal(rows.ph.ip, '203.0.113.0');
  for (const r of Object.values(rows)) {
    const all = JSON.stringify(r);
    assert.ok(!all.includes('.77'), `no trace of .77 in ${all}`);
    assert.ok(!all.includes('127.0.0.1'));
    assert.ok(!all.includes(':12:1:2:3:4'));
  }
  // Dead letters obey ip_mode too.
  assert.ok(!dead.raw.includes('.77'), dead.raw);
  assert.equal(JSON.parse(dead.raw).context.ip, '203.0.113.0');
  assert.equal(JSON.parse(dead.context).ip, '127.0.0.0');
});

test('ip_mode full keeps the address as sent', async (t) => {
  const { rows, dead } = await ipScenario(t, 'full');
  assert.equal(rows.v4.ip, '203.0.113.77');
  assert.equal(JSON.parse(rows.v4.payload).context.ip, '203.0.113.77');
  assert.equal(rows.conn.ip, '127.0.0.1');
  assert.equal(rows.v6.ip, '2001:db8:abcd:12:1:2:3:4');
  assert.equal(rows.ph.ip, '203.0.113.77');
  assert.equal(JSON.parse(dead.raw).context.ip, '203.0.113.77');
});

test('ip_mode none stores no IP: the column is NULL and context.ip is null in the payload', async (t) => {
  const { rows, dead } = await ipScenario(t, 'none');
  for (const [name, r] of Object.entries(rows)) {
    assert.equal(r.ip, null, name);
    assert.ok(!JSON.stringify(r).includes('203.0.113.77'), name);
    assert.ok(!JSON.stringify(r).includes('127.0.0.1'), name);
  }
  assert.equal(JSON.parse(rows.v4.payload).context.ip, null);
  assert.ok('ip' in JSON.parse(rows.v4.payload).context, 'the key stays, its value is null');
  assert.equal(JSON.parse(rows.v6.payload).context.ip, null);
  assert.equal(JSON.parse(rows.ph.payload).properties.$ip, null);
  assert.equal(JSON.parse(dead.raw).context.ip, null);
  assert.equal(JSON.parse(dead.context).ip, null);
});

test('trust_proxy: the client IP is the first X-Forwarded-For address (anonymized)', async (t) => {
  const j = await startServer({ args: ['--trust-proxy'] });
  t.after(async () => { await j.stop(); j.cleanup(); });
  const m = track();
  await j.post('/v1/batch', { batch: [m] }, { headers: { 'X-Forwarded-For': '198.51.100.9, 10.0.0.1' } });
  assert.equal(j.query(`SELECT ip FROM events WHERE message_id = ${sqlString(m.messageId)}`)[0].ip, '198.51.100.0');
});

test('ip_mode anonymize/none leave no full address in the payload even with a duplicated context.ip key', {
}, async (t) => {
  for (const mode of ['anonymize', 'none']) {
    const j = await startServer({ args: ['--ip-mode', mode] });
    t.after(async () => { await j.stop(); j.cleanup(); });
    const id = `dupip-${uuid()}`;
    const res = await j.post('/v1/batch', `{"batch":[{"type":"track","event":"x","userId":"u","messageId":"${id}","context":{"ip":"203.0.113.77","ip":"203.0.113.78"}}]}`);
    assert.equal(res.status, 200);
    const [row] = j.query(`SELECT ip, payload FROM events WHERE message_id = ${sqlString(id)}`);
    assert.ok(!row.payload.includes('203.0.113.78'), `${mode}: ${row.payload}`);
    assert.ok(!row.payload.includes('203.0.113.77'), `${mode}: ${row.payload}`);
    assert.equal(JSON.parse(row.payload).context.ip, mode === 'none' ? null : row.ip);
  }
});
