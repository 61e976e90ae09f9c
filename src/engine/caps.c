/*
 * caps.c - how many interventions a visitor had in the last 24 hours, across
 * sessions (which may live on different workers). A small map under a mutex:
 * touched once per decision.
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (86400LL * 1000)
#define KEEP 32

struct visitor_entry {
    struct visitor_entry *next;
    uint64_t key;
    int64_t times[KEEP];
    int n;
};

struct visitor_caps {
    pthread_mutex_t lock;
    struct visitor_entry *buckets[4096];
    int64_t last_sweep;
};

struct visitor_caps *visitor_caps_new(void)
{
    struct visitor_caps *v = xcalloc(1, sizeof *v);
    pthread_mutex_init(&v->lock, NULL);
    return v;
}

void visitor_caps_free(struct visitor_caps *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < ARRAY_LEN(v->buckets); i++) {
        struct visitor_entry *e = v->buckets[i];
        while (e) {
            struct visitor_entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static uint64_t key_of(int64_t project_id, const char *visitor)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", (long long)project_id);
    return engine_hash2(pid, visitor);
}

static struct visitor_entry *find(struct visitor_caps *v, uint64_t key, bool create)
{
    struct visitor_entry **slot = &v->buckets[key % ARRAY_LEN(v->buckets)];
    for (struct visitor_entry *e = *slot; e; e = e->next)
        if (e->key == key)
            return e;
    if (!create)
        return NULL;
    struct visitor_entry *e = xcalloc(1, sizeof *e);
    e->key = key;
    e->next = *slot;
    *slot = e;
    return e;
}

static void sweep(struct visitor_caps *v, int64_t now)
{
    for (size_t i = 0; i < ARRAY_LEN(v->buckets); i++) {
        struct visitor_entry **pp = &v->buckets[i];
        while (*pp) {
            struct visitor_entry *e = *pp;
            bool live = false;
            for (int k = 0; k < e->n && !live; k++)
                live = e->times[k] > now - DAY_MS;
            if (!live) {
                *pp = e->next;
                free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

int visitor_caps_count(struct visitor_caps *v, int64_t project_id, const char *visitor,
                       int64_t now)
{
    if (!visitor)
        return 0;
    pthread_mutex_lock(&v->lock);
    struct visitor_entry *e = find(v, key_of(project_id, visitor), false);
    int n = 0;
    for (int k = 0; e && k < e->n; k++)
        n += e->times[k] > now - DAY_MS;
    pthread_mutex_unlock(&v->lock);
    return n;
}

void visitor_caps_add(struct visitor_caps *v, int64_t project_id, const char *visitor, int64_t ts)
{
    if (!visitor)
        return;
    pthread_mutex_lock(&v->lock);
    if (ts - v->last_sweep > 3600000) {
        sweep(v, ts);
        v->last_sweep = ts;
    }
    struct visitor_entry *e = find(v, key_of(project_id, visitor), true);
    if (e->n < KEEP) {
        e->times[e->n++] = ts;
    } else {
        memmove(e->times, e->times + 1, (KEEP - 1) * sizeof e->times[0]);
        e->times[KEEP - 1] = ts;
    }
    pthread_mutex_unlock(&v->lock);
}
