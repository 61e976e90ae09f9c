// Crash safety and back-pressure of the real server (docs/ingest.md, "Durability",
// "Deduplication", the 503 rows of "Answers"):
//   - kill -9 under load: every 200 is on disk after a restart, exactly once, and a
//     client resending everything it sent before the crash gets each message stored
//     exactly once (the dedup window is rebuilt from the store at start);
//   - SIGTERM with requests waiting for a slow commit: each still gets its 200, exit 0;
//   - a full write queue: 503 + Retry-After before the body is read, nothing stored;
//   - a failing store: 503 + Retry-After, nothing stored, /readyz not_ready, then 200.
// Slowness and failures come from the server's test-only fault injection
// (JOURNEY_FAULT_COMMIT_DELAY_MS, JOURNEY_FAULT_COMMIT_FAILURES). Nothing here
// sleeps for a fixed time: it waits on answers, on /metrics and on process exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, Server, uuid, waitFor, sqlString } from './lib/journey.mjs';

const track = (id, extra = {}) => ({ type: 'track', event: 'Durable', userId: 'u-dur', messageId: id, ...extra });

function countsFor(j, ids) {
  const m = new Map();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const r of j.query(`SELECT message_id AS id, count(*) AS n FROM events WHERE message_id IN (${chunk.map(sqlString).join(',')}) GROUP BY 1`)) {
      m.set(r.id, r.n);
    }
  }
  return m;
}

test('kill -9 while clients send: every acknowledged message survives once; resending everything stores each once', async (t) => {
  // A 3 ms pause before each COMMIT makes it likely that the kill lands while
  // requests wait for their transaction, as on a busy disk.
  const env = { JOURNEY_FAULT_COMMIT_DELAY_MS: '3' };
  const first = await startServer({ env });
  const servers = [first];
  t.after(async () => { for (const s of servers) await s.stop('SIGKILL'); first.cleanup(); });

  const SENDERS = 6;
  const PER_BATCH = 25;
  const batches = []; // every batch put on the wire, answered or not
  const acked = new Set();
  const otherStatuses = [];
  let unanswered = 0;

  // One crash: senders hammer `server` until enough is acknowledged while requests
  // are in flight, then kill -9, and restart on the same data dir.
  async function crashCycle(server, cycle) {
    let killed = false;
    let inFlight = 0;
    const ackedBefore = acked.size;
    async function sender(n) {
      for (let b = 0; !killed; b++) {
        const batch = Array.from({ length: PER_BATCH }, (_, i) => track(`crash-${cycle}-${n}-${b}-${i}`, { properties: { cycle, n, b, i } }));
        batches.push(batch);
        inFlight++;
        let res;
        try {
          res = await server.post('/v1/batch', { batch });
        } catch {
          unanswered++;
          return; // the server is gone mid-request or refuses connections: stop sending
        } finally {
          inFlight--;
        }
        if (res.status === 200 && res.json.accepted === PER_BATCH) batch.forEach((m) => acked.add(m.messageId));
        else otherStatuses.push(res.status);
      }
    }
    const senders = Array.from({ length: SENDERS }, (_, n) => sender(n));
    await waitFor(() => acked.size - ackedBefore >= 30 * PER_BATCH && inFlight >= 2, { timeout: 30000, interval: 5, what: 'acknowledged batches and requests in flight' });
    killed = true;
    const { signal } = await server.stop('SIGKILL');
    assert.equal(signal, 'SIGKILL');
    await Promise.all(senders);
    const next = await new Server({ dataDir: first.dataDir, writeKey: first.writeKey, env }).start();
    servers.push(next);
    return next;
  }

  let k = await crashCycle(first, 1);
  k = await crashCycle(k, 2);
  assert.deepEqual(otherStatuses, [], 'before the crashes every answered batch was a 200');

  const sentIds = batches.flat().map((m) => m.messageId);
  let counts = countsFor(k, sentIds);
  t.diagnostic(`${batches.length} batches sent, ${acked.size / PER_BATCH} acknowledged, ${unanswered} cut off by the kills, ${counts.size} messages found after the crashes`);
  for (const id of acked) assert.equal(counts.get(id), 1, `acknowledged ${id} is stored exactly once`);
  for (const id of sentIds) assert.ok((counts.get(id) ?? 0) <= 1, `${id} stored at most once`);
  assert.equal(k.countEvents(), [...counts.values()].reduce((a, b) => a + b, 0), 'nothing else was stored');

  // The clients resend everything they sent before the crashes, answered or not.
  const storedBefore = new Set(counts.keys());
  const queue = [...batches];
  await Promise.all(Array.from({ length: SENDERS }, async () => {
    for (let batch; (batch = queue.shift());) {
      const res = await k.post('/v1/batch', { sentAt: new Date().toISOString(), batch });
      assert.equal(res.status, 200, res.text);
      const dup = batch.filter((m) => storedBefore.has(m.messageId)).length;
      assert.equal(res.json.duplicates, dup, 'messages stored before the crash are known duplicates');
      assert.equal(res.json.accepted, PER_BATCH - dup);
    }
  }));
  counts = countsFor(k, sentIds);
  for (const id of sentIds) assert.equal(counts.get(id), 1, `${id} stored exactly once after the resend`);
  assert.equal(k.countEvents(), sentIds.length);
});

