// Video views (docs/video.md) from the tracker's events, sent through the real ingest API:
// eight hand-computed views (each asserting its intervals, unique seconds, completion and
// quartiles), and a population whose drop-off points, rewatched segment and conversion by
// watch share are known, for the per-video report.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, waitFor } from './lib/journey.mjs';

const T0 = Date.parse('2026-11-10T09:00:00Z');
const S = 1000;
const iso = (ms) => new Date(ms).toISOString();

let j;
let n = 0;

function msg(session, at, event, props = {}, type = 'track', path = '/watch') {
  const m = { type, anonymousId: `a-${session}`, messageId: `m${++n}`, timestamp: iso(at),
    context: { sessionId: session, page: { path } } };
  if (type === 'page') m.properties = { path, url: `https://site.example${path}` };
  else { m.event = event; m.properties = props; }
  return m;
}

// A view script: [seconds after the page view, kind, position or {from,to}, rate].
function session(id, t, steps, { video = 'clip', duration = 60, path = '/watch', after = '/next' } = {}) {
  const out = [msg(id, t, null, {}, 'page', path)];
  for (const [s, kind, pos, rate = 1] of steps) {
    const at = t + s * S;
    if (kind === 'hidden' || kind === 'visible') {
      out.push(msg(id, at, '$visibility', { state: kind }, 'track', path));
      continue;
    }
    const props = { video_id: video, src: `/media/${video}.webm`, title: `The ${video}`, duration, rate,
      position: typeof pos === 'number' ? pos : pos.from };
    if (typeof pos === 'object') Object.assign(props, pos);
    out.push(msg(id, at, `$video_${kind}`, props, 'track', path));
  }
  const last = steps.length ? steps[steps.length - 1][0] : 0;
  if (after) out.push(msg(id, t + (last + 2) * S, null, {}, 'page', after));
  return out;
}

// Heartbeats every 5 s of wall time: [s, 'heartbeat', position] for s = start, start+5, ...
function beats(fromS, fromPos, count, rate = 1) {
  return Array.from({ length: count }, (_, k) => [fromS + 5 * k, 'heartbeat', fromPos + 5 * k * rate, rate]);
}

const scenarios = {
  // 1. play to the end: twelve 5 s stretches, then ended at 60.
  plain: [[1, 'play', 0], ...beats(6, 5, 11), [61, 'ended', 60]],
  // 2. pause at 8, resume 11 s later, pause at 16.
  pause: [[1, 'play', 0], [6, 'heartbeat', 5], [9, 'pause', 8], [20, 'play', 8], [25, 'heartbeat', 13],
    [28, 'pause', 16]],
  // 3. back to 4 from 12, and again from 15.
  rewind: [[1, 'play', 0], [6, 'heartbeat', 5], [11, 'heartbeat', 10], [13, 'seeked', { from: 12, to: 4 }],
    [18, 'heartbeat', 9], [23, 'heartbeat', 14], [24, 'seeked', { from: 15, to: 4 }], [29, 'heartbeat', 9],
    [34, 'heartbeat', 14], [36, 'pause', 16]],
  // 4. skip from 7 to 40.
  skip: [[1, 'play', 0], [6, 'heartbeat', 5], [8, 'seeked', { from: 7, to: 40 }], [13, 'heartbeat', 45],
    [18, 'heartbeat', 50], [20, 'pause', 52]],
  // 5. 2x from position 4: 5 s of wall time = 10 s of media.
  speed: [[1, 'play', 0], [5, 'ratechange', 4, 2], [10, 'heartbeat', 14, 2], [15, 'heartbeat', 24, 2],
    [17, 'pause', 28, 2]],
  // 6. the tab hidden at 8 s (2 s after the heartbeat at 5) until 40 s; playing went on meanwhile.
  hidden: [[1, 'play', 0], [6, 'heartbeat', 5], [8, 'hidden'], [40, 'visible'], [43, 'heartbeat', 44],
    [48, 'heartbeat', 49], [49, 'pause', 50]],
  // 7. the heartbeats at 10 and 15 lost: the 15 s gap is not counted.
  lost: [[1, 'play', 0], [6, 'heartbeat', 5], [21, 'heartbeat', 20], [26, 'heartbeat', 25], [28, 'pause', 27]],
  // 8. played from 50 to the end, then again from the start.
  replay: [[1, 'play', 50], [6, 'heartbeat', 55], [11, 'ended', 60], [15, 'play', 0], [20, 'heartbeat', 5],
    [22, 'pause', 7]],
};

