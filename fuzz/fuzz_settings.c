/*
 * fuzz_settings.c - project settings validation (engine_validate_settings,
 * docs/policy.md) on arbitrary text, and what a valid document is then used
 * for: each rule's conditions evaluated against sessions (policy_match:
 * fnmatch patterns, traits, nested all/any/not), the excluded paths, and the
 * message templates rendered (policy_render), as the engine does when it
 * decides an intervention.
 *
 * Input: the settings document. It is handed over as a C string (the API
 * and PUT /api/v1/settings do so), so a NUL byte ends it.
 *
 * Checks beyond the sanitizers:
 *   - the error buffer is exactly errlen bytes (a heap block of that size,
 *     so ASan sees any write past it) and a refusal leaves a NUL-terminated
 *     message in it;
 *   - engine_validate_settings and project_settings_parse agree;
 *   - a template without "{{" renders to itself.
 */
#include "engine/engine_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_settings: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define ERRLEN 160

/* Two sessions: one deep in trouble on a form, one with nothing known. */
static struct session busy, blank;

static void sessions_init(void)
{
    static char path[] = "/apply/income", key1[] = "plan", val1[] = "pro", key2[] = "seats",
                val2[] = "5", field[] = "income", form[] = "apply";
    busy.current_path = path;
    busy.entry_path = path;
    busy.device_class = "mobile";
    busy.risk = 82;
    busy.signals_total = 40;
    for (int i = 0; i < 32; i++)
        busy.recent_scores[i] = (uint8_t)(50 + i);
    for (int k = 0; k < SIG_KIND_COUNT; k++) {
        busy.sig[k].count = (uint16_t)(k + 1);
        busy.sig[k].max_score = (uint8_t)(40 + 4 * k);
        busy.sig[k].score = busy.sig[k].max_score;
    }
    busy.traits[0] = (struct trait){key1, val1};
    busy.traits[1] = (struct trait){key2, val2};
    busy.trait_count = 2;
    busy.converted = true;
    busy.trouble_field = field;
    busy.trouble_form = form;
}

static void exercise(const struct project_settings *ps)
{
    static const char *const paths[] = {"/apply/income", "/checkout/pay", "/", "/admin/x/y"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        (void)policy_path_excluded(ps, paths[i]);
    (void)policy_match(ps, &busy, 0);
    (void)policy_match(ps, &blank, 0);
    for (int i = 0; i < ps->n_rules; i++) {
        const struct rule *r = &ps->rules[i];
        const char *texts[] = {r->title, r->message};
        for (int t = 0; t < 2; t++) {
            for (int s = 0; s < 2; s++) {
                const struct session *sess = s ? &blank : &busy;
                char *out = policy_render(texts[t], sess, s ? NULL : sess->trouble_field,
                                          s ? NULL : sess->trouble_form,
                                          s ? SIG_KIND_COUNT : SIG_FORM_ERRORS);
                CHECK(out != NULL);
                /* A template with no "{{" renders to itself. */
                if (texts[t] && !strstr(texts[t], "{{"))
                    CHECK(strcmp(out, texts[t]) == 0);
                free(out);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!busy.current_path)
        sessions_init();
    char *json = malloc(size + 1);
    memcpy(json, data, size);
    json[size] = '\0';

    char *err = malloc(ERRLEN);
    memset(err, 0x7f, ERRLEN);
    int rc = engine_validate_settings(json, err, ERRLEN);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(memchr(err, '\0', ERRLEN) != NULL);
    }
    memset(err, 0x7f, ERRLEN);
    struct project_settings *ps = project_settings_parse(json, 1, err, ERRLEN);
    CHECK((ps != NULL) == (rc == 0));
    if (ps) {
        exercise(ps);
        project_settings_free(ps);
    }
    free(err);
    free(json);
    return 0;
}
