/*
 * faq.html: "Is an adviser free now?" (#adviser-check), the demo's SLOW BUT
 * WORKING control.
 *
 * A click does work, but only after ADVISER_CHECK_MS (1.5 s): the handler
 * waits first (as a real site waits on a slow availability lookup, or on a
 * chat vendor's script that is still loading) and shows nothing meanwhile: no
 * "Checking..." text, no spinner, no request the page can see. Then it writes
 * the answer into #adviser-status (an empty role="status" region from the
 * start, so screen readers announce the answer when it comes).
 *
 * It exists for the dead-click measurement (docs/detectors.md, "The dead-click
 * window"; tests/e2e/dead_click_window.test.mjs): the tracker decides a click
 * is dead 1 s after it, so it reports this working button as a $dead_click,
 * while PostHog's 2.75 s rule (a DOM mutation within 2.5 s) would not. It is
 * also a realistic stumble: with no feedback for 1.5 s, people click again.
 * The demo sends no request of its own (docs/demo.md), so the wait is a timer.
 */

export const ADVISER_CHECK_MS = 1500;

export function initAdviserCheck(button: HTMLButtonElement, status: HTMLElement): void {
    let pending = false;
    button.addEventListener('click', () => {
        if (pending) return; // a second click while waiting changes nothing either
        pending = true;
        window.setTimeout(() => {
            pending = false;
            status.textContent =
                'An adviser is free now. If you get stuck anywhere on this site, we will offer you a live chat.';
        }, ADVISER_CHECK_MS);
    });
}
