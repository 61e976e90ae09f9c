// Autocapture (src/autocapture/*): what each browser event becomes, per docs/protocol.md.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { click, loadTracker, makeEnv, sent, start, tracks } from '../testing/harness.mjs';

const noLive = { live: false };
const props = (env, event) => tracks(env, event).map((m) => m.properties);

test('$click: selector, text, tag, page coordinates, interactive, disabled', async () => {
    const html = `<body><main id="shop"><div class="row css-1a2b3c"><button class="btn primary">
        <span>Buy   now</span></button><button disabled>Pay</button></div><p>plain text</p></main></body>`;
    const { env, win, doc } = await start({ html, load: noLive });
    Object.defineProperty(win, 'scrollY', { value: 100, configurable: true });
    click(win, doc.querySelector('span'), { clientX: 10.4, clientY: 20.6 });
    click(win, doc.querySelector('button[disabled]'));
    click(win, doc.querySelector('p'));
    const [buy, pay, p] = props(env, '$click');
    assert.deepEqual(buy, {
        selector: '#shop > div.row > button.btn.primary:nth-of-type(1)',
        tag: 'button',
        x: 10,
        y: 121,
        text: 'Buy now',
        interactive: true,
        disabled: false,
    });
    assert.equal(pay.disabled, true);
    assert.equal(pay.text, 'Pay');
    assert.equal(p.interactive, false);
    assert.equal(p.selector, '#shop > p');
    assert.equal(p.text, 'plain text');
});

test('tabindex="-1" (a skip-link target) does not make everything inside it interactive', async () => {
    const html = `<body><main id="content" tabindex="-1"><p class="lead">Rates</p><button>Apply</button>
        <div class="card" tabindex="0"><span>Focusable card</span></div><div class="bad" tabindex="x"><b>x</b></div></main></body>`;
    const { env, win, doc, clock } = await start({ html, load: noLive });
    click(win, doc.querySelector('p'));
    click(win, doc.querySelector('button'));
    click(win, doc.querySelector('.card span'));
    click(win, doc.querySelector('.bad b'));
    click(win, doc.querySelector('main'));
    await clock.tick(0); // at most 3 requests in flight: let the last clicks go out
    const got = props(env, '$click').map((p) => [p.selector, p.tag, p.interactive]);
    assert.deepEqual(got, [
        ['#content > p.lead', 'p', false],
        ['#content > button', 'button', true],
        ['#content > div.card:nth-of-type(1)', 'div', true],
        ['#content > div.bad:nth-of-type(2) > b', 'b', false],
        ['#content', 'main', false],
    ]);
});

test('selectors skip generated ids and classes and stop after 5 levels', async () => {
    const { selector } = await loadTracker();
    const env = await makeEnv({
        html: `<body><div id="ember123"><section><div><ul><li><a class="sc-xyz jsx-99 nav" id="a1b2c3d4e5">x</a></li></ul></div></section></div></body>`,
    });
    const a = env.win.document.querySelector('a');
    assert.equal(selector(a), 'section > div > ul > li > a.nav');
});

test('$dead_click when nothing happens within 1000 ms', async () => {
    const { env, win, doc, clock } = await start({ html: '<body><div class="card">Plan</div></body>', load: noLive });
    click(win, doc.querySelector('.card'), { clientX: 5, clientY: 6 });
    const [c] = tracks(env, '$click');
    await clock.tick(999);
    assert.equal(tracks(env, '$dead_click').length, 0);
    await clock.tick(1);
    const [dead] = tracks(env, '$dead_click');
    assert.deepEqual(dead.properties, {
        selector: 'body > div.card',
        tag: 'div',
        x: 5,
        y: 6,
        click_id: c.messageId,
        wait_ms: 1000,
    });
});

test('no $dead_click after a DOM mutation, a fetch, an XHR or an SPA navigation', async () => {
    const html = '<body><button id="b">Go</button></body>';
    const cases = {
        mutation: (win, doc) => doc.body.appendChild(doc.createElement('p')),
        attribute: (win, doc) => doc.body.setAttribute('data-open', 'yes'),
        fetch: (win) => win.fetch('/api'),
        xhr: (win) => {
            const x = new win.XMLHttpRequest();
            x.open('GET', 'data:,x');
            try {
                x.send();
            } catch (e) {
                /* jsdom may refuse; the send was still attempted */
            }
        },
        navigation: (win) => win.history.pushState({}, '', '/next'),
    };
    for (const [name, act] of Object.entries(cases)) {
        const env = await makeEnv({ html });
        env.win.fetch = () => new Promise(() => {}); // the page's own fetch, wrapped by the tracker
        const { createJourney } = await loadTracker();
        const journey = createJourney(env, 'https://journey.test');
        journey.load('KEY', noLive);
        const { win, clock } = env;
        const doc = win.document;
        doc.getElementById('b').addEventListener('click', () => clock.setTimeout(() => act(win, doc), 300));
        click(win, doc.getElementById('b'));
        await clock.tick(2000);
        assert.equal(tracks(env, '$click').length, 1, name);
        assert.equal(tracks(env, '$dead_click').length, 0, name + ' counts as something happening');
        win.close();
    }
});

