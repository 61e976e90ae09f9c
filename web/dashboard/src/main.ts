/*
 * main.ts - the dashboard shell: sign-in, the navigation, the shared filter bar and the client-side router.
 *
 *   no key in sessionStorage  ->  sign-in form (whatever the URL; the URL is kept and shown after signing in)
 *   /live /journeys /session?id= /funnels /retention /segments /interventions /model /deadletters /videos
 *
 * Pages are separate chunks loaded on first visit (pages/*.ts), so signing in does not wait for ECharts. Each
 * page render gets a fresh AbortController: leaving the page, or changing the shared range or segment, aborts
 * everything the page started, then the page is rendered again from the URL.
 */
import './styles.css';
import { ApiError, getJson, isAbort, request, setUnauthorizedHandler } from './api';
import { clearKey, getKey, setKey } from './auth';
import { append, clear, h, icon, replace, uid } from './dom';
import { describeRange, describeSegment, PRESETS, readFilters, writeFilters, type Filters } from './filters';
import { ICONS } from './icons';
import type { PageContext, PageModule } from './page';
import { segmentEditor } from './segment';
import type { Project } from './types';
import { button, errorState, loadingState } from './ui';

interface Route {
    path: string;
    title: string;
    icon: keyof typeof ICONS;
    nav: boolean;
    navPath?: string; // highlighted nav entry for pages not in the nav
    range: boolean; // shows the date range picker
    segment: boolean; // shows the segment picker
    load: () => Promise<PageModule>;
}

const ROUTES: Route[] = [
    { path: '/live', title: 'Live', icon: 'live', nav: true, range: true, segment: true, load: () => import('./pages/live') },
    { path: '/journeys', title: 'Journeys', icon: 'journeys', nav: true, range: true, segment: true, load: () => import('./pages/journeys') },
    { path: '/session', title: 'Session', icon: 'journeys', nav: false, navPath: '/journeys', range: false, segment: false, load: () => import('./pages/session') },
    { path: '/funnels', title: 'Funnels', icon: 'funnels', nav: true, range: true, segment: true, load: () => import('./pages/funnels') },
    { path: '/retention', title: 'Retention', icon: 'retention', nav: true, range: true, segment: true, load: () => import('./pages/retention') },
    { path: '/segments', title: 'Segments', icon: 'segments', nav: true, range: true, segment: false, load: () => import('./pages/segments') },
    { path: '/interventions', title: 'Interventions', icon: 'interventions', nav: true, range: true, segment: true, load: () => import('./pages/interventions') },
    { path: '/model', title: 'Model', icon: 'model', nav: true, range: false, segment: false, load: () => import('./pages/model') },
    { path: '/deadletters', title: 'Dead letters', icon: 'deadletters', nav: true, range: false, segment: false, load: () => import('./pages/deadletters') },
    { path: '/videos', title: 'Video', icon: 'videos', nav: true, range: true, segment: true, load: () => import('./pages/videos') },
];

const app = document.getElementById('app') as HTMLElement;
let project: Project | null = null;
let current: AbortController | null = null;
let shell: Shell | null = null;

/* ---- sign-in -------------------------------------------------------------------------------------------- */

function showSignIn(notice?: string): void {
    current?.abort();
    current = null;
    shell = null;
    project = null;
    document.title = 'Sign in · Journey';
    const keyInput = h('input', {
        id: 'secret-key', name: 'secret-key', type: 'password', class: 'input', required: true,
        autocomplete: 'off', spellcheck: 'false', placeholder: 'sk_…', 'aria-describedby': 'secret-key-help',
    });
    const message = h('div', { class: 'signin-message', role: 'alert', 'aria-live': 'assertive' });
    if (notice) append(message, h('p', { class: 'notice' }, notice));
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
    const form = h('form', { class: 'signin-form', novalidate: true, 'aria-labelledby': 'signin-title' },
        h('div', { class: 'brand brand-large' }, icon('M3 17c4 0 5-10 9-10s5 7 9 7', 'brand-mark'), h('span', null, 'Journey')),
        h('h1', { id: 'signin-title', class: 'signin-title' }, 'Sign in to the dashboard'),
        h('div', { class: 'field' },
            h('label', { for: 'secret-key', class: 'field-label' }, 'Project secret key'),
            keyInput,
            h('p', { id: 'secret-key-help', class: 'field-hint' },
                'The ', h('code', null, 'sk_…'), ' key printed by ', h('code', null, 'journey project create'),
                '. It is kept in this tab only and sent to this server alone.')),
        message,
        submit);
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        void (async () => {
            const key = keyInput.value.trim();
            clear(message);
            if (!key) {
                append(message, h('p', { class: 'error' }, 'Enter the project’s secret key.'));
                keyInput.focus();
                return;
            }
            submit.disabled = true;
            submit.textContent = 'Checking…';
            try {
                const res = await fetchProject(key);
                setKey(key);
                project = res;
                start();
            } catch (e) {
                const why = e instanceof ApiError && e.status === 401
                    ? `That key was refused: ${e.message} (${e.code}).`
                    : `Could not sign in: ${e instanceof Error ? e.message : String(e)}`;
                append(message, h('p', { class: 'error' }, why));
                keyInput.select();
                keyInput.focus();
            } finally {
                submit.disabled = false;
                submit.textContent = 'Sign in';
            }
        })();
    });
    replace(app, h('main', { class: 'signin', id: 'main' }, form));
    keyInput.focus();
}

