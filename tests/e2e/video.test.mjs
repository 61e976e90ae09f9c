// The explainer video in a real browser, end to end: the tracker's <video> events (docs/protocol.md), the
// server's views (docs/video.md) and GET /api/v1/videos/loan-explainer/views.
//
//   node --test tests/e2e/video.test.mjs          (needs build/debug/journey and `node web/build.mjs`)
//
// `journey serve --demo` on 127.0.0.1; Debian's Chromium (headless) through playwright-core opens the demo's
// home page and a visitor plays the explainer (id "loan-explainer", web/demo/src/index.html: a 60 s VP9 WebM
// without audio, which headless Chromium decodes; the test fails at once if it cannot play) with a script:
//
//   click the player              plays from 0
//   at 6 s                        seeks forward to 20 s            -> skipped [≈6, 20]
//   at 21 s                       playback rate 2                  -> 1x for 0-6 and 20-21, 2x after
//   at 31 s (≈5 s of wall time)   pauses                           -> pauses [≈31]
//   a link to the calculator      the next page view ends the view
//
// then asserts that the stored view says exactly that. Every step waits on a condition (a media event, the
// playhead passing a position, the API answering), never on a fixed sleep.
//
// Why the tolerances below are what they are:
//   - Chromium fires `timeupdate` every 250 ms of wall time while a video plays, and the tracker's `from` of a
//     seek is the position of the last timeupdate (video.ts: at `seeking`, currentTime is already the
//     target). The script acts inside a timeupdate handler (ours runs after the tracker's capture listener on
//     document, in the same dispatch), so `from` is the position the script saw; and each action lands
//     within one timeupdate period after its threshold: up to 0.25 s of media at 1x, 0.5 s at 2x. On a loaded
//     2-core machine timers run late, so the thresholds are checked with two periods of slack more.
//   - pause, ratechange, play are queued media events: the tracker reads currentTime in its own handler, a
//     few milliseconds after the script read it (pause freezes the playhead, so the pause is exact).
//     EVENT_SLACK_S covers what the playhead can move in between.
//   - Heartbeats come every 5 s of wall time after the play, at positions the script does not control, and
//     split the watched stretches there: the test checks the union and the order of the intervals and where
//     each played stretch starts and ends, not where the heartbeats cut them. Every stretch of this script
//     lasts under 7.5 s of wall time, so none is dropped as untrusted (docs/video.md, "Bounded gaps").
//   - Wall seconds are the stretches' wall-clock time, from the play event to the pause event (the tracker
//     stamps each message with Date.now() when the media event fires; the script records Date.now() in the
//     same dispatch).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkBuilt, launchBrowser, openVisitor, startDemoServer, stopDemoServer, waitFor } from './lib/browser.mjs';

const VIDEO = 'loan-explainer';
const SEEK_AT = 6; // play from 0 for ~6 s
const SEEK_TO = 20;
const RATE_AT = 21; // 1 s after landing, the rate goes to 2
const PAUSE_AT = 31; // 10 s of media at 2x: ~5 s of wall time
const TIMEUPDATE_S = 0.25; // Chromium's timeupdate period (wall seconds)
const LATE = 3 * TIMEUPDATE_S; // one period, plus two of slack for a loaded machine (wall seconds)
const EVENT_SLACK_S = 0.06; // playhead movement between the tracker's read and ours (media seconds, at 2x)
const NEAR = 0.002; // rounding of the API (3 decimals) and float32 storage

let j;
let browser;

before(async () => {
  checkBuilt();
  j = await startDemoServer();
  browser = await launchBrowser();
}, { timeout: 60_000 });

after(async () => {
  await browser?.close();
  await stopDemoServer(j);
});

async function api(pathname) {
  const res = await fetch(j.url + pathname, { headers: { Authorization: `Bearer ${j.secretKey}` } });
  const text = await res.text();
  assert.equal(res.status, 200, `${pathname}: ${text}`);
  return JSON.parse(text);
}

// In the page: records every media event of the explainer as the tracker sees it (position, rate, Date.now()).
function recordMediaEvents() {
  const v = document.getElementById('explainer');
  const log = (window.__media = []);
  for (const type of ['play', 'playing', 'pause', 'seeking', 'seeked', 'ratechange', 'ended', 'waiting', 'error']) {
    v.addEventListener(type, () => log.push({ type, t: Date.now(), pos: v.currentTime, rate: v.playbackRate }));
  }
}

