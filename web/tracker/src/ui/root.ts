/*
 * root.ts: the single place the tracker's UI lives in the host page.
 *
 *   <body> ... <div data-journey-ui>            (appended on first use, never styled by us)
 *                 #shadow-root (open)
 *                   [adopted stylesheet, or <style> where adoptedStyleSheets is missing]
 *                   <div role="status">               polite live region for announcements
 *                   dialog / chat panel / tooltip
 *
 * The shadow root isolates both ways: the site's CSS cannot reach our elements and ours cannot reach
 * the site's. Styles go in a constructed stylesheet (CSSStyleSheet.replaceSync), which a strict CSP
 * (`style-src 'self'`) allows, unlike a <style> element or style="" attributes; the <style> fallback
 * is only for browsers without constructable stylesheets. Positions set from script use the CSSOM
 * (el.style.top = ...), which CSP also allows.
 *
 * h() builds elements with attributes and text children only: server-provided strings (intervention
 * titles and messages) become text nodes, never markup.
 */
import type { Env } from '../env';
import { CSS } from './styles';

export interface Ui {
    _doc: Document;
    _host(): HTMLElement;
    _root(): ShadowRoot;
    /* The focused element inside our shadow root, if any. */
    _active(): Element | null;
    /* Say `text` to screen readers through a polite live region that exists before the text. */
    _announce(text: string): void;
}

export type Child = Node | string | null | false;
export type Attrs = Record<string, string | null | undefined>;

/* A fresh id for our elements ("j1", "j2", ...: one counter, so ids never repeat in the shadow root). */
let seq = 0;
export const uid = (): string => 'j' + ++seq;

/* <tag attrs>kids</tag>; attributes that are null or undefined are left out. */
export function h(doc: Document, tag: string, attrs: Attrs = {}, ...kids: Child[]): HTMLElement {
    const el = doc.createElement(tag);
    for (const k in attrs) if (attrs[k] != null) el.setAttribute(k, attrs[k] as string);
    for (const c of kids) if (c) el.appendChild(typeof c === 'string' ? doc.createTextNode(c) : c);
    return el;
}

/* A type=button <button> that runs `fn` when pressed (a DOM property, not an inline handler: CSP-safe). */
export function button(doc: Document, label: string, fn: () => void, attrs?: Attrs): HTMLElement {
    const b = h(doc, 'button', { type: 'button', ...attrs }, label);
    b.onclick = fn;
    return b;
}

export function createUi(env: Env): Ui {
    const win = env._win;
    const doc = win.document;
    let hostEl: HTMLElement | null = null;
    let shadow: ShadowRoot | null = null;
    let status: HTMLElement | null = null;

    function root(): ShadowRoot {
        if (shadow && hostEl && hostEl.isConnected) return shadow;
        hostEl = h(doc, 'div', { 'data-journey-ui': '' });
        shadow = hostEl.attachShadow({ mode: 'open' });
        try {
            const sheet = new win.CSSStyleSheet();
            sheet.replaceSync(CSS);
            (shadow as ShadowRoot & { adoptedStyleSheets: CSSStyleSheet[] }).adoptedStyleSheets = [sheet];
        } catch (e) {
            shadow.appendChild(h(doc, 'style', {}, CSS));
        }
        shadow.appendChild((status = h(doc, 'div', { role: 'status', class: 'sr' })));
        (doc.body || doc.documentElement).appendChild(hostEl);
        return shadow;
    }

    return {
        _doc: doc,
        _host: () => (root(), hostEl as HTMLElement),
        _root: root,
        _active: () => (shadow ? shadow.activeElement : null),
        _announce(text) {
            root();
            const region = status as HTMLElement;
            /* emptied now, filled a beat later: a change screen readers announce, even for a
             * repeated text or a region that was only just inserted */
            region.textContent = '';
            env._setTimeout(() => (region.textContent = text), 100);
        },
    };
}
