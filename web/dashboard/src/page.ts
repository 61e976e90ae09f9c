/*
 * page.ts - what a page module gets from the shell. A page is a function that fills ctx.body; everything it
 * starts (fetches, timers, streams, charts) ends when ctx.signal aborts, which happens when the user leaves the
 * page or changes the shared filters (the page is then rendered again from the URL).
 */
import type { Filters } from './filters';
import type { Project } from './types';

export interface PageContext {
    body: HTMLElement;
    signal: AbortSignal;
    filters: Filters;
    params: URLSearchParams;
    project: Project;
    /* Page-specific URL state (replaceState: no new history entry, no re-render). null deletes. */
    setParams(updates: Record<string, string | null>): void;
    /* Client-side navigation to a path (with query) of the dashboard. */
    navigate(href: string): void;
    /* A dashboard link that keeps the shared range and segment. */
    href(path: string, extra?: Record<string, string>): string;
    /* One line under the page title (what the page is showing). */
    setSubtitle(text: string): void;
}

export type PageFn = (ctx: PageContext) => void | Promise<void>;
export interface PageModule {
    default: PageFn;
}
