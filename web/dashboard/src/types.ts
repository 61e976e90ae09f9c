/*
 * types.ts - the shapes of docs/api.md, as the dashboard reads them. Members the dashboard does not need are left
 * out; every member is treated as possibly missing by the renderers (an older or newer server may differ).
 */

export type Segment = Record<string, unknown>;

export interface Project {
    id: number;
    name: string;
    write_key?: string;
    created_at?: string;
    settings?: Settings;
}

export interface Rule {
    name?: string;
    when?: Record<string, unknown>;
    action?: { type?: string; title?: string; message?: string; text?: string; selector?: string; name?: string };
}

export interface Settings {
    rules?: Rule[];
    caps?: { session_interval?: string; daily_per_visitor?: number; decline_cooldown?: string };
    holdout_pct?: number;
    exclude_paths?: string[];
    intervention_ttl?: string;
    webhook_url?: string | null;
    goal?: { event?: string; path?: string } | null;
    detectors?: Record<string, unknown>;
}

export interface LiveKpis {
    time: string;
    active_sessions: number;
    events_per_second: number;
    struggling_now: number;
    interventions_last_minute?: { decided?: number; shown?: number; accepted?: number };
    sessions_today: number;
    conversions_today: number;
    conversion_rate_today: number;
}

export interface KpiTotals {
    sessions?: number;
    visitors?: number;
    events?: number;
    pageviews?: number;
    conversions?: number;
    conversion_rate?: number;
    avg_session_seconds?: number;
    bounce_rate?: number;
    struggling_sessions?: number;
    struggling_share?: number;
    interventions?: number;
    accepted?: number;
}

export interface KpiPoint {
    t: string;
    sessions?: number;
    conversions?: number;
    conversion_rate?: number;
    struggling_sessions?: number;
}

export interface Kpis {
    from?: string;
    to?: string;
    totals?: KpiTotals;
    series?: KpiPoint[];
}

export interface FunnelWhereOps {
    eq?: unknown;
    ne?: unknown;
    gt?: number;
    gte?: number;
    lt?: number;
    lte?: number;
    contains?: string;
}

export interface FunnelStep {
    path?: string;
    event?: string;
    where?: Record<string, unknown>;
}

export interface FunnelQuery {
    steps: FunnelStep[];
    window: string;
    order: 'loose' | 'strict';
    by: 'visitor' | 'session';
    breakdown?: string;
    from: string;
    to: string;
    segment: Segment;
}

export interface FunnelResultStep {
    index: number;
    label: string;
    count: number;
    conversion: number;
    from_previous: number;
    dropoff: number;
    median_seconds_from_previous: number | null;
}

export interface FunnelResult {
    steps?: FunnelResultStep[];
    breakdown?: { value: string; counts: number[] }[];
}

export interface Dropped {
    dropped?: { visitor?: string; session_id?: string; reached_at?: string }[];
}

export interface Retention {
    cohort?: string;
    periods?: number;
    cohorts?: { start: string; size: number; retained?: number[]; rates?: (number | null)[] }[];
}

export interface Paths {
    nodes?: { name: string }[];
    links?: { source: string; target: string; value: number }[];
}

export interface SessionRow {
    session_id: string;
    visitor?: string;
    started_at?: string;
    seconds?: number;
    pages?: number;
    events?: number;
    entry_path?: string;
    exit_path?: string;
    device?: string;
    converted?: boolean;
    max_risk?: number | null;
    signals?: Record<string, number>;
    interventions?: number;
}

export interface Sessions {
    sessions?: SessionRow[];
    next_cursor?: string | null;
}

export interface TimelineEvent {
    id?: number | string;
    ts: string;
    type?: string;
    event?: string | null;
    path?: string | null;
    properties?: Record<string, unknown> | null;
}

export interface TimelineSignal {
    kind: string;
    score: number;
    ts: string;
    evidence?: unknown;
}

export interface TimelineIntervention {
    id?: string;
    rule?: string;
    action?: string;
    status?: string;
    risk?: number;
    held_out?: boolean;
    created_at?: string;
    explanation?: unknown;
    lifecycle?: { status: string; ts: string }[];
}

