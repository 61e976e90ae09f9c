// The tracking SDKs people already run, unchanged, pointed at the real server:
// @segment/analytics-node, @rudderstack/rudder-sdk-node and posthog-node from
// node_modules. Each test records what the SDK really put on the wire (its own
// hooks: Segment's http_request event, an axios interceptor, PostHog's fetch
// option) and checks the stored rows against it: type, event, ids, properties and
// the four times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { PostHog } from 'posthog-node';
import { startServer, sqlString } from './lib/journey.mjs';

function rowsById(j, ids) {
  const rows = j.query(`SELECT * FROM events WHERE message_id IN (${ids.map(sqlString).join(',')})`);
  const byId = new Map();
  for (const r of rows) {
    assert.ok(!byId.has(r.message_id), `message ${r.message_id} stored more than once`);
    byId.set(r.message_id, r);
  }
  return byId;
}

test('@segment/analytics-node: track, page and identify are stored with their times', async (t) => {
  const j = await startServer();
  t.after(async () => { await j.stop(); j.cleanup(); });

  const analytics = new SegmentAnalytics({
    writeKey: j.writeKey, host: j.url, flushAt: 3, flushInterval: 200, maxRetries: 3,
  });
  const sent = [];
  const statuses = [];
  const errors = [];
  analytics.on('http_request', (r) => sent.push({ url: r.url, headers: r.headers, body: JSON.parse(r.body) }));
  analytics.on('http_response', (r) => statuses.push(r.status));
  analytics.on('error', (e) => errors.push(e));

  const before = Date.now();
  const eventTime = new Date(before - 3_600_000); // an import: the message's own timestamp is kept
  analytics.track({
    userId: 'seg-user', event: 'Order Completed', timestamp: eventTime,
    properties: { revenue: 42.5, currency: 'EUR', items: [{ sku: 'A-1', qty: 2 }] },
    context: { ip: '203.0.113.7' },
  });
  analytics.page({
    userId: 'seg-user', name: 'Pricing', category: 'Docs',
    properties: { url: 'https://example.test/pricing', path: '/pricing' },
    context: { page: { path: '/pricing', url: 'https://example.test/pricing' } },
  });
  analytics.identify({ userId: 'seg-user', traits: { email: 'a@example.test', plan: 'pro' } });
  await analytics.closeAndFlush({ timeout: 30000 });
  const after = Date.now();

  assert.deepEqual(errors, []);
  assert.ok(sent.length >= 1);
  assert.deepEqual(statuses, sent.map(() => 200));
  assert.equal(sent[0].url, `${j.url}/v1/batch`);
  const messages = sent.flatMap((r) => r.body.batch);
  assert.deepEqual(messages.map((m) => m.type), ['track', 'page', 'identify']);
  const rows = rowsById(j, messages.map((m) => m.messageId));
  assert.equal(rows.size, 3);

  const [track, page, identify] = messages.map((m) => rows.get(m.messageId));
  const batchSentAt = Date.parse(sent.find((r) => r.body.batch.some((m) => m.type === 'track')).body.sentAt);

  assert.equal(track.type, 'track');
  assert.equal(track.event, 'Order Completed');
  assert.equal(track.user_id, 'seg-user');
  assert.equal(track.anonymous_id, null);
  assert.equal(track.timestamp, eventTime.getTime(), 'a message that carries timestamp keeps it');
  assert.equal(track.sent_at, batchSentAt, 'sentAt from the batch');
  assert.ok(track.received_at >= before - 1000 && track.received_at <= after + 1000, `received_at ${track.received_at}`);
  assert.equal(track.device_class, 'server');
  const trackPayload = JSON.parse(track.payload);
  assert.deepEqual(trackPayload.properties, { revenue: 42.5, currency: 'EUR', items: [{ sku: 'A-1', qty: 2 }] });
  assert.equal(trackPayload.context.ip, '203.0.113.0');
  assert.equal(track.ip, '203.0.113.0');

  assert.equal(page.type, 'page');
  assert.equal(page.event, 'Pricing');
  assert.equal(page.user_id, 'seg-user');
  assert.equal(page.path, '/pricing');
  assert.equal(page.timestamp, Date.parse(messages[1].timestamp));
  assert.equal(JSON.parse(page.payload).properties.path, '/pricing');

  assert.equal(identify.type, 'identify');
  assert.equal(identify.event, null);
  assert.equal(identify.user_id, 'seg-user');
  assert.equal(identify.timestamp, Date.parse(messages[2].timestamp));
  assert.deepEqual(JSON.parse(identify.payload).traits, { email: 'a@example.test', plan: 'pro' });
  // The payload is the message as the SDK sent it, but for the anonymized IP.
  const expected = structuredClone(messages);
  expected[0].context.ip = '203.0.113.0';
  assert.deepEqual([track, page, identify].map((r) => JSON.parse(r.payload)), expected);
  for (const r of [track, page, identify]) {
    assert.ok(r.timestamp <= r.received_at, 'never later than receivedAt');
    assert.ok(r.session_id, 'a session is derived');
  }
});