test('the tracker\'s own requests do not count as activity; links and form fields are not checked', async () => {
    const html = '<body><div id="d">x</div><a id="a" href="/elsewhere">link</a><input id="i"></body>';
    const { env, win, doc, clock } = await start({ html, load: noLive });
    click(win, doc.getElementById('d')); // its $click goes out by fetch at once
    click(win, doc.getElementById('a'));
    click(win, doc.getElementById('i'));
    await clock.tick(1500);
    assert.deepEqual(props(env, '$dead_click').map((p) => p.selector), ['#d']);
});

test('form fields: focus, blur, change with name, type, length and validity', async () => {
    const html = `<body><form id="signup"><input name="email" type="email" required>
        <select name="plan"><option value="">-</option><option value="pro">Pro</option></select>
        <input type="checkbox" name="terms"></form><textarea id="notes"></textarea></body>`;
    const { env, win, doc, clock } = await start({ html, load: noLive });
    const email = doc.querySelector('[name=email]');
    email.focus();
    await clock.tick(1500);
    email.value = 'not-an-email';
    email.dispatchEvent(new win.Event('input', { bubbles: true }));
    email.dispatchEvent(new win.Event('change', { bubbles: true }));
    email.blur();
    const plan = doc.querySelector('[name=plan]');
    plan.value = 'pro';
    plan.dispatchEvent(new win.Event('change', { bubbles: true }));
    plan.dispatchEvent(new win.Event('change', { bubbles: true }));
    doc.querySelector('[name=terms]').click();
    const notes = doc.getElementById('notes');
    notes.focus();
    notes.blur();
    await clock.tick(1000);

    assert.deepEqual(props(env, '$field_focus')[0], { form: 'signup', field: 'email', field_type: 'email' });
    assert.deepEqual(props(env, '$field_blur')[0], {
        form: 'signup',
        field: 'email',
        field_type: 'email',
        length: 12,
        valid: false,
        dwell_ms: 1500,
    });
    const changes = props(env, '$field_change');
    assert.deepEqual(changes[0], { form: 'signup', field: 'email', field_type: 'email', length: 12, valid: false, change_count: 1 });
    assert.deepEqual(changes.slice(1, 3).map((c) => [c.field, c.field_type, c.length, c.change_count]), [
        ['plan', 'select', 3, 1],
        ['plan', 'select', 3, 2],
    ]);
    assert.deepEqual(changes[3], { form: 'signup', field: 'terms', field_type: 'checkbox', length: 1, valid: true, change_count: 1 });
    assert.deepEqual(props(env, '$field_blur')[1], { form: '', field: 'notes', field_type: 'textarea', length: 0, valid: true, dwell_ms: 0 });
});

test('native invalid events become $field_invalid with the first ValidityState reason', async () => {
    const html = `<body><form name="pay"><input name="card" required><input name="age" type="number" min="18">
        <input name="code" pattern="[A-Z]{3}"></form></body>`;
    const { env, doc, clock } = await start({ html, load: noLive });
    doc.querySelector('[name=age]').value = '12';
    doc.querySelector('[name=code]').value = 'abc';
    const custom = doc.createElement('input');
    custom.name = 'coupon';
    doc.forms[0].appendChild(custom);
    custom.setCustomValidity('Coupon expired');
    doc.forms[0].checkValidity();
    await clock.tick(0);
    const got = props(env, '$field_invalid').map((p) => [p.form, p.field, p.field_type, p.reason, p.source]);
    assert.deepEqual(got, [
        ['pay', 'card', 'text', 'valueMissing', 'native'],
        ['pay', 'age', 'number', 'rangeUnderflow', 'native'],
        ['pay', 'code', 'text', 'patternMismatch', 'native'],
        ['pay', 'coupon', 'text', 'custom', 'native'],
    ]);
    assert.ok(props(env, '$field_invalid').every((p) => !('message' in p)), 'no message from native events');
});

