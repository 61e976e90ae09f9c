// The shipped bundle in a page: the documented snippet's queue is replayed; a plain <script> works too;
// an intervention is drawn with no further fetch. Builds src/index.ts with web/build.mjs's own options
// (IIFE, es2019, minified, internal properties mangled) and runs it against a jsdom window passed in as
// `window`, which also checks that the bundle reaches the DOM only through `window`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { JSDOM } from 'jsdom';
import { trackerBuildOptions } from '../../build.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = (await build({ ...trackerBuildOptions(true), write: false, logLevel: 'error' })).outputFiles[0].text;

/* The install snippet from docs/tracker.md: the ```html block that defines the stub. */
function docSnippet() {
    const md = readFileSync(path.join(here, '../../../docs/tracker.md'), 'utf8');
    const block = md.split('```html').map((b) => b.split('```')[0]).find((b) => b.includes('j.invoked'));
    return block.replace(/^\s*<script>/, '').replace(/<\/script>\s*$/, '');
}

/* A page with fakes for the network: nothing here may leave the process. */
function page() {
    const dom = new JSDOM('<!doctype html><title>Demo</title><body></body>', {
        url: 'https://shop.example/demo',
        pretendToBeVisual: true,
    });
    const win = dom.window;
    const requests = [];
    let onRequest = () => {};
    win.fetch = (url, init) => {
        requests.push({ url, body: JSON.parse(init.body || 'null') });
        onRequest();
        return Promise.resolve({ status: 200, headers: { get: () => null }, json: async () => ({}) });
    };
    win.WebSocket = class {
        constructor(url) {
            this.url = url;
            win.sockets = (win.sockets || []).concat(this);
        }
        close() {}
    };
    const nextRequest = () => new Promise((r) => (onRequest = r));
    const run = (code) => new Function('window', 'document', code)(win, win.document);
    return { dom, win, requests, nextRequest, run };
}

test('the documented snippet queues calls that journey.js replays in order', async () => {
    const { win, requests, nextRequest, run } = page();
    run(docSnippet().replace("journey.load('YOUR_WRITE_KEY');", ''));
    assert.ok(Array.isArray(win.journey), 'before journey.js: a queue');
    assert.equal(win.document.querySelector('script').src, 'https://journey.example.com/journey.js');
    let readyCalled = false;
    const stub = win.journey;
    stub.on('ready', () => (readyCalled = true));
    stub.load('WK', { host: 'https://journey.test', autocapture: { pageviews: false } });
    stub.identify('u1', { plan: 'pro' });
    stub.track('Snippet works', { a: 1 });
    assert.equal(stub.flush(), stub, 'stub methods chain');
    assert.equal(win.journey.length, 5);
    const sent = nextRequest();
    run(bundle);
    await sent;
    assert.notEqual(win.journey, stub);
    assert.equal(typeof win.journey.track, 'function');
    assert.equal(typeof win.journey.version, 'string');
    assert.equal(readyCalled, true);
    const batch = requests[0].body.batch;
    assert.deepEqual(batch.map((m) => m.type + ':' + (m.event || '')), ['identify:', 'track:Snippet works']);
    assert.equal(batch[1].userId, 'u1');
    assert.equal(requests[0].url, 'https://journey.test/v1/batch');
    assert.ok(win.sockets[0].url.startsWith('wss://journey.test/v1/live?writeKey=WK&'));
    win.close();
});

test('a plain <script> then load() from the site\'s own code; host defaults to the script\'s origin', async () => {
    const { win, requests, nextRequest, run } = page();
    run(bundle);
    const api = win.journey;
    run(bundle); // loaded twice: harmless
    assert.equal(win.journey, api);
    const sent = nextRequest();
    win.journey.load('WK'); // no document.currentScript here: the page's origin
    await sent;
    assert.equal(requests[0].url, 'https://shop.example/v1/batch');
    assert.equal(requests[0].body.batch[0].type, 'page');
    assert.equal(requests[0].body.batch[0].name, 'Demo');
    win.close();
});

test('the bundle defines nothing global but window.journey', async () => {
    const { win, run } = page();
    const before = new Set(Object.getOwnPropertyNames(win));
    run(bundle);
    const added = Object.getOwnPropertyNames(win).filter((k) => !before.has(k));
    assert.deepEqual(added, ['journey']);
    win.close();
});

test('an offer pushed over the open socket is drawn at once: no script loaded, no request but "shown"', async () => {
    const { win, requests, run } = page();
    const doc = win.document;
    // pretend journey.js was loaded from <script src="https://cdn.journey.test/v2/journey.js">
    const own = doc.createElement('script');
    own.src = 'https://cdn.journey.test/v2/journey.js?v=3';
    Object.defineProperty(doc, 'currentScript', { value: own, configurable: true });
    run(bundle);
    delete doc.currentScript;
    win.journey.load('WK', { autocapture: false });
    assert.ok(win.sockets[0].url.startsWith('wss://cdn.journey.test/v1/live?'), 'host = origin of journey.js');
    const before = requests.length;
    const created = [];
    const createElement = doc.createElement.bind(doc);
    doc.createElement = (tag, ...rest) => (created.push(String(tag).toLowerCase()), createElement(tag, ...rest));

    win.sockets[0].onmessage({ data: JSON.stringify({ type: 'intervention', id: 'iv_1', action: 'live_chat_offer', message: 'Hi' }) });
    // synchronously: no await between the socket message and the dialog on screen
    const root = doc.querySelector('[data-journey-ui]').shadowRoot;
    assert.equal(root.querySelector('[role=dialog] p').textContent, 'Hi');
    assert.ok(!created.includes('script') && !created.includes('link'), 'nothing loaded: ' + created.join());
    assert.equal(doc.querySelector('script'), null);
    assert.deepEqual(
        requests.slice(before).map((r) => [r.url, r.body.status]),
        [['https://cdn.journey.test/v1/interventions/iv_1/response?writeKey=WK', 'shown']],
    );
    win.close();
});