test('SIGTERM while requests wait for a slow commit: each gets its 200, exit 0, rows stored', async (t) => {
  const j = await startServer({ env: { JOURNEY_FAULT_COMMIT_DELAY_MS: '300' }, args: ['--shutdown-timeout', '10s'] });
  t.after(async () => { await j.stop('SIGKILL'); j.cleanup(); });

  const N = 8;
  const ids = Array.from({ length: N }, () => `term-${uuid()}`);
  const answered = [];
  const pending = ids.map((id) => j.post('/v1/batch', { batch: [track(id)] }).then((r) => { answered.push(id); return r; }));
  // Every request has reached the writer's queue or its current (slow) transaction.
  await waitFor(async () => {
    const m = await j.metrics();
    return m.get('journey_store_queue_messages') + m.get('journey_dedup_entries') >= N;
  }, { timeout: 15000, what: 'all requests queued' });
  const waitingAtSigterm = N - answered.length;
  const exited = j.stop('SIGTERM');
  const results = await Promise.all(pending);
  const { code, signal } = await exited;

  assert.ok(waitingAtSigterm > 0, 'some requests were still waiting for their commit at SIGTERM');
  for (const r of results) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
  }
  assert.equal(signal, null);
  assert.equal(code, 0);
  const counts = countsFor(j, ids);
  for (const id of ids) assert.equal(counts.get(id), 1, id);
  assert.match(j.logs, /SIGTERM/);
});

test('a full write queue answers 503 with Retry-After before storing anything; the refused batches succeed later', async (t) => {
  const j = await startServer({ env: { JOURNEY_FAULT_COMMIT_DELAY_MS: '500' }, args: ['--queue-max-messages', '100'] });
  t.after(async () => { await j.stop('SIGKILL'); j.cleanup(); });

  const batches = Array.from({ length: 6 }, (_, b) => Array.from({ length: 100 }, (_, i) => track(`full-${b}-${i}-${uuid()}`)));
  const results = await Promise.all(batches.map(async (batch) => {
    const res = await j.post('/v1/batch', { batch });
    // Refused means nothing of it was stored, now or later.
    const storedNow = countsFor(j, batch.map((m) => m.messageId)).size;
    return { batch, res, storedNow };
  }));
  const refused = results.filter((r) => r.res.status === 503);
  const ok = results.filter((r) => r.res.status === 200);
  assert.equal(refused.length + ok.length, batches.length, `statuses ${results.map((r) => r.res.status)}`);
  assert.ok(refused.length >= 1, 'some batches found the queue full');
  assert.ok(ok.length >= 1, 'some batches got in');
  for (const r of refused) {
    assert.equal(r.res.headers.get('retry-after'), '1');
    assert.equal(r.res.json.success, false);
    assert.equal(r.res.json.error.code, 'overloaded');
    assert.equal(r.storedNow, 0);
  }
  for (const r of ok) assert.equal(r.res.json.accepted, 100);

  // Nothing of the refused ones was kept, even once the queue drained.
  await waitFor(async () => (await j.metrics()).get('journey_store_queue_messages') === 0, { timeout: 15000, what: 'the queue to drain' });
  for (const r of refused) assert.equal(countsFor(j, r.batch.map((m) => m.messageId)).size, 0);
  assert.equal((await j.get('/readyz')).json.status, 'ready');

  // Resent later (one at a time, as a client honouring Retry-After would), they are stored.
  for (const r of refused) {
    const res = await j.post('/v1/batch', { batch: r.batch });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.accepted, 100);
  }
  const all = results.flatMap((r) => r.batch.map((m) => m.messageId));
  const counts = countsFor(j, all);
  for (const id of all) assert.equal(counts.get(id), 1, id);
});

