/*
 * baselines.c - what is normal for each page, learned from finished page
 * views: the distribution of dwell time and the mean number of scroll
 * reversals. Adaptive detectors (long dwell, quick back, scroll thrash)
 * compare a visitor with the page's own history instead of a fixed bound
 * once there is enough of it (Microsoft Clarity's practice).
 *
 * Dwell is a histogram of 48 log-spaced buckets (ratio sqrt 2 from 0.5 s, so
 * a quantile is known within about 20%), cheap to update and to persist.
 * Shared by all workers under one mutex: it is touched once per page view.
 * Saved to page_baselines every minute and loaded at start.
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 48
#define BASE_MS 500.0

struct page_stats {
    struct page_stats *next;
    int64_t project_id;
    char *path;
    uint64_t key;
    uint32_t hist[BUCKETS];
    int64_t samples;
    double reversal_sum;
    bool dirty;
};

struct baselines {
    pthread_mutex_t lock;
    struct page_stats **buckets;
    size_t cap, count;
};

struct baselines *baselines_new(void)
{
    struct baselines *b = xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->cap = 256;
    b->buckets = xcalloc(b->cap, sizeof *b->buckets);
    return b;
}

void baselines_free(struct baselines *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->cap; i++) {
        struct page_stats *p = b->buckets[i];
        while (p) {
            struct page_stats *n = p->next;
            free(p->path);
            free(p);
            p = n;
        }
    }
    free(b->buckets);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static uint64_t key_of(int64_t project_id, const char *path)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", (long long)project_id);
    return engine_hash2(pid, path);
}

static struct page_stats *find(struct baselines *b, int64_t project_id, const char *path,
                               bool create)
{
    uint64_t key = key_of(project_id, path);
    struct page_stats *p = b->buckets[key % b->cap];
    for (; p; p = p->next)
        if (p->key == key && p->project_id == project_id && !strcmp(p->path, path))
            return p;
    if (!create || b->count > 100000) /* bounded: a site with endless unique paths */
        return NULL;
    p = xcalloc(1, sizeof *p);
    p->project_id = project_id;
    p->path = xstrdup(path);
    p->key = key;
    p->next = b->buckets[key % b->cap];
    b->buckets[key % b->cap] = p;
    b->count++;
    return p;
}

static int bucket_of(int64_t ms)
{
    if (ms <= BASE_MS)
        return 0;
    int k = (int)floor(2.0 * log2((double)ms / BASE_MS)) + 1;
    return k >= BUCKETS ? BUCKETS - 1 : k;
}

/* Upper bound of bucket k in ms. */
static double bucket_top(int k)
{
    return BASE_MS * pow(2.0, k / 2.0);
}

void baselines_record(struct baselines *b, int64_t project_id, const char *path, int64_t dwell_ms,
                      int scroll_reversals)
{
    if (!b || !path || dwell_ms < 0 || dwell_ms > 86400000)
        return;
    pthread_mutex_lock(&b->lock);
    struct page_stats *p = find(b, project_id, path, true);
    if (p) {
        p->hist[bucket_of(dwell_ms)]++;
        p->samples++;
        p->reversal_sum += scroll_reversals;
        p->dirty = true;
    }
    pthread_mutex_unlock(&b->lock);
}

int64_t baselines_dwell_quantile(struct baselines *b, int64_t project_id, const char *path,
                                 double q, int min_samples)
{
    if (!b || !path)
        return -1;
    int64_t out = -1;
    pthread_mutex_lock(&b->lock);
    struct page_stats *p = find(b, project_id, path, false);
    if (p && p->samples >= min_samples && p->samples > 0) {
        double target = q * (double)p->samples, cum = 0;
        for (int k = 0; k < BUCKETS; k++) {
            if (cum + p->hist[k] >= target) {
                /* interpolate geometrically inside the bucket */
                double lo = k == 0 ? 0 : bucket_top(k - 1), hi = bucket_top(k);
                double frac = p->hist[k] ? (target - cum) / p->hist[k] : 1.0;
                out = (int64_t)(k == 0 ? hi * frac : lo * pow(hi / lo, frac));
                break;
            }
            cum += p->hist[k];
        }
    }
    pthread_mutex_unlock(&b->lock);
    return out;
}

double baselines_scroll_mean(struct baselines *b, int64_t project_id, const char *path,
                             int min_samples)
{
    if (!b || !path)
        return -1;
    double out = -1;
    pthread_mutex_lock(&b->lock);
    struct page_stats *p = find(b, project_id, path, false);
    if (p && p->samples >= min_samples && p->samples > 0)
        out = p->reversal_sum / (double)p->samples;
    pthread_mutex_unlock(&b->lock);
    return out;
}

static int load_one(const struct store_page_baseline *row, void *ctx)
{
    struct baselines *b = ctx;
    cJSON *hist = cJSON_Parse(row->dwell_hist);
    struct page_stats *p = find(b, row->project_id, row->path, true);
    if (p && cJSON_IsArray(hist)) {
        int k = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, hist)
        {
            if (k < BUCKETS && cJSON_IsNumber(v))
                p->hist[k] = (uint32_t)v->valuedouble;
            k++;
        }
        p->samples = row->samples;
        p->reversal_sum = row->scroll_reversals_mean * (double)row->samples;
    }
    cJSON_Delete(hist);
    return 0;
}

int baselines_load(struct baselines *b, struct store *store)
{
    pthread_mutex_lock(&b->lock);
    int rc = store_page_baselines(store, load_one, b);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

struct save_ctx {
    struct store_page_baseline *rows;
    size_t n;
};

static int save_apply(struct store_tx *tx, void *arg)
{
    struct save_ctx *c = arg;
    for (size_t i = 0; i < c->n; i++)
        if (store_tx_upsert_page_baseline(tx, &c->rows[i]))
            return -EIO;
    return 0;
}

int baselines_save(struct baselines *b, struct store *store)
{
    struct save_ctx c = {0};
    struct buf text = BUF_INIT;
    size_t *offsets = NULL;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->cap; i++)
        for (struct page_stats *p = b->buckets[i]; p; p = p->next)
            c.n += p->dirty;
    if (c.n) {
        c.rows = xcalloc(c.n, sizeof *c.rows);
        offsets = xcalloc(c.n, sizeof *offsets);
        size_t k = 0;
        for (size_t i = 0; i < b->cap; i++) {
            for (struct page_stats *p = b->buckets[i]; p; p = p->next) {
                if (!p->dirty)
                    continue;
                p->dirty = false;
                offsets[k] = text.len;
                buf_putc(&text, '[');
                for (int j = 0; j < BUCKETS; j++)
                    buf_printf(&text, j ? ",%u" : "%u", p->hist[j]);
                buf_putc(&text, ']');
                buf_putc(&text, '\0');
                c.rows[k].project_id = p->project_id;
                c.rows[k].path = xstrdup(p->path);
                c.rows[k].samples = p->samples;
                c.rows[k].scroll_reversals_mean = p->samples ? p->reversal_sum / p->samples : 0;
                c.rows[k].updated_at = now_ms();
                k++;
            }
        }
    }
    pthread_mutex_unlock(&b->lock);
    int rc = 0;
    if (c.n) {
        for (size_t k = 0; k < c.n; k++)
            c.rows[k].dwell_hist = text.data + offsets[k];
        rc = store_write_sync(store, save_apply, NULL, &c);
        for (size_t k = 0; k < c.n; k++)
            free((char *)c.rows[k].path);
    }
    free(c.rows);
    free(offsets);
    buf_free(&text);
    return rc;
}