// Population of the video "intro" (60 s) on /learn; goal /thanks.
//   A 20 views stop at 30 (8 of them go back from 20 to 10 once); 2 convert
//   B 10 stop at 45; 5 convert
//   C 10 watch to the end; 8 convert
//   D 10 never press play; 1 converts
//   E  5 watch 10 s and leave; none converts
function population() {
  const out = [];
  let k = 0;
  const add = (group, count, converts, steps) => {
    for (let i = 0; i < count; i++) {
      const id = `pop-${group}${i}`;
      const t = T0 + 3600 * S + (k++) * 120 * S;
      const ev = session(id, t, steps(i), { video: 'intro', path: '/learn', after: i < converts ? '/thanks' : '/next' });
      out.push(...ev);
    }
  };
  const upTo = (pos) => [[1, 'play', 0], ...beats(6, 5, Math.floor(pos / 5) - 1), [1 + pos, 'pause', pos]];
  add('A', 20, 2, (i) => (i < 8
    ? [[1, 'play', 0], ...beats(6, 5, 4), [21.1, 'seeked', { from: 20, to: 10 }], ...beats(26, 15, 3), [41, 'pause', 30]]
    : upTo(30)));
  add('B', 10, 5, () => upTo(45));
  add('C', 10, 8, () => [[1, 'play', 0], ...beats(6, 5, 11), [61, 'ended', 60]]);
  add('D', 10, 1, () => []);
  add('E', 5, 0, () => upTo(10));
  return out;
}

