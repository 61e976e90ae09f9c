/*
 * detect.c - the signal vocabulary, detector defaults, emitting, and the
 * order detectors run in. Each detector is its own file in detectors/; the
 * thresholds and where they come from are in docs/detectors.md.
 */
#include "engine/engine_internal.h"

#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *label;
} kinds[SIG_KIND_COUNT] = {
    [SIG_RAGE_CLICK] = {"rage_click", "rage clicks"},
    [SIG_DEAD_CLICK] = {"dead_click", "clicks that do nothing"},
    [SIG_ERROR_CLICK] = {"error_click", "a click that caused an error"},
    [SIG_FORM_ERRORS] = {"form_errors", "repeated form errors"},
    [SIG_FIELD_THRASH] = {"field_thrash", "a field changed again and again"},
    [SIG_FORM_ABANDON] = {"form_abandon", "a form left unfinished"},
    [SIG_CALC_RETRY] = {"calculator_retry", "repeated calculator attempts"},
    [SIG_LONG_DWELL] = {"long_dwell", "a long pause without progress"},
    [SIG_U_TURN] = {"u_turn", "going back and forth"},
    [SIG_RAPID_NAV] = {"rapid_navigation", "jumping between pages"},
    [SIG_QUICK_BACK] = {"quick_back", "leaving a page right away"},
    [SIG_SCROLL_THRASH] = {"scroll_thrash", "scrolling up and down"},
    [SIG_JS_ERROR] = {"js_error", "errors on the page"},
    [SIG_VIDEO_REWATCH] = {"video_rewatch", "rewatching the same part of a video"},
    [SIG_VIDEO_ABANDON] = {"video_abandon", "leaving the video early"},
};

const char *signal_kind_name(enum signal_kind k)
{
    return k < SIG_KIND_COUNT ? kinds[k].name : "unknown";
}

const char *signal_kind_label(enum signal_kind k)
{
    return k < SIG_KIND_COUNT ? kinds[k].label : "trouble";
}

int signal_kind_parse(const char *name)
{
    for (int i = 0; i < SIG_KIND_COUNT; i++)
        if (name && !strcmp(kinds[i].name, name))
            return i;
    return -1;
}

void detector_params_defaults(struct detector_params *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < SIG_KIND_COUNT; i++)
        p->enabled[i] = true;
    p->rage_clicks = 3;
    p->rage_window_ms = 1000;
    p->rage_radius_px = 30;
    p->error_click_window_ms = 1000;
    p->form_errors_min = 2;
    p->thrash_changes = 4;
    p->calc_retry_submits = 3;
    p->long_dwell_ms = 120000;
    p->long_dwell_min_samples = 30;
    p->u_turn_ms = 10000;
    p->rapid_nav_pages = 4;
    p->rapid_nav_window_ms = 10000;
    p->quick_back_ratio = 0.25;
    p->scroll_reversals = 6;
    p->scroll_ratio = 3.0;
    p->video_rewatch_count = 3;
    p->video_abandon_ratio = 0.25;
    p->video_abandon_min_ms = 5000;
    p->video_abandon_min_duration_s = 20;
}

void detect_emit(struct detect_ctx *c, struct session *s, enum signal_kind kind, int score,
                 int64_t ts, int64_t event_id, const char *evidence_fmt, ...)
{
    (void)s;
    if (!c->params->enabled[kind] || c->n_out >= c->cap_out)
        return;
    struct signal *sig = &c->out[c->n_out++];
    sig->kind = kind;
    sig->score = score < 0 ? 0 : score > 100 ? 100 : score;
    sig->ts = ts;
    sig->event_id = event_id;
    int n = snprintf(sig->evidence, sizeof sig->evidence, "{");
    va_list ap;
    va_start(ap, evidence_fmt);
    n += vsnprintf(sig->evidence + n, sizeof sig->evidence - (size_t)n - 2, evidence_fmt, ap);
    va_end(ap);
    if (n > (int)sizeof sig->evidence - 2)
        n = (int)sizeof sig->evidence - 2;
    sig->evidence[n] = '}';
    sig->evidence[n + 1] = '\0';
}

void detect_all(struct detect_ctx *c, struct session *s, const struct engine_event *e)
{
    switch (e->kind) {
    case EV_CLICK:
        detect_rage_click(c, s, e);
        break;
    case EV_DEAD_CLICK:
        detect_dead_click(c, s, e);
        break;
    case EV_JS_ERROR:
        detect_error_click(c, s, e);
        detect_js_error(c, s, e);
        break;
    case EV_FIELD_INVALID:
        detect_form_errors(c, s, e);
        break;
    case EV_FIELD_CHANGE:
        detect_field_thrash(c, s, e);
        detect_calc_retry(c, s, e);
        break;
    case EV_FORM_SUBMIT:
        detect_calc_retry(c, s, e);
        break;
    case EV_PAGE:
    case EV_SCREEN:
        detect_form_abandon(c, s, e);
        detect_video_abandon(c, s, e);
        detect_navigation(c, s, e);
        break;
    case EV_PAGE_LEAVE:
        detect_form_abandon(c, s, e);
        detect_video_abandon(c, s, e);
        break;
    case EV_SCROLL:
        detect_scroll_thrash(c, s, e);
        break;
    case EV_VIDEO_SEEKED:
    case EV_VIDEO_PAUSE:
    case EV_VIDEO_ENDED:
        detect_video(c, s, e);
        break;
    default:
        break;
    }
}

/* JSON-escapes s into a static-size buffer for evidence strings. */
const char *detect_json_str(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    if (!s) {
        snprintf(buf, cap, "null");
        return buf;
    }
    buf[o++] = '"';
    for (; *s && o + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}
