// Interventions: dedup, handlers, the accessible dialog, tooltip, chat panel, lifecycle responses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOST, key, start, tracks } from '../testing/harness.mjs';

const offer = (id, extra = {}) => ({
    type: 'intervention',
    id,
    action: 'live_chat_offer',
    title: null,
    message: 'Having trouble with the Income field? We can help.',
    selector: null,
    payload: null,
    expires_at: null,
    ...extra,
});

async function page(opts = {}) {
    const t = await start({
        html: '<body><label for="income">Income</label><input id="income" name="income"><p id="tip-anchor">Total</p></body>',
        load: { autocapture: { clicks: false, forms: false, pageviews: false }, ...opts.load },
    });
    const socket = t.env.sockets[0];
    socket.open();
    const ui = () => t.doc.querySelector('[data-journey-ui]');
    const root = () => ui() && ui().shadowRoot;
    const responses = () =>
        t.net.calls.filter((c) => c.url.includes('/response')).map((c) => [decodeURIComponent(c.url.split('/')[5]), c.body.status]);
    return { ...t, socket, ui, root, responses };
}

test('live_chat_offer renders an accessible modal dialog and reports "shown"', async () => {
    const t = await page();
    const input = t.doc.getElementById('income');
    input.focus();
    t.socket.deliver(offer('iv_1'));
    await t.clock.tick(0);

    const root = t.root();
    const dialog = root.querySelector('[role=dialog]');
    assert.ok(dialog, 'rendered inside the shadow root of [data-journey-ui]');
    assert.equal(dialog.getAttribute('aria-modal'), 'true');
    const title = root.getElementById(dialog.getAttribute('aria-labelledby'));
    assert.equal(title.textContent, 'Need help?');
    assert.equal(title.tagName, 'H2');
    const desc = root.getElementById(dialog.getAttribute('aria-describedby'));
    assert.equal(desc.textContent, 'Having trouble with the Income field? We can help.');
    const buttons = [...dialog.querySelectorAll('button')];
    assert.deepEqual(
        buttons.map((b) => b.getAttribute('aria-label') || b.textContent),
        ['Close', 'Maybe later', 'Start live chat'],
    );
    assert.ok(buttons.every((b) => b.getAttribute('type') === 'button'));
    assert.equal(root.activeElement.textContent, 'Start live chat', 'focus moved into the dialog');
    assert.equal(t.doc.activeElement, t.ui());

    assert.deepEqual(t.responses(), [['iv_1', 'shown']]);
    const call = t.net.calls.find((c) => c.url.includes('/response'));
    assert.equal(call.url, HOST + '/v1/interventions/iv_1/response?writeKey=KEY');
    assert.equal(call.init.method, 'POST');
    assert.equal(call.init.keepalive, true);
    assert.equal(call.body.sessionId, new URL(t.socket.url).searchParams.get('sessionId'));
    // styles come from a constructed sheet or a <style> inside the shadow root, never style=""
    assert.ok(root.adoptedStyleSheets.length === 1 || root.querySelector('style'));
    assert.equal(root.querySelector('[style]'), null);
});

test('focus is trapped: Tab and Shift+Tab cycle inside; focus elsewhere is pulled back', async () => {
    const t = await page();
    t.socket.deliver(offer('iv_1', { title: 'Stuck on income?' }));
    await t.clock.tick(0);
    const root = t.root();
    assert.equal(root.querySelector('h2').textContent, 'Stuck on income?', 'the server title is used');
    const label = () => root.activeElement && (root.activeElement.getAttribute('aria-label') || root.activeElement.textContent);
    assert.equal(label(), 'Start live chat');
    const tab = (shift) => key(t.win, root.activeElement, 'Tab', { shiftKey: shift });
    let e = tab(false);
    assert.equal(e.defaultPrevented, true);
    assert.equal(label(), 'Close', 'Tab on the last control wraps to the first');
    tab(false);
    assert.equal(label(), 'Maybe later');
    tab(true);
    assert.equal(label(), 'Close');
    tab(true);
    assert.equal(label(), 'Start live chat', 'Shift+Tab on the first wraps to the last');
    // Tab pressed while focus somehow sits on the page still lands in the dialog
    t.doc.body.focus();
    key(t.win, t.doc.body, 'Tab');
    assert.ok(root.activeElement);
    // the page grabbing focus is undone
    t.doc.getElementById('income').focus();
    assert.equal(t.doc.activeElement, t.ui());
});