async function fetchProject(key?: string): Promise<Project> {
    if (key === undefined) return getJson<Project>('/api/v1/project');
    const res = await request('GET', '/api/v1/project', { key });
    return (await res.json()) as Project;
}

/* Several requests of a page may fail with 401 together: the first one shows sign-in, the others find no key. */
setUnauthorizedHandler(() => {
    if (!getKey()) return;
    clearKey();
    showSignIn('Your key is no longer accepted. Sign in again.');
});

/* ---- shell ---------------------------------------------------------------------------------------------- */

interface Shell {
    nav: HTMLElement;
    navLinks: Map<string, HTMLAnchorElement>;
    menuButton: HTMLButtonElement;
    title: HTMLHeadingElement;
    subtitle: HTMLElement;
    filterbar: HTMLElement;
    body: HTMLElement;
}

function buildShell(p: Project): Shell {
    const navLinks = new Map<string, HTMLAnchorElement>();
    const navList = h('ul', { class: 'nav-list' }, ROUTES.filter((r) => r.nav).map((r) => {
        const a = h('a', { href: r.path, class: 'nav-link' }, icon(ICONS[r.icon]), h('span', null, r.title));
        navLinks.set(r.path, a);
        return h('li', null, a);
    }));
    const nav = h('nav', { id: 'nav', class: 'sidenav', 'aria-label': 'Main' }, navList);
    const menuButton = h('button', { type: 'button', class: 'btn btn-icon menu-button', 'aria-expanded': 'false', 'aria-controls': 'nav', 'aria-label': 'Menu' },
        icon(ICONS.menu));
    menuButton.addEventListener('click', () => setMenu(nav.classList.contains('open') ? false : true));
    const signOut = button([icon(ICONS.signout), h('span', { class: 'signout-text' }, 'Sign out')], () => {
        clearKey();
        showSignIn('You are signed out.');
        history.replaceState(null, '', location.pathname);
    }, { class: 'btn btn-ghost btn-small signout', 'aria-label': 'Sign out' });
    const title = h('h1', { class: 'page-title', tabindex: -1, id: 'page-title' });
    const subtitle = h('p', { class: 'page-sub' });
    const filterbar = h('div', { class: 'filterbar' });
    const body = h('div', { class: 'page-body' });
    const header = h('header', { class: 'topbar' },
        menuButton,
        h('a', { href: '/live', class: 'brand' }, icon('M3 17c4 0 5-10 9-10s5 7 9 7', 'brand-mark'), h('span', null, 'Journey')),
        h('span', { class: 'project-name', title: `Project ${p.id}` }, p.name),
        h('span', { class: 'spacer' }),
        signOut);
    replace(app,
        h('a', { href: '#main', class: 'skip-link' }, 'Skip to content'),
        h('div', { class: 'shell' },
            header,
            nav,
            h('main', { id: 'main', class: 'main', tabindex: -1 },
                h('div', { class: 'page-head' }, h('div', { class: 'page-titles' }, title, subtitle), filterbar),
                body)));
    return { nav, navLinks, menuButton, title, subtitle, filterbar, body };
}

function setMenu(open: boolean): void {
    if (!shell) return;
    shell.nav.classList.toggle('open', open);
    shell.menuButton.setAttribute('aria-expanded', String(open));
    shell.menuButton.setAttribute('aria-label', open ? 'Close menu' : 'Menu');
    replace(shell.menuButton, icon(open ? ICONS.close : ICONS.menu));
}

document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && shell?.nav.classList.contains('open')) {
        setMenu(false);
        shell.menuButton.focus();
    }
});

