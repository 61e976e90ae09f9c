/*
 * charts.ts - the part of Apache ECharts the dashboard uses, and how a chart is mounted.
 *
 * Only what is used is imported (echarts/core + these charts and components + the canvas renderer). Legends are
 * HTML (legend(): readable by screen readers, and ECharts' legend component is not bundled), and heatmap cells
 * are coloured here (ramp()) instead of by the visualMap component. Charts draw on a canvas, which the CSP allows.
 * ECharts' own HTML tooltips write style="" attributes through innerHTML, which the CSP refuses (and reports as a
 * console error), so every tooltip here is a DOM element built by tip() and styled by classes.
 *
 * A chart is accessible through its container: role="img" with an aria-label summary, and every chart in the
 * dashboard sits next to a table of the same numbers (shown, or behind a "Table" toggle).
 */
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, HeatmapChart, LineChart, SankeyChart, ScatterChart } from 'echarts/charts';
import { AxisPointerComponent, GridComponent, MarkAreaComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { EChartsCoreOption, ECharts } from 'echarts/core';
import { h } from './dom';

echarts.use([
    BarChart, CustomChart, HeatmapChart, LineChart, SankeyChart, ScatterChart,
    AxisPointerComponent, GridComponent, MarkAreaComponent, MarkLineComponent, TooltipComponent,
    CanvasRenderer,
]);

export { echarts };
export type { EChartsCoreOption, ECharts };

/* The palette, also used by CSS (styles.css --c1...). Chosen for contrast on white and for colour-blind safety. */
export const COLORS = ['#3451b2', '#0b8a6b', '#d97706', '#c2255c', '#6741d9', '#1c7ed6', '#5c677d', '#2b8a3e'];
export const INK = '#1f2937';
export const MUTED = '#5b6472';
export const GRID_LINE = '#e6e8ec';
export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

const reducedMotion = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;

/* Options every chart shares: font, palette, a tooltip made of DOM (see tip()); no animation for people who
 * asked their system for reduced motion. */
export function baseOption(): EChartsCoreOption {
    return {
        color: COLORS,
        textStyle: { fontFamily: FONT, color: INK },
        animation: !reducedMotion,
        animationDuration: 400,
        tooltip: {
            confine: true,
            className: 'chart-tip',
            borderWidth: 0,
            padding: 0,
            backgroundColor: 'transparent',
            extraCssText: 'box-shadow:none;',
        },
    };
}

export interface TipRow {
    label: string;
    value: string;
    color?: string | undefined;
}

/* A tooltip body: a title and label/value rows. Built with DOM so no style attribute is ever parsed. */
export function tip(title: string, rows: TipRow[]): HTMLElement {
    return h('div', { class: 'tip' },
        h('div', { class: 'tip-title' }, title),
        rows.map((r) => {
            const sw = h('span', { class: 'tip-swatch' });
            if (r.color) sw.style.background = r.color;
            else sw.hidden = true;
            return h('div', { class: 'tip-row' }, sw, h('span', { class: 'tip-label' }, r.label), h('span', { class: 'tip-value' }, r.value));
        }));
}

/* A legend above a chart, as a list (the colours repeat what the series use). */
export function legend(items: { label: string; color: string; dashed?: boolean }[]): HTMLElement {
    return h('ul', { class: 'legend', 'aria-label': 'Legend' }, items.map((it) => {
        const sw = h('span', { class: `legend-swatch ${it.dashed ? 'dashed' : ''}`.trim(), 'aria-hidden': 'true' });
        sw.style.background = it.dashed ? 'transparent' : it.color;
        sw.style.borderColor = it.color;
        return h('li', null, sw, it.label);
    }));
}

/* A colour between stops (hex) for t in 0..1. */
export function ramp(stops: string[], t: number): string {
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(Math.floor(x), stops.length - 2);
    const f = x - i;
    const rgb = (hex: string) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
    const a = rgb(stops[i] ?? '#000000');
    const b = rgb(stops[i + 1] ?? '#000000');
    return `rgb(${a.map((v, k) => Math.round(v + ((b[k] ?? 0) - v) * f)).join(',')})`;
}

export const axisLabel = { color: MUTED, fontSize: 11 };
export const splitLine = { lineStyle: { color: GRID_LINE } };

export interface MountOptions {
    label: string; // the aria-label summary
    height?: number; // px; CSS sets a default per class
    className?: string;
    onClick?: (params: ClickParams) => void;
}

export interface ClickParams {
    dataIndex?: number;
    seriesIndex?: number;
    dataType?: string;
    name?: string;
    data?: unknown;
    value?: unknown;
}

/*
 * A chart in a new element (role="img", labelled). ECharts is initialised on the first layout that gives the
 * element a size (a chart measured while detached or hidden would warn and draw nothing), resized with its
 * container, and disposed when signal aborts.
 */
export class Chart {
    readonly el: HTMLElement;
    private chart: ECharts | null = null;
    private option: EChartsCoreOption;
    private readonly ro: ResizeObserver;

    constructor(option: EChartsCoreOption, signal: AbortSignal, private readonly opts: MountOptions) {
        this.option = option;
        this.el = h('div', { class: `chart ${opts.className ?? ''}`.trim(), role: 'img', 'aria-label': opts.label });
        if (opts.height) this.el.style.height = `${opts.height}px`;
        this.ro = new ResizeObserver(() => this.layout());
        this.ro.observe(this.el);
        signal.addEventListener('abort', () => this.dispose(), { once: true });
    }

    private layout(): void {
        if (this.el.clientWidth === 0 || this.el.clientHeight === 0) return;
        if (!this.chart) {
            this.chart = echarts.init(this.el, null, { renderer: 'canvas' });
            this.chart.setOption({ ...baseOption(), ...this.option });
            const onClick = this.opts.onClick;
            if (onClick) this.chart.on('click', (p) => onClick(p as ClickParams));
        } else if (!this.chart.isDisposed()) {
            this.chart.resize();
        }
    }

    /* Replaces the option (notMerge) or merges into it. */
    update(option: EChartsCoreOption, merge = false, label?: string): void {
        this.option = merge ? { ...this.option, ...option } : option;
        if (label) this.el.setAttribute('aria-label', label);
        if (this.chart && !this.chart.isDisposed()) {
            if (merge) this.chart.setOption(option);
            else this.chart.setOption({ ...baseOption(), ...option }, { notMerge: true });
        }
    }

    dispose(): void {
        this.ro.disconnect();
        if (this.chart && !this.chart.isDisposed()) this.chart.dispose();
        this.chart = null;
    }
}