test('Escape = dismissed: dialog removed, response sent, focus returns to where it was', async () => {
    const t = await page();
    const input = t.doc.getElementById('income');
    input.focus();
    t.socket.deliver(offer('iv_9'));
    await t.clock.tick(0);
    const e = key(t.win, t.root().activeElement, 'Escape');
    assert.equal(e.defaultPrevented, true);
    await t.clock.tick(0);
    assert.equal(t.root().querySelector('[role=dialog]'), null);
    assert.equal(t.doc.activeElement, input, 'focus returned');
    assert.deepEqual(t.responses(), [
        ['iv_9', 'shown'],
        ['iv_9', 'dismissed'],
    ]);
    // the trap is gone: Tab is the page's again
    assert.equal(key(t.win, input, 'Tab').defaultPrevented, false);
});

test('buttons: close = dismissed, "Maybe later" = declined', async () => {
    const t = await page();
    t.socket.deliver(offer('a'));
    await t.clock.tick(0);
    t.root().querySelector('button[aria-label=Close]').click();
    t.socket.deliver(offer('b'));
    await t.clock.tick(0);
    [...t.root().querySelectorAll('button')].find((b) => b.textContent === 'Maybe later').click();
    await t.clock.tick(0);
    assert.deepEqual(t.responses(), [
        ['a', 'shown'],
        ['a', 'dismissed'],
        ['b', 'shown'],
        ['b', 'declined'],
    ]);
});

test('"Start live chat" = accepted, then the built-in chat panel; messages report only their length', async () => {
    const t = await page();
    const { CHAT_NOTICE } = await (await import('../testing/harness.mjs')).loadTracker();
    t.socket.deliver(offer('iv_c', { action: 'priority_route' }));
    await t.clock.tick(0);
    t.root().querySelector('.pri').click();
    await t.clock.tick(0);
    assert.deepEqual(t.responses(), [
        ['iv_c', 'shown'],
        ['iv_c', 'accepted'],
    ]);
    const panel = t.root().querySelector('[role=dialog]');
    assert.equal(t.root().getElementById(panel.getAttribute('aria-labelledby')).textContent, 'Live chat');
    const textarea = panel.querySelector('textarea');
    const label = panel.querySelector(`label[for="${textarea.id}"]`);
    assert.equal(label.textContent, 'Your message');
    assert.equal(t.root().activeElement, textarea);
    assert.ok(panel.querySelector('[role=log]'));
    textarea.value = 'My salary is 123456 per year';
    panel.querySelector('form').dispatchEvent(new t.win.Event('submit', { cancelable: true }));
    await t.clock.tick(1000);
    const [msg] = tracks(t.env, '$chat_message');
    assert.deepEqual(msg.properties, { length: 28 });
    assert.ok(!JSON.stringify(t.net.calls).includes('salary'));
    assert.ok(panel.querySelector('[role=log]').textContent.includes(CHAT_NOTICE));
    key(t.win, textarea, 'Escape');
    assert.equal(t.root().querySelector('[role=dialog]'), null);
});

test('on("chat") handlers replace the built-in panel', async () => {
    const t = await page();
    const got = [];
    t.journey.on('chat', (x) => got.push(x));
    t.socket.deliver(offer('iv_h'));
    await t.clock.tick(0);
    t.root().querySelector('.pri').click();
    assert.equal(got.length, 1);
    assert.equal(got[0].interventionId, 'iv_h');
    assert.match(got[0].sessionId, /^\d+-/);
    assert.equal(t.root().querySelector('[role=dialog]'), null);
});