test('@rudderstack/rudder-sdk-node: gzip bodies with originalTimestamp; a 503 is retried with the identical body and stored once', async (t) => {
  // The first commit fails like an I/O error: its request is answered 503 and nothing is kept.
  const j = await startServer({ env: { JOURNEY_FAULT_COMMIT_FAILURES: '1' } });
  t.after(async () => { await j.stop(); j.cleanup(); });

  const retriedStatuses = [];
  const client = new RudderAnalytics(j.writeKey, {
    dataPlaneUrl: j.url,
    flushAt: 3,
    flushInterval: 10000, // flushed explicitly below
    retryCount: 3,
    logLevel: 'none',
    // axios-retry: keep its retry policy (5xx, 429, network) but not its seconds of backoff.
    axiosRetryConfig: { retryDelay: () => 50, onRetry: (n, err) => retriedStatuses.push(err.response?.status) },
  });
  const attempts = [];
  client.axiosInstance.interceptors.request.use((cfg) => {
    attempts.push({ data: Buffer.from(cfg.data), encoding: cfg.headers['Content-Encoding'] });
    return cfg;
  });

  assert.equal((await j.metrics()).get('journey_store_commit_failures_total'), 0, 'the injected failure is still pending');
  const before = Date.now();
  const happened = new Date(before - 5000); // queued 5 s before it was sent
  // The SDK flushes its very first message at once, alone: that request meets the failing commit.
  client.track({ userId: 'rs-user', event: 'Loan Applied', properties: { amount: 25000, term: 36 }, originalTimestamp: happened });
  client.page({ anonymousId: 'rs-anon', name: 'Calculator', properties: { path: '/calc' } });
  client.identify({ userId: 'rs-user', traits: { plan: 'pro' } });
  await client.flush();
  const after = Date.now();

  assert.deepEqual(retriedStatuses, [503], 'the first batch was refused once with 503, then retried');
  assert.equal(attempts.length, 3, 'two attempts of the first batch, one of the second');
  assert.ok(attempts.every((a) => a.encoding === 'gzip' && a.data[0] === 0x1f && a.data[1] === 0x8b));
  assert.ok(attempts[0].data.equals(attempts[1].data), 'the retry is byte for byte the refused request');

  const bodies = [attempts[0], attempts[2]].map((a) => JSON.parse(gunzipSync(a.data)));
  const messages = bodies.flatMap((b) => b.batch);
  assert.deepEqual(messages.map((m) => m.type), ['track', 'page', 'identify']);
  const counts = j.eventCounts();
  for (const m of messages) assert.equal(counts.get(m.messageId), 1, `${m.type} ${m.messageId} stored exactly once`);
  assert.equal(j.countEvents(), 3);

  const rows = rowsById(j, messages.map((m) => m.messageId));
  const [track, page, identify] = messages.map((m) => rows.get(m.messageId));
  assert.equal(track.event, 'Loan Applied');
  assert.equal(track.user_id, 'rs-user');
  assert.equal(track.original_timestamp, happened.getTime());
  assert.equal(track.sent_at, Date.parse(messages[0].sentAt));
  assert.ok(track.received_at >= before - 1000 && track.received_at <= after + 1000);
  // No timestamp in the message: corrected by the client's own clock difference.
  const corrected = Math.min(track.received_at, track.received_at - (track.sent_at - track.original_timestamp));
  assert.equal(track.timestamp, corrected);
  assert.ok(Math.abs(track.timestamp - happened.getTime()) < 5000, 'about when it happened');
  assert.deepEqual(JSON.parse(track.payload).properties, { amount: 25000, term: 36 });

  assert.equal(page.type, 'page');
  assert.equal(page.event, 'Calculator');
  assert.equal(page.anonymous_id, 'rs-anon');
  assert.equal(page.user_id, null);
  assert.equal(page.original_timestamp, Date.parse(messages[1].originalTimestamp));
  assert.equal(identify.type, 'identify');
  assert.equal(identify.user_id, 'rs-user');
  assert.deepEqual(JSON.parse(identify.payload).traits, { plan: 'pro' });
  for (const r of [track, page, identify]) assert.ok(r.timestamp <= r.received_at);
});