// In the page: resolves when the playhead passes `at` (inside that timeupdate's dispatch, after running
// `act`), with the position the script saw; rejects after `ms` with the player's state.
function when({ at, act, to, rate, ms }) {
  const v = document.getElementById('explainer');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      v.removeEventListener('timeupdate', on);
      reject(new Error(`the playhead never reached ${at} s: currentTime ${v.currentTime}, paused ${v.paused}, ` +
        `readyState ${v.readyState}, error ${v.error?.code ?? 'none'}`));
    }, ms);
    function on() {
      if (v.seeking || v.currentTime < at) return;
      v.removeEventListener('timeupdate', on);
      clearTimeout(timer);
      const pos = v.currentTime;
      const t = Date.now();
      if (act === 'seek') v.currentTime = to;
      else if (act === 'rate') v.playbackRate = rate;
      else if (act === 'pause') v.pause();
      resolve({ pos, t });
    }
    v.addEventListener('timeupdate', on);
  });
}

const near = (actual, expected, tol, what) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual}, expected ${expected} ± ${tol}`);

test('a scripted viewing of the explainer is stored as it happened: intervals, skip, 2x, pause', { timeout: 90_000 }, async (t) => {
  const v = await openVisitor(browser, j);
  const { page } = v;
  try {
    await v.goto('/demo/');
    const player = page.locator('#explainer');
    const media = await player.evaluate((el) => ({
      webm: el.canPlayType('video/webm; codecs="vp9"'), src: el.currentSrc, error: el.error?.code ?? null,
    }));
    assert.notEqual(media.webm, '', `this Chromium cannot decode VP9 WebM (${JSON.stringify(media)})`);
    await page.evaluate(recordMediaEvents);

    // A real click on the player (its native controls start it), as a visitor would.
    await player.click();
    await page.waitForFunction(() => !document.getElementById('explainer').paused, null, { timeout: 10_000 });
    const ms = 30_000;
    const seekAt = await page.evaluate(when, { at: SEEK_AT, act: 'seek', to: SEEK_TO, ms });
    await page.waitForFunction(() => window.__media.some((e) => e.type === 'seeked'), null, { timeout: 10_000 });
    const rateAt = await page.evaluate(when, { at: RATE_AT, act: 'rate', rate: 2, ms });
    const pauseAt = await page.evaluate(when, { at: PAUSE_AT, act: 'pause', ms });
    await page.waitForFunction(() => window.__media.some((e) => e.type === 'pause'), null, { timeout: 10_000 });
    const log = await page.evaluate(() => window.__media);
    const ev = (type) => log.find((e) => e.type === type);
    const played = ev('play');
    const paused = ev('pause');
    assert.ok(played && paused && ev('seeked') && ev('ratechange'), `media events: ${JSON.stringify(log)}`);
    assert.equal(log.filter((e) => e.type === 'play').length, 1, 'one play');
    assert.equal(ev('ended'), undefined);

    // What the script did, as the page saw it; sanity of the thresholds (one timeupdate late at most, plus slack).
    near(seekAt.pos, SEEK_AT + LATE / 2, LATE / 2, 'position of the seek');
    near(rateAt.pos, RATE_AT + LATE / 2, LATE / 2, 'position of the rate change');
    near(pauseAt.pos, PAUSE_AT + LATE, LATE, 'position of the pause (2x)');
    near(paused.pos, pauseAt.pos, EVENT_SLACK_S, 'pause event position');
    near(ev('seeked').pos, SEEK_TO, EVENT_SLACK_S, 'seeked event position'); // playing goes on at once
    assert.equal(ev('ratechange').rate, 2);

    // Leave for the calculator: its page view ends the view (and pagehide sends what is queued).
    const sessionId = await v.sessionId();
    assert.ok(sessionId, 'the tracker has a session');
    await v.arrive('/demo/calculator.html', () => page.getByRole('link', { name: 'Calculate your payment' }).first().click());

    const view = await waitFor(async () => {
      const r = await api(`/api/v1/videos/${VIDEO}/views?limit=100`);
      const x = r.views.find((w) => w.session_id === sessionId);
      return x && !x.open && x.pauses.length ? x : null;
    }, { timeout: 20_000, interval: 100, what: `the closed view of ${VIDEO} in session ${sessionId}` });
    const report = JSON.stringify(view);
    t.diagnostic(`media events: ${log.map((e) => `${e.type}@${e.pos.toFixed(3)}`).join(' ')}`);
    t.diagnostic(`stored view: ${report}`);

    // the view as a whole
    assert.equal(view.path, '/demo/', report);
    assert.equal(view.plays, 1, report);
    assert.equal(view.completed, false, report);
    assert.deepEqual(view.rewound, [], report);
    // the playhead passed 15 s (skipped over: docs/video.md counts passing) and 30 s, not 45 s
    assert.deepEqual(view.quartiles, [25, 50], report);

    // the skip: from where the last timeupdate before it put the playhead, to 20 (read at `seeked`, when the
    // playhead may already have moved on by a few ms)
    assert.equal(view.skipped.length, 1, report);
    const [from, to] = view.skipped[0];
    near(from, seekAt.pos, NEAR, 'skipped from');
    near(from, SEEK_AT + LATE / 2, LATE / 2, 'skipped from (nominal)');
    near(to, SEEK_TO, EVENT_SLACK_S, 'skipped to');

    // the pause
    assert.equal(view.pauses.length, 1, report);
    near(view.pauses[0], paused.pos, NEAR, 'pause position');
    near(view.furthest, paused.pos, NEAR, 'furthest');
    near(view.left_at, paused.pos, NEAR, 'left at');

    // intervals: in the order watched, [0, from] then [20, pause], contiguous inside each played stretch (the
    // 5 s heartbeats cut them where they fell), nothing else
    const iv = view.intervals;
    assert.ok(iv.length >= 3, report);
    for (const [a, b] of iv) assert.ok(a < b, `an empty interval: ${report}`);
    const gap = iv.findIndex(([a], k) => k > 0 && Math.abs(a - iv[k - 1][1]) > NEAR);
    assert.ok(gap > 0, `one jump between two played stretches: ${report}`);
    assert.equal(iv.slice(gap + 1).findIndex(([a], k) => Math.abs(a - iv[gap + k][1]) > NEAR), -1, `a second jump: ${report}`);
    near(iv[0][0], 0, NEAR, 'the first stretch starts at 0');
    near(iv[gap - 1][1], from, NEAR, 'the first stretch ends where the seek started');
    near(iv[gap][0], to, NEAR, 'the second stretch starts where the seek landed');
    near(iv[iv.length - 1][1], paused.pos, NEAR, 'the second stretch ends at the pause');
    const length = from + (paused.pos - to);
    near(view.unique_seconds, length, 2 * NEAR, 'unique seconds');
    near(view.media_seconds, length, 2 * NEAR, 'media seconds (nothing rewatched)');

    // speeds: 1x up to the rate change (where the tracker saw it, a few ms after the script), 2x after
    const rate = ev('ratechange').pos;
    assert.deepEqual(view.speeds.map((s) => s.rate), [1, 2], report);
    near(view.speeds[0].media_seconds, from + (rate - to), EVENT_SLACK_S, '1x media seconds');
    near(view.speeds[1].media_seconds, paused.pos - rate, EVENT_SLACK_S, '2x media seconds');
    // wall time: the play event to the pause event (contiguous stretches), less than the media time at 2x
    near(view.wall_seconds, (paused.t - played.t) / 1000, 0.25, 'wall seconds');
    assert.ok(view.wall_seconds < view.media_seconds, report);

    // The per-second report agrees (a second counts when a stretch covers its middle, docs/video.md).
    const r = await api(`/api/v1/videos/${VIDEO}`);
    assert.equal(r.plays, 1);
    assert.equal(r.duration_seconds, 60);
    const watched = r.retention.seconds;
    for (let s = 0; s < 60; s++) {
      const mid = s + 0.5;
      const want = mid < from || (mid >= to && mid < paused.pos) ? 1 : 0;
      if ([from, to, paused.pos].some((x) => Math.abs(mid - x) < NEAR)) continue; // on a boundary
      assert.equal(watched[s], want, `second ${s} watched (${JSON.stringify(watched)})`);
      assert.equal(r.heat.skips[s], mid > from && mid < to ? 1 : 0, `second ${s} skipped`);
    }
    assert.equal(r.heat.pauses[Math.floor(paused.pos)], 1);
    assert.deepEqual(r.speeds.map((s) => s.rate), [1, 2]);

    assert.deepEqual(v.problems, []);
  } finally {
    await v.close();
  }
});
