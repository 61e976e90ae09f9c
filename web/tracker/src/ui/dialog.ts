/*
 * dialog.ts: the modal offer shown for live_chat_offer and priority_route, and the card both it and
 * the chat panel are made of.
 *
 *   <div class="bd">                                   backdrop, covers the page
 *     <div role="dialog" aria-modal="true" aria-labelledby="jNt" aria-describedby="jNd" class="card">
 *       <button class="x" aria-label="Close">×</button>  -> dismissed
 *       <h2 id="jNt">Need help?</h2>                   server title, or this default
 *       <p id="jNd">message</p>
 *       <button>Maybe later</button>                   -> declined
 *       <button class="pri">Start live chat</button>   -> accepted (focused on open)
 *
 * Keyboard: focus moves into the dialog on open and back to the element that had it on close. While
 * open, one capture-phase keydown listener on document owns Tab and Shift+Tab (cycling through the
 * dialog's controls; events from inside the shadow root reach document retargeted to the host) and
 * Escape (-> dismissed); a focusin listener pulls focus back if anything outside takes it. Mousedown on
 * the backdrop is cancelled so a stray click cannot drop focus onto the page. `done` runs exactly once.
 */
import { listen } from '../util';
import { button, h, uid, type Child, type Ui } from './root';

export type Status = 'accepted' | 'declined' | 'dismissed';

/* What can take focus in our own dialogs (we render nothing else focusable). */
const FOCUSABLE = 'button,textarea';

export const isEscape = (e: KeyboardEvent): boolean => e.key === 'Escape';

/*
 * A card: role=dialog labelled by its <h2>, a close button, then `body`. `onClose` runs once, from
 * the close button or from close(); it removes `outer` (the card, or its backdrop) and restores focus.
 */
export function card(
    ui: Ui,
    opts: { _title: string; _modal: boolean; _closeLabel: string; _cls?: string; _describe?: string },
    onClose: () => void,
    ...body: Child[]
): { _box: HTMLElement; _close(): void } {
    const doc = ui._doc;
    const id = uid();
    const prev = doc.activeElement;
    const described = opts._describe != null;
    const box = h(
        doc,
        'div',
        {
            role: 'dialog',
            'aria-modal': String(opts._modal),
            'aria-labelledby': id + 't',
            'aria-describedby': described ? id + 'd' : null,
            class: 'card ' + (opts._cls || ''),
        },
        button(doc, '×', () => close(), { class: 'x', 'aria-label': opts._closeLabel }),
        h(doc, 'h2', { id: id + 't' }, opts._title),
        described && h(doc, 'p', { id: id + 'd' }, opts._describe as string),
        ...body,
    );
    const outer = opts._modal ? h(doc, 'div', { class: 'bd' }, box) : box;
    let open = true;
    const close = (): void => {
        if (!open) return;
        open = false;
        outer.remove();
        if (prev && prev !== doc.body && doc.contains(prev)) (prev as HTMLElement).focus();
        onClose();
    };
    ui._root().appendChild(outer);
    return { _box: box, _close: close };
}

/* Trap focus in `box` until the returned function is called. */
export function trapFocus(ui: Ui, box: HTMLElement, onEscape: () => void): () => void {
    const doc = ui._doc;
    const controls = (): HTMLElement[] => [].slice.call(box.querySelectorAll(FOCUSABLE));
    const onKey = (e: KeyboardEvent): void => {
        if (isEscape(e)) {
            e.preventDefault();
            e.stopImmediatePropagation();
            onEscape();
        } else if (e.key === 'Tab') {
            const list = controls();
            const i = list.indexOf(ui._active() as HTMLElement);
            const last = list.length - 1;
            const next = e.shiftKey ? (i <= 0 ? last : i - 1) : i < 0 || i >= last ? 0 : i + 1;
            e.preventDefault();
            if (list[next]) list[next].focus();
        }
    };
    const onFocus = (e: FocusEvent): void => {
        if (e.target !== ui._host()) controls()[0].focus();
    };
    const offKey = listen(doc, 'keydown', onKey);
    const offFocus = listen(doc, 'focusin', onFocus);
    return () => {
        offKey();
        offFocus();
    };
}

export function showOffer(ui: Ui, offer: { title?: unknown; message?: unknown }, done: (status: Status) => void): void {
    let status: Status = 'dismissed';
    const end = (s: Status) => () => {
        status = s;
        c._close();
    };
    const c = card(
        ui,
        { _title: String(offer.title || 'Need help?'), _modal: true, _closeLabel: 'Close', _describe: String(offer.message || '') },
        () => {
            release();
            done(status);
        },
    );
    const doc = ui._doc;
    const accept = button(doc, 'Start live chat', end('accepted'), { class: 'pri' });
    c._box.appendChild(h(doc, 'div', { class: 'row' }, button(doc, 'Maybe later', end('declined')), accept));
    const backdrop = c._box.parentElement as HTMLElement;
    backdrop.addEventListener('mousedown', (e) => e.target === backdrop && e.preventDefault());
    const release = trapFocus(ui, c._box, end('dismissed'));
    accept.focus();
}