test('while the queue is full: /readyz is not_ready and ingest answers 503 without reading the body', async (t) => {
  // One slow commit at a time: A is being committed, B waits and fills the queue.
  const j = await startServer({ env: { JOURNEY_FAULT_COMMIT_DELAY_MS: '1000' }, args: ['--queue-max-messages', '100'] });
  t.after(async () => { await j.stop('SIGKILL'); j.cleanup(); });
  const batch = (name) => Array.from({ length: 100 }, (_, i) => track(`q-${name}-${i}-${uuid()}`));
  const [a, b, c] = [batch('a'), batch('b'), batch('c')];

  const aRes = j.post('/v1/batch', { batch: a });
  await waitFor(async () => {
    const m = await j.metrics();
    return m.get('journey_dedup_entries') === 100 && m.get('journey_store_queue_messages') === 0;
  }, { what: 'A to be in the writer' });
  const bRes = j.post('/v1/batch', { batch: b });
  await waitFor(async () => (await j.metrics()).get('journey_store_queue_messages') === 100, { what: 'B to fill the queue' });

  const ready = await j.get('/readyz');
  assert.equal(ready.status, 503);
  assert.equal(ready.json.status, 'not_ready');
  assert.equal(ready.json.queue_room, false);
  assert.equal(ready.json.store_writable, true);

  // C announces its body but sends none of it: the answer cannot wait for the body.
  const cBody = Buffer.from(JSON.stringify({ batch: c }));
  const refused = await j.request('/v1/batch', {
    unfinished: true, timeout: 10000,
    headers: { Authorization: j.auth(), 'Content-Type': 'application/json', 'Content-Length': String(cBody.length) },
  });
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(refused.json.error.code, 'overloaded');

  assert.equal((await aRes).status, 200);
  assert.equal((await bRes).status, 200);
  assert.equal(countsFor(j, c.map((m) => m.messageId)).size, 0, 'nothing of C was stored');
  assert.equal((await j.get('/readyz')).json.status, 'ready');
  const later = await j.post('/v1/batch', cBody);
  assert.equal(later.status, 200);
  assert.equal(later.json.accepted, 100);
  assert.equal(j.countEvents(), 300);
});

test('a failing store answers 503 with Retry-After and keeps nothing; /readyz is not_ready until a commit succeeds', async (t) => {
  const j = await startServer({ env: { JOURNEY_FAULT_COMMIT_FAILURES: '2' } });
  t.after(async () => { await j.stop('SIGKILL'); j.cleanup(); });

  assert.equal((await j.get('/readyz')).json.status, 'ready');
  assert.equal((await j.metrics()).get('journey_store_commit_failures_total'), 0, 'the injected failures are still pending');
  const body = { batch: [track(`fail-${uuid()}`), track(`fail-${uuid()}`, { type: 'page', name: 'Home' })] };
  const ids = body.batch.map((m) => m.messageId);

  for (let attempt = 1; attempt <= 2; attempt++) {
    const res = await j.post('/v1/batch', body);
    assert.equal(res.status, 503, `attempt ${attempt}: ${res.text}`);
    assert.equal(res.headers.get('retry-after'), '1');
    assert.equal(res.json.success, false);
    assert.equal(res.json.error.code, 'store_unavailable');
    assert.equal(countsFor(j, ids).size, 0, 'nothing stored');
    assert.equal(j.countDeadLetters(), 0, 'nothing dead-lettered either');
    const ready = await j.get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.status, 'not_ready');
    assert.equal(ready.json.store_writable, false);
  }

  // The same request, later: stored once, and not taken for a duplicate of the rolled-back attempts.
  const res = await j.post('/v1/batch', body);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.accepted, 2);
  assert.equal(res.json.duplicates, 0);
  const ready = await j.get('/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.json.status, 'ready');
  const again = await j.post('/v1/batch', body);
  assert.equal(again.json.duplicates, 2);
  const counts = countsFor(j, ids);
  for (const id of ids) assert.equal(counts.get(id), 1);
  const m = await j.metrics();
  assert.equal(m.get('journey_store_commit_failures_total'), 2);
});
