/*
 * tooltip.ts: a small bubble of text anchored next to an element of the site (action "tooltip").
 *
 *   <div role="tooltip" class="tip"> <p>text</p> <button aria-label="Dismiss tip">×</button> </div>
 *
 * The text is also announced through the root's polite live region (a tooltip that no element points
 * to with aria-describedby is otherwise silent; we cannot add that attribute to the site's element).
 *
 * The bubble does not take focus (the visitor is busy with the page); it is placed below the anchor,
 * or above when there is no room, clamped to the viewport, and follows scrolling and resizing. The close
 * button or Escape dismisses it. Only one tooltip is shown at a time: a new one replaces the old one,
 * which reports nothing.
 */
import { listen } from '../util';
import { isEscape } from './dialog';
import { button, h, type Ui } from './root';

const GAP_PX = 8;

let current: (() => void) | null = null;

export function showTooltip(ui: Ui, anchor: Element, text: string, onDismiss: () => void): void {
    if (current) current();
    const doc = ui._doc;
    const win = doc.defaultView as Window;
    const tip = h(
        doc,
        'div',
        { role: 'tooltip', class: 'tip' },
        h(doc, 'p', {}, text),
        button(doc, '×', () => dismiss(), { class: 'x', 'aria-label': 'Dismiss tip' }),
    );

    const place = (): void => {
        const r = anchor.getBoundingClientRect();
        const height = tip.offsetHeight;
        const below = r.bottom + GAP_PX + height <= win.innerHeight || r.top - GAP_PX - height < 0;
        tip.style.top = Math.round(below ? r.bottom + GAP_PX : r.top - GAP_PX - height) + 'px';
        tip.style.left = Math.round(Math.max(GAP_PX, Math.min(r.left, win.innerWidth - tip.offsetWidth - GAP_PX))) + 'px';
    };
    const offs = [
        listen(win, 'scroll', place),
        listen(win, 'resize', place),
        /* bubble phase: an open dialog's capture-phase handler takes Escape first and keeps it */
        listen(doc, 'keydown', (e: KeyboardEvent) => isEscape(e) && dismiss(), false),
    ];
    const remove = (): void => {
        current = null;
        tip.remove();
        for (const off of offs) off();
    };
    const dismiss = (): void => {
        remove();
        onDismiss();
    };
    current = remove;
    ui._root().appendChild(tip);
    place();
    ui._announce(text);
}
