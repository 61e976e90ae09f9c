// Batching, flushing, retries and beacons: transport.ts as seen from the wire.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { click, HOST, start, sent, tracks, T0 } from '../testing/harness.mjs';

const quiet = { autocapture: false, live: false };

test('19 messages wait for the timer, the 20th flushes at once', async () => {
    const { journey, net } = await start({ load: quiet });
    for (let i = 1; i <= 19; i++) journey.track('e' + i);
    assert.equal(net.batches().length, 0);
    journey.track('e20');
    assert.equal(net.batches().length, 1);
    assert.deepEqual(
        net.batches()[0].body.batch.map((m) => m.event),
        Array.from({ length: 20 }, (_, i) => 'e' + (i + 1)),
    );
});

test('a lone message leaves after flushInterval (1 s), not before', async () => {
    const { journey, net, clock } = await start({ load: quiet });
    journey.track('Added to cart', { sku: 'A1' });
    await clock.tick(999);
    assert.equal(net.batches().length, 0);
    await clock.tick(1);
    assert.equal(net.batches().length, 1);
    const [m] = net.batches()[0].body.batch;
    assert.equal(m.event, 'Added to cart');
    assert.deepEqual(m.properties, { sku: 'A1' });
});

test('interaction events flush at once: $click and page', async () => {
    const { env, journey, net, doc, win } = await start({ load: { live: false } });
    assert.equal(net.batches().length, 1, 'the page view on load went out at once');
    assert.equal(net.batches()[0].body.batch[0].type, 'page');
    const b = doc.body.appendChild(doc.createElement('button'));
    b.textContent = 'Buy';
    click(win, b);
    assert.equal(net.batches().length, 2);
    assert.equal(net.batches()[1].body.batch[0].event, '$click');
    journey.page('Pricing');
    assert.equal(tracks(env, '$click').length, 1);
    assert.equal(sent(env).filter((m) => m.type === 'page').length, 2);
});

