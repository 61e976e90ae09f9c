/*
 * video.ts: what happens to every <video> on the page, including ones added later.
 *
 * Media events do not bubble, but they do run capture listeners on their ancestors, so one capture
 * listener per event type on document sees every video, present or future, with no scanning and no
 * MutationObserver. Per-video state sits in a WeakMap (nothing kept alive for removed videos):
 *
 *   timeupdate -> pos = currentTime        (the last known position)
 *   seeking    -> from = pos               (once per seek; at this point currentTime is already the
 *                                           target, so `from` must come from the last timeupdate)
 *   seeked     -> $video_seeked {from, to}
 *   play       -> $video_play, heartbeat every 5 s while playing, connected and the tab is visible
 *   pause / ended / ratechange -> $video_pause / $video_ended / $video_ratechange
 *
 * The heartbeat is a chain of setTimeouts that stops itself once the video is paused, ended or gone.
 */
import type { Ctx } from '../context';
import type { TimerId } from '../env';
import { listen, round3, trunc } from '../util';
import { attr, isMasked } from './dom';

const HEARTBEAT_MS = 5000;
const EVENTS = ['play', 'pause', 'ended', 'seeking', 'seeked', 'timeupdate', 'ratechange'];

interface VideoState {
    _pos: number; /* the last known position */
    _from: number | null; /* the position a seek started from */
    _beat: TimerId | undefined; /* the next heartbeat */
}

export function installVideo(ctx: Ctx): void {
    const { _doc: doc, _env: env } = ctx;
    const states = new WeakMap<HTMLVideoElement, VideoState>();

    const describe = (v: HTMLVideoElement) => {
        const src = v.currentSrc || attr(v, 'src') || '';
        return {
            video_id: attr(v, 'data-journey-video-id') || attr(v, 'id') || src,
            src: trunc(src, 500),
            title: isMasked(v)
                ? ''
                : trunc(
                      attr(v, 'data-journey-title') ||
                          attr(v, 'title') ||
                          attr(v, 'aria-label'),
                      200,
                  ),
            duration: isFinite(v.duration) ? round3(v.duration) : null,
            position: round3(v.currentTime || 0),
            rate: v.playbackRate,
        };
    };
    const send = (event: string, v: HTMLVideoElement, extra?: object): void => {
        ctx._track('$video_' + event, { ...describe(v), ...extra });
    };

    const stopBeat = (s: VideoState): void => {
        env._clearTimeout(s._beat);
        s._beat = undefined;
    };
    const beat = (v: HTMLVideoElement, s: VideoState): void => {
        stopBeat(s);
        s._beat = env._setTimeout(() => {
            s._beat = undefined;
            if (v.paused || v.ended || !v.isConnected) return;
            if (doc.visibilityState !== 'hidden') send('heartbeat', v);
            beat(v, s);
        }, HEARTBEAT_MS);
    };

    const onEvent = (e: Event): void => {
        const v = e.target as HTMLVideoElement;
        if (!v || v.tagName !== 'VIDEO') return;
        let s = states.get(v);
        if (!s) states.set(v, (s = { _pos: v.currentTime || 0, _from: null, _beat: undefined }));
        switch (e.type) {
            case 'timeupdate':
                if (!v.seeking) s._pos = v.currentTime;
                return;
            case 'seeking':
                if (s._from === null) s._from = s._pos;
                return;
            case 'seeked':
                send('seeked', v, { from: round3(s._from === null ? s._pos : s._from), to: round3(v.currentTime) });
                s._pos = v.currentTime;
                s._from = null;
                return;
            case 'play':
                beat(v, s);
                break;
            case 'pause':
            case 'ended':
                stopBeat(s);
                break;
        }
        send(e.type, v);
    };

    for (const type of EVENTS) listen(doc, type, onEvent);
}
