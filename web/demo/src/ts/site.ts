/*
 * Entry point of /demo/js/site.js, loaded (defer) by every demo page right
 * after /journey.js. It starts the tracker (see journey.ts), opens the demo
 * chat when the visitor accepts Journey's help offer, and wires the page's
 * own form, found by id:
 *   #loan-calculator  calculator.html  (calculator.ts)
 *   #application      apply.html       (application.ts)
 *   #adviser-check    faq.html         (adviser.ts: the slow-but-working button)
 * Other pages need no script of their own: the tracker autocaptures clicks,
 * scrolls, page views and the explainer video.
 */

import { initAdviserCheck } from './adviser';
import { initApplication } from './application';
import { initCalculator } from './calculator';
import { openChat } from './chat';
import { onJourney, startJourney } from './journey';

function init(): void {
    const calculator = document.getElementById('loan-calculator');
    if (calculator instanceof HTMLFormElement) initCalculator(calculator);
    const application = document.getElementById('application');
    if (application instanceof HTMLFormElement) initApplication(application);
    const adviser = document.getElementById('adviser-check');
    const adviserStatus = document.getElementById('adviser-status');
    if (adviser instanceof HTMLButtonElement && adviserStatus) initAdviserCheck(adviser, adviserStatus);

    onJourney('chat', () => openChat());
    void startJourney();
}

if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init, { once: true });
} else {
    init();
}