test('an intervention delivered twice (socket and poll) is handled once', async () => {
    const t = await page();
    const seen = [];
    t.journey.on('intervention', (iv) => seen.push(iv.id));
    t.socket.deliver(offer('dup'));
    t.socket.deliver(offer('dup'));
    await t.clock.tick(0);
    assert.deepEqual(seen, ['dup']);
    assert.equal(t.root().querySelectorAll('[role=dialog]').length, 1);
    assert.deepEqual(t.responses(), [['dup', 'shown']]);
});

test('one dialog at a time: the next waits until the first is closed', async () => {
    const t = await page();
    t.socket.deliver(offer('first'));
    t.socket.deliver(offer('second', { message: 'Second offer' }));
    await t.clock.tick(0);
    assert.equal(t.root().querySelectorAll('[role=dialog]').length, 1);
    assert.deepEqual(t.responses(), [['first', 'shown']]);
    key(t.win, t.root().activeElement, 'Escape');
    await t.clock.tick(0);
    const dialogs = t.root().querySelectorAll('[role=dialog]');
    assert.equal(dialogs.length, 1);
    assert.ok(dialogs[0].textContent.includes('Second offer'));
    assert.deepEqual(t.responses().slice(1), [
        ['first', 'dismissed'],
        ['second', 'shown'],
    ]);
});

test('handlers see every intervention first; returning false suppresses rendering; custom renders nothing', async () => {
    const t = await page();
    const seen = [];
    t.journey.on('intervention', (iv) => {
        seen.push([iv.id, iv.action, iv.payload]);
        return iv.id !== 'mine';
    });
    t.journey.on('intervention', () => {
        throw new Error('a broken handler does not stop the others');
    });
    t.socket.deliver(offer('mine'));
    t.socket.deliver({ type: 'intervention', id: 'c1', action: 'custom', payload: { coupon: 'SAVE10' } });
    await t.clock.tick(0);
    assert.deepEqual(seen, [
        ['mine', 'live_chat_offer', null],
        ['c1', 'custom', { coupon: 'SAVE10' }],
    ]);
    assert.equal(t.ui(), null, 'nothing rendered at all');
    assert.deepEqual(t.responses(), []);
    t.journey.respond('c1', 'accepted');
    await t.clock.tick(0);
    assert.deepEqual(t.responses(), [['c1', 'accepted']]);
});

test('tooltip: a bubble next to the selector\'s element, Escape = dismissed; no match = nothing', async () => {
    const t = await page();
    const seen = [];
    t.journey.on('intervention', (iv) => seen.push(iv.id));
    t.socket.deliver({ type: 'intervention', id: 'nope', action: 'tooltip', selector: '#missing', message: 'x' });
    t.socket.deliver({ type: 'intervention', id: 'bad', action: 'tooltip', selector: '[[', message: 'x' });
    await t.clock.tick(0);
    assert.deepEqual(seen, ['nope', 'bad']);
    assert.equal(t.ui(), null);
    assert.deepEqual(t.responses(), []);

    t.socket.deliver({ type: 'intervention', id: 'tip', action: 'tooltip', selector: '#tip-anchor', message: 'Totals include VAT' });
    await t.clock.tick(200);
    const tip = t.root().querySelector('[role=tooltip]');
    assert.ok(tip.textContent.includes('Totals include VAT'));
    assert.ok(tip.style.top.endsWith('px') && tip.style.left.endsWith('px'), 'placed with CSSOM, not style=""');
    assert.equal(t.root().querySelector('[role=status]').textContent, 'Totals include VAT', 'announced');
    assert.equal(t.root().activeElement, null, 'a tooltip does not steal focus');
    key(t.win, t.doc.body, 'Escape');
    await t.clock.tick(0);
    assert.equal(t.root().querySelector('[role=tooltip]'), null);
    assert.deepEqual(t.responses(), [
        ['tip', 'shown'],
        ['tip', 'dismissed'],
    ]);
});

