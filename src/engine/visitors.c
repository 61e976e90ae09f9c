/*
 * visitors.c - which visitors came before, and how often they converted:
 * the "returning" and "earlier_conversions" features. One small entry per
 * visitor ever seen (loaded from the sessions table at start), shared by
 * the workers under a mutex and touched once per session.
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>

struct visitor {
    uint64_t key; /* 0 = empty */
    uint32_t sessions;
    uint32_t conversions;
};

struct visitor_registry {
    pthread_mutex_t lock;
    struct visitor *slots;
    size_t cap, count;
};

struct visitor_registry *visitor_registry_new(void)
{
    struct visitor_registry *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->cap = 1024;
    r->slots = xcalloc(r->cap, sizeof *r->slots);
    return r;
}

void visitor_registry_free(struct visitor_registry *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->slots);
    free(r);
}

static uint64_t key_of(int64_t project_id, const char *visitor)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", (long long)project_id);
    return engine_hash2(pid, visitor);
}

static struct visitor *slot(struct visitor_registry *r, uint64_t key)
{
    size_t i = (size_t)key & (r->cap - 1);
    while (r->slots[i].key && r->slots[i].key != key)
        i = (i + 1) & (r->cap - 1);
    return &r->slots[i];
}

static struct visitor *upsert(struct visitor_registry *r, uint64_t key)
{
    if ((r->count + 1) * 2 > r->cap) {
        struct visitor *old = r->slots;
        size_t old_cap = r->cap;
        r->cap *= 2;
        r->slots = xcalloc(r->cap, sizeof *r->slots);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].key)
                *slot(r, old[i].key) = old[i];
        free(old);
    }
    struct visitor *v = slot(r, key);
    if (!v->key) {
        v->key = key;
        r->count++;
    }
    return v;
}

static const char *visitor_of(const struct session *s)
{
    return s->anonymous_id ? s->anonymous_id : s->user_id;
}

void visitor_registry_session(struct visitor_registry *r, struct session *s)
{
    const char *v = visitor_of(s);
    if (!r || !v || s->visitor_noted)
        return;
    pthread_mutex_lock(&r->lock);
    struct visitor *e = upsert(r, key_of(s->project_id, v));
    s->returning = e->sessions > 0;
    s->earlier_conversions = (uint16_t)(e->conversions > 65535 ? 65535 : e->conversions);
    e->sessions++;
    s->visitor_noted = true;
    pthread_mutex_unlock(&r->lock);
}

void visitor_registry_converted(struct visitor_registry *r, const struct session *s)
{
    const char *v = visitor_of(s);
    if (!r || !v)
        return;
    pthread_mutex_lock(&r->lock);
    upsert(r, key_of(s->project_id, v))->conversions++;
    pthread_mutex_unlock(&r->lock);
}

void visitor_registry_add(struct visitor_registry *r, int64_t project_id, const char *visitor,
                          int sessions, int conversions)
{
    if (!visitor)
        return;
    pthread_mutex_lock(&r->lock);
    struct visitor *e = upsert(r, key_of(project_id, visitor));
    e->sessions += (uint32_t)sessions;
    e->conversions += (uint32_t)conversions;
    pthread_mutex_unlock(&r->lock);
}
