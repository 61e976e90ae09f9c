/*
 * dom.ts - building DOM without innerHTML.
 *
 * Everything the dashboard shows is built with h(): text is always a text node, so nothing the API returns (page
 * paths, event names, raw dead letters) can become markup. Attributes are set with setAttribute except "style",
 * which the CSP forbids as an attribute: set element.style from code instead. Event handlers are "onclick" style
 * keys holding functions, added with addEventListener (no inline handler ever reaches the markup).
 */

export type Child = Node | string | number | null | undefined | false | readonly Child[];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (ev: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

export function append(parent: Node, ...children: Child[]): void {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(parent, ...(c as readonly Child[]));
        else if (c instanceof Node) parent.appendChild(c);
        else parent.appendChild(document.createTextNode(String(c)));
    }
}

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
        if (v === null || v === undefined || v === false) continue;
        if (typeof v === 'function') {
            el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
        } else if (k === 'style') {
            throw new Error('h(): style attributes are refused by the CSP; set element.style instead');
        } else {
            el.setAttribute(k, v === true ? '' : String(v));
        }
    }
}

export function h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attrs?: Attrs | null,
    ...children: Child[]
): HTMLElementTagNameMap[K] {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, ...children);
    return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/* A 20x20 line icon from SVG path data (decorative: hidden from assistive technology). */
export function icon(d: string, cls = 'icon'): SVGSVGElement {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', cls);
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    for (const part of d.split('|')) {
        const p = document.createElementNS(SVG_NS, 'path');
        p.setAttribute('d', part);
        svg.appendChild(p);
    }
    return svg;
}

export function clear(el: Element): void {
    while (el.firstChild) el.removeChild(el.firstChild);
}

export function replace(el: Element, ...children: Child[]): void {
    clear(el);
    append(el, ...children);
}

let idCounter = 0;
/* A unique element id for label/aria wiring. */
export function uid(prefix = 'id'): string {
    idCounter += 1;
    return `${prefix}-${idCounter}`;
}