test('expired interventions are ignored (using the server clock from "hello")', async () => {
    const t = await page();
    const seen = [];
    t.journey.on('intervention', (iv) => seen.push(iv.id));
    const now = t.clock.now();
    t.socket.deliver({ type: 'hello', session_id: 's', server_time: new Date(now + 60000).toISOString() });
    t.socket.deliver(offer('old', { expires_at: new Date(now + 30000).toISOString() })); // past on server time
    t.socket.deliver(offer('fresh', { expires_at: new Date(now + 120000).toISOString() }));
    await t.clock.tick(0);
    assert.deepEqual(seen, ['fresh']);
});

test('lifecycle responses are retried on 5xx, with backoff', async () => {
    const t = await page();
    let n = 0;
    t.net.reply((call) => (call.url.includes('/response') && ++n <= 2 ? { status: 502 } : { status: 200 }));
    t.socket.deliver(offer('r'));
    await t.clock.tick(0);
    assert.equal(t.responses().length, 1);
    await t.clock.tick(375);
    assert.equal(t.responses().length, 2);
    await t.clock.tick(750);
    assert.equal(t.responses().length, 3);
    await t.clock.tick(60000);
    assert.equal(t.responses().length, 3);
});

test('an offer is drawn in the same task it arrives in: no loading, no waiting (latency budget)', async () => {
    const t = await page();
    t.socket.deliver({ type: 'intervention', id: 'c', action: 'custom', payload: {} });
    t.socket.deliver({ type: 'intervention', id: 't0', action: 'tooltip', selector: '#missing', message: 'x' });
    assert.equal(t.ui(), null, 'custom and unanchored tooltips draw nothing, not even the host element');

    const calls = t.net.calls.length;
    t.socket.deliver(offer('now'));
    t.socket.deliver({ type: 'intervention', id: 'tip', action: 'tooltip', selector: '#tip-anchor', message: 'm' });
    // no clock tick, no awaited promise: both are on screen as soon as deliver() returns
    assert.ok(t.root().querySelector('[role=dialog]'));
    assert.ok(t.root().querySelector('[role=tooltip]'));
    assert.equal(t.doc.querySelectorAll('[data-journey-ui]').length, 1, 'one host for everything');
    assert.equal(t.doc.querySelector('script'), null, 'nothing loaded');
    assert.deepEqual(
        t.net.calls.slice(calls).map((c) => c.url.split('?')[0]),
        [HOST + '/v1/interventions/now/response', HOST + '/v1/interventions/tip/response'],
        'the only requests are the "shown" responses',
    );
    await t.clock.tick(0);
    assert.deepEqual(t.responses(), [
        ['now', 'shown'],
        ['tip', 'shown'],
    ]);
});

test('with a tooltip and a dialog open, Escape closes the dialog only; the next Escape the tooltip', async () => {
    const t = await page();
    t.socket.deliver({ type: 'intervention', id: 'tip', action: 'tooltip', selector: '#tip-anchor', message: 'VAT' });
    await t.clock.tick(0);
    t.socket.deliver(offer('dlg'));
    await t.clock.tick(0);
    key(t.win, t.root().activeElement, 'Escape');
    assert.equal(t.root().querySelector('[role=dialog]'), null);
    assert.ok(t.root().querySelector('[role=tooltip]'));
    key(t.win, t.doc.body, 'Escape');
    assert.equal(t.root().querySelector('[role=tooltip]'), null);
    await t.clock.tick(0);
    assert.deepEqual(t.responses().filter((r) => r[1] === 'dismissed').map((r) => r[0]), ['dlg', 'tip']);
});
