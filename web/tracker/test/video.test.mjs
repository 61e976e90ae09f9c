// <video> capture (autocapture/video.ts), including videos added after load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { start, tracks } from '../testing/harness.mjs';

function addVideo(doc, attrs) {
    const v = doc.createElement('video');
    for (const [k, val] of Object.entries(attrs)) v.setAttribute(k, val);
    const state = { currentTime: 0, duration: 120.5, paused: true, ended: false, seeking: false, playbackRate: 1 };
    for (const k of Object.keys(state)) {
        Object.defineProperty(v, k, { get: () => state[k], set: (x) => (state[k] = x), configurable: true });
    }
    Object.defineProperty(v, 'currentSrc', { get: () => 'https://cdn.example/intro.mp4', configurable: true });
    doc.body.appendChild(v);
    return { v, state };
}

const fire = (win, v, type) => v.dispatchEvent(new win.Event(type)); // media events do not bubble

test('play, heartbeat every 5 s while playing and visible, pause, seek from/to, rate, ended', async () => {
    const { env, win, doc, clock } = await start({ load: { live: false } });
    await clock.tick(3000);
    const { v, state } = addVideo(doc, { id: 'intro', 'data-journey-title': 'Product tour' }); // added after load
    state.paused = false;
    fire(win, v, 'play');
    for (const t of [1.2, 2.4, 3.7]) {
        state.currentTime = t;
        fire(win, v, 'timeupdate');
    }
    await clock.tick(5000); // heartbeat 1
    state.currentTime = 8.1234;
    fire(win, v, 'timeupdate');
    // seek: at "seeking" currentTime is already the target; `from` is the last timeupdate position
    state.currentTime = 60;
    state.seeking = true;
    fire(win, v, 'seeking');
    fire(win, v, 'timeupdate');
    state.seeking = false;
    fire(win, v, 'seeked');
    await clock.tick(5000); // heartbeat 2
    Object.defineProperty(doc, 'visibilityState', { value: 'hidden', configurable: true });
    await clock.tick(5000); // hidden: no heartbeat
    Object.defineProperty(doc, 'visibilityState', { value: 'visible', configurable: true });
    state.playbackRate = 1.5;
    fire(win, v, 'ratechange');
    state.paused = true;
    fire(win, v, 'pause');
    await clock.tick(20000); // paused: no heartbeat
    state.currentTime = 120.5;
    state.ended = true;
    fire(win, v, 'ended');
    await clock.tick(1000);

    const events = tracks(env, '$video_play')
        .concat(tracks(env, '$video_heartbeat'), tracks(env, '$video_seeked'), tracks(env, '$video_ratechange'))
        .concat(tracks(env, '$video_pause'), tracks(env, '$video_ended'))
        .sort((a, b) => a.originalTimestamp.localeCompare(b.originalTimestamp) || 0);
    assert.deepEqual(
        events.map((m) => m.event),
        ['$video_play', '$video_heartbeat', '$video_seeked', '$video_heartbeat', '$video_ratechange', '$video_pause', '$video_ended'],
    );
    const [play] = tracks(env, '$video_play');
    assert.deepEqual(play.properties, {
        video_id: 'intro',
        src: 'https://cdn.example/intro.mp4',
        title: 'Product tour',
        duration: 120.5,
        position: 0,
        rate: 1,
    });
    const [seek] = tracks(env, '$video_seeked');
    assert.equal(seek.properties.from, 8.123);
    assert.equal(seek.properties.to, 60);
    assert.equal(seek.properties.position, 60);
    assert.equal(tracks(env, '$video_ratechange')[0].properties.rate, 1.5);
    assert.equal(tracks(env, '$video_heartbeat').length, 2);
});

test('video_id falls back to currentSrc; title to title / aria-label; unknown duration is null', async () => {
    const { env, win, doc, clock } = await start({ load: { live: false } });
    const a = addVideo(doc, { 'data-journey-video-id': 'vid-7', title: 'Titled' });
    const b = addVideo(doc, { 'aria-label': 'Labelled' });
    b.state.duration = Infinity;
    fire(win, a.v, 'play');
    fire(win, b.v, 'play');
    await clock.tick(1000);
    const [pa, pb] = tracks(env, '$video_play').map((m) => m.properties);
    assert.equal(pa.video_id, 'vid-7');
    assert.equal(pa.title, 'Titled');
    assert.equal(pb.video_id, 'https://cdn.example/intro.mp4');
    assert.equal(pb.title, 'Labelled');
    assert.equal(pb.duration, null);
});

test('a removed video stops its heartbeat', async () => {
    const { env, win, doc, clock } = await start({ load: { live: false } });
    const { v, state } = addVideo(doc, { id: 'x' });
    state.paused = false;
    fire(win, v, 'play');
    await clock.tick(5000);
    v.remove();
    await clock.tick(30000);
    assert.equal(tracks(env, '$video_heartbeat').length, 1);
    assert.equal(clock.pending().length, 0);
});
