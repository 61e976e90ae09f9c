/*
 * Model: the exit-risk model in use (GET /api/v1/model): its version and training facts, and its test metrics
 * beside the logistic regression and the trivial baseline it has to beat; a button to load the newest trained
 * model (POST /api/v1/model/reload).
 */
import { ApiError, getJson, postJson } from '../api';
import { Chart, COLORS, MUTED, axisLabel, legend, splitLine, tip } from '../charts';
import { append, h, replace } from '../dom';
import * as fmt from '../format';
import type { PageContext } from '../page';
import type { MetricSet, ModelInfo } from '../types';
import { badge, button, card, chartAndTable, emptyState, exportButtons, into, table, tiles } from '../ui';

const MODELS: [string, string][] = [['xgboost', 'XGBoost'], ['logistic_regression', 'Logistic regression'], ['baseline', 'Trivial baseline']];
const METRICS: { key: keyof MetricSet; label: string; better: 'higher' | 'lower'; hint: string }[] = [
    { key: 'roc_auc', label: 'ROC AUC', better: 'higher', hint: 'ranking: 0.5 is chance, 1 perfect' },
    { key: 'pr_auc', label: 'PR AUC', better: 'higher', hint: 'precision-recall area for the minority class' },
    { key: 'f1', label: 'F1', better: 'higher', hint: 'at the threshold chosen on validation data' },
    { key: 'brier', label: 'Brier score', better: 'lower', hint: 'mean squared error of the probability' },
];

export default function model(ctx: PageContext): void {
    const content = h('div', { class: 'stack' });
    const status = h('div', { class: 'reload-status', role: 'status', 'aria-live': 'polite' });
    const reload: HTMLButtonElement = button('Reload model', () => {
        reload.disabled = true;
        replace(status, h('span', { class: 'muted' }, 'Reloading…'));
        void (async () => {
            try {
                const r = await postJson<{ success?: boolean; version?: number }>('/api/v1/model/reload', {}, ctx.signal);
                replace(status, badge(`Model version ${r.version ?? '?'} loaded`, 'good'));
                load();
            } catch (e) {
                replace(status, h('span', { class: 'error' }, `Not reloaded: ${e instanceof Error ? e.message : String(e)}${e instanceof ApiError ? ` (${e.code})` : ''}`));
            } finally {
                reload.disabled = false;
            }
        })();
    }, { class: 'btn btn-primary btn-small', title: 'Load the newest trained model (models/current.json) into the running server' });
    append(ctx.body, h('div', { class: 'page-actions' }, reload, status), content);
    const load = () => void into(content, ctx.signal, async () => render(ctx, await getJson<ModelInfo>('/api/v1/model', undefined, ctx.signal)), 'Loading the model…');
    load();
}