test('posthog-node: capture and identify through /batch/ are stored as track, page and identify', async (t) => {
  const j = await startServer();
  t.after(async () => { await j.stop(); j.cleanup(); });

  const calls = [];
  const client = new PostHog(j.writeKey, {
    host: j.url, flushAt: 20, flushInterval: 0, fetchRetryCount: 0,
    fetch: async (url, opts) => {
      const res = await fetch(url, opts);
      calls.push({ url, headers: opts.headers, body: opts.body, status: res.status });
      return res;
    },
  });
  const errors = [];
  client.on('error', (e) => errors.push(e));

  const before = Date.now();
  const happened = new Date(before - 60_000);
  client.capture({ distinctId: 'ph-user', event: 'order completed', properties: { revenue: 42.5, currency: 'EUR' }, timestamp: happened });
  client.capture({ distinctId: 'ph-user', event: '$pageview', properties: { $current_url: 'https://example.test/pricing?x=1', title: 'Pricing' } });
  client.identify({ distinctId: 'ph-user', properties: { email: 'a@example.test', plan: 'pro' } });
  await client.shutdown(30000);
  const after = Date.now();

  assert.deepEqual(errors, []);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].url, `${j.url}/batch/`);
  assert.equal(calls[0].status, 200);
  const body = JSON.parse(gunzipSync(Buffer.from(calls[0].body)));
  assert.equal(body.api_key, j.writeKey);
  const events = body.batch;
  assert.deepEqual(events.map((e) => e.event), ['order completed', '$pageview', '$identify']);

  const rows = rowsById(j, events.map((e) => e.uuid));
  assert.equal(rows.size, 3);
  const [capture, pageview, identify] = events.map((e) => rows.get(e.uuid));

  assert.equal(capture.type, 'track');
  assert.equal(capture.event, 'order completed');
  assert.equal(capture.user_id, 'ph-user', 'a server SDK event ($is_server) names an identified user');
  assert.equal(capture.sent_at, Date.parse(body.sent_at));
  assert.ok(capture.received_at >= before - 1000 && capture.received_at <= after + 1000);
  assert.equal(capture.original_timestamp, happened.getTime());
  // The client's clock, corrected with the batch's sent_at.
  assert.equal(capture.timestamp, Math.min(capture.received_at, capture.received_at - (capture.sent_at - capture.original_timestamp)));
  assert.ok(Math.abs(capture.timestamp - happened.getTime()) < 5000);
  const props = JSON.parse(capture.payload).properties;
  assert.equal(props.revenue, 42.5);
  assert.equal(props.currency, 'EUR');

  assert.equal(pageview.type, 'page');
  assert.equal(pageview.event, 'Pricing', 'a $pageview is a page named by properties.title');
  assert.equal(pageview.path, '/pricing');
  assert.equal(pageview.user_id, 'ph-user');

  assert.equal(identify.type, 'identify');
  assert.equal(identify.user_id, 'ph-user');
  assert.deepEqual(JSON.parse(identify.payload).properties.$set, { email: 'a@example.test', plan: 'pro' });
  for (const r of [capture, pageview, identify]) assert.ok(r.timestamp <= r.received_at);
});
