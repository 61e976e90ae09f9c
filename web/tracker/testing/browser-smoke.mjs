#!/usr/bin/env node
/*
 * browser-smoke.mjs: a manual smoke check of the built tracker in headless Chromium (not part of
 * `node --test`; run `node web/build.mjs tracker && node web/tracker/testing/browser-smoke.mjs`).
 *
 * Two throwaway servers on 127.0.0.1 (nothing else is contacted):
 *   site     a page with a form, served with a strict CSP: script-src 'self' + journey,
 *            style-src 'self', connect-src journey (so inline styles or scripts would be refused)
 *   journey  a stand-in Journey server: journey.js, /v1/batch (CORS, Basic auth), the beacon route,
 *            /v1/live (a minimal WebSocket: pushes one live_chat_offer after the first $dead_click),
 *            /v1/interventions/{id}/response
 * The browser clicks, types (an email address the browser finds invalid, whose native validation message
 * quotes it), receives the offer, renders it in light and dark colour schemes, uses the dialog by
 * keyboard, leaves the page; the script checks what arrived (and that no script but journey.js was ever
 * requested: the dialog needs no further fetch) and prints a summary. Exit code 0 when every check passed.
 * SMOKE_DEBUG=1 also logs every request the stand-in server sees and the batches' contents.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const DIST = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const received = { batches: [], beacons: [], responses: [], scripts: [], preflights: 0, auth: new Set(), beaconTypes: new Set() };
const sockets = [];

/* ---- a minimal WebSocket (RFC 6455): handshake, unmasked text frames out, close in ---- */
function acceptSocket(req, sock) {
    const accept = createHash('sha1')
        .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
        .digest('base64');
    sock.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const ws = {
        url: req.url,
        send(obj) {
            const data = Buffer.from(JSON.stringify(obj));
            const head = data.length < 126 ? Buffer.from([0x81, data.length]) : Buffer.from([0x81, 126, data.length >> 8, data.length & 255]);
            sock.write(Buffer.concat([head, data]));
        },
    };
    sock.on('data', (buf) => {
        if ((buf[0] & 15) === 8) sock.end();
    });
    sock.on('error', () => {});
    sockets.push(ws);
    ws.send({ type: 'hello', session_id: new URL(req.url, 'http://x').searchParams.get('sessionId'), server_time: new Date().toISOString() });
}

function body(req) {
    return new Promise((resolve) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
}

let offered = false;
const journey = http.createServer(async (req, res) => {
    if (process.env.SMOKE_DEBUG) console.error('journey:', req.method, req.url);
    const url = new URL(req.url, 'http://127.0.0.1');
    const cors = {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET, POST',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type',
        'Access-Control-Expose-Headers': 'Retry-After',
    };
    if (req.method === 'OPTIONS') {
        received.preflights++;
        res.writeHead(204, cors).end();
        return;
    }
    if (req.method === 'GET' && /^\/journey(\.debug)?\.js$/.test(url.pathname)) {
        received.scripts.push(url.pathname);
        res.writeHead(200, { 'Content-Type': 'text/javascript', ...cors }).end(readFileSync(path.join(DIST, url.pathname)));
        return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/batch') {
        received.auth.add(req.headers.authorization);
        const b = JSON.parse(await body(req));
        received.batches.push(b);
        if (!offered && b.batch.some((m) => m.event === '$dead_click')) {
            offered = true;
            setTimeout(() => sockets.at(-1).send({
                type: 'intervention', id: 'iv_smoke', action: 'live_chat_offer', title: null,
                message: 'Having trouble with the Income field? We can help.', selector: null, payload: null,
                expires_at: new Date(Date.now() + 120000).toISOString(),
            }), 100);
        }
        res.writeHead(200, { 'Content-Type': 'application/json', ...cors }).end('{"success":true}');
        return;
    }
    if (req.method === 'POST' && url.pathname === '/beacon/v1/batch') {
        received.beaconTypes.add(req.headers['content-type']);
        received.beacons.push({ key: url.searchParams.get('writeKey'), body: JSON.parse(await body(req)) });
        res.writeHead(204, cors).end();
        return;
    }
    const m = /^\/v1\/interventions\/([^/]+)\/response$/.exec(url.pathname);
    if (req.method === 'POST' && m) {
        received.responses.push([m[1], JSON.parse(await body(req)).status]);
        res.writeHead(200, { 'Content-Type': 'application/json', ...cors }).end('{"success":true}');
        return;
    }
    res.writeHead(404, cors).end();
});
journey.on('upgrade', (req, sock) => (req.url.startsWith('/v1/live?') ? acceptSocket(req, sock) : sock.destroy()));

const listen = (srv) => new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv.address().port)));
const J = await listen(journey);
const JOURNEY = `http://127.0.0.1:${J}`;

