// Synthetic traffic for the dashboard's end-to-end tests: visitors of the demo loan site (docs/demo.md) as
// journey.js would report them (docs/protocol.md), with `timestamp` set in the past so the reports have history.
//
//   const batches = syntheticBatches({ sessions: 300, days: 14, seed: 1 });
//   for (const b of batches) await server.post('/v1/batch', { batch: b });
//
// Deterministic for a seed (mulberry32), apart from the times, which are relative to `now`. Personas:
// bouncers, decisive buyers, strugglers (repeated validation errors on the income field, a trip to the FAQ and
// back), comparison shoppers (several valid quotes) and confused navigators (rage and dead clicks on the
// disabled "Apply now", rapid navigation). A quarter of the sessions are returning visitors (for retention);
// `recent` sessions start in the last 25 minutes (for the live view's struggling feed). Converted sessions end
// on /demo/thanks.html, the demo's goal. Some visitors of the home page play the explainer video
// (`loan-explainer`, 60 s: docs/video.md), drawn from a random stream of its own: the other messages keep their
// content (those after a viewing come later by its length).
//
// badMessages() is a batch whose messages the server must dead-letter (missing event, bad timestamp, wrong
// property type), for the dead-letter page.

const HOST = 'http://127.0.0.1:8080';
const UA = {
  desktop: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
};
const SCREENS = { desktop: [1440, 900], mac: [1512, 945], iphone: [390, 844], android: [412, 915], ipad: [820, 1180] };
const REFERRERS = [
  ['', 0.4], ['https://www.google.com/', 0.3], ['https://www.facebook.com/', 0.12],
  ['https://mail.example.com/', 0.08], ['https://news.example.org/loans?utm_source=news', 0.1],
];
const TITLES = {
  '/demo/': 'Kestrel Loans', '/demo/calculator.html': 'Loan calculator', '/demo/apply.html': 'Apply',
  '/demo/thanks.html': 'Application received', '/demo/faq.html': 'Questions and answers', '/demo/rates.html': 'Rates and fees',
};

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(rnd, weighted) {
  let x = rnd() * weighted.reduce((a, [, w]) => a + w, 0);
  for (const [v, w] of weighted) if ((x -= w) < 0) return v;
  return weighted[weighted.length - 1][0];
}

