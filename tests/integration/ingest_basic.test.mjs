// The tracking API's main paths through the real server: routes, key forms,
// the stored row, dedup, CORS, ops endpoints, graceful shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, uuid } from './lib/journey.mjs';

let j;
before(async () => { j = await startServer(); });
after(async () => { await j.stop(); j.cleanup(); });

test('a batch is stored with its four times, session and enrichment', async () => {
  const mid = uuid();
  const res = await j.post('/v1/batch', {
    sentAt: new Date(Date.now() - 3_600_000 + 2000).toISOString(), // client clock 1 h behind
    batch: [{
      type: 'track', event: 'Loan Calculated', anonymousId: 'anon-1', messageId: mid,
      originalTimestamp: new Date(Date.now() - 3_600_000).toISOString(),
      properties: { amount: 25000, big: 12345678901234567890n.toString() },
      context: { ip: '203.0.113.77', sessionId: 'sess-1', page: { path: '/calc', url: 'https://x.test/calc' },
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' },
    }],
  });
  assert.equal(res.status, 200);
  assert.equal(res.json.success, true);
  assert.equal(res.json.accepted, 1);
  assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{16}$/);
  const [row] = j.query(`SELECT * FROM events WHERE message_id = '${mid}'`);
  assert.equal(row.type, 'track');
  assert.equal(row.event, 'Loan Calculated');
  assert.equal(row.session_id, 'sess-1');
  assert.equal(row.path, '/calc');
  assert.equal(row.device_class, 'desktop');
  assert.equal(row.browser, 'Chrome');
  assert.equal(row.ip, '203.0.113.0');
  assert.ok(!row.payload.includes('203.0.113.77'));
  // corrected: about 2 s before it was received
  const lag = row.received_at - row.timestamp;
  assert.ok(lag >= 1900 && lag <= 2100, `lag ${lag}`);
});

test('every write key form is accepted; unknown and missing keys get 401', async () => {
  const msg = () => ({ type: 'track', event: 'K', userId: 'u', messageId: uuid() });
  const forms = [
    { headers: { Authorization: 'Basic ' + Buffer.from(`${j.writeKey}:`).toString('base64') } },
    { headers: { Authorization: `Bearer ${j.writeKey}` } },
    { headers: { 'X-Write-Key': j.writeKey } },
    { path: `/v1/batch?writeKey=${j.writeKey}` },
    { body: { writeKey: j.writeKey } },
  ];
  for (const f of forms) {
    const res = await j.post(f.path || '/v1/batch', { ...(f.body || {}), batch: [msg()] },
      { key: null, headers: f.headers || {} });
    assert.equal(res.status, 200, JSON.stringify(f));
  }
  let res = await j.post('/v1/batch', { batch: [msg()] }, { key: 'wk_nope' });
  assert.equal(res.status, 401);
  assert.equal(res.json.error.code, 'unknown_write_key');
  res = await j.post('/v1/batch', { batch: [msg()] }, { key: null });
  assert.equal(res.status, 401);
  assert.equal(res.json.error.code, 'missing_write_key');
});

test('single-message routes, short forms, Jitsu and gzip by magic bytes', async () => {
  const routes = ['/v1/track', '/v1/t', '/api/s/track', '/api/s/s2s/track'];
  for (const r of routes) {
    const mid = uuid();
    const res = await j.post(r, { event: 'Route', userId: 'u', messageId: mid });
    assert.equal(res.status, 200, r);
    assert.equal(j.query(`SELECT type FROM events WHERE message_id='${mid}'`)[0].type, 'track');
  }
  const mid = uuid();
  const gz = gzipSync(JSON.stringify({ batch: [{ type: 'identify', userId: 'u9', messageId: mid, traits: { plan: 'pro' } }] }));
  const res = await j.post('/v1/batch', gz, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(res.status, 200);
  assert.equal(j.query(`SELECT user_id FROM events WHERE message_id='${mid}'`)[0].user_id, 'u9');
});

test('a retried message is acknowledged and stored once', async () => {
  const mid = uuid();
  const body = (sentAt) => ({ sentAt, batch: [{ type: 'track', event: 'Retry', userId: 'u', messageId: mid }] });
  const a = await j.post('/v1/batch', body(new Date().toISOString()));
  const b = await j.post('/v1/batch', body(new Date(Date.now() + 5).toISOString()));
  assert.equal(a.json.accepted, 1);
  assert.equal(b.json.accepted, 0);
  assert.equal(b.json.duplicates, 1);
  assert.equal(j.query(`SELECT count(*) AS n FROM events WHERE message_id='${mid}'`)[0].n, 1);
});

test('CORS preflight echoes the origin and the requested headers', async () => {
  const res = await fetch(j.url + '/v1/page', {
    method: 'OPTIONS',
    headers: { Origin: 'https://app.example.test', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'AnonymousId, SentAt, Authorization' },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.test');
  assert.equal(res.headers.get('access-control-allow-headers'), 'AnonymousId, SentAt, Authorization');
  assert.match(res.headers.get('access-control-allow-methods'), /POST/);
});

test('ops endpoints: healthz, readyz, metrics', async () => {
  assert.equal((await j.get('/healthz')).json.status, 'ok');
  assert.equal((await j.get('/readyz')).json.status, 'ready');
  const m = await j.get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /journey_http_requests_total\{route="\/v1\/batch",status="200"\} \d+/);
  assert.match(m.text, /journey_ingest_messages_total\{outcome="stored"\} \d+/);
  assert.match(m.text, /journey_ingest_messages_total\{outcome="duplicate"\} [1-9]/);
  assert.match(m.text, /journey_store_commit_messages_bucket/);
  assert.match(m.text, /journey_store_commit_seconds_bucket/);
  assert.match(m.text, /journey_store_queue_messages \d+/);
});

test('X-Request-Id is honoured and returned', async () => {
  const res = await j.get('/healthz', { headers: { 'X-Request-Id': 'trace-abc.123' } });
  assert.equal(res.headers.get('x-request-id'), 'trace-abc.123');
});