test('validationError() API: by name, by element, with a form override, or for an unknown field', async () => {
    const html = '<body><form id="loan"><input name="income" type="number"></form></body>';
    const { env, journey, doc, net } = await start({ html, load: noLive });
    const before = net.batches().length;
    journey.validationError('income', 'Income must be a yearly amount');
    assert.equal(net.batches().length, before + 1, '$field_invalid flushes at once');
    journey.validationError(doc.querySelector('input'), 'Too low', { form: 'step-2' });
    journey.validationError('promo', undefined, { form: 'cart' });
    journey.validationError(42);
    assert.deepEqual(props(env, '$field_invalid'), [
        { form: 'loan', field: 'income', field_type: 'number', reason: 'custom', message: 'Income must be a yearly amount', source: 'api' },
        { form: 'step-2', field: 'income', field_type: 'number', reason: 'custom', message: 'Too low', source: 'api' },
        { form: 'cart', field: 'promo', field_type: '', reason: 'custom', message: '', source: 'api' },
    ]);
});

test('$form_submit, and $page_leave counting fields left filled in unsent forms', async () => {
    const html = `<body><form id="a"><input name="x"><input name="y"><input type="hidden" name="h" value="1">
        <button>Send</button></form><form id="b"><input name="z"></form></body>`;
    const { env, win, doc, clock } = await start({ html, load: noLive });
    const type = (el, v) => {
        el.value = v;
        el.dispatchEvent(new win.Event('input', { bubbles: true }));
    };
    type(doc.querySelector('[name=x]'), 'hello');
    type(doc.querySelector('[name=z]'), 'abc');
    doc.getElementById('a').dispatchEvent(new win.Event('submit', { bubbles: true, cancelable: true }));
    assert.deepEqual(props(env, '$form_submit'), [{ form: 'a', field_count: 2, filled_count: 1, valid: true }]);
    await clock.tick(4000);
    win.dispatchEvent(new win.PageTransitionEvent('pagehide'));
    const [leave] = props(env, '$page_leave');
    assert.deepEqual(leave, { dwell_ms: 4000, max_depth: 100, fields_filled: 1, forms_started: ['b'] });
});

test('$js_error for uncaught errors and unhandled rejections, truncated, capped per page', async () => {
    const { env, win, clock } = await start({ load: noLive });
    const err = new Error('x'.repeat(400));
    err.stack = 'y'.repeat(2000);
    win.dispatchEvent(new win.ErrorEvent('error', { message: err.message, filename: 'https://shop.example/app.js', lineno: 12, colno: 7, error: err }));
    const ev = new win.Event('unhandledrejection');
    ev.reason = new TypeError('fetch failed');
    win.dispatchEvent(ev);
    const ev2 = new win.Event('unhandledrejection');
    ev2.reason = 'plain string';
    win.dispatchEvent(ev2);
    win.dispatchEvent(new win.Event('error')); // a resource error: no message, ignored
    const [e1, e2, e3] = props(env, '$js_error');
    assert.equal(e1.message.length, 300);
    assert.equal(e1.stack.length, 1000);
    assert.deepEqual([e1.source, e1.line, e1.column, e1.kind], ['https://shop.example/app.js', 12, 7, 'error']);
    assert.deepEqual([e2.message, e2.kind, e2.line, e2.source], ['fetch failed', 'unhandledrejection', 0, '']);
    assert.equal(e3.message, 'plain string');
    for (let i = 0; i < 30; i++) win.dispatchEvent(new win.ErrorEvent('error', { message: 'loop ' + i }));
    await clock.tick(1000);
    assert.equal(props(env, '$js_error').length, 20);
});

test('$scroll at new 25% steps and on direction reversals (debounced 250 ms)', async () => {
    const { env, win, doc, clock } = await start({ load: noLive });
    Object.defineProperty(doc.documentElement, 'scrollHeight', { value: 4000, configurable: true });
    Object.defineProperty(win, 'innerHeight', { value: 1000, configurable: true });
    const scrollTo = async (y) => {
        Object.defineProperty(win, 'scrollY', { value: y, configurable: true });
        win.dispatchEvent(new win.Event('scroll'));
        await clock.tick(100);
        win.dispatchEvent(new win.Event('scroll')); // still moving: the debounce restarts
        await clock.tick(250);
    };
    // the page view on load saw 1000/4000 = 25%
    win.history.pushState({}, '', '/reset-page-state'); // a fresh page view measures again
    await scrollTo(500); // 38%: no new step
    await scrollTo(1100); // 53%: step 50
    await scrollTo(1105); // below the 10 px threshold
    await scrollTo(600); // reversal
    await scrollTo(3000); // reversal + 100%
    await clock.tick(1000);
    assert.deepEqual(props(env, '$scroll'), [
        { depth: 53, y: 1100, direction: 'down', reversals: 0 },
        { depth: 53, y: 600, direction: 'up', reversals: 1 },
        { depth: 100, y: 3000, direction: 'down', reversals: 2 },
    ]);
    win.dispatchEvent(new win.PageTransitionEvent('pagehide'));
    assert.equal(props(env, '$page_leave')[0].max_depth, 100);
});

