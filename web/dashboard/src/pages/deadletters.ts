/*
 * Dead letters: input the server refused and kept (GET /api/v1/deadletters): why, where, and the raw bytes
 * (monospace, truncated, expandable); paged with after=ID; replay the selected ones or all of them through
 * today's validation (POST /api/v1/deadletters/replay) and show what happened.
 */
import { getJson, postJson, type Query } from '../api';
import { append, h, replace, uid } from '../dom';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { DeadLetter, DeadLetters, ReplayResult } from '../types';
import { badge, button, card, emptyState, exportButtons, into, table } from '../ui';

const PAGE_SIZE = 50;
const RAW_PREVIEW = 120;

export default function deadletters(ctx: PageContext): void {
    const all = ctx.params.get('all') === 'true';
    const includeReplayed = h('input', { type: 'checkbox', id: uid('allcb') });
    includeReplayed.checked = all;
    const selected = new Set<number>();
    const afters: (number | null)[] = [null];
    let pageIndex = 0;
    let shown: DeadLetter[] = [];
    const list = h('div');
    const pager = h('div', { class: 'pager' });
    const result = h('div', { class: 'replay-result', role: 'status', 'aria-live': 'polite' });
    const count = h('span', { class: 'muted' });
    const query = (): Query => ({ limit: PAGE_SIZE, after: afters[pageIndex] ?? undefined, all: includeReplayed.checked ? 'true' : 'false' });

    const replaySelected: HTMLButtonElement = button('Replay selected', () => void replay({ ids: [...selected] }), { class: 'btn btn-small btn-primary', disabled: true });
    let confirmAll = false;
    const replayAll: HTMLButtonElement = button('Replay all', () => {
        if (!confirmAll) {
            confirmAll = true;
            replayAll.textContent = 'Confirm: replay all';
            replayAll.classList.add('btn-danger');
            setTimeout(() => { confirmAll = false; replayAll.textContent = 'Replay all'; replayAll.classList.remove('btn-danger'); }, 5000);
            return;
        }
        confirmAll = false;
        replayAll.textContent = 'Replay all';
        replayAll.classList.remove('btn-danger');
        void replay({ all: true });
    }, { class: 'btn btn-small' });
    const updateSelection = () => {
        replaySelected.disabled = selected.size === 0;
        replaySelected.textContent = selected.size ? `Replay ${selected.size} selected` : 'Replay selected';
    };

    const replay = async (body: { ids?: number[]; all?: boolean }) => {
        replaySelected.disabled = true;
        replayAll.disabled = true;
        replace(result, h('span', { class: 'muted' }, 'Replaying…'));
        try {
            const r = await postJson<ReplayResult>('/api/v1/deadletters/replay', body, ctx.signal);
            replace(result, h('div', { class: 'result-box' },
                h('strong', null, 'Replay done: '),
                `${fmt.int(r.examined)} examined, ${fmt.int(r.replayed)} replayed, ${fmt.int(r.still_rejected)} still rejected, ${fmt.int(r.events_stored)} events stored, ${fmt.int(r.duplicates)} duplicates.`));
            selected.clear();
            load();
        } catch (e) {
            replace(result, h('p', { class: 'error' }, `Replay failed: ${e instanceof Error ? e.message : String(e)}`));
        } finally {
            replayAll.disabled = false;
            updateSelection();
        }
    };

    const load = () => {
        replace(pager);
        updateSelection();
        void into(list, ctx.signal, async () => {
            const r = await getJson<DeadLetters>('/api/v1/deadletters', query(), ctx.signal);
            shown = r.dead_letters ?? [];
            count.textContent = r.total != null ? `${fmt.int(r.total)} ${includeReplayed.checked ? 'in total' : 'waiting'}` : '';
            const last = shown[shown.length - 1];
            if (last && shown.length === PAGE_SIZE) afters[pageIndex + 1] = last.id;
            else afters.length = pageIndex + 1;
            replace(pager,
                button('← Previous', () => { pageIndex--; load(); }, { class: 'btn btn-small', disabled: pageIndex === 0 }),
                h('span', { class: 'pager-info' }, `Page ${pageIndex + 1}`),
                button('Next →', () => { pageIndex++; load(); }, { class: 'btn btn-small', disabled: afters.length <= pageIndex + 1 }));
            if (!shown.length) return emptyState(includeReplayed.checked ? 'No dead letters' : 'No dead letters waiting', 'Everything the server received was valid, or has been replayed.');
            const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select every dead letter on this page' });
            allBox.checked = shown.every((d) => selected.has(d.id));
            const boxes: HTMLInputElement[] = [];
            allBox.addEventListener('change', () => {
                for (const d of shown) { if (allBox.checked) selected.add(d.id); else selected.delete(d.id); }
                boxes.forEach((b) => { b.checked = allBox.checked; });
                updateSelection();
            });
            return table<DeadLetter>({
                caption: 'Dead letters',
                rows: shown,
                className: 'table-dead',
                columns: [
                    {
                        label: 'Select', header: allBox, value: (d) => {
                            const b = h('input', { type: 'checkbox', 'aria-label': `Select dead letter ${d.id}` });
                            b.checked = selected.has(d.id);
                            b.addEventListener('change', () => { if (b.checked) selected.add(d.id); else selected.delete(d.id); updateSelection(); });
                            boxes.push(b);
                            return b;
                        },
                    },
                    { label: 'ID', value: (d) => String(d.id), numeric: true },
                    { label: 'Received', value: (d) => fmt.dateTime(d.received_at), className: 'nowrap' },
                    {
                        label: 'Reason', value: (d) => h('div', { class: 'reason-cell' }, badge(d.reason ?? '?', 'bad'),
                            h('span', { class: 'muted small' }, `${d.kind === 'request' ? 'whole request' : 'message'} on ${d.route ?? '?'}`)),
                    },
                    { label: 'Field', value: (d) => (d.field ? h('code', null, d.field) : '–') },
                    { label: 'Detail', value: (d) => h('span', { class: 'detail' }, d.detail ?? '') },
                    { label: 'Raw', value: (d) => raw(d), className: 'raw-cell' },
                    { label: 'Replays', value: (d) => (d.replay_count ? h('span', { title: d.replayed_at ? `last ${fmt.dateTime(d.replayed_at)}` : '' }, String(d.replay_count)) : '0'), numeric: true },
                ],
            });
        }, 'Loading dead letters…');
    };
    includeReplayed.addEventListener('change', () => {
        ctx.setParams({ all: includeReplayed.checked ? 'true' : null });
        afters.length = 1;
        pageIndex = 0;
        selected.clear();
        load();
    });
    append(ctx.body, card({
        title: 'Quarantined input',
        description: 'Messages and requests the server refused, kept with the reason; replay runs them through today’s validation (deduplicated)',
        actions: exportButtons('dead letters', () => ({ method: 'GET', path: '/api/v1/deadletters', query: query(), name: 'deadletters' })),
    },
    h('div', { class: 'controls controls-inline' },
        h('label', { class: 'check', for: includeReplayed.id }, includeReplayed, h('span', null, 'Include replayed')),
        count,
        h('span', { class: 'spacer' }),
        replaySelected, replayAll),
    result, list, pager));
    load();
}

function raw(d: DeadLetter): HTMLElement {
    const text = d.raw ?? (d.raw_base64 ? `base64: ${d.raw_base64}` : '');
    if (!text) return h('span', { class: 'muted' }, '–');
    const short = h('code', { class: 'raw raw-short', title: fmt.truncate(text, 400) }, fmt.truncate(text, RAW_PREVIEW));
    if (text.length <= 60) return h('div', { class: 'raw-line' }, short);
    const id = uid('raw');
    const pre = h('pre', { class: 'raw raw-full', id }, text);
    pre.hidden = true;
    const toggle: HTMLButtonElement = button('Expand', () => {
        const open = pre.hidden;
        pre.hidden = !open;
        short.hidden = open;
        toggle.textContent = open ? 'Collapse' : 'Expand';
        toggle.setAttribute('aria-expanded', String(open));
    }, { class: 'btn btn-link btn-small', 'aria-expanded': 'false', 'aria-controls': id, 'aria-label': `Show all ${fmt.int(text.length)} characters of dead letter ${d.id}` });
    return h('div', null, h('div', { class: 'raw-line' }, short, toggle), pre);
}
