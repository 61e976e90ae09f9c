/*
 * Entry point of /demo/js/site.js, loaded (defer) by every demo page right
 * after /journey.js. It starts the tracker (see journey.ts), opens the demo
 * chat when the visitor accepts Journey's help offer, and wires the page's
 * own form, found by id:
 *   #loan-calculator  calculator.html  (calculator.ts)
 *   #application      apply.html       (application.ts)
 * Other pages need no script of their own: the tracker autocaptures clicks,
 * scrolls, page views and the explainer video.
 */

import { initApplication } from './application';
import { initCalculator } from './calculator';
import { openChat } from './chat';
import { onJourney, startJourney } from './journey';

function init(): void {
    const calculator = document.getElementById('loan-calculator');
    if (calculator instanceof HTMLFormElement) initCalculator(calculator);
    const application = document.getElementById('application');
    if (application instanceof HTMLFormElement) initApplication(application);

    onJourney('chat', () => openChat());
    void startJourney();
}

if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
} else {
    init();
}
