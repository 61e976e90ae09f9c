/*
 * paths.c - the page sequences leaving or reaching a page, as a Sankey graph
 * (docs/api.md, "Paths and sessions").
 *
 * The page views of the sessions started in the range (and in the segment)
 * are grouped by session with a counting sort and put in time order; a
 * reload (the same page twice in a row) counts once. From the first view of
 * the page, each session contributes the `depth` pages after it (or before
 * it, direction=to), ending in "(exit)" (or starting at "(entry)") when the
 * session has no more. At each step the `limit` most common pages keep their
 * name and the others become "(other)".
 */
#include "analytics/analytics_internal.h"

#include "common/util.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 6
#define MAX_LIMIT 20
#define NODE_END UINT32_MAX       /* (exit) or (entry) */
#define NODE_OTHER (UINT32_MAX - 1)

struct pv {
    uint32_t session;
    uint32_t event;
};

static int cmp_pv(const void *x, const void *y, void *ctx)
{
    const struct ax_event *ev = ctx;
    const struct ax_event *a = &ev[((const struct pv *)x)->event];
    const struct ax_event *b = &ev[((const struct pv *)y)->event];
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

struct count {
    uint32_t path;
    int64_t n;
};

static int cmp_count(const void *x, const void *y)
{
    const struct count *a = x, *b = y;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return a->path < b->path ? -1 : a->path > b->path;
}

static void node_name(struct buf *out, struct analytics *a, int step, uint32_t node, bool to)
{
    char name[600];
    const char *label = node == NODE_END     ? (to ? "(entry)" : "(exit)")
                        : node == NODE_OTHER ? "(other)"
                                             : strdict_get(&a->paths, node);
    snprintf(name, sizeof name, "%d %s", step, label ? label : "?");
    json_str(out, name);
}

int report_paths(struct analytics *a, int64_t project_id, const struct report_params *p,
                 enum report_format fmt, struct buf *out, struct report_error *err)
{
    char b[400];
    const char *page = param_text(p, "page", b, sizeof b);
    if (!page || !*page)
        return report_fail(err, 400, "invalid_parameter", "page",
                           "page: the page path (or glob) to start from is required");
    char page_copy[400];
    snprintf(page_copy, sizeof page_copy, "%s", page);
    char db[32];
    const char *dir = param_text(p, "direction", db, sizeof db);
    if (dir && strcmp(dir, "from") && strcmp(dir, "to"))
        return report_fail(err, 400, "invalid_parameter", "direction",
                           "direction must be from or to");
    bool to_dir = dir && !strcmp(dir, "to");
    int64_t depth, limit, from, to;
    if (param_int(p, "depth", 3, 1, MAX_DEPTH, &depth, err) ||
        param_int(p, "limit", 8, 1, MAX_LIMIT, &limit, err) || param_range(p, &from, &to, err))
        return -1;

    pthread_rwlock_rdlock(&a->lock);
    int rc = -1;
    struct segment *sg = NULL;
    uint8_t *page_ok = NULL, *in_range = NULL;
    struct pv *pvs = NULL, *sorted = NULL;
    size_t *start = NULL;
    uint32_t *seqs = NULL; /* per matching session: depth + 1 nodes */
    size_t n_seqs = 0;
    struct ax_project *proj = ax_project_find(a, project_id);
    cJSON *owned = NULL;
    const cJSON *segj = param_json(p, "segment", &owned, err);
    if (!segj && err->status)
        goto out;
    if (segment_parse(a, proj, project_id, p, "segment", segj, &sg, err))
        goto out;
    page_ok = xcalloc(a->paths.n + 1, 1);
    for (uint32_t id = 1; id < a->paths.n; id++)
        page_ok[id] = fnmatch(page_copy, a->paths.by_id[id], 0) == 0;
    if (proj) {
        size_t ns = proj->session_ids.n;
        in_range = xcalloc(ns, 1);
        for (size_t s = 1; s < ns; s++)
            in_range[s] = proj->sessions[s].start >= from && proj->sessions[s].start < to &&
                          segment_has(sg, (uint32_t)s);
        size_t *count = xcalloc(ns + 1, sizeof *count);
        size_t n = 0, cap = 4096;
        pvs = xmalloc(cap * sizeof *pvs);
        for (size_t i = 0; i < proj->n_events; i++) {
            const struct ax_event *e = &proj->events[i];
            if ((e->type != AX_PAGE && e->type != AX_SCREEN) || !e->path || !in_range[e->session])
                continue;
            if (n == cap) {
                cap *= 2;
                pvs = xrealloc(pvs, cap * sizeof *pvs);
            }
            pvs[n++] = (struct pv){e->session, (uint32_t)i};
            count[e->session]++;
        }
        start = xmalloc((ns + 1) * sizeof *start);
        size_t acc = 0;
        for (size_t s = 0; s < ns; s++) {
            start[s] = acc;
            acc += count[s];
        }
        start[ns] = acc;
        sorted = xmalloc((n ? n : 1) * sizeof *sorted);
        for (size_t i = 0; i < n; i++)
            sorted[start[pvs[i].session] + --count[pvs[i].session]] = pvs[i];
        free(count);
        free(pvs);
        pvs = NULL;
        size_t cap_seqs = 1024;
        seqs = xmalloc(cap_seqs * (size_t)(depth + 1) * sizeof *seqs);
        uint32_t *pages = NULL;
        size_t cap_pages = 0;
        for (size_t s = 1; s < ns; s++) {
            size_t len = start[s + 1] - start[s];
            if (!len)
                continue;
            struct pv *g = sorted + start[s];
            qsort_r(g, len, sizeof *g, cmp_pv, proj->events);
            /* the session's pages, reloads folded */
            if (len > cap_pages) {
                cap_pages = len;
                pages = xrealloc(pages, cap_pages * sizeof *pages);
            }
            size_t np = 0;
            for (size_t i = 0; i < len; i++) {
                uint32_t path = proj->events[g[i].event].path;
                if (!np || pages[np - 1] != path)
                    pages[np++] = path;
            }
            size_t at = np;
            for (size_t i = 0; i < np; i++)
                if (page_ok[pages[i]]) {
                    at = i;
                    break;
                }
            if (at == np)
                continue;
            if (n_seqs == cap_seqs) {
                cap_seqs *= 2;
                seqs = xrealloc(seqs, cap_seqs * (size_t)(depth + 1) * sizeof *seqs);
            }
            uint32_t *q = &seqs[n_seqs++ * (size_t)(depth + 1)];
            bool ended = false;
            for (int64_t k = 0; k <= depth; k++) {
                int64_t i = to_dir ? (int64_t)at - k : (int64_t)at + k;
                if (ended || i < 0 || i >= (int64_t)np) {
                    /* one end node, then nothing */
                    q[k] = ended ? 0 : NODE_END;
                    ended = true;
                } else {
                    q[k] = pages[i];
                }
            }
        }
        free(pages);
    }
    /* The top pages at each step; the rest fold into (other). */
    size_t np_all = a->paths.n + 1;
    int64_t *freq = xcalloc(np_all, sizeof *freq);
    uint32_t *keep = xcalloc(np_all, sizeof *keep); /* path -> 1 + step mask of kept */
    for (int64_t k = 1; k <= depth; k++) {
        memset(freq, 0, np_all * sizeof *freq);
        for (size_t i = 0; i < n_seqs; i++) {
            uint32_t node = seqs[i * (size_t)(depth + 1) + (size_t)k];
            if (node && node != NODE_END)
                freq[node]++;
        }
        struct count *c = xmalloc(np_all * sizeof *c);
        size_t nc = 0;
        for (size_t id = 1; id < np_all; id++)
            if (freq[id])
                c[nc++] = (struct count){(uint32_t)id, freq[id]};
        qsort(c, nc, sizeof *c, cmp_count);
        for (size_t i = 0; i < nc && i < (size_t)limit; i++)
            keep[c[i].path] |= 1u << k;
        free(c);
        for (size_t i = 0; i < n_seqs; i++) {
            uint32_t *node = &seqs[i * (size_t)(depth + 1) + (size_t)k];
            if (*node && *node != NODE_END && !(keep[*node] & (1u << k)))
                *node = NODE_OTHER;
        }
    }
    free(freq);
    free(keep);
    /* Links: (step, source, target) counted; few enough for a linear list. */
    struct link {
        int step;
        uint32_t src, dst;
        int64_t n;
    } *links = NULL;
    size_t n_links = 0, cap_links = 0;
    int64_t start_count = (int64_t)n_seqs;
    for (size_t i = 0; i < n_seqs; i++) {
        const uint32_t *q = &seqs[i * (size_t)(depth + 1)];
        for (int64_t k = 0; k < depth; k++) {
            if (!q[k + 1] || q[k] == NODE_END)
                break;
            /* step 0's node is the page itself (any path matching it) */
            uint32_t src = k == 0 ? 0 : q[k];
            size_t j = 0;
            for (; j < n_links; j++)
                if (links[j].step == (int)k && links[j].src == src && links[j].dst == q[k + 1])
                    break;
            if (j == n_links) {
                if (n_links == cap_links) {
                    cap_links = cap_links ? cap_links * 2 : 64;
                    links = xrealloc(links, cap_links * sizeof *links);
                }
                links[n_links++] = (struct link){(int)k, src, q[k + 1], 0};
            }
            links[j].n++;
        }
    }
    /* biggest first */
    for (size_t i = 1; i < n_links; i++) {
        struct link x = links[i];
        size_t j = i;
        while (j > 0 && (links[j - 1].step > x.step ||
                         (links[j - 1].step == x.step && links[j - 1].n < x.n))) {
            links[j] = links[j - 1];
            j--;
        }
        links[j] = x;
    }
    if (fmt == REPORT_CSV) {
        buf_puts(out, "step,source,target,sessions\r\n");
        for (size_t i = 0; i < n_links; i++) {
            struct buf s = BUF_INIT, t = BUF_INIT;
            int sstep = to_dir ? -links[i].step : links[i].step;
            int tstep = to_dir ? -(links[i].step + 1) : links[i].step + 1;
            if (links[i].src == 0)
                buf_printf(&s, "%d %s", sstep, page_copy);
            else
                node_name(&s, a, sstep, links[i].src, to_dir);
            node_name(&t, a, tstep, links[i].dst, to_dir);
            /* node_name writes JSON strings: strip the quotes for CSV */
            char *sv = s.data, *tv = t.data;
            if (links[i].src != 0) {
                sv[s.len - 1] = '\0';
                sv++;
            }
            tv[t.len - 1] = '\0';
            tv++;
            buf_printf(out, "%d,", links[i].step);
            csv_field(out, sv);
            buf_putc(out, ',');
            csv_field(out, tv);
            buf_printf(out, ",%lld\r\n", (long long)links[i].n);
            buf_free(&s);
            buf_free(&t);
        }
    } else {
        buf_puts(out, "{\"page\":");
        json_str(out, page_copy);
        buf_printf(out, ",\"direction\":\"%s\",\"sessions\":%lld,\"nodes\":[",
                   to_dir ? "to" : "from", (long long)start_count);
        /* nodes: every distinct (step, node) of the links, in order */
        char first[500];
        snprintf(first, sizeof first, "0 %s", page_copy);
        buf_puts(out, "{\"name\":");
        json_str(out, first);
        buf_puts(out, ",\"step\":0}");
        for (size_t i = 0; i < n_links; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = links[j].step == links[i].step && links[j].dst == links[i].dst;
            if (seen)
                continue;
            int st = to_dir ? -(links[i].step + 1) : links[i].step + 1;
            buf_puts(out, ",{\"name\":");
            node_name(out, a, st, links[i].dst, to_dir);
            buf_printf(out, ",\"step\":%d}", st);
        }
        buf_puts(out, "],\"links\":[");
        for (size_t i = 0; i < n_links; i++) {
            int sstep = to_dir ? -links[i].step : links[i].step;
            int tstep = to_dir ? -(links[i].step + 1) : links[i].step + 1;
            buf_puts(out, i ? ",{\"source\":" : "{\"source\":");
            /* in direction "to" the flow runs from the earlier page */
            struct buf sname = BUF_INIT, tname = BUF_INIT;
            if (links[i].src == 0)
                json_str(&sname, first);
            else
                node_name(&sname, a, sstep, links[i].src, to_dir);
            node_name(&tname, a, tstep, links[i].dst, to_dir);
            buf_append(out, to_dir ? tname.data : sname.data, to_dir ? tname.len : sname.len);
            buf_puts(out, ",\"target\":");
            buf_append(out, to_dir ? sname.data : tname.data, to_dir ? sname.len : tname.len);
            buf_printf(out, ",\"value\":%lld}", (long long)links[i].n);
            buf_free(&sname);
            buf_free(&tname);
        }
        buf_puts(out, "]}");
    }
    free(links);
    rc = 0;
out:
    pthread_rwlock_unlock(&a->lock);
    cJSON_Delete(owned);
    segment_free(sg);
    free(page_ok);
    free(in_range);
    free(pvs);
    free(sorted);
    free(start);
    free(seqs);
    return rc;
}
