// The live channel (live.ts): WebSocket URL, reconnect backoff, polling fallback, session changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { start } from '../testing/harness.mjs';

const load = { autocapture: false };
const polls = (net) => net.calls.filter((c) => c.url.includes('/pending'));

test('connects at load to ws(s)://host/v1/live with writeKey, sessionId, anonymousId', async () => {
    const { env } = await start({ load });
    assert.equal(env.sockets.length, 1);
    const url = new URL(env.sockets[0].url);
    assert.equal(url.protocol, 'wss:');
    assert.equal(url.host, 'journey.test');
    assert.equal(url.pathname, '/v1/live');
    assert.equal(url.searchParams.get('writeKey'), 'KEY');
    assert.match(url.searchParams.get('sessionId'), /^\d+-[0-9a-f]{8}$/);
    assert.equal(url.searchParams.get('anonymousId'), env.storage.getItem('journey.anonymousId'));
    const plain = await start({ load: { ...load, host: 'http://127.0.0.1:8080/' } });
    assert.ok(plain.env.sockets[0].url.startsWith('ws://127.0.0.1:8080/v1/live?'));
});

test('reconnects after 1 s, then 2 s (jittered); after 3 failures in a row polls every 5 s', async () => {
    const { env, net, clock } = await start({ load });
    const s = env.sockets;
    s[0].fail();
    // random() = 0.5: equal jitter gives 75% of 1 s, then of 2 s
    await clock.tick(749);
    assert.equal(s.length, 1);
    await clock.tick(1);
    assert.equal(s.length, 2);
    s[1].fail();
    await clock.tick(1500);
    assert.equal(s.length, 3);
    assert.equal(polls(net).length, 0, 'no polling after 2 failures');
    s[2].fail(); // third failure in a row
    await clock.tick(0);
    assert.equal(polls(net).length, 1, 'polling starts at once');
    assert.equal(polls(net)[0].url, 'https://journey.test/v1/interventions/' + encodeURIComponent(new URL(s[0].url).searchParams.get('sessionId')) + '/pending?writeKey=KEY');
    await clock.tick(5000);
    assert.equal(polls(net).length, 2);
    await clock.tick(5000);
    assert.equal(polls(net).length, 3);
    // the socket is retried in the background at the maximum backoff (~30 s)
    assert.equal(s.length, 3);
    await clock.tick(12500); // 22.5 s since the failure
    assert.equal(s.length, 4);
    s[3].open();
    const before = polls(net).length;
    await clock.tick(30000);
    assert.equal(polls(net).length, before, 'polling stops once the socket is up');
});

test('polled interventions are delivered (and deduplicated against the socket)', async () => {
    const { env, net, clock, journey } = await start({ load });
    const seen = [];
    journey.on('intervention', (iv) => seen.push(iv.id));
    net.reply((call) =>
        call.url.includes('/pending')
            ? { status: 200, json: { interventions: [{ id: 'p1', action: 'custom', payload: { a: 1 } }, { id: 'p2', action: 'custom' }] } }
            : { status: 200 },
    );
    for (let i = 0; i < 3; i++) {
        env.sockets.at(-1).fail();
        await clock.tick(30000);
    }
    env.sockets.at(-1).deliver({ type: 'intervention', id: 'p2', action: 'custom' });
    await clock.tick(5000);
    assert.deepEqual(seen, ['p1', 'p2']);
});

test('polling pauses while the tab is hidden and stops on 401', async () => {
    const { env, net, clock, doc } = await start({ load });
    for (let i = 0; i < 3; i++) {
        env.sockets.at(-1).fail();
        await clock.tick(8000);
    }
    const n = polls(net).length;
    assert.ok(n >= 1);
    Object.defineProperty(doc, 'visibilityState', { value: 'hidden', configurable: true });
    await clock.tick(20000);
    assert.equal(polls(net).length, n);
    Object.defineProperty(doc, 'visibilityState', { value: 'visible', configurable: true });
    net.reply((call) => (call.url.includes('/pending') ? { status: 401 } : { status: 200 }));
    await clock.tick(5000);
    assert.equal(polls(net).length, n + 1);
    await clock.tick(60000);
    assert.equal(polls(net).length, n + 1);
});

test('a socket that was open and dropped reconnects after ~1 s; pagehide closes it, pageshow reopens', async () => {
    const { env, clock, win } = await start({ load });
    env.sockets[0].open();
    env.sockets[0].fail();
    await clock.tick(750);
    assert.equal(env.sockets.length, 2);
    env.sockets[1].open();
    win.dispatchEvent(new win.PageTransitionEvent('pagehide', { persisted: true }));
    assert.equal(env.sockets[1].closed, true);
    await clock.tick(60000);
    assert.equal(env.sockets.length, 2, 'no reconnect while the page is in the back/forward cache');
    win.dispatchEvent(new win.PageTransitionEvent('pageshow', { persisted: true }));
    assert.equal(env.sockets.length, 3);
});

test('live: false opens nothing', async () => {
    const { env, clock } = await start({ load: { ...load, live: false } });
    await clock.tick(60000);
    assert.equal(env.sockets.length, 0);
    assert.equal(env.net.calls.length, 0);
});
