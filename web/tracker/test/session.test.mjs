// Sessions and identity (session.ts): ids, rotation after 30 min of inactivity, reset(), identify().
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStorage, start, sent, T0 } from '../testing/harness.mjs';

const quiet = { autocapture: false, live: false };
const MIN = 60 * 1000;

test('session id is "<start epoch ms>-<random>" and kept in localStorage', async () => {
    const { env, journey, clock } = await start({ load: quiet });
    journey.track('e');
    await clock.tick(1000);
    const [m] = sent(env);
    assert.match(m.context.sessionId, new RegExp('^' + T0 + '-[0-9a-f]{8}$'));
    const stored = JSON.parse(env.storage.getItem('journey.session'));
    assert.equal(stored.id, m.context.sessionId);
    assert.equal(stored.lastActivity, T0);
    assert.equal(env.storage.getItem('journey.anonymousId'), m.anonymousId);
});

test('activity keeps the session; 30 minutes without a message starts a new one', async () => {
    const { env, journey, clock } = await start({ load: quiet });
    journey.track('a');
    await clock.tick(29 * MIN);
    journey.track('b'); // 29 min later: same session, and activity moves forward
    await clock.tick(29 * MIN);
    journey.track('c'); // 29 min after b: still the same
    await clock.tick(30 * MIN + 1);
    journey.track('d'); // 30 min + 1 ms of silence: new session
    await clock.tick(1000);
    const ids = sent(env).map((m) => m.context.sessionId);
    assert.equal(ids[0], ids[1]);
    assert.equal(ids[1], ids[2]);
    assert.notEqual(ids[2], ids[3]);
    assert.ok(ids[3].startsWith(String(clock.now() - 1000) + '-'));
    assert.equal(new Set(sent(env).map((m) => m.anonymousId)).size, 1, 'same visitor');
});

test('sessionTimeoutMs is configurable', async () => {
    const { env, journey, clock } = await start({ load: { ...quiet, sessionTimeoutMs: 5 * MIN } });
    journey.track('a');
    await clock.tick(5 * MIN);
    journey.track('b');
    await clock.tick(1000);
    const [a, b] = sent(env);
    assert.notEqual(a.context.sessionId, b.context.sessionId);
});

test('identify() sets userId on later messages and survives a reload; reset() clears it and rotates ids', async () => {
    const storage = new MemoryStorage();
    const one = await start({ storage, load: quiet });
    one.journey.track('before');
    one.journey.identify('u-42', { plan: 'pro' });
    one.journey.track('after');
    await one.clock.tick(1000);
    const [before, identify, after] = sent(one.env);
    assert.equal(before.userId, undefined);
    assert.equal(identify.type, 'identify');
    assert.equal(identify.userId, 'u-42');
    assert.deepEqual(identify.traits, { plan: 'pro' });
    assert.equal(after.userId, 'u-42');

    const two = await start({ storage, load: quiet });
    two.journey.track('reloaded');
    two.journey.reset();
    two.journey.track('anonymous again');
    await two.clock.tick(1000);
    const [reloaded, anon] = sent(two.env);
    assert.equal(reloaded.userId, 'u-42');
    assert.equal(reloaded.anonymousId, before.anonymousId);
    assert.equal(anon.userId, undefined);
    assert.notEqual(anon.anonymousId, before.anonymousId);
    assert.notEqual(anon.context.sessionId, reloaded.context.sessionId, 'reset() starts a new session');
});

test('a new session id reconnects the live channel with that id', async () => {
    const { env, journey, clock } = await start({ load: { autocapture: false } });
    assert.equal(env.sockets.length, 1);
    const firstId = new URL(env.sockets[0].url).searchParams.get('sessionId');
    env.sockets[0].open();
    journey.reset();
    assert.equal(env.sockets[0].closed, true);
    assert.equal(env.sockets.length, 2);
    const secondId = new URL(env.sockets[1].url).searchParams.get('sessionId');
    assert.notEqual(secondId, firstId);
    // expiry by inactivity, noticed at the next message
    await clock.tick(31 * MIN);
    journey.track('back');
    assert.equal(env.sockets.length, 3);
    assert.notEqual(new URL(env.sockets[2].url).searchParams.get('sessionId'), secondId);
});