const site = http.createServer((req, res) => {
    const csp =
        `default-src 'none'; script-src 'self' ${JOURNEY}; style-src 'self'; ` +
        `connect-src ${JOURNEY} ws://127.0.0.1:${J}; img-src 'self'`;
    const pages = {
        '/': ['text/html', `<!doctype html><html lang="en"><head><title>Loan application</title>
            <link rel="stylesheet" href="/site.css"></head><body>
            <h1>Apply</h1><form id="loan"><label for="income">Income</label><input id="income" name="income" required>
            <label for="email">Email</label><input id="email" name="email" type="email">
            <button id="save" type="button">Save</button></form><div id="dead">Looks clickable</div>
            <p data-journey-mask>Jane Doe</p><a id="away" href="/other">Other page</a>
            <script src="${JOURNEY}/journey.js"></script><script src="/app.js"></script></body></html>`],
        '/app.js': ['text/javascript', `journey.load('smoke-key');
            document.getElementById('save').addEventListener('click', function () {
                document.body.appendChild(document.createElement('hr'));
            });`],
        '/site.css': ['text/css', 'div, button, h2 { color: red !important; font-family: serif !important; }'],
        '/other': ['text/html', '<!doctype html><title>Other</title><p>bye</p>'],
    };
    const p = pages[new URL(req.url, 'http://x').pathname];
    if (!p) return res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': p[0], 'Content-Security-Policy': csp }).end(p[1]);
});
const S = await listen(site);

const checks = [];
const check = (name, ok, detail = '') => checks.push([name, !!ok, detail]);
const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
try {
    const page = await browser.newPage();
    const cspErrors = [];
    page.on('console', (m) => /Content Security Policy|Refused/.test(m.text()) && cspErrors.push(m.text()));
    page.on('pageerror', (e) => cspErrors.push('pageerror: ' + e.message));
    await page.goto(`http://127.0.0.1:${S}/`);
    await page.waitForFunction(() => window.journey && window.journey.version);
    await page.click('#save');
    await page.fill('#income', 'SECRET-123');
    // Chrome's validationMessage quotes the value ("'sam@' is incomplete"): it must not be sent
    await page.fill('#email', 'sam@');
    await page.evaluate(() => document.getElementById('loan').checkValidity());
    await page.click('#dead');
    await page.focus('#income'); // where focus must come back to after the dialog
    await page.locator('[role=dialog]').waitFor({ timeout: 8000 });
    const dialog = await page.evaluate(() => {
        const root = document.querySelector('[data-journey-ui]').shadowRoot;
        const d = root.querySelector('[role=dialog]');
        const cs = getComputedStyle(d);
        const h2 = root.querySelector('h2');
        return {
            modal: d.getAttribute('aria-modal'),
            title: root.getElementById(d.getAttribute('aria-labelledby')).textContent,
            focused: root.activeElement && root.activeElement.textContent,
            radius: cs.borderTopLeftRadius,
            bg: cs.backgroundColor,
            h2Color: getComputedStyle(h2).color,
            h2Font: getComputedStyle(h2).fontFamily,
            sheets: root.adoptedStyleSheets.length,
        };
    });
    check('dialog rendered, modal, titled', dialog.modal === 'true' && dialog.title === 'Need help?', JSON.stringify(dialog));
    check('focus moved into the dialog', dialog.focused === 'Start live chat');
    check('styles applied under style-src \'self\' (adopted sheet)', dialog.sheets === 1 && dialog.radius === '12px');
    const colours = (scheme) =>
        page.emulateMedia({ colorScheme: scheme }).then(() =>
            page.evaluate(() => {
                const root = document.querySelector('[data-journey-ui]').shadowRoot;
                const bg = (sel) => getComputedStyle(root.querySelector(sel)).backgroundColor;
                return { card: bg('[role=dialog]'), primary: bg('.pri') };
            }),
        );
    const light = await colours('light');
    const dark = await colours('dark');
    await page.emulateMedia({ colorScheme: 'light' });
    if (process.env.SMOKE_DEBUG) console.error('colours', JSON.stringify({ light, dark }));
    check('light and dark colour schemes', light.card === 'rgb(255, 255, 255)' && light.primary === 'rgb(11, 87, 208)' &&
        dark.card !== light.card && dark.primary === 'rgb(138, 180, 248)', JSON.stringify({ light, dark }));
    check('site CSS does not leak into the dialog', dialog.h2Color !== 'rgb(255, 0, 0)' && dialog.h2Font.startsWith('system-ui'), `${dialog.h2Color} ${dialog.h2Font}`);
    await page.keyboard.press('Tab');
    const afterTab = await page.evaluate(() => document.querySelector('[data-journey-ui]').shadowRoot.activeElement.getAttribute('aria-label'));
    check('Tab wraps inside the dialog', afterTab === 'Close', afterTab);
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
    const after = await page.evaluate(() => ({
        open: !!document.querySelector('[data-journey-ui]').shadowRoot.querySelector('[role=dialog]'),
        focus: document.activeElement.tagName + '#' + document.activeElement.id,
    }));
    check('Escape closes and focus returns to the Income field', !after.open && after.focus === 'INPUT#income', JSON.stringify(after));
    await page.waitForTimeout(1500); // let the dead-click window pass
    await page.click('#away');
    await page.waitForURL('**/other');
    await page.waitForTimeout(500);
    check('no CSP violations or page errors', cspErrors.length === 0, cspErrors.join(' | '));
} finally {
    await browser.close();
    journey.close();
    site.close();
    for (const s of [journey, site]) s.closeAllConnections && s.closeAllConnections();
}

