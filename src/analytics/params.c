/*
 * params.c - report parameters: from the JSON body or the query string, with
 * errors that name the parameter (400 invalid_parameter).
 */
#include "analytics/analytics_internal.h"

#include "common/timefmt.h"
#include "common/util.h"
#include "config/config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

int report_fail(struct report_error *err, int status, const char *code, const char *field,
                const char *fmt, ...)
{
    err->status = status;
    snprintf(err->code, sizeof err->code, "%s", code);
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

const char *param_text(const struct report_params *p, const char *name, char *buf, size_t cap)
{
    const cJSON *body = p->body;
    const cJSON *v = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, name) : NULL;
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(buf, cap, "%.15g", v->valuedouble);
        return buf;
    }
    if (cJSON_IsBool(v)) {
        snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
        return buf;
    }
    return p->get ? p->get(p->ctx, name) : NULL;
}

const cJSON *param_json(const struct report_params *p, const char *name, cJSON **owned,
                        struct report_error *err)
{
    *owned = NULL;
    const cJSON *body = p->body;
    const cJSON *v = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, name) : NULL;
    if (v && !cJSON_IsNull(v))
        return v;
    const char *text = p->get ? p->get(p->ctx, name) : NULL;
    if (!text || !*text)
        return NULL;
    *owned = cJSON_Parse(text);
    if (!*owned) {
        report_fail(err, 400, "invalid_parameter", name, "%s: not valid JSON", name);
        return NULL;
    }
    return *owned;
}

int parse_duration_param(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    /* 7d, 12h, 30m, 45s, 2w */
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0 || !isfinite(v))
        return -1;
    double mult;
    if (!strcmp(end, "w"))
        mult = 7 * DAY_MS;
    else if (!strcmp(end, "d"))
        mult = DAY_MS;
    else if (!strcmp(end, "h"))
        mult = 3600000;
    else if (!strcmp(end, "m"))
        mult = 60000;
    else if (!strcmp(end, "s"))
        mult = 1000;
    else if (!strcmp(end, "ms"))
        mult = 1;
    else
        return -1;
    *out = (int64_t)(v * mult);
    return 0;
}

int parse_time_param(const char *s, int64_t now, int64_t *out)
{
    if (!s || !*s)
        return -1;
    if (!strcmp(s, "now")) {
        *out = now;
        return 0;
    }
    if (s[0] == '-') {
        int64_t d;
        if (parse_duration_param(s + 1, &d))
            return -1;
        *out = now - d;
        return 0;
    }
    return timefmt_parse_iso(s, strlen(s), out);
}

int param_range(const struct report_params *p, int64_t *from, int64_t *to,
                struct report_error *err)
{
    char b1[64], b2[64];
    const char *f = param_text(p, "from", b1, sizeof b1);
    const char *t = param_text(p, "to", b2, sizeof b2);
    *to = p->now_ms;
    *from = p->now_ms - 7 * DAY_MS;
    if (f && parse_time_param(f, p->now_ms, from))
        return report_fail(err, 400, "invalid_parameter", "from",
                           "from: '%.60s' is not a date (2026-11-01), a date-time, now or a "
                           "relative time like -7d",
                           f);
    if (t && parse_time_param(t, p->now_ms, to))
        return report_fail(err, 400, "invalid_parameter", "to",
                           "to: '%.60s' is not a date (2026-11-01), a date-time, now or a "
                           "relative time like -7d",
                           t);
    if (*to <= *from)
        return report_fail(err, 400, "invalid_parameter", "to", "to must be after from");
    return 0;
}

int param_int(const struct report_params *p, const char *name, int64_t def, int64_t lo,
              int64_t hi, int64_t *out, struct report_error *err)
{
    char b[64];
    const char *v = param_text(p, name, b, sizeof b);
    *out = def;
    if (!v || !*v)
        return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || x < lo || x > hi)
        return report_fail(err, 400, "invalid_parameter", name,
                           "%s: '%.40s' is not a whole number from %lld to %lld", name, v,
                           (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

void csv_field(struct buf *out, const char *s)
{
    if (!s)
        return;
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    /* Cells starting like a formula are quoted and prefixed, so a spreadsheet
     * opening the export does not run them. */
    bool formula = strchr("=+-@", s[0]) && s[0] && !isdigit((unsigned char)s[1]);
    if (!quote && !formula) {
        buf_puts(out, s);
        return;
    }
    buf_putc(out, '"');
    if (formula)
        buf_putc(out, '\'');
    for (; *s; s++) {
        if (*s == '"')
            buf_putc(out, '"');
        buf_putc(out, *s);
    }
    buf_putc(out, '"');
}

void csv_double(struct buf *out, double v)
{
    if (!isfinite(v))
        return;
    if (v == floor(v) && fabs(v) < 1e15)
        buf_printf(out, "%lld", (long long)v);
    else
        buf_printf(out, "%.6g", v);
}

static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi - 1];
        double pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (v[i] < pivot) {
                double t = v[lt];
                v[lt++] = v[i];
                v[i++] = t;
            } else if (v[i] > pivot) {
                double t = v[--gt];
                v[gt] = v[i];
                v[i] = t;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return v[lo];
}

double stats_median(double *v, size_t n)
{
    if (!n)
        return NAN;
    double lo = select_kth(v, n, (n - 1) / 2);
    if (n % 2)
        return lo;
    return (lo + select_kth(v, n, n / 2)) / 2;
}

void json_ratio(struct buf *out, int64_t num, int64_t den)
{
    if (den <= 0)
        buf_puts(out, "null");
    else
        json_double(out, round((double)num / (double)den * 10000) / 10000);
}

void csv_ratio(struct buf *out, int64_t num, int64_t den)
{
    if (den > 0)
        csv_double(out, round((double)num / (double)den * 10000) / 10000);
}
