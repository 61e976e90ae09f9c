/*
 * auth.ts - the project's secret key, kept in sessionStorage (per tab, gone when the tab closes; no cookie is
 * ever set, so the API cannot be driven by another site through the browser).
 */

const KEY = 'journey.secret_key';

export function getKey(): string | null {
    try {
        return sessionStorage.getItem(KEY);
    } catch {
        return null;
    }
}

export function setKey(key: string): void {
    sessionStorage.setItem(KEY, key);
}

export function clearKey(): void {
    try {
        sessionStorage.removeItem(KEY);
    } catch {
        /* storage unavailable: nothing to forget */
    }
}