const all = [...received.batches.flatMap((b) => b.batch), ...received.beacons.flatMap((b) => b.body.batch)];
const events = all.map((m) => m.event || m.type);
check('batches with Basic auth (preflighted)', [...received.auth][0] === 'Basic ' + Buffer.from('smoke-key:').toString('base64') && received.preflights > 0);
check('page view, clicks, field events arrived', ['page', '$click', '$field_focus', '$field_change', '$field_blur'].every((e) => events.includes(e)), events.join(','));
check('a click followed by a DOM change is not dead; a click on a dead div is', all.filter((m) => m.event === '$dead_click').map((m) => m.properties.selector).join() === '#dead', all.filter((m) => m.event === '$dead_click').map((m) => m.properties.selector).join());
check('$page_leave by beacon, text/plain, ?writeKey=', received.beacons.some((b) => b.key === 'smoke-key' && b.body.batch.some((m) => m.event === '$page_leave')) && [...received.beaconTypes].every((t) => t.startsWith('text/plain')), [...received.beaconTypes].join());
check('responses: shown then dismissed', JSON.stringify(received.responses) === JSON.stringify([['iv_smoke', 'shown'], ['iv_smoke', 'dismissed']]), JSON.stringify(received.responses));
check('live socket carried sessionId and anonymousId', sockets.length > 0 && /sessionId=\d+-/.test(sockets[0].url) && /anonymousId=/.test(sockets[0].url));
const wire = JSON.stringify([received.batches, received.beacons]);
check('no value and no masked text on the wire', !wire.includes('SECRET') && !wire.includes('Jane') && !wire.includes('sam@'));
const invalid = all.filter((m) => m.event === '$field_invalid').map((m) => m.properties);
check('native $field_invalid: reason and source, no browser message', invalid.length === 1 && invalid[0].field === 'email' &&
    invalid[0].reason === 'typeMismatch' && invalid[0].source === 'native' && !('message' in invalid[0]), JSON.stringify(invalid));
check('one script, journey.js, and nothing fetched for the dialog', JSON.stringify(received.scripts) === '["/journey.js"]', received.scripts.join());
// At-least-once: a keepalive fetch still in flight when the page unloads has its promise rejected, so
// its messages may go again in the last beacon (the server dedups on messageId). No other duplicates.
const fetched = received.batches.flatMap((b) => b.batch.map((m) => m.messageId));
const beaconed = received.beacons.flatMap((b) => b.body.batch.map((m) => m.messageId));
const dupes = (ids) => ids.filter((id, i) => ids.indexOf(id) !== i);
check('no message sent twice by fetch, nor twice by beacon', !dupes(fetched).length && !dupes(beaconed).length);
if (process.env.SMOKE_DEBUG) {
    for (const b of received.batches) console.error('batch ', b.batch.map((m) => (m.event || m.type) + ':' + m.messageId.slice(0, 4)).join(' '));
    for (const b of received.beacons) console.error('beacon', b.body.batch.map((m) => (m.event || m.type) + ':' + m.messageId.slice(0, 4)).join(' '));
}

for (const [name, ok, detail] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${!ok && detail ? ' -- ' + detail : ''}`);
const failed = checks.filter((c) => !c[1]).length;
console.log(`${checks.length - failed}/${checks.length} checks passed; ${all.length} messages received: ${[...new Set(events)].join(', ')}`);
process.exitCode = failed ? 1 : 0;