export interface Timeline {
    session?: SessionRow & Record<string, unknown>;
    events?: TimelineEvent[];
    signals?: TimelineSignal[];
    risk?: { ts: string; risk: number; source?: string }[];
    interventions?: TimelineIntervention[];
}

export interface Group {
    sessions?: number;
    conversions?: number;
    rate?: number;
}

export interface Uplift {
    treated?: Group;
    holdout?: Group;
    difference?: number | null;
    ci95?: [number, number] | null;
    p_value?: number | null;
    method?: string;
}

export interface UpliftRow extends Uplift {
    rule?: string;
    action?: string;
    decided?: number;
    shown?: number;
    accepted?: number;
}

export interface InterventionReport {
    totals?: Record<string, number>;
    uplift?: Uplift;
    by_rule?: UpliftRow[];
    by_action?: UpliftRow[];
}

export interface MetricSet {
    roc_auc?: number;
    pr_auc?: number;
    f1?: number;
    threshold?: number;
    brier?: number;
}

export interface ModelInfo {
    in_use?: boolean;
    version?: number;
    risk_source?: string;
    model?: {
        version?: number;
        created_at?: string;
        features?: string[];
        label?: string;
        base_rate?: number;
        minority_class?: string;
        threshold?: number;
        metrics?: { test?: Record<string, MetricSet> };
        training?: Record<string, unknown> & { params?: Record<string, unknown> };
    } | null;
}

export interface DeadLetter {
    id: number;
    received_at?: string;
    route?: string;
    kind?: string;
    reason?: string;
    field?: string | null;
    detail?: string | null;
    raw?: string;
    raw_base64?: string;
    replay_count?: number;
    replayed_at?: string | null;
}

export interface DeadLetters {
    dead_letters?: DeadLetter[];
    total?: number;
}

export interface ReplayResult {
    examined?: number;
    replayed?: number;
    still_rejected?: number;
    events_stored?: number;
    duplicates?: number;
}

/* Videos (docs/video.md): GET /api/v1/videos, /api/v1/videos/ID, /api/v1/videos/ID/views. */
export interface VideoSummary {
    id: string;
    title?: string | null;
    src?: string | null;
    duration_seconds?: number | null;
    plays?: number;
    page_views?: number;
    play_rate?: number | null;
    unique_viewers?: number;
    average_share_viewed?: number | null;
    completions?: number;
    completion_rate?: number | null;
    watch_seconds_total?: number | null;
    watch_seconds_average?: number | null;
}

export interface VideoList {
    from?: string;
    to?: string;
    videos?: VideoSummary[];
}

export type KeyMomentKind = 'rewatch_spike' | 'dip' | 'half_gone';

export interface KeyMoment {
    kind: KeyMomentKind | string;
    second: number;
    start_second: number;
    end_second: number;
    value: number;
}

export interface WatchBucket {
    bucket: 'none' | 'under_25' | '25_to_75' | 'over_75' | string;
    sessions: number;
    conversions: number;
    rate: number | null;
    ci95: [number, number] | null;
    difference_vs_none?: number | null;
    difference_ci95?: [number, number] | null;
    p_value?: number | null;
}

export interface VideoReport extends VideoSummary {
    from?: string;
    to?: string;
    retention?: { seconds?: number[]; share?: number[]; relative?: number[] };
    heat?: { rewatches?: number[]; skips?: number[]; pauses?: number[] };
    key_moments?: KeyMoment[];
    speeds?: { rate: number | 'other'; media_seconds: number; share: number }[];
    conversion_by_watch?: WatchBucket[];
}

export interface VideoView {
    session_id: string;
    visitor?: string;
    started_at?: string;
    path?: string;
    open?: boolean;
    unique_seconds?: number;
    media_seconds?: number;
    wall_seconds?: number;
    furthest?: number;
    left_at?: number;
    completed?: boolean;
    quartiles?: number[];
    plays?: number;
    intervals?: [number, number][];
    pauses?: number[];
    skipped?: [number, number][];
    rewound?: [number, number][];
    speeds?: { rate: number; media_seconds: number }[];
}

export interface VideoViews {
    views?: VideoView[];
}
