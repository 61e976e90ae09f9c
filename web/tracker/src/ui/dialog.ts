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
import { h, type Child, type Ui } from './root';

export type Status = 'accepted' | 'declined' | 'dismissed';

let seq = 0;

const FOCUSABLE = 'button,textarea,input,select,[href],[tabindex]:not([tabindex="-1"])';

export const isEscape = (e: KeyboardEvent): boolean => e.key === 'Escape';

/*
 * A card: role=dialog labelled by its <h2>, a close button, then `body`. `onClose` runs once, from
 * the close button or from close(); it removes `outer` (the card, or its backdrop) and restores focus.
 */
export function card(
    ui: Ui,
    opts: { title: string; modal: boolean; closeLabel: string; cls?: string; describe?: string },
    onClose: () => void,
    ...body: Child[]
): { box: HTMLElement; close(): void; button(label: string, fn: () => void, cls?: string): HTMLElement } {
    const doc = ui.doc;
    const id = 'j' + ++seq;
    const prev = doc.activeElement;
    const button = (label: string, fn: () => void, cls?: string, ariaLabel?: string): HTMLElement => {
        const b = h(doc, 'button', { type: 'button' }, label);
        if (cls) b.className = cls;
        if (ariaLabel) b.setAttribute('aria-label', ariaLabel);
        b.addEventListener('click', fn);
        return b;
    };
    const attrs: Record<string, string> = {
        role: 'dialog',
        'aria-modal': String(opts.modal),
        'aria-labelledby': id + 't',
        class: 'card ' + (opts.cls || ''),
    };
    if (opts.describe != null) attrs['aria-describedby'] = id + 'd';
    const box = h(
        doc,
        'div',
        attrs,
        button('×', () => close(), 'x', opts.closeLabel),
        h(doc, 'h2', { id: id + 't' }, opts.title),
        opts.describe != null && h(doc, 'p', { id: id + 'd' }, opts.describe),
        ...body,
    );
    const outer = opts.modal ? h(doc, 'div', { class: 'bd' }, box) : box;
    let open = true;
    const close = (): void => {
        if (!open) return;
        open = false;
        outer.remove();
        if (prev && prev !== doc.body && doc.contains(prev)) (prev as HTMLElement).focus();
        onClose();
    };
    ui.root().appendChild(outer);
    return { box, close, button };
}

/* Trap focus in `box` until the returned function is called. */
export function trapFocus(ui: Ui, box: HTMLElement, onEscape: () => void): () => void {
    const doc = ui.doc;
    const controls = (): HTMLElement[] => [].slice.call(box.querySelectorAll(FOCUSABLE));
    const onKey = (e: KeyboardEvent): void => {
        if (isEscape(e)) {
            e.preventDefault();
            e.stopImmediatePropagation();
            onEscape();
        } else if (e.key === 'Tab') {
            const list = controls();
            const i = list.indexOf(ui.active() as HTMLElement);
            const last = list.length - 1;
            const next = e.shiftKey ? (i <= 0 ? last : i - 1) : i < 0 || i >= last ? 0 : i + 1;
            e.preventDefault();
            if (list[next]) list[next].focus();
        }
    };
    const onFocus = (e: FocusEvent): void => {
        if (e.target !== ui.host()) controls()[0].focus();
    };
    doc.addEventListener('keydown', onKey, true);
    doc.addEventListener('focusin', onFocus, true);
    return () => {
        doc.removeEventListener('keydown', onKey, true);
        doc.removeEventListener('focusin', onFocus, true);
    };
}

export function showOffer(ui: Ui, offer: { title?: unknown; message?: unknown }, done: (status: Status) => void): void {
    let status: Status = 'dismissed';
    const end = (s: Status) => () => {
        status = s;
        c.close();
    };
    const c = card(
        ui,
        { title: String(offer.title || 'Need help?'), modal: true, closeLabel: 'Close', describe: String(offer.message || '') },
        () => {
            release();
            done(status);
        },
    );
    const accept = c.button('Start live chat', end('accepted'), 'pri');
    c.box.appendChild(h(ui.doc, 'div', { class: 'row' }, c.button('Maybe later', end('declined')), accept));
    const backdrop = c.box.parentElement as HTMLElement;
    backdrop.addEventListener('mousedown', (e) => e.target === backdrop && e.preventDefault());
    const release = trapFocus(ui, c.box, end('dismissed'));
    accept.focus();
}