function render(ctx: PageContext, m: ModelInfo): HTMLElement[] {
    const exp = exportButtons('model facts', () => ({ method: 'GET', path: '/api/v1/model', name: 'model' }));
    const doc = m.model;
    const inUse = tiles([
        { label: 'Risk comes from', value: m.risk_source === 'model' ? 'Trained model' : 'Rules', hint: m.in_use ? `version ${m.version ?? '?'} in use` : 'the transparent signal function', tone: m.in_use ? 'good' : undefined },
        { label: 'Model version', value: doc?.version != null ? String(doc.version) : '–', hint: doc?.created_at ? `trained ${fmt.dateTime(doc.created_at)}` : undefined },
        { label: 'Features', value: doc?.features ? String(doc.features.length) : '–', hint: doc?.label ? fmt.truncate(doc.label, 60) : undefined },
        { label: 'Decision threshold', value: doc?.threshold != null ? fmt.fixed(doc.threshold, 3) : '–', hint: doc?.minority_class ? `for “${doc.minority_class}”, the minority class` : undefined },
    ], 'Model in use');
    if (!doc) {
        return [card({ title: 'Model in use', actions: exp }, inUse,
            emptyState('No trained model', h('span', null, 'Exit risk comes from the rule-based function of the signals (docs/detectors.md). Train one with ', h('code', null, 'journey train --project ID --data DIR'), ', then reload.')))];
    }
    const test = doc.metrics?.test ?? {};
    const training = doc.training ?? {};
    const present = MODELS.filter(([k]) => test[k]);
    const chart = new Chart(metricsOption(test, present), ctx.signal, {
        label: `Test metrics: ${present.map(([k, name]) => `${name} ROC AUC ${fmt.fixed(test[k]?.roc_auc)}, PR AUC ${fmt.fixed(test[k]?.pr_auc)}, F1 ${fmt.fixed(test[k]?.f1)}, Brier ${fmt.fixed(test[k]?.brier)}`).join('; ')}.`,
        className: 'chart-medium',
    });
    const best = (metric: (typeof METRICS)[number]) => {
        const vals = present.map(([k]) => test[k]?.[metric.key]).filter((v): v is number => typeof v === 'number');
        return metric.better === 'higher' ? Math.max(...vals) : Math.min(...vals);
    };
    const metricsTable = table<(typeof METRICS)[number]>({
        caption: 'Test metrics (held-out, later sessions)',
        rows: METRICS,
        columns: [
            { label: 'Metric', value: (x) => h('span', null, h('strong', null, x.label), h('span', { class: 'muted small' }, ` · ${x.better} is better`)) },
            ...present.map(([k, name]) => ({
                label: name,
                numeric: true,
                value: (x: (typeof METRICS)[number]) => {
                    const v = test[k]?.[x.key];
                    return typeof v === 'number' && v === best(x) ? h('strong', { class: 'best', title: 'best of the three' }, fmt.fixed(v)) : fmt.fixed(v);
                },
            })),
        ],
    });
    const facts = Object.entries(training).filter(([k]) => k !== 'params');
    const params = (training.params ?? {}) as Record<string, unknown>;
    return [
        card({ title: 'Model in use', actions: exp }, inUse),
        card({ title: 'Test metrics', description: 'Measured on the latest sessions, after a split by time: XGBoost against a logistic regression and the trivial baseline (everyone gets the average exit rate)' },
            legend(present.map(([, name], i) => ({ label: name, color: i === 2 ? '#aab1bd' : COLORS[i] ?? '' }))),
            chartAndTable(chart.el, metricsTable, true)),
        card({ title: 'Training' },
            h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, fmt.words(k)), h('dd', null, typeof v === 'number' ? (k.endsWith('rate') ? fmt.pct(v) : fmt.num(v, 2)) : String(v))])),
            Object.keys(params).length ? [h('h3', { class: 'subhead' }, 'XGBoost parameters'), h('dl', { class: 'facts' }, Object.entries(params).map(([k, v]) => [h('dt', null, fmt.words(k)), h('dd', null, String(v))]))] : null,
            doc.features?.length ? h('details', { class: 'features' }, h('summary', null, `The ${doc.features.length} features`), h('ul', { class: 'feature-list' }, doc.features.map((f) => h('li', null, h('code', null, f))))) : null),
    ];
}

function metricsOption(test: Record<string, MetricSet>, present: [string, string][]) {
    return {
        grid: { left: 48, right: 16, top: 20, bottom: 28 },
        tooltip: {
            trigger: 'axis', axisPointer: { type: 'shadow' },
            formatter: (ps: { dataIndex: number }[]) => {
                const m = METRICS[ps[0]?.dataIndex ?? 0];
                return tip(`${m?.label ?? ''} (${m?.better ?? ''} is better)`, present.map(([k, name], i) => ({ label: name, value: fmt.fixed(m ? test[k]?.[m.key] : null), color: COLORS[i] })));
            },
        },
        xAxis: { type: 'category', data: METRICS.map((m) => m.label), axisLabel: { ...axisLabel, color: '#374151' }, axisTick: { show: false } },
        yAxis: { type: 'value', min: 0, max: 1, axisLabel, splitLine },
        series: present.map(([k, name], i) => ({
            name, type: 'bar', barMaxWidth: 26,
            itemStyle: { color: i === 2 ? '#aab1bd' : COLORS[i], borderRadius: [3, 3, 0, 0] },
            data: METRICS.map((m) => test[k]?.[m.key] ?? 0),
            label: { show: true, position: 'top', fontSize: 10, color: MUTED, formatter: (p: { value: number }) => p.value.toFixed(2) },
        })),
    };
}
