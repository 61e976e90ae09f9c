// The persistent outbox: bounds, drop counting, reloads, storage failures (queue.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTracker, makeEnv, MemoryStorage, start } from '../testing/harness.mjs';

const quiet = { autocapture: false, live: false };
const msg = (i) => ({ messageId: 'm' + i, type: 'track', event: 'e' + i });

test('a full queue drops the oldest messages and counts them', async () => {
    const { createQueue, store } = await loadTracker();
    const storage = store(new MemoryStorage());
    const q = createQueue(storage, 5);
    for (let i = 1; i <= 8; i++) q._push(msg(i));
    assert.equal(q._size(), 5);
    assert.equal(q._dropped(), 3);
    assert.deepEqual(q._peek(10, 1e9, {}).map((m) => m.messageId), ['m4', 'm5', 'm6', 'm7', 'm8']);
    // the count is persisted with the queue
    assert.equal(createQueue(storage, 5)._dropped(), 3);
});

test('maxQueue bounds the queue while the server is down; stats() reports drops', async () => {
    const { journey, net, clock } = await start({ load: { ...quiet, maxQueue: 10 } });
    net.reply(() => ({ status: 503 }));
    for (let i = 0; i < 25; i++) journey.track('e' + i);
    await clock.tick(5000);
    assert.deepEqual(journey.stats(), { queued: 10, dropped: 15 });
    net.reply(() => ({ status: 200 }));
    await clock.tick(60000);
    const delivered = net.batches().filter((c) => c.body.batch.length).at(-1).body.batch.map((m) => m.event);
    assert.deepEqual(delivered, Array.from({ length: 10 }, (_, i) => 'e' + (i + 15)), 'the newest 10 survive');
    assert.equal(journey.stats().queued, 0);
});

test('peek respects count, bytes and the in-flight set, and always yields one message', async () => {
    const { createQueue, store } = await loadTracker();
    const q = createQueue(store(new MemoryStorage()), 100);
    for (let i = 1; i <= 5; i++) q._push(msg(i));
    assert.equal(q._peek(2, 1e9, {}).length, 2);
    assert.equal(q._peek(10, 1, {}).length, 1, 'at least one even if larger than maxBytes');
    assert.deepEqual(q._peek(2, 1e9, { m1: 1, m2: 1 }).map((m) => m.messageId), ['m3', 'm4']);
    q._remove([msg(2), msg(4)]);
    assert.deepEqual(q._peek(10, 1e9, {}).map((m) => m.messageId), ['m1', 'm3', 'm5']);
});

test('unsent messages survive a reload and go out with the same messageId', async () => {
    const storage = new MemoryStorage();
    const first = await start({ storage, load: quiet });
    first.net.reply(() => new TypeError('server down'));
    first.journey.track('a');
    first.journey.track('b');
    await first.clock.tick(1000);
    const ids = first.net.batches()[0].body.batch.map((m) => m.messageId);
    first.win.close();

    // "reload": a new page and a new tracker instance on the same localStorage
    const second = await start({ storage, load: quiet });
    await second.clock.tick(1000);
    const batch = second.net.batches()[0].body.batch;
    assert.deepEqual(batch.map((m) => m.event), ['a', 'b']);
    assert.deepEqual(batch.map((m) => m.messageId), ids);
    assert.equal(second.journey.stats().queued, 0);
});

test('tabs share the outbox: a message queued by another tab is sent too', async () => {
    const storage = new MemoryStorage();
    const a = await start({ storage, load: quiet });
    const b = await start({ storage, load: quiet });
    a.journey.track('from-a');
    b.journey.track('from-b');
    await b.clock.tick(1000);
    assert.deepEqual(b.net.batches()[0].body.batch.map((m) => m.event), ['from-a', 'from-b']);
});

test('without localStorage the queue lives in memory and still sends', async () => {
    const { createJourney, memoryStorage } = await loadTracker();
    const broken = {
        getItem() {
            throw new Error('SecurityError');
        },
        setItem() {
            throw new Error('SecurityError');
        },
        removeItem() {
            throw new Error('SecurityError');
        },
    };
    const env = await makeEnv({ storage: broken });
    const journey = createJourney(env, 'https://journey.test');
    journey.load('KEY', quiet);
    journey.track('e');
    await env.clock.tick(1000);
    assert.equal(env.net.batches().length, 1);
    assert.equal(env.net.batches()[0].body.batch[0].event, 'e');
    assert.ok(env.net.batches()[0].body.batch[0].anonymousId);
    assert.equal(typeof memoryStorage().getItem, 'function');
});

test('a storage quota error drops the oldest half (counted) instead of losing everything', async () => {
    const { createQueue, store } = await loadTracker();
    const storage = new MemoryStorage();
    const realSet = storage.setItem.bind(storage);
    storage.setItem = (k, v) => {
        if (v.length > 400) throw new Error('QuotaExceededError');
        realSet(k, v);
    };
    const q = createQueue(store(storage), 100);
    for (let i = 1; i <= 12; i++) q._push(msg(i));
    assert.ok(q._size() < 12 && q._size() > 0);
    assert.equal(q._size() + q._dropped(), 12);
    assert.equal(q._peek(100, 1e9, {}).at(-1).messageId, 'm12', 'the newest is kept');
    assert.ok(storage.getItem('journey.queue').length <= 400);
});