test('page views: on load and on SPA navigation, with the previous URL as referrer', async () => {
    const { env, win } = await start({ load: noLive });
    win.history.pushState({}, '', '/step-2');
    win.history.replaceState({}, '', '/step-2?tidy=1'); // same path: no page view
    win.history.replaceState({}, '', '/step-3'); // path changed
    win.location.hash = '#faq'; // jsdom fires hashchange asynchronously
    await new Promise((r) => setTimeout(r, 20));
    win.dispatchEvent(new win.PopStateEvent('popstate')); // same URL again: no duplicate
    const pages = sent(env).filter((m) => m.type === 'page');
    assert.deepEqual(
        pages.map((p) => [p.properties.path, p.properties.referrer]),
        [
            ['/checkout', 'https://search.example/'],
            ['/step-2', 'https://shop.example/checkout?step=1'],
            ['/step-3', 'https://shop.example/step-2'],
            ['/step-3', 'https://shop.example/step-3'],
        ],
    );
    assert.equal(pages[3].properties.url, 'https://shop.example/step-3#faq');
    assert.equal(pages[0].name, 'Checkout');
    assert.deepEqual(pages[0].context.page, pages[0].properties);
});

test('page(name, properties) by hand; autocapture groups can be switched off', async () => {
    const { env, journey, win, doc } = await start({
        html: '<body><button>b</button></body>',
        load: { live: false, autocapture: { pageviews: false, clicks: false } },
    });
    journey.page('Pricing', { variant: 'B' });
    click(win, doc.querySelector('button'));
    win.dispatchEvent(new win.ErrorEvent('error', { message: 'still captured' }));
    const pages = sent(env).filter((m) => m.type === 'page');
    assert.equal(pages.length, 1);
    assert.equal(pages[0].name, 'Pricing');
    assert.equal(pages[0].properties.variant, 'B');
    assert.equal(pages[0].properties.path, '/checkout');
    assert.equal(tracks(env, '$click').length, 0);
    assert.equal(tracks(env, '$js_error').length, 1);
});

test('$visibility on visibilitychange', async () => {
    const { env, doc, win, clock } = await start({ load: noLive });
    for (const state of ['hidden', 'visible']) {
        Object.defineProperty(doc, 'visibilityState', { value: state, configurable: true });
        doc.dispatchEvent(new win.Event('visibilitychange'));
    }
    await clock.tick(1000);
    assert.deepEqual(props(env, '$visibility'), [{ state: 'hidden' }, { state: 'visible' }]);
});

test('a click on a <label> is one $click: the click the browser forwards to its control is not reported', async () => {
    const html = `<body><label for="c" id="l">I agree</label><input type="checkbox" id="c">
        <label id="wrap">Wrapped <input type="checkbox" id="w"></label></body>`;
    const { env, win, doc, clock } = await start({ html, load: { live: false } });
    doc.getElementById('l').click();
    doc.getElementById('wrap').click();
    await clock.tick(10);
    doc.getElementById('c').click(); /* the box itself, a moment later: a click of its own */
    await clock.tick(2000);
    assert.equal(doc.getElementById('c').checked, false, 'jsdom forwarded the label click (checked, then unchecked)');
    const clicks = tracks(env, '$click').map((m) => m.properties.selector);
    assert.deepEqual(clicks, ['#l', '#wrap', '#c']);
});

test('no $dead_click when the click moves the focus elsewhere or scrolls the page; focusing itself is not enough', async () => {
    const html = `<body><button id="go">Fix it</button><input id="field">
        <button id="self">Nothing</button><button id="scroll">Down</button></body>`;
    const { env, win, doc, clock } = await start({ html, load: { live: false } });
    doc.getElementById('go').addEventListener('click', () => doc.getElementById('field').focus());
    doc.getElementById('scroll').addEventListener('click', () => win.dispatchEvent(new win.Event('scroll')));
    for (const id of ['go', 'self', 'scroll']) {
        const el = doc.getElementById(id);
        el.focus(); /* a real click focuses the button itself */
        click(win, el);
        await clock.tick(1500);
    }
    const dead = tracks(env, '$dead_click').map((m) => m.properties.selector);
    assert.deepEqual(dead, ['#self']);
});
