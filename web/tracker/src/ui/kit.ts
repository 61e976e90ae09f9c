/*
 * ui/kit.ts: everything the tracker draws, as one object: the contents of dist/journey-ui.js.
 *
 * The UI is only needed on the rare page view where an intervention arrives, so it is not part of
 * journey.js: the core (interventions.ts) asks env.loadUi() for this kit the first time it has
 * something to show. In the browser that loads journey-ui.js (ui/index.ts) from next to journey.js;
 * in tests it is imported directly. The core only ever imports the UiKit *type* from here.
 */
import { showChat } from './chat';
import { showOffer } from './dialog';
import { createUi } from './root';
import { showTooltip } from './tooltip';

export const kit = { createUi, showOffer, showTooltip, showChat };

export type UiKit = typeof kit;
export type { Ui } from './root';
export type { Status } from './dialog';