function hex(rnd, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

function uuid(rnd) {
  const h = hex(rnd, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

// One session as a list of messages. t0: start (ms). Returns { messages, converted }.
function session(rnd, { visitor, device, referrer, persona, t0, index, vrnd }) {
  const sid = `${t0}-${hex(rnd, 8)}`;
  const messages = [];
  let t = t0;
  let page = null;
  let pageStart = t0;
  const [sw, sh] = SCREENS[device];
  const ctx = (path) => ({
    sessionId: sid, userAgent: UA[device], library: { name: 'journey.js', version: '0.1.0' },
    screen: { width: sw, height: sh }, locale: 'en-US', timezone: 'America/New_York',
    page: { path, url: HOST + path, title: TITLES[path] ?? path, referrer: messages.length ? HOST + (page ?? '/demo/') : referrer, search: '' },
  });
  const base = (extra) => ({ messageId: uuid(rnd), anonymousId: visitor, timestamp: new Date(t).toISOString(), ...extra });
  const step = (min, max) => { t += Math.round(min + rnd() * (max - min)); };
  const view = (path) => {
    if (page) messages.push(base({ type: 'track', event: '$page_leave', properties: { dwell_ms: t - pageStart, max_depth: 50 + Math.floor(rnd() * 50), fields_filled: 0, forms_started: [] }, context: ctx(page) }));
    step(200, 900);
    page = path;
    pageStart = t;
    messages.push(base({ type: 'page', name: TITLES[path], properties: { path, url: HOST + path, title: TITLES[path], referrer: '', search: '' }, context: ctx(path) }));
  };
  const track = (event, properties, min = 800, max = 6000) => {
    step(min, max);
    messages.push(base({ type: 'track', event, properties, context: ctx(page) }));
  };
  const invalid = (field, n) => {
    for (let i = 0; i < n; i++) {
      track('$field_change', { form: 'loan-calculator', field, field_type: 'number', length: 4, valid: false, change_count: i + 1 }, 2000, 7000);
      track('$field_invalid', { form: 'loan-calculator', field, field_type: 'number', reason: 'custom', source: 'api', message: 'Income too low' }, 100, 400);
      track('$form_submit', { form: 'loan-calculator', field_count: 3, filled_count: 3, valid: false }, 200, 600);
    }
  };
  const quote = (amount) => {
    track('$field_change', { form: 'loan-calculator', field: 'amount', field_type: 'number', length: String(amount).length, valid: true, change_count: 1 });
    track('$form_submit', { form: 'loan-calculator', field_count: 3, filled_count: 3, valid: true }, 1500, 5000);
    track('Loan Calculated', { amount, term: amount > 20000 ? 48 : 24, monthly: Math.round(amount / 30) }, 200, 500);
  };
  const apply = () => {
    view('/demo/apply.html');
    for (const f of ['name', 'email', 'phone']) track('$field_change', { form: 'application', field: f, field_type: 'text', length: 10, valid: true, change_count: 1 }, 2000, 9000);
    track('$form_submit', { form: 'application', field_count: 5, filled_count: 5, valid: true }, 2000, 6000);
    track('Application Submitted', { amount: 12000 }, 100, 300);
    view('/demo/thanks.html');
    messages.push(base({ type: 'identify', userId: `user-${index}`, traits: { plan: rnd() < 0.3 ? 'pro' : 'basic' }, context: ctx(page) }));
  };
  // The explainer as journey.js reports it: play, a heartbeat every 5 s of wall time while it plays, maybe a
  // forward skip at 6 s and 2x from 10 s, a pause where the viewer stops (and `ended` at the end).
  const watch = () => {
    const stop = [12, 25, 40, 60][Math.floor(vrnd() * 4)];
    let skipAt = stop >= 40 && vrnd() < 0.3 ? 6 : Infinity; // to 20
    const fast = vrnd() < 0.25;
    let pos = 0;
    let rate = 1;
    let beat = 5; // wall seconds to the next heartbeat
    const ev = (event, extra = {}) => messages.push(base({ type: 'track', event, context: ctx(page),
      properties: { video_id: 'loan-explainer', src: `${HOST}/demo/media/explainer.webm`, title: 'How our loans work', duration: 60, position: Math.round(pos * 1000) / 1000, rate, ...extra } }));
    t += 1500 + Math.round(vrnd() * 3000);
    ev('$video_play');
    for (;;) {
      const next = Math.min(stop, skipAt, fast && rate === 1 ? Math.max(10, pos) : Infinity);
      const dt = Math.min(beat, (next - pos) / rate);
      t += Math.round(dt * 1000);
      pos += dt * rate;
      beat -= dt;
      if (beat <= 1e-9) {
        beat = 5;
        if (pos < stop - 1e-9) {
          ev('$video_heartbeat');
          continue;
        }
      }
      if (pos >= stop - 1e-9) break;
      if (pos >= skipAt - 1e-9) {
        ev('$video_seeked', { from: Math.round(pos * 1000) / 1000, to: 20, position: 20 });
        pos = 20;
        skipAt = Infinity;
      } else {
        rate = 2;
        ev('$video_ratechange');
      }
    }
    pos = stop;
    ev('$video_pause');
    if (stop >= 60) ev('$video_ended');
  };
  const amount = [5000, 8000, 12000, 15000, 25000, 40000][Math.floor(rnd() * 6)];
  let converted = false;
  const entry = rnd() < 0.7 ? '/demo/' : '/demo/calculator.html';
  view(entry);
  if (vrnd && entry === '/demo/' && persona !== 'struggler' && vrnd() < 0.35) watch();
  switch (persona) {
    case 'bouncer':
      track('$scroll', { depth: 25, y: 600, direction: 'down', reversals: 0 }, 3000, 20000);
      break;
    case 'decisive':
      if (entry === '/demo/') { track('$click', { selector: 'a.cta', text: 'Try the calculator', tag: 'a', x: 640, y: 420, interactive: true, disabled: false }); view('/demo/calculator.html'); }
      quote(amount);
      if (rnd() < 0.85) { apply(); converted = true; }
      break;
    case 'struggler': {
      if (entry === '/demo/') view('/demo/calculator.html');
      invalid('income', 3 + Math.floor(rnd() * 3));
      if (rnd() < 0.6) { view('/demo/faq.html'); step(3000, 8000); view('/demo/calculator.html'); }
      if (rnd() < 0.45) { quote(amount); apply(); converted = true; }
      break;
    }
    case 'comparer':
      if (entry === '/demo/') view('/demo/calculator.html');
      for (let i = 0; i < 2 + Math.floor(rnd() * 3); i++) quote([5000, 10000, 20000, 30000][i % 4]);
      if (rnd() < 0.5) view('/demo/rates.html');
      if (rnd() < 0.35) { view('/demo/calculator.html'); apply(); converted = true; }
      break;
    default: { // confused
      if (entry === '/demo/') view('/demo/calculator.html');
      for (let i = 0; i < 4; i++) {
        track('$click', { selector: '#apply-now', text: 'Apply now', tag: 'button', x: 700 + i, y: 520, interactive: true, disabled: true }, 120, 300);
      }
      track('$dead_click', { selector: '#apply-now', x: 703, y: 520, tag: 'button', wait_ms: 1000 }, 1000, 1100);
      for (const p of ['/demo/rates.html', '/demo/faq.html', '/demo/', '/demo/calculator.html']) view(p);
      if (rnd() < 0.2) { quote(amount); apply(); converted = true; }
    }
  }
  if (!converted && page) {
    step(2000, 15000);
    messages.push(base({ type: 'track', event: '$page_leave', properties: { dwell_ms: t - pageStart, max_depth: 60, fields_filled: persona === 'struggler' ? 2 : 0, forms_started: persona === 'struggler' ? ['loan-calculator'] : [] }, context: ctx(page) }));
  }
  return { messages, converted, sessionId: sid, end: t };
}

// Sessions spread over the last `days` days (newest at least an hour old), plus `recent` in the last 25 min.
// Returns { batches: [[msg...]...], sessions: [{sessionId, converted, persona}], messages: n }.
export function syntheticTraffic({ sessions = 300, days = 14, seed = 1, recent = 12, now = Date.now(), batchSize = 400 } = {}) {
  const rnd = mulberry32(seed);
  const vrnd = mulberry32(seed ^ 0x5eed);
  const visitors = [];
  const all = [];
  const out = [];
  const total = sessions + recent;
  for (let i = 0; i < total; i++) {
    const isRecent = i >= sessions;
    const t0 = isRecent
      ? now - Math.round((2 + rnd() * 23) * 60_000)
      : now - 3_600_000 - Math.round(((sessions - i) / sessions) * (days * 86_400_000 - 4 * 3_600_000) * (0.9 + rnd() * 0.1));
    let visitor;
    if (visitors.length > 10 && rnd() < 0.25) visitor = visitors[Math.floor(rnd() * visitors.length)];
    else { visitor = uuid(rnd); visitors.push(visitor); }
    const device = pick(rnd, [['desktop', 0.4], ['mac', 0.15], ['iphone', 0.22], ['android', 0.15], ['ipad', 0.08]]);
    const referrer = pick(rnd, REFERRERS);
    const persona = isRecent && i % 2 === 0 ? 'struggler'
      : pick(rnd, [['bouncer', 0.2], ['decisive', 0.2], ['struggler', 0.25], ['comparer', 0.2], ['confused', 0.15]]);
    const s = session(rnd, { visitor, device, referrer, persona, t0, index: i, vrnd: isRecent ? null : vrnd });
    out.push({ sessionId: s.sessionId, converted: s.converted, persona, start: t0 });
    all.push(...s.messages);
  }
  all.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
  const batches = [];
  for (let i = 0; i < all.length; i += batchSize) batches.push(all.slice(i, i + batchSize));
  return { batches, sessions: out, messages: all.length };
}

// Messages the server must quarantine (docs/ingest.md, "Message validation"), with one good message.
export function badMessages(now = Date.now()) {
  const ts = new Date(now - 600_000).toISOString();
  return [
    { type: 'track', anonymousId: 'dl-visitor-1', messageId: 'dl-1', timestamp: ts, properties: { note: 'no event name' } },
    { type: 'track', event: 'Loan Calculated', anonymousId: 'dl-visitor-2', messageId: 'dl-2', timestamp: 'yesterday at noon' },
    { type: 'track', event: 'Loan Calculated', anonymousId: 'dl-visitor-3', messageId: 'dl-3', timestamp: ts, properties: 'amount=12000' },
    { type: 'track', event: 'Loan Calculated', messageId: 'dl-4', timestamp: ts, properties: { amount: 12000, long: 'x'.repeat(400) } },
    { type: 'track', event: 'Loan Calculated', anonymousId: 'dl-visitor-5', messageId: 'dl-5', timestamp: ts, properties: { amount: 9000 } },
  ];
}