async function api(pathname) {
  const res = await fetch(j.url + pathname, { headers: { Authorization: `Bearer ${j.secretKey}` } });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

before(async () => {
  j = await startServer({ args: ['--session-write-interval', '1s'] });
  const put = await fetch(`${j.url}/api/v1/settings`, {
    method: 'PUT', headers: { Authorization: `Bearer ${j.secretKey}` }, body: JSON.stringify({ goal: { path: '/thanks' } }),
  });
  assert.equal(put.status, 200);
  const batch = [];
  let i = 0;
  for (const [name, steps] of Object.entries(scenarios)) batch.push(...session(`v-${name}`, T0 + (i++) * 300 * S, steps));
  batch.push(...population());
  for (let k = 0; k < batch.length; k += 1000) {
    const r = await j.post('/v1/batch', { batch: batch.slice(k, k + 1000) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.rejected, 0, r.text);
  }
  const total = batch.length;
  await waitFor(async () => (await j.metrics()).get('journey_analytics_events') === total,
    { timeout: 10000, what: 'every event in the column store' });
  // conversions come from the engine's session rows
  await waitFor(() => j.query("SELECT count(*) AS n FROM sessions WHERE converted = 1 AND session_id LIKE 'pop-%'")[0].n === 16,
    { timeout: 15000, what: 'the population sessions written by the engine' });
});

after(async () => {
  await j?.stop();
  j?.cleanup();
});

const range = `from=${iso(T0 - 3600 * S)}&to=${iso(T0 + 48 * 3600 * S)}`;

async function viewOf(name) {
  const r = await api(`/api/v1/videos/clip/views?${range}&limit=100`);
  assert.equal(r.status, 200);
  const v = r.json.views.find((x) => x.session_id === `v-${name}`);
  assert.ok(v, `a view for ${name}`);
  return v;
}

describe('views computed by hand', () => {
  test('played to the end', async () => {
    const v = await viewOf('plain');
    assert.deepEqual(v.intervals, Array.from({ length: 12 }, (_, k) => [5 * k, 5 * k + 5]));
    assert.equal(v.unique_seconds, 60);
    assert.equal(v.media_seconds, 60);
    assert.equal(v.wall_seconds, 60);
    assert.equal(v.completed, true);
    assert.deepEqual(v.quartiles, [25, 50, 75, 100]);
    assert.equal(v.open, false);
  });

  test('paused and resumed', async () => {
    const v = await viewOf('pause');
    assert.deepEqual(v.intervals, [[0, 5], [5, 8], [8, 13], [13, 16]]);
    assert.equal(v.unique_seconds, 16);
    assert.equal(v.wall_seconds, 5 + 3 + 5 + 3);
    assert.deepEqual(v.pauses, [8, 16]);
    assert.equal(v.completed, false);
    assert.deepEqual(v.quartiles, [25]); // 16 s of 60 passes the first quarter (15 s)
    assert.equal(v.plays, 2);
  });

  test('a segment rewatched twice', async () => {
    const v = await viewOf('rewind');
    assert.deepEqual(v.intervals, [[0, 5], [5, 10], [10, 12], [4, 9], [9, 14], [14, 15], [4, 9], [9, 14], [14, 16]]);
    assert.equal(v.unique_seconds, 16); // the union is [0, 16]
    assert.equal(v.media_seconds, 5 + 5 + 2 + 5 + 5 + 1 + 5 + 5 + 2);
    assert.deepEqual(v.rewound, [[4, 12], [4, 15]]);
    assert.deepEqual(v.skipped, []);
    assert.deepEqual(v.quartiles, [25]);
  });

  test('a forward skip', async () => {
    const v = await viewOf('skip');
    assert.deepEqual(v.intervals, [[0, 5], [5, 7], [40, 45], [45, 50], [50, 52]]);
    assert.equal(v.unique_seconds, 7 + 12);
    assert.deepEqual(v.skipped, [[7, 40]]);
    assert.equal(v.furthest, 52);
    assert.deepEqual(v.quartiles, [25, 50, 75]); // the playhead passed 15, 30 and 45 s
    assert.equal(v.completed, false); // 52 < 90% of 60
  });

  test('2x speed: media seconds and wall seconds both counted', async () => {
    const v = await viewOf('speed');
    assert.deepEqual(v.intervals, [[0, 4], [4, 14], [14, 24], [24, 28]]);
    assert.equal(v.media_seconds, 28);
    assert.equal(v.wall_seconds, 4 + 5 + 5 + 2);
    assert.deepEqual(v.speeds, [{ rate: 1, media_seconds: 4 }, { rate: 2, media_seconds: 24 }]);
  });

  test('the tab hidden mid-play is not watching', async () => {
    const v = await viewOf('hidden');
    // 5 -> 7 up to the moment it was hidden; nothing until the heartbeat after it came back
    assert.deepEqual(v.intervals, [[0, 5], [5, 7], [44, 49], [49, 50]]);
    assert.equal(v.unique_seconds, 13);
    assert.equal(v.wall_seconds, 13);
  });

  test('lost heartbeats are not watching', async () => {
    const v = await viewOf('lost');
    assert.deepEqual(v.intervals, [[0, 5], [20, 25], [25, 27]]);
    assert.equal(v.unique_seconds, 12);
  });

  test('replayed after it ended', async () => {
    const v = await viewOf('replay');
    assert.deepEqual(v.intervals, [[50, 55], [55, 60], [0, 5], [5, 7]]);
    assert.equal(v.unique_seconds, 17);
    assert.equal(v.completed, true);
    assert.deepEqual(v.quartiles, [25, 50, 75, 100]);
    assert.equal(v.plays, 2);
  });
});

describe('a population with known drop-off', () => {
  test('retention curve, key moments, play rate and completion', async () => {
    const r = await api(`/api/v1/videos/intro?${range}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const v = r.json;
    // 45 views (A 20, B 10, C 10, E 5) of 55 page views of /learn (D never played)
    assert.equal(v.plays, 45);
    assert.equal(v.page_views, 55);
    assert.equal(v.play_rate, Math.round(45 / 55 * 10000) / 10000);
    assert.equal(v.unique_viewers, 45);
    assert.equal(v.completions, 10);
    // watching: 45 for 0-9 s, 40 for 10-29, 20 for 30-44, 10 for 45-59
    const expected = Array.from({ length: 60 }, (_, s) => (s < 10 ? 45 : s < 30 ? 40 : s < 45 ? 20 : 10));
    assert.deepEqual(v.retention.seconds, expected);
    assert.equal(v.retention.share[30], Math.round(20 / 45 * 10000) / 10000);
    // rewatched: seconds 10-19 by the 8 who went back
    assert.deepEqual(v.heat.rewatches, Array.from({ length: 60 }, (_, s) => (s >= 10 && s < 20 ? 8 : 0)));
    const moments = v.key_moments;
    const spike = moments.find((m) => m.kind === 'rewatch_spike');
    assert.deepEqual([spike.start_second, spike.end_second], [10, 20]);
    const dips = moments.filter((m) => m.kind === 'dip').map((m) => m.second);
    assert.deepEqual(dips, [30, 45, 10]); // by size: 20, 10 and 5 views gone
    assert.equal(moments.find((m) => m.kind === 'half_gone').second, 30);
    // average share viewed: (20*30 + 10*45 + 10*60 + 5*10) / 60 / 45
    assert.equal(v.average_share_viewed, Math.round((20 * 30 + 10 * 45 + 10 * 60 + 5 * 10) / 60 / 45 * 10000) / 10000);
  });

  test('conversion by how much was watched, with Wilson intervals', async () => {
    const r = await api(`/api/v1/videos/intro?${range}`);
    const by = Object.fromEntries(r.json.conversion_by_watch.map((b) => [b.bucket, b]));
    const want = { none: [10, 1], under_25: [5, 0], '25_to_75': [30, 7], over_75: [10, 8] };
    for (const [bucket, [sessions, conversions]] of Object.entries(want)) {
      assert.equal(by[bucket].sessions, sessions, bucket);
      assert.equal(by[bucket].conversions, conversions, bucket);
      const p = conversions / sessions;
      const z = 1.959963984540054;
      const c = (p + z * z / (2 * sessions)) / (1 + z * z / sessions);
      const h = z * Math.sqrt(p * (1 - p) / sessions + z * z / (4 * sessions * sessions)) / (1 + z * z / sessions);
      assert.deepEqual(by[bucket].ci95, [Math.round((c - h) * 10000) / 10000, Math.round((c + h) * 10000) / 10000], bucket);
    }
    assert.equal(by.over_75.difference_vs_none, Math.round((0.8 - 0.1) * 10000) / 10000);
  });

  test('the list of videos and CSV exports', async () => {
    const list = await api(`/api/v1/videos?${range}`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.videos.map((x) => x.id).sort(), ['clip', 'intro']);
    const clip = list.json.videos.find((x) => x.id === 'clip');
    assert.equal(clip.plays, 8);
    assert.equal(clip.title, 'The clip');
    const csv = await fetch(`${j.url}/api/v1/videos/intro?${range}&format=csv`, { headers: { Authorization: `Bearer ${j.secretKey}` } });
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'second,watching,share,relative,plays,rewatches,skips,pauses');
    assert.equal(lines.length, 61);
    assert.equal((await api(`/api/v1/videos/nope?${range}`)).status, 404);
  });
});