/* ---- filter bar ----------------------------------------------------------------------------------------- */

/* Applies new filters: a new history entry, the page rendered again. The filter bar is rebuilt, so focus goes
 * back to the control that had it (the preset pressed, or the segment picker after applying a segment). */
function applyFilters(f: Filters): void {
    const q = writeFilters(f, new URLSearchParams(location.search));
    const qs = q.toString();
    const active = document.activeElement as HTMLElement | null;
    const refocus = active?.dataset.preset ? `[data-preset="${active.dataset.preset}"]`
        : active?.closest('.segment-picker') ? '.segment-button'
            : active?.closest('.custom-range') ? '[data-preset="custom"]' : null;
    history.pushState(null, '', location.pathname + (qs ? `?${qs}` : ''));
    void render({ focus: false });
    if (refocus) shell?.filterbar.querySelector<HTMLElement>(refocus)?.focus();
}

function buildFilterbar(route: Route, f: Filters): HTMLElement[] {
    const parts: HTMLElement[] = [];
    if (route.range) {
        const fromId = uid('from');
        const toId = uid('to');
        const from = h('input', { type: 'date', id: fromId, class: 'input input-date', value: f.from, max: f.to });
        const to = h('input', { type: 'date', id: toId, class: 'input input-date', value: f.to, min: f.from });
        const custom = h('div', { class: 'custom-range' },
            h('label', { for: fromId, class: 'sr-only' }, 'From'), from,
            h('span', { 'aria-hidden': 'true' }, '–'),
            h('label', { for: toId, class: 'sr-only' }, 'To (inclusive)'), to,
            button('Apply', () => {
                if (!from.value || !to.value || from.value > to.value) {
                    from.setCustomValidity('The start must be on or before the end.');
                    from.reportValidity();
                    return;
                }
                applyFilters({ ...f, preset: 'custom', from: from.value, to: to.value });
            }, { class: 'btn btn-small' }));
        from.addEventListener('input', () => from.setCustomValidity(''));
        custom.hidden = f.preset !== 'custom';
        const presets = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Date range' },
            PRESETS.map((p) => button(p.label, () => {
                if (p.id === 'custom') {
                    custom.hidden = false;
                    for (const b of presets.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.preset === 'custom'));
                    from.focus();
                } else {
                    applyFilters({ ...f, preset: p.id });
                }
            }, { class: 'seg-btn', 'aria-pressed': String(f.preset === p.id), 'data-preset': p.id, title: p.long })));
        parts.push(h('div', { class: 'range-picker' }, presets, custom));
    }
    if (route.segment) {
        const panelId = uid('segpanel');
        const active = Object.keys(f.segment).length > 0;
        const toggle = h('button', {
            type: 'button', class: `btn btn-small segment-button ${active ? 'active' : ''}`.trim(),
            'aria-expanded': 'false', 'aria-controls': panelId,
        }, icon(ICONS.filter), h('span', { class: 'segment-summary' }, describeSegment(f.segment)));
        const panel = h('div', { id: panelId, class: 'segment-panel', role: 'group', 'aria-label': 'Segment' });
        panel.hidden = true;
        let editor: ReturnType<typeof segmentEditor> | null = null;
        const close = () => {
            panel.hidden = true;
            toggle.setAttribute('aria-expanded', 'false');
        };
        toggle.addEventListener('click', () => {
            if (!panel.hidden) {
                close();
                return;
            }
            if (!editor) {
                editor = segmentEditor(f.segment);
                const ed = editor;
                append(panel,
                    h('p', { class: 'panel-title' }, 'Count only sessions that match all of:'),
                    ed.el,
                    h('div', { class: 'panel-actions' },
                        button('Apply segment', () => applyFilters({ ...f, segment: ed.read() }), { class: 'btn btn-primary btn-small' }),
                        button('All sessions', () => applyFilters({ ...f, segment: {} }), { class: 'btn btn-small' }),
                        button('Cancel', () => { close(); toggle.focus(); }, { class: 'btn btn-small btn-ghost' })));
            }
            panel.hidden = false;
            toggle.setAttribute('aria-expanded', 'true');
            panel.querySelector<HTMLElement>('input, select')?.focus();
        });
        panel.addEventListener('keydown', (ev) => {
            if (ev.key === 'Escape') {
                ev.stopPropagation();
                close();
                toggle.focus();
            }
        });
        parts.push(h('div', { class: 'segment-picker' }, toggle, panel));
    }
    return parts;
}

