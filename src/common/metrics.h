/*
 * metrics.h - process-wide counters, gauges and histograms, rendered in the
 * Prometheus text format by /metrics.
 *
 * Updates are lock-free (relaxed atomics). Looking a metric up by name takes a
 * mutex, so hot paths look a metric up once and keep the pointer: a metric
 * is never freed while the process runs. Names follow Prometheus conventions
 * (journey_<subsystem>_<what>_<unit>); `labels` is the inside of the braces,
 * e.g. "route=\"batch\",status=\"200\"", or NULL.
 */
#ifndef JOURNEY_COMMON_METRICS_H
#define JOURNEY_COMMON_METRICS_H

#include <stdint.h>

#include "common/buf.h"

struct metric;

/* Finds or creates a counter. help is used the first time a name is seen. */
struct metric *metrics_counter(const char *name, const char *help, const char *labels);
void metric_add(struct metric *m, uint64_t n);
uint64_t metric_value(const struct metric *m);

/* A gauge whose value is read from fn(ctx) at render time. */
void metrics_gauge_fn(const char *name, const char *help, const char *labels,
                      double (*fn)(void *ctx), void *ctx);

/* A histogram with the given upper bounds (ascending; +Inf is implicit).
 * Observations are in the metric's base unit (seconds, messages). */
struct metric *metrics_histogram(const char *name, const char *help, const char *labels,
                                 const double *bounds, int n_bounds);
void metric_observe(struct metric *m, double v);

/* Appends the text exposition of every metric. */
void metrics_render(struct buf *out);

/* Drops every metric (tests only; no metric may be in use). */
void metrics_reset_for_tests(void);

#endif
