/*
 * sim.h - synthetic, labelled traffic for the demo loan site (`journey simulate`).
 *
 * The simulator plays visitors of Kestrel Loans (docs/demo.md) and writes down
 * what journey.js would have sent for them: Segment `track`, `page` and
 * `identify` messages with exactly the tracker's names, properties and context
 * (docs/protocol.md), so the ingest path, the detectors and the risk model see
 * nothing they would not see from a real browser. Each session comes with its
 * truth: the persona that drove it, a summary of its behaviour, the
 * probability that it converts without help, and the uniform draw that decides
 * whether it does, so an intervention's uplift can be checked against a known
 * answer. docs/simulator.md describes the personas, the outcome function and
 * its coefficients.
 *
 * A session is generated up to its point of decision ("behaviour"), then with
 * two alternative endings: `convert` (finish the application, identify, the
 * thank-you page) and `leave` (the visitor goes: $page_leave). The caller
 * decides which ending happened, typically with sim_converts(ss, treated,
 * effect), and sends behaviour followed by that ending.
 *
 * Determinism: everything comes from the seed through the simulator's own
 * PRNGs (splitmix64 + xoshiro256**); no clock, no rand(). The same config gives
 * byte-identical sessions in the same order on the same build. Session i
 * depends on the seed, i and (through start times and returning visitors) on
 * the sessions before it, never on the caller's choices of ending.
 *
 * Ownership: a struct sim is the caller's (sim_new / sim_free). A filled
 * struct sim_session owns every message's json (from malloc) and the three
 * arrays; sim_session_clear() frees them all. A caller may take one json by
 * setting the pointer to NULL before clearing. `persona` and `summary.source`
 * are static strings. A struct sim is not thread-safe: use one per thread.
 */
#ifndef JOURNEY_SIM_SIM_H
#define JOURNEY_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_LIBRARY_NAME "journey-simulator"
#define SIM_VERSION "1.0.0"

enum sim_persona {
    SIM_DECISIVE_BUYER,
    SIM_COMPARISON_SHOPPER,
    SIM_STRUGGLER,
    SIM_CONFUSED_NAVIGATOR,
    SIM_VIDEO_LEARNER,
    SIM_BOUNCER,
    SIM_PERSONA_COUNT
};

/* "decisive_buyer", ...; NULL for an unknown value. Static. */
const char *sim_persona_name(enum sim_persona p);

/* clang-format off */
struct sim_config {
    uint64_t seed;             /* same seed, same config -> byte-identical output */
    int64_t start_ms, end_ms;  /* session starts are spread over [start_ms, end_ms) with a
                                  daily and weekly rhythm (busy days and evenings, quiet nights
                                  and weekends) */
    double returning_share;    /* share of sessions by a visitor seen before (default 0.25) */
    const char *host;          /* for page URLs, e.g. "http://127.0.0.1:8080" (the default);
                                  borrowed, copied by sim_new */
    uint64_t n_sessions;       /* how many sessions the caller will ask for. > 0: start times
                                  increase with the index and fill the range (sessions past
                                  n_sessions are drawn independently). 0: every start is drawn
                                  independently from the rhythm, in no order. */
    int utc_offset_min;        /* the audience's local time, for the rhythm (default -300) */
    double persona_mix[SIM_PERSONA_COUNT]; /* relative weights; all 0 = the default mix
                                              15/20/20/15/10/20 % */
};
/* clang-format on */

/* Fills cfg with the defaults (seed 1, the last 7 days before 2026-11-23, returning 0.25,
 * host http://127.0.0.1:8080, n_sessions 0, UTC-5, the default mix). */
void sim_config_init(struct sim_config *cfg);

/* NULL if cfg is usable, else why not (a static message). */
const char *sim_config_error(const struct sim_config *cfg);

struct sim_message {
    char *json; /* one Segment message, NUL-terminated, from malloc */
    int64_t ts; /* its timestamp, epoch ms (also in the json as timestamp/originalTimestamp) */
};

/* What the visitor did during `behaviour`: the inputs of the outcome function. */
/* clang-format off */
struct sim_summary {
    int validation_errors;  /* $field_invalid events */
    int rage_clicks;        /* rage-click bursts (3+ clicks, each within 1 s and 30 px) */
    int dead_clicks;        /* $dead_click events */
    int u_turns;            /* A -> B -> A with less than 10 s on B */
    int pages;              /* page views */
    double video_watched;   /* share of the 60 s explainer seen, 0-1 */
    bool valid_quote;       /* a calculation succeeded ("Loan Calculated") */
    bool mobile;
    /* added to the brief's fields */
    bool reached_apply;     /* the application page was opened */
    int app_fields;         /* application fields filled correctly, 0-5 */
    int js_errors;
    bool bounced;           /* one page view and no interaction at all */
    bool returning;         /* a visitor seen before */
    int prior_conversions;  /* that visitor's earlier conversions (no-intervention outcomes) */
    const char *source;     /* "direct", "search", "social", "email", "paid" */
    double noise;           /* the session's unobserved logit term (not visible in events) */
};
/* clang-format on */

/* clang-format off */
struct sim_session {
    uint64_t index;                 /* 0, 1, 2 ... */
    char session_id[48];            /* as the tracker makes them: "<start ms>-<8 hex>" */
    char anonymous_id[48];          /* UUID v4 */
    char user_id[48];               /* the userId the visitor identifies with in `convert`
                                       (always set); messages carry it only after that identify,
                                       or from the start for a visitor who converted in an
                                       earlier session (summary.prior_conversions > 0) */
    const char *persona;            /* sim_persona_name() */
    enum sim_persona persona_id;
    int64_t start_ms;
    struct sim_message *behaviour;  size_t n_behaviour;  /* up to the outcome, in time order */
    struct sim_message *convert;    size_t n_convert;    /* if it converts: the rest of the
                                                            application, identify, thanks.html */
    struct sim_message *leave;      size_t n_leave;      /* if not: $page_leave (fields_filled,
                                                            forms_started, dwell_ms) */
    double p_convert;               /* P(convert | behaviour), no intervention */
    double u;                       /* uniform in [0,1): converts iff u < p_convert + effect */
    struct sim_summary summary;
};
/* clang-format on */

struct sim;

/* A generator for cfg (copied), or NULL if sim_config_error(cfg) says why not. */
struct sim *sim_new(const struct sim_config *cfg);
void sim_free(struct sim *s); /* accepts NULL */

/* Generates the next session of the deterministic sequence into out (cleared first; free with
 * sim_session_clear). 0, or -EINVAL for NULL arguments. */
int sim_next_session(struct sim *s, struct sim_session *out);

/* Frees what a session owns and zeroes it. Accepts a zeroed or already cleared session. */
void sim_session_clear(struct sim_session *out);

/* true if the session converts: u < p_convert + (treated ? effect : 0). */
bool sim_converts(const struct sim_session *ss, bool treated, double effect);

/* The outcome function: logit of P(convert) for a summary (docs/simulator.md), noise included. */
double sim_outcome_logit(const struct sim_summary *sum);

#endif
