/*
 * format.ts - numbers, rates, durations and times as people read them.
 *
 * Instants (a session's start, an event) are shown in the browser's time zone; the API's day and week buckets
 * (series points, cohorts) are UTC midnights and are shown as UTC dates, so a bucket never looks shifted by a day.
 * A missing value is an en dash.
 */

const DASH = '–';
const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

function ok(n: unknown): n is number {
    return typeof n === 'number' && Number.isFinite(n);
}

export function int(n: unknown): string {
    return ok(n) ? intFmt.format(n) : DASH;
}

export function num(n: unknown, digits = 1): string {
    return ok(n) ? n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 }) : DASH;
}

export function fixed(n: unknown, digits = 3): string {
    return ok(n) ? n.toFixed(digits) : DASH;
}

/* A rate 0..1 as a percentage. */
export function pct(r: unknown, digits = 1): string {
    return ok(r) ? `${(r * 100).toFixed(digits)}%` : DASH;
}

/* A difference of two rates, in percentage points, with its sign. */
export function pp(d: unknown, digits = 1): string {
    if (!ok(d)) return DASH;
    const v = d * 100;
    const s = v.toFixed(digits);
    return `${v > 0 ? '+' : v < 0 ? '−' : ''}${s.replace('-', '')} pp`;
}

export function pValue(p: unknown): string {
    if (!ok(p)) return DASH;
    return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
}

export function duration(seconds: unknown): string {
    if (!ok(seconds)) return DASH;
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
    const hrs = Math.floor(s / 3600);
    if (hrs < 48) return `${hrs}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    return `${Math.round(hrs / 24)}d`;
}

/* A position in a video (media seconds) as a player shows it: 0:07, 1:05, 1:02:03. */
export function clock(seconds: unknown): string {
    if (!ok(seconds)) return DASH;
    const s = Math.max(0, Math.floor(seconds));
    const mm = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, '0');
    return s >= 3600 ? `${Math.floor(s / 3600)}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

function toDate(t: unknown): Date | null {
    if (typeof t !== 'string' && typeof t !== 'number') return null;
    const d = new Date(t);
    return Number.isNaN(d.getTime()) ? null : d;
}

export function dateTime(t: unknown): string {
    const d = toDate(t);
    return d
        ? d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
        : DASH;
}

export function timeOfDay(t: unknown, seconds = true): string {
    const d = toDate(t);
    return d
        ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) })
        : DASH;
}

/* A bucket start as a UTC date ("Nov 19"); with the hour for hourly buckets (or, when the interval is not
 * known, for a start that is not midnight). */
export function bucket(t: unknown, interval?: 'day' | 'week' | 'hour' | string): string {
    const d = toDate(t);
    if (!d) return DASH;
    const date = d.toLocaleDateString(undefined, { timeZone: 'UTC', month: 'short', day: 'numeric' });
    const hourly = interval ? interval === 'hour' : d.getUTCHours() !== 0 || d.getUTCMinutes() !== 0;
    return hourly ? `${date} ${String(d.getUTCHours()).padStart(2, '0')}:00` : date;
}

export function ago(t: unknown, now = Date.now()): string {
    const d = toDate(t);
    if (!d) return DASH;
    const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
}

/* Signal kinds in words ("form_errors" -> "form errors"). */
export function words(kind: string): string {
    return kind.replace(/^\$/, '').replace(/_/g, ' ');
}

export function truncate(s: string, n: number): string {
    return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
