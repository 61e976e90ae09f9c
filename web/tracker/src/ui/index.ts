/*
 * ui/index.ts: the entry point of dist/journey-ui.js, the lazily loaded UI of the tracker.
 *
 * journey.js loads this file with a <script> element it creates (index.ts, loadUi) and listens on that
 * element for a "journeyui" event. While this file runs, document.currentScript is that element, so
 * the kit is handed over as the event's detail: no global variable, and a copy of this file loaded by
 * anyone else (no listener) does nothing.
 */
import { kit } from './kit';

const script = document.currentScript;
if (script) script.dispatchEvent(new CustomEvent('journeyui', { detail: kit }));
