/*
 * respond.c - the browser's answers to interventions: a store job that
 * applies the life-cycle step, and then the session's worker is told (so a
 * decline starts the cooldown).
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct respond_job {
    struct store_job job;
    struct engine *engine;
    int64_t project_id;
    char id[64];
    char status[16];
    char prev[16];
    char session[256];
    int64_t ts; /* 0: now */
    int result;
    void (*done)(int rc, const char *prev, void *arg);
    void *arg;
};

static int respond_apply(struct store_tx *tx, struct store_job *job)
{
    struct respond_job *r = (struct respond_job *)job;
    r->result = store_tx_intervention_transition(tx, r->id, r->project_id, r->status,
                                                 r->ts ? r->ts : now_ms(),
                                                 NULL, r->prev, r->session);
    /* A refused step is an answer, not a failure of the transaction. */
    return r->result == -EIO ? -EIO : 0;
}

static void respond_done(struct store_job *job, int rc)
{
    struct respond_job *r = (struct respond_job *)job;
    int result = rc < 0 ? rc : r->result;
    if (result >= 0 && r->session[0])
        engine_intervention_response(r->engine, r->project_id, r->session, r->id, r->status);
    if (r->done)
        r->done(result, r->prev, r->arg);
    free(r);
}

int engine_respond(struct engine *e, int64_t project_id, const char *id, const char *status,
                   void (*done)(int rc, const char *prev, void *arg), void *arg)
{
    return engine_respond_at(e, project_id, id, status, 0, done, arg);
}

int engine_respond_at(struct engine *e, int64_t project_id, const char *id, const char *status,
                      int64_t ts, void (*done)(int rc, const char *prev, void *arg), void *arg)
{
    return engine_respond_session(e, project_id, id, status, NULL, ts, done, arg);
}

int engine_respond_session(struct engine *e, int64_t project_id, const char *id,
                           const char *status, const char *session_id, int64_t ts,
                           void (*done)(int rc, const char *prev, void *arg), void *arg)
{
    struct respond_job *r = xcalloc(1, sizeof *r);
    r->ts = ts;
    if (session_id)
        snprintf(r->session, sizeof r->session, "%s", session_id);
    r->engine = e;
    r->project_id = project_id;
    snprintf(r->id, sizeof r->id, "%s", id);
    snprintf(r->status, sizeof r->status, "%s", status);
    r->done = done;
    r->arg = arg;
    r->job.queue = STORE_QUEUE_INTERNAL;
    r->job.weight = 1;
    r->job.apply = respond_apply;
    r->job.done = respond_done;
    int rc = store_submit(engine_store(e), &r->job);
    if (rc)
        free(r);
    return rc;
}
