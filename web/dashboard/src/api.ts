/*
 * api.ts - the only way the dashboard talks to the server: /api/v1 (docs/api.md) with the secret key as a
 * Bearer token, same origin, no cookies.
 *
 * - Errors become ApiError carrying the API's own code, message and field, so pages can show what the server said.
 * - A 401 on any call made with the stored key calls the unauthorized handler (main.ts returns to sign-in).
 * - A 503 (the analytics store is still loading after a restart) is retried after Retry-After, a few times.
 * - Exports fetch with the key, then hand the bytes to the browser as a download (an object URL and <a download>),
 *   because a plain link cannot carry the Authorization header.
 * - kpis/stream is Server-Sent Events read from a fetch body: EventSource cannot send the header.
 */
import { getKey } from './auth';

export class ApiError extends Error {
    readonly status: number;
    readonly code: string;
    readonly field: string | undefined;

    constructor(status: number, code: string, message: string, field?: string) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.code = code;
        this.field = field;
    }
}

export function isAbort(e: unknown): boolean {
    return e instanceof DOMException && e.name === 'AbortError';
}

let onUnauthorized: ((e: ApiError) => void) | null = null;

export function setUnauthorizedHandler(fn: (e: ApiError) => void): void {
    onUnauthorized = fn;
}

export type QueryValue = string | number | boolean | object | null | undefined;
export type Query = Record<string, QueryValue>;

/* Objects (segments) are sent as JSON, URL-encoded; empty values are left out. */
export function buildUrl(path: string, query?: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
        if (v === null || v === undefined || v === '') continue;
        if (typeof v === 'object') {
            if (Object.keys(v).length === 0) continue;
            params.set(k, JSON.stringify(v));
        } else {
            params.set(k, String(v));
        }
    }
    const qs = params.toString();
    return qs ? `${path}?${qs}` : path;
}

interface RequestOptions {
    query?: Query | undefined;
    body?: unknown;
    signal?: AbortSignal | undefined;
    key?: string | undefined; // sign-in checks a key that is not stored yet
    accept?: string;
}

const MAX_503_RETRIES = 4;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(new DOMException('aborted', 'AbortError'));
        }, { once: true });
    });
}

async function errorOf(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    try {
        const j = JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } };
        if (j.error) {
            return new ApiError(res.status, j.error.code ?? `http_${res.status}`,
                j.error.message ?? res.statusText, j.error.field);
        }
    } catch {
        /* not JSON: fall through */
    }
    return new ApiError(res.status, `http_${res.status}`, text.trim().slice(0, 300) || `${res.status} ${res.statusText}`);
}

export async function request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const key = opts.key ?? getKey() ?? '';
    for (let attempt = 0; ; attempt++) {
        const headers: Record<string, string> = { Authorization: `Bearer ${key}`, Accept: opts.accept ?? 'application/json' };
        if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
        let res: Response;
        try {
            res = await fetch(buildUrl(path, opts.query), {
                method,
                headers,
                body: opts.body === undefined ? null : JSON.stringify(opts.body),
                signal: opts.signal ?? null,
                cache: 'no-store',
                credentials: 'omit',
            });
        } catch (e) {
            if (isAbort(e)) throw e;
            throw new ApiError(0, 'network_error', 'The server could not be reached. Check that Journey is running.');
        }
        if (res.ok) return res;
        if (res.status === 503 && attempt < MAX_503_RETRIES) {
            const after = Number(res.headers.get('Retry-After'));
            await res.body?.cancel().catch(() => undefined);
            await sleep(Math.min(Number.isFinite(after) && after > 0 ? after : 1, 5) * 1000, opts.signal);
            continue;
        }
        const err = await errorOf(res);
        if (res.status === 401 && opts.key === undefined) onUnauthorized?.(err);
        throw err;
    }
}

export async function getJson<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    const res = await request('GET', path, { query, signal });
    return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal, query?: Query): Promise<T> {
    const res = await request('POST', path, { body, signal, query });
    return (await res.json()) as T;
}

/* ---- exports ---------------------------------------------------------------------------------------------- */

/* What a report is: enough to ask for it again as CSV or JSON. */
export interface ReportSpec {
    method: 'GET' | 'POST';
    path: string;
    query?: Query;
    body?: unknown;
    name: string; // file name stem: journey-<name>-<date>.csv
}

export function saveBlob(blob: Blob, filename: string): void {
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

function stamp(): string {
    return new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
}

export async function downloadReport(spec: ReportSpec, format: 'csv' | 'json'): Promise<string> {
    const query = { ...(spec.query ?? {}), ...(format === 'csv' ? { format: 'csv' } : {}) };
    const res = await request(spec.method, spec.path, { query, body: spec.body, accept: format === 'csv' ? 'text/csv' : 'application/json' });
    const filename = `journey-${spec.name}-${stamp()}.${format}`;
    if (format === 'csv') {
        saveBlob(new Blob([await res.blob()], { type: 'text/csv' }), filename);
    } else {
        const text = await res.text();
        let pretty = text;
        try {
            pretty = JSON.stringify(JSON.parse(text), null, 2);
        } catch {
            /* keep as sent */
        }
        saveBlob(new Blob([pretty + '\n'], { type: 'application/json' }), filename);
    }
    return filename;
}

/* ---- Server-Sent Events over fetch ------------------------------------------------------------------------ */

export interface SseMessage {
    event: string;
    data: string;
}

/* Yields each event of a text/event-stream response until the server closes it or signal aborts. */
export async function* sse(path: string, signal: AbortSignal): AsyncGenerator<SseMessage> {
    const res = await request('GET', path, { signal, accept: 'text/event-stream' });
    if (!res.body) throw new ApiError(0, 'no_stream', 'The server sent no event stream.');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            buf += value.replace(/\r\n?/g, '\n');
            let cut: number;
            while ((cut = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, cut);
                buf = buf.slice(cut + 2);
                let event = 'message';
                const data: string[] = [];
                for (const line of block.split('\n')) {
                    if (!line || line.startsWith(':')) continue;
                    const colon = line.indexOf(':');
                    const field = colon < 0 ? line : line.slice(0, colon);
                    let val = colon < 0 ? '' : line.slice(colon + 1);
                    if (val.startsWith(' ')) val = val.slice(1);
                    if (field === 'event') event = val;
                    else if (field === 'data') data.push(val);
                }
                if (data.length) yield { event, data: data.join('\n') };
            }
        }
    } finally {
        reader.cancel().catch(() => undefined);
    }
}
