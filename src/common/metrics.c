/*
 * metrics.c - see metrics.h.
 *
 * Metrics live in one linked list, in registration order; families (same
 * name, different labels) are rendered together under one HELP/TYPE header.
 * Histogram sums are kept in fixed point (1e-6 units) so they can be
 * updated with an atomic add.
 */
#include "common/metrics.h"

#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define HIST_MAX_BOUNDS 24

struct metric {
    struct metric *next;
    enum metric_kind kind;
    char *name;
    char *help;
    char *labels;
    _Atomic uint64_t value;
    double (*gauge_fn)(void *);
    void *gauge_ctx;
    int n_bounds;
    double bounds[HIST_MAX_BOUNDS];
    _Atomic uint64_t buckets[HIST_MAX_BOUNDS + 1];
    _Atomic uint64_t sum_micro;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *registry_head;
static struct metric *registry_tail;

static struct metric *find_locked(const char *name, const char *labels)
{
    for (struct metric *m = registry_head; m; m = m->next) {
        if (strcmp(m->name, name) == 0 &&
            ((!labels && !m->labels) || (labels && m->labels && strcmp(labels, m->labels) == 0)))
            return m;
    }
    return NULL;
}

static struct metric *create_locked(enum metric_kind kind, const char *name, const char *help,
                                    const char *labels)
{
    struct metric *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    m->name = xstrdup(name);
    m->help = xstrdup(help ? help : "");
    m->labels = labels ? xstrdup(labels) : NULL;
    /* Keep families adjacent: insert after the last metric with this name. */
    struct metric *after = NULL;
    for (struct metric *p = registry_head; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            after = p;
    if (after) {
        m->next = after->next;
        after->next = m;
        if (registry_tail == after)
            registry_tail = m;
    } else {
        if (registry_tail)
            registry_tail->next = m;
        else
            registry_head = m;
        registry_tail = m;
    }
    return m;
}

struct metric *metrics_counter(const char *name, const char *help, const char *labels)
{
    pthread_mutex_lock(&registry_lock);
    struct metric *m = find_locked(name, labels);
    if (!m)
        m = create_locked(METRIC_COUNTER, name, help, labels);
    pthread_mutex_unlock(&registry_lock);
    return m;
}

void metric_add(struct metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

uint64_t metric_value(const struct metric *m)
{
    return atomic_load_explicit(&((struct metric *)m)->value, memory_order_relaxed);
}

void metrics_gauge_fn(const char *name, const char *help, const char *labels,
                      double (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&registry_lock);
    struct metric *m = find_locked(name, labels);
    if (!m)
        m = create_locked(METRIC_GAUGE, name, help, labels);
    m->gauge_fn = fn;
    m->gauge_ctx = ctx;
    pthread_mutex_unlock(&registry_lock);
}

struct metric *metrics_histogram(const char *name, const char *help, const char *labels,
                                 const double *bounds, int n_bounds)
{
    if (n_bounds > HIST_MAX_BOUNDS)
        n_bounds = HIST_MAX_BOUNDS;
    pthread_mutex_lock(&registry_lock);
    struct metric *m = find_locked(name, labels);
    if (!m) {
        m = create_locked(METRIC_HISTOGRAM, name, help, labels);
        m->n_bounds = n_bounds;
        memcpy(m->bounds, bounds, sizeof(double) * (size_t)n_bounds);
    }
    pthread_mutex_unlock(&registry_lock);
    return m;
}

void metric_observe(struct metric *m, double v)
{
    int i = 0;
    while (i < m->n_bounds && v > m->bounds[i])
        i++;
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
    if (v > 0)
        atomic_fetch_add_explicit(&m->sum_micro, (uint64_t)(v * 1e6), memory_order_relaxed);
}

static void render_labels(struct buf *out, const char *labels, const char *extra)
{
    if (!labels && !extra)
        return;
    buf_putc(out, '{');
    if (labels)
        buf_puts(out, labels);
    if (labels && extra)
        buf_putc(out, ',');
    if (extra)
        buf_puts(out, extra);
    buf_putc(out, '}');
}

void metrics_render(struct buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&registry_lock);
    const char *last_name = NULL;
    for (struct metric *m = registry_head; m; m = m->next) {
        if (!last_name || strcmp(last_name, m->name) != 0) {
            buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                       type_names[m->kind]);
            last_name = m->name;
        }
        switch (m->kind) {
        case METRIC_COUNTER:
            buf_puts(out, m->name);
            render_labels(out, m->labels, NULL);
            buf_printf(out, " %llu\n", (unsigned long long)metric_value(m));
            break;
        case METRIC_GAUGE: {
            double v = m->gauge_fn ? m->gauge_fn(m->gauge_ctx) : 0;
            buf_puts(out, m->name);
            render_labels(out, m->labels, NULL);
            buf_printf(out, " %.6g\n", v);
            break;
        }
        case METRIC_HISTOGRAM: {
            uint64_t cum = 0;
            char le[48];
            for (int i = 0; i <= m->n_bounds; i++) {
                cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
                if (i < m->n_bounds)
                    snprintf(le, sizeof le, "le=\"%g\"", m->bounds[i]);
                else
                    snprintf(le, sizeof le, "le=\"+Inf\"");
                buf_printf(out, "%s_bucket", m->name);
                render_labels(out, m->labels, le);
                buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            buf_printf(out, "%s_sum", m->name);
            render_labels(out, m->labels, NULL);
            buf_printf(out, " %.6f\n",
                       (double)atomic_load_explicit(&m->sum_micro, memory_order_relaxed) / 1e6);
            buf_printf(out, "%s_count", m->name);
            render_labels(out, m->labels, NULL);
            buf_printf(out, " %llu\n", (unsigned long long)cum);
            break;
        }
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

void metrics_reset_for_tests(void)
{
    pthread_mutex_lock(&registry_lock);
    struct metric *m = registry_head;
    while (m) {
        struct metric *next = m->next;
        free(m->name);
        free(m->help);
        free(m->labels);
        free(m);
        m = next;
    }
    registry_head = registry_tail = NULL;
    pthread_mutex_unlock(&registry_lock);
}