/* ---- router --------------------------------------------------------------------------------------------- */

function routeOf(pathname: string): Route | null {
    const p = pathname.replace(/\/+$/, '') || '/';
    return ROUTES.find((r) => r.path === p) ?? null;
}

function sharedQuery(f: Filters, extra?: Record<string, string>): string {
    const q = writeFilters(f, new URLSearchParams());
    for (const [k, v] of Object.entries(extra ?? {})) q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
}

export function navigate(href: string, replaceEntry = false): void {
    const url = new URL(href, location.href);
    if (url.origin !== location.origin) {
        location.href = href;
        return;
    }
    if (replaceEntry) history.replaceState(null, '', url.pathname + url.search + url.hash);
    else history.pushState(null, '', url.pathname + url.search + url.hash);
    void render({ focus: true });
}

async function render(opts: { focus: boolean }): Promise<void> {
    if (!project || !getKey()) {
        showSignIn();
        return;
    }
    if (location.pathname === '/' || location.pathname === '/index.html') {
        history.replaceState(null, '', `/live${location.search}`);
    }
    current?.abort();
    const controller = new AbortController();
    current = controller;
    if (!shell) shell = buildShell(project);
    const s = shell;
    setMenu(false);
    const route = routeOf(location.pathname);
    const filters = readFilters();
    for (const [path, a] of s.navLinks) {
        a.href = path + sharedQuery(filters);
        const on = path === (route?.navPath ?? route?.path);
        if (on) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    }
    replace(s.subtitle);
    s.subtitle.hidden = true;
    if (!route) {
        document.title = 'Not found · Journey';
        s.title.textContent = 'Page not found';
        replace(s.filterbar);
        replace(s.body, h('div', { class: 'state state-empty' },
            h('p', { class: 'state-title' }, `There is no page at ${location.pathname}.`),
            h('p', null, h('a', { href: '/live' }, 'Go to the live view'))));
        return;
    }
    document.title = `${route.title} · ${project.name} · Journey`;
    s.title.textContent = route.title;
    replace(s.filterbar, buildFilterbar(route, filters));
    s.filterbar.hidden = !route.range && !route.segment;
    replace(s.body, loadingState());
    if (opts.focus) s.title.focus({ preventScroll: false });
    let mod: PageModule;
    try {
        mod = await route.load();
    } catch (e) {
        if (controller.signal.aborted) return;
        replace(s.body, errorState(new Error(`This page could not be loaded (${e instanceof Error ? e.message : String(e)}). Reload to get the latest dashboard.`)));
        return;
    }
    if (controller.signal.aborted) return;
    clear(s.body);
    const ctx: PageContext = {
        body: s.body,
        signal: controller.signal,
        filters,
        params: new URLSearchParams(location.search),
        project,
        setParams(updates) {
            if (controller.signal.aborted) return;
            const q = new URLSearchParams(location.search);
            for (const [k, v] of Object.entries(updates)) {
                if (v === null || v === '') q.delete(k);
                else q.set(k, v);
            }
            const qs = q.toString();
            history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
            this.params = q;
        },
        navigate: (href) => navigate(href),
        href: (path, extra) => path + sharedQuery(filters, extra),
        setSubtitle(text) {
            s.subtitle.textContent = text;
            s.subtitle.hidden = !text;
        },
    };
    if (route.range || route.segment) {
        ctx.setSubtitle([route.range ? describeRange(filters) : '', route.segment ? describeSegment(filters.segment) : ''].filter(Boolean).join(' · '));
    }
    try {
        await mod.default(ctx);
    } catch (e) {
        if (isAbort(e) || controller.signal.aborted) return;
        replace(s.body, errorState(e));
    }
}

/* Same-origin links inside the app navigate without a page load. */
document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.('a');
    if (!a || a.hasAttribute('download') || (a.target && a.target !== '_self')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
    if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // in-page anchor
    if (a.classList.contains('skip-link')) return;
    ev.preventDefault();
    navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', () => void render({ focus: true }));

async function start(): Promise<void> {
    if (!project) {
        replace(app, h('main', { class: 'boot', id: 'main' }, loadingState('Signing in…')));
        try {
            project = await fetchProject();
        } catch (e) {
            if (e instanceof ApiError && e.status === 401) return; // the handler shows sign-in
            replace(app, h('main', { class: 'boot', id: 'main' }, errorState(e, () => void start())));
            return;
        }
    }
    await render({ focus: false });
}

if (getKey()) void start();
else showSignIn();