test('request shape: Basic auth with the write key, JSON body, sentAt stamped at send time', async () => {
    const { journey, net, clock } = await start({ load: quiet });
    journey.track('e');
    await clock.tick(1000);
    const [call] = net.batches();
    assert.equal(call.url, HOST + '/v1/batch');
    assert.equal(call.init.method, 'POST');
    assert.equal(call.init.headers.Authorization, 'Basic ' + Buffer.from('KEY:').toString('base64'));
    assert.equal(call.init.headers['Content-Type'], 'application/json');
    assert.equal(call.init.credentials, 'omit');
    const sentAt = new Date(T0 + 1000).toISOString();
    assert.equal(call.body.sentAt, sentAt);
    const [m] = call.body.batch;
    assert.equal(m.sentAt, sentAt);
    assert.equal(m.originalTimestamp, new Date(T0).toISOString());
    assert.equal(m.timestamp, undefined, 'the server computes timestamp');
    assert.match(m.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(m.context.library, { name: 'journey.js', version: journey.version });
    assert.ok(m.context.sessionId && m.anonymousId && m.context.userAgent);
});

test('5xx and network errors are retried with backoff (500 ms doubling, equal jitter), same messageId', async () => {
    const { journey, net, clock } = await start({ load: quiet });
    let n = 0;
    net.reply(() => (++n === 1 ? { status: 503 } : n === 2 ? new TypeError('network down') : { status: 200 }));
    journey.track('e');
    await clock.tick(1000);
    assert.equal(net.batches().length, 1);
    // random() = 0.5: attempt 1 waits 500*(0.5+0.25) = 375 ms, attempt 2 waits 750 ms
    await clock.tick(374);
    assert.equal(net.batches().length, 1);
    await clock.tick(1);
    assert.equal(net.batches().length, 2);
    await clock.tick(749);
    assert.equal(net.batches().length, 2);
    await clock.tick(1);
    assert.equal(net.batches().length, 3);
    const ids = net.batches().map((c) => c.body.batch[0].messageId);
    assert.equal(new Set(ids).size, 1, 'the same messageId on every attempt');
    const sentAts = net.batches().map((c) => c.body.sentAt);
    assert.equal(new Set(sentAts).size, 3, 'sentAt is re-stamped on every attempt');
    assert.deepEqual(journey.stats(), { queued: 0, dropped: 0 });
});

test('backoff is capped at 30 s', async () => {
    const { journey, net, clock } = await start({ load: quiet, random: 1 });
    net.reply(() => ({ status: 500 }));
    journey.track('e');
    await clock.tick(1000);
    const waits = [];
    for (let i = 0; i < 9; i++) {
        const before = net.batches().length;
        let waited = 0;
        while (net.batches().length === before) {
            await clock.tick(100);
            waited += 100;
        }
        waits.push(waited);
    }
    assert.deepEqual(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test('Retry-After on 429 and 503 is honoured (seconds and HTTP date)', async () => {
    const { journey, net, clock } = await start({ load: quiet });
    let n = 0;
    net.reply(() => {
        n++;
        if (n === 1) return { status: 429, headers: { 'Retry-After': '7' } };
        if (n === 2) return { status: 503, headers: { 'Retry-After': new Date(clock.now() + 12000).toUTCString() } };
        return { status: 200 };
    });
    journey.track('e');
    await clock.tick(1000);
    await clock.tick(6999);
    assert.equal(net.batches().length, 1, 'not before Retry-After');
    await clock.tick(1);
    assert.equal(net.batches().length, 2);
    await clock.tick(11999);
    assert.equal(net.batches().length, 2);
    await clock.tick(1);
    assert.equal(net.batches().length, 3);
    assert.equal(journey.stats().queued, 0);
});

for (const status of [400, 401]) {
    test(`${status} is not retried: the batch is dropped`, async () => {
        const { journey, net, clock } = await start({ load: quiet });
        net.reply(() => ({ status }));
        journey.track('e');
        await clock.tick(1000);
        await clock.tick(120000);
        assert.equal(net.batches().length, 1);
        assert.equal(journey.stats().queued, 0);
    });
}

test('413: the batch is halved until the oversized message travels alone, then it is dropped', async () => {
    const { journey, net, clock, env } = await start({ load: { ...quiet, flushAt: 4 } });
    net.reply((call) => {
        const names = call.body.batch.map((m) => m.event);
        return names.includes('BIG') && names.length > 0 ? { status: 413 } : { status: 200 };
    });
    for (const e of ['a', 'b', 'c', 'BIG']) journey.track(e);
    await clock.tick(0);
    assert.deepEqual(
        net.batches().map((c) => c.body.batch.map((m) => m.event).join(',')),
        ['a,b,c,BIG', 'a,b', 'c,BIG', 'c', 'BIG'],
    );
    assert.equal(journey.stats().queued, 0);
    // the limit is back to flushAt afterwards
    for (const e of ['d', 'e', 'f', 'g']) journey.track(e);
    await clock.tick(0);
    assert.equal(env.net.batches().length, 6);
    assert.equal(net.batches()[5].body.batch.map((m) => m.event).join(','), 'd,e,f,g');
});

test('an urgent flush does not wait for a request in flight, and never resends what is in flight', async () => {
    const { journey, net, clock } = await start({ load: quiet });
    journey.track('slow');
    journey.flush(); // in flight until the fake response resolves (after this synchronous block)
    journey.page('Next'); // urgent
    await clock.tick(0);
    const names = net.batches().map((c) => c.body.batch.map((m) => m.event || m.type).join(','));
    assert.deepEqual(names, ['slow', 'page']);
    assert.equal(journey.stats().queued, 0);
});

test('pagehide sends the queue and $page_leave with sendBeacon to /beacon/v1/batch?writeKey=', async () => {
    const { env, journey, net, win } = await start({ load: { live: false } });
    journey.track('Viewed item');
    win.dispatchEvent(new win.PageTransitionEvent('pagehide', { persisted: false }));
    assert.equal(env.beacons.length, 1);
    const [b] = env.beacons;
    assert.equal(b.url, HOST + '/beacon/v1/batch?writeKey=KEY');
    assert.deepEqual(
        b.body.batch.map((m) => m.event),
        ['Viewed item', '$page_leave'],
    );
    assert.ok(b.body.sentAt);
    assert.equal(journey.stats().queued, 0, 'beaconed messages leave the queue');
    assert.equal(net.batches().length, 1, 'only the page view went by fetch');
});

test('the page becoming hidden beacons the queue too; a refused beacon keeps it for fetch', async () => {
    const { env, journey, net, clock, doc } = await start({ load: { live: false } });
    journey.track('one');
    env.beaconOk = false;
    Object.defineProperty(doc, 'visibilityState', { value: 'hidden', configurable: true });
    doc.dispatchEvent(new env.win.Event('visibilitychange'));
    assert.equal(env.beacons.length, 0);
    assert.equal(journey.stats().queued, 2, 'still queued: the event and $visibility');
    env.beaconOk = true;
    Object.defineProperty(doc, 'visibilityState', { value: 'visible', configurable: true });
    doc.dispatchEvent(new env.win.Event('visibilitychange'));
    Object.defineProperty(doc, 'visibilityState', { value: 'hidden', configurable: true });
    doc.dispatchEvent(new env.win.Event('visibilitychange'));
    assert.deepEqual(
        env.beacons[0].body.batch.map((m) => m.event + (m.properties.state ? ':' + m.properties.state : '')),
        ['one', '$visibility:hidden', '$visibility:visible', '$visibility:hidden'],
    );
    await clock.tick(5000);
    assert.equal(net.batches().length, 1);
});

test('flush() sends at once; going back online cuts a backoff short', async () => {
    const { journey, net, clock, win } = await start({ load: quiet });
    journey.track('e');
    journey.flush();
    assert.equal(net.batches().length, 1);
    net.reply(() => new TypeError('offline'));
    journey.track('f');
    journey.flush();
    await clock.tick(0);
    assert.equal(net.batches().length, 2);
    net.reply(() => ({ status: 200 }));
    win.dispatchEvent(new win.Event('online'));
    await clock.tick(0);
    assert.equal(net.batches().length, 3);
    assert.equal(journey.stats().queued, 0);
});
