// Privacy: values never leave, masked text never leaves, opt-out and Do Not Track stop everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { click, makeEnv, MemoryStorage, start, tracks } from '../testing/harness.mjs';

const SECRET = 'SECRET-4111-1111';

test('field values never leave the page: only lengths and validity', async () => {
    const html = `<body><form id="f"><input name="card" value="${SECRET}"><input type="password" name="pw">
        <textarea name="note">${SECRET}</textarea><select name="s"><option>${SECRET}</option></select>
        <input type="submit" value="${SECRET}"><label for="x">${SECRET}<input id="x"></label></form>
        <div contenteditable="true">${SECRET}</div></body>`;
    const { env, win, doc, journey, clock } = await start({ html, load: { live: false } });
    for (const el of doc.querySelectorAll('input,textarea,select,[contenteditable]')) {
        if (el.tagName === 'INPUT' && el.type !== 'submit') el.value = SECRET;
        el.focus();
        el.dispatchEvent(new win.Event('input', { bubbles: true }));
        el.dispatchEvent(new win.Event('change', { bubbles: true }));
        click(win, el);
        el.blur();
    }
    doc.querySelector('[name=card]').setCustomValidity('bad');
    doc.forms[0].checkValidity();
    doc.forms[0].dispatchEvent(new win.Event('submit', { bubbles: true, cancelable: true }));
    journey.validationError('card');
    win.dispatchEvent(new win.PageTransitionEvent('pagehide'));
    await clock.tick(5000);
    const wire = JSON.stringify([env.net.calls, env.beacons]);
    assert.ok(wire.length > 1000);
    assert.ok(!wire.includes('SECRET'), 'no value or field text anywhere on the wire');
    const blur = tracks(env, '$field_blur').find((m) => m.properties.field === 'card');
    assert.equal(blur.properties.length, SECRET.length);
    const clicks = tracks(env, '$click');
    assert.ok(clicks.length >= 6);
    assert.ok(clicks.every((m) => m.properties.text === ''), 'no text for inputs, textarea, select, contenteditable');
});

test('no text from inside [data-journey-mask], however deep', async () => {
    const html = `<body><div data-journey-mask><p><b>Jane Doe</b></p><button>Pay Jane</button></div>
        <button>Hello <span data-journey-mask>Jane Doe</span> there</button></body>`;
    const { env, win, doc, clock } = await start({ html, load: { live: false } });
    click(win, doc.querySelector('b'));
    click(win, doc.querySelector('[data-journey-mask] button'));
    click(win, doc.querySelectorAll('button')[1]);
    await clock.tick(2000);
    const texts = tracks(env, '$click').map((m) => m.properties.text);
    assert.deepEqual(texts, ['', '', 'Hello there']);
    assert.ok(!JSON.stringify(env.net.calls).includes('Jane'));
});

test('optOut() stops sending, clears the queue, closes the live channel and persists', async () => {
    const storage = new MemoryStorage();
    const { env, journey, net, clock, win, doc } = await start({ storage, html: '<body><p>x</p></body>' });
    net.reply(() => ({ status: 503 })); // keep something queued
    journey.track('queued');
    await clock.tick(1000);
    assert.equal(journey.stats().queued, 1);
    const calls = net.calls.length;
    journey.optOut();
    assert.equal(journey.stats().queued, 0, 'queue cleared');
    assert.equal(env.sockets[0].closed, true);
    journey.track('after');
    click(win, doc.querySelector('p'));
    win.dispatchEvent(new win.PageTransitionEvent('pagehide'));
    await clock.tick(120000);
    assert.equal(net.calls.length, calls, 'nothing sent, not even the pending retry');
    assert.equal(env.beacons.length, 0);
    assert.equal(storage.getItem('journey.optOut'), '1');

    // a later page load remembers the choice
    const next = await start({ storage });
    next.journey.track('x');
    await next.clock.tick(5000);
    assert.equal(next.net.calls.length, 0);
    assert.equal(next.env.sockets.length, 0);

    next.journey.optIn();
    assert.equal(next.env.sockets.length, 1, 'live channel back');
    next.journey.track('welcome back');
    await next.clock.tick(1000);
    assert.equal(next.net.batches()[0].body.batch[0].event, 'welcome back');
});

test('optOut() before load() is honoured from the start', async () => {
    const { loadTracker } = await import('../testing/harness.mjs');
    const { createJourney } = await loadTracker();
    const env = await makeEnv();
    const journey = createJourney(env, 'https://journey.test');
    journey.optOut();
    journey.load('KEY');
    await env.clock.tick(5000);
    assert.equal(env.net.calls.length, 0);
});

test('Do Not Track / Global Privacy Control block sending only with respectDoNotTrack', async () => {
    for (const [signal, set] of [
        ['doNotTrack', (nav) => Object.defineProperty(nav, 'doNotTrack', { value: '1', configurable: true })],
        ['globalPrivacyControl', (nav) => Object.defineProperty(nav, 'globalPrivacyControl', { value: true, configurable: true })],
    ]) {
        for (const respect of [true, false]) {
            const env = await makeEnv();
            set(env.win.navigator);
            const { env: e, clock } = await start({ env, load: { respectDoNotTrack: respect } });
            await clock.tick(2000);
            assert.equal(e.net.batches().length > 0, !respect, `${signal}, respectDoNotTrack=${respect}`);
            assert.equal(e.sockets.length > 0, !respect);
        }
    }
});

test('native invalid events never carry the browser\'s message: it can quote what the visitor typed', async () => {
    const html = `<body><form id="signup"><input name="email" type="email" required>
        <input name="coupon"></form></body>`;
    const { env, doc, journey, clock } = await start({ html, load: { live: false } });
    const email = doc.querySelector('[name=email]');
    email.value = 'sam@';
    // what Chrome says for this value; jsdom has no such text of its own
    const chrome = "Please enter a part following '@'. 'sam@' is incomplete.";
    Object.defineProperty(email, 'validationMessage', { get: () => chrome, configurable: true });
    // a site's own setCustomValidity text is still the browser's validationMessage: not sent either
    doc.querySelector('[name=coupon]').setCustomValidity('Coupon sam@ is unknown');
    doc.forms[0].checkValidity();
    journey.validationError('email', 'Use your work address '.repeat(20));
    await clock.tick(1000);
    const invalid = tracks(env, '$field_invalid').map((m) => m.properties);
    assert.deepEqual(invalid.slice(0, 2), [
        { form: 'signup', field: 'email', field_type: 'email', reason: 'typeMismatch', source: 'native' },
        { form: 'signup', field: 'coupon', field_type: 'text', reason: 'custom', source: 'native' },
    ]);
    assert.equal(invalid[2].source, 'api');
    assert.equal(invalid[2].message, 'Use your work address '.repeat(20).slice(0, 200), 'the site\'s own text, max 200');
    assert.ok(!JSON.stringify([env.net.calls, env.beacons]).includes('sam@'));
});

test('a click on a <video> or <audio> sends no text (their fallback content is not what the page shows)', async () => {
    const html = `<body><video id="v">Your browser cannot play this video.</video>
        <audio id="a">No audio here.</audio></body>`;
    const { env, win, doc, clock } = await start({ html, load: { live: false } });
    click(win, doc.getElementById('v'));
    click(win, doc.getElementById('a'));
    await clock.tick(2000);
    const clicks = tracks(env, '$click');
    assert.equal(clicks.length, 2);
    assert.ok(clicks.every((m) => m.properties.text === ''), JSON.stringify(clicks.map((m) => m.properties.text)));
});
