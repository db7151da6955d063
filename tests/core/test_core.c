/* Unit tests of the measurement core (plain C: no Python, no libotf2),
 * against a test substrate that logs what it receives.  Built and run by
 * tests/test_core_c.py; prints "N passed, M failed" and exits non-zero on
 * any failure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/core/buffers.h"
#include "../../src/core/config.h"
#include "../../src/core/defs.h"
#include "../../src/core/events.h"
#include "../../src/core/filter.h"
#include "../../src/core/keymap.h"
#include "../../src/core/location.h"
#include "../../src/core/measurement.h"
#include "../../src/core/ptrmap.h"
#include "../../src/core/replay.h"
#include "../../src/core/scorep.h"
#include "../../src/core/substrates.h"

static int passed, failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            passed++;                                                            \
        } else {                                                                 \
            failed++;                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* ---- a substrate that writes what it receives into a log ---- */

typedef struct {
    char kind;      /* E enter, L leave, P parameter, O on/off, F flush */
    uint64_t time;
    uint64_t a, b;
} logged;

static logged log_events[1 << 20];
static size_t log_count;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    uint32_t index;
    uint64_t events;
    bool closed;
} log_location;

static log_location log_locations[64];
static unsigned log_location_count;
static uint32_t log_summary_locations;
static char log_summary_names[8][64];
static bool log_closed_with_summary, log_closed;

static void log_add(char kind, uint64_t time, uint64_t a, uint64_t b)
{
    pthread_mutex_lock(&log_lock);
    if (log_count < sizeof log_events / sizeof log_events[0])
        log_events[log_count++] = (logged){kind, time, a, b};
    pthread_mutex_unlock(&log_lock);
}

static bool s_enter(void *st, uint64_t t, uint32_t r) { ((log_location *)st)->events++; log_add('E', t, r, 0); return true; }
static bool s_leave(void *st, uint64_t t, uint32_t r) { ((log_location *)st)->events++; log_add('L', t, r, 0); return true; }
static bool s_pint(void *st, uint64_t t, uint32_t p, int64_t v) { (void)st; log_add('P', t, p, (uint64_t)v); return true; }
static bool s_onoff(void *st, uint64_t t, bool on, uint32_t r) { (void)st; log_add('O', t, on, r); return true; }
static bool s_flush(void *st, uint64_t t, uint64_t end, uint32_t r) { (void)st; (void)r; log_add('F', t, end, 0); return true; }
static bool s_wanted(const measurement_config *cfg) { (void)cfg; return true; }
static void *s_open(const substrate_facts *facts, char *err, size_t errlen) { (void)facts; (void)err; (void)errlen; return &log_count; }
static void *s_location_open(void *self, const substrate_location *where)
{
    (void)self;
    pthread_mutex_lock(&log_lock);
    log_location *l = log_location_count < 64 ? &log_locations[log_location_count++] : NULL;
    if (l)
        *l = (log_location){where->index, 0, false};
    pthread_mutex_unlock(&log_lock);
    return l;
}
static bool s_location_close(void *self, void *state, uint64_t end)
{
    (void)self;
    (void)end;
    pthread_mutex_lock(&log_lock);
    ((log_location *)state)->closed = true;
    pthread_mutex_unlock(&log_lock);
    return true;
}
static bool s_close(void *self, const substrate_summary *s, char *err, size_t errlen)
{
    (void)self;
    (void)err;
    (void)errlen;
    log_closed = true;
    log_closed_with_summary = s != NULL;
    if (s) {
        log_summary_locations = s->location_count;
        for (uint32_t i = 0; i < s->location_count && i < 8; i++)
            snprintf(log_summary_names[i], sizeof log_summary_names[i], "%s", s->defs.strings[s->locations[i].name]);
    }
    return true;
}

static const substrate_ops log_ops = {
    .name = "log", .wanted = s_wanted, .open = s_open, .location_open = s_location_open,
    .location_close = s_location_close, .close = s_close, .enter = s_enter, .leave = s_leave,
    .parameter_int = s_pint, .measurement_on_off = s_onoff, .buffer_flush = s_flush,
};
SUBSTRATE_REGISTER(log_ops)

/* ---- a substrate that fails after a number of events ---- */

static int failing_budget = -1;   /* <0: not wanted */
static int failing_events, failing_closes;
static bool failing_closed_with_summary;

static bool f_wanted(const measurement_config *cfg) { (void)cfg; return failing_budget >= 0; }
static void *f_open(const substrate_facts *facts, char *err, size_t errlen) { (void)facts; (void)err; (void)errlen; return &failing_events; }
static void *f_location_open(void *self, const substrate_location *where) { (void)where; return self; }
static bool f_event(void *st, uint64_t t, uint32_t r)
{
    (void)st; (void)t; (void)r;
    return ++failing_events <= failing_budget;
}
static const char *f_error(void *self) { (void)self; return "cannot write '/nowhere/test.evt': No space left on device"; }
static bool f_close(void *self, const substrate_summary *s, char *err, size_t errlen)
{
    (void)self;
    (void)err;
    (void)errlen;
    failing_closes++;
    failing_closed_with_summary = s != NULL;
    return true;
}
static const substrate_ops failing_ops = {
    .name = "failing", .wanted = f_wanted, .open = f_open, .location_open = f_location_open,
    .close = f_close, .error = f_error, .enter = f_event, .leave = f_event,
};
SUBSTRATE_REGISTER(failing_ops)

/* ---- driving the core below the public interface ---- */

static measurement_config test_cfg;
static substrate_facts test_facts = {.cfg = &test_cfg};

/* Substrates and buffers anew, one location, nothing logged yet. */
static location *fresh_location_with(uint64_t total_memory, uint64_t chunk, bool flush_events)
{
    substrates_close(NULL);
    char err[256];
    substrates_open(&test_facts, err, sizeof err);
    locations_configure(chunk, 0);
    buffers_start(&(buffers_policy){.total_memory = total_memory, .flush_events = flush_events});
    location *loc = location_create(defs_string("test"), 0);
    log_count = 0;
    return loc;
}

static location *fresh_location(uint64_t total_memory, uint64_t chunk)
{
    return fresh_location_with(total_memory, chunk, false);
}

static void finish(location *loc, uint64_t end)
{
    buffers_flush(loc);
    replay_close(loc, end);
}

/* Everything a file descriptor received while `run` ran. */
static void capture_fd(int fd, void (*run)(void), char *out, size_t outlen)
{
    char path[] = "/tmp/scorep-core-test-XXXXXX";
    int tmp = mkstemp(path);
    int saved = dup(fd);
    fflush(NULL);
    dup2(tmp, fd);
    run();
    fflush(NULL);
    dup2(saved, fd);
    close(saved);
    ssize_t n = pread(tmp, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(tmp);
    unlink(path);
}

/* ---- tests ---- */

static void test_config_parsing(void)
{
    bool b;
    uint64_t n;
    CHECK(config_parse_bool("true", &b) && b);
    CHECK(config_parse_bool(" YES ", &b) && b);
    CHECK(config_parse_bool("On", &b) && b);
    CHECK(config_parse_bool("1", &b) && b);
    CHECK(config_parse_bool("42", &b) && b);
    CHECK(config_parse_bool("0", &b) && !b);
    CHECK(config_parse_bool("off", &b) && !b);
    CHECK(config_parse_bool("", &b) && !b);
    CHECK(!config_parse_bool("maybe", &b));
    CHECK(!config_parse_bool("truex", &b));
    CHECK(config_parse_bool("-1", &b) && b);
    CHECK(config_parse_bool("+0", &b) && !b);
    CHECK(!config_parse_bool("-", &b));
    CHECK(!config_parse_bool("--1", &b));

    CHECK(config_parse_size("16000k", &n) && n == 16384000);
    CHECK(config_parse_size("1 M", &n) && n == 1048576);
    CHECK(config_parse_size("2Gb", &n) && n == 2ull << 30);
    CHECK(config_parse_size("4096", &n) && n == 4096);
    CHECK(config_parse_size("3e", &n) && n == 3ull << 60);
    CHECK(!config_parse_size("12Q", &n));
    CHECK(!config_parse_size("-1", &n));
    CHECK(!config_parse_size("k", &n));
    CHECK(!config_parse_size("16E", &n)); /* overflows 64 bits */
    CHECK(!config_parse_size("1 K B x", &n));

    CHECK(config_parse_number("100", &n) && n == 100);
    CHECK(!config_parse_number("-1", &n));
    CHECK(!config_parse_number("1.5", &n));
    CHECK(!config_parse_number("99999999999999999999999", &n));
}

static void test_config_load_reports_the_variable(void)
{
    measurement_config cfg;
    char err[512];
    setenv("SCOREP_TOTAL_MEMORY", "12Q", 1);
    CHECK(!config_load(&cfg, err, sizeof err));
    CHECK(strstr(err, "SCOREP_TOTAL_MEMORY") != NULL);
    CHECK(strstr(err, "12Q") != NULL);
    unsetenv("SCOREP_TOTAL_MEMORY");

    setenv("SCOREP_TIMER", "sundial", 1);
    CHECK(!config_load(&cfg, err, sizeof err));
    CHECK(strstr(err, "SCOREP_TIMER") != NULL);
    unsetenv("SCOREP_TIMER");

    setenv("SCOREP_ENABLE_TRACING", "yes", 1);
    CHECK(config_load(&cfg, err, sizeof err));
    CHECK(cfg.enable_tracing && cfg.enable_profiling && cfg.total_memory == 16384000);
    CHECK(cfg.profiling_max_callpath_depth == 100);
    CHECK(strcmp(cfg.profiling_base_name, "profile") == 0);
    config_free(&cfg);
    unsetenv("SCOREP_ENABLE_TRACING");
}

static void test_event_encoding(void)
{
    uint64_t w = event_pack(EVENT_LEAVE, 12345, 999);
    CHECK(event_kind(w) == EVENT_LEAVE);
    CHECK(event_region(w) == 12345);
    CHECK(event_delta(w) == 999);
    CHECK(event_fits(EVENT_REGION_MASK, EVENT_DELTA_MASK));
    CHECK(!event_fits(EVENT_REGION_MASK + 1, 0));
    CHECK(!event_fits(0, EVENT_DELTA_MASK + 1));
    uint64_t h = event_ext_header(EXT_PARAMETER_INT, 2);
    CHECK(event_kind(h) == EVENT_EXT && event_ext_type(h) == EXT_PARAMETER_INT && event_ext_length(h) == 2);
}

static void test_replay_sanitises_nesting(void)
{
    location *loc = fresh_location(1 << 20, 8192);
    measurement_append(loc, EVENT_LEAVE, 9, 5);   /* never entered: dropped */
    measurement_append(loc, EVENT_ENTER, 1, 10);
    measurement_append(loc, EVENT_ENTER, 2, 20);
    measurement_append(loc, EVENT_ENTER, 3, 30);
    measurement_append(loc, EVENT_LEAVE, 2, 40);  /* closes 3 first */
    measurement_append(loc, EVENT_ENTER, 4, 50);
    finish(loc, 100);                          /* closes 4 and 1 */
    const char *kinds = "EEELLELL";
    const uint64_t regions[] = {1, 2, 3, 3, 2, 4, 4, 1};
    const uint64_t times[] = {10, 20, 30, 40, 40, 50, 100, 100};
    CHECK(log_count == 8);
    for (size_t i = 0; i < log_count && i < 8; i++) {
        CHECK(log_events[i].kind == kinds[i]);
        CHECK(log_events[i].a == regions[i]);
        CHECK(log_events[i].time == times[i]);
    }
}

static void test_wide_records(void)
{
    location *loc = fresh_location(1 << 20, 8192);
    uint64_t far = (UINT64_C(1) << 45) + 7;
    uint32_t big_region = (1u << 23) + 3;
    measurement_append(loc, EVENT_ENTER, 1, 10);
    measurement_append(loc, EVENT_ENTER, big_region, 20);
    measurement_append(loc, EVENT_LEAVE, big_region, far);
    measurement_append(loc, EVENT_LEAVE, 1, far + 1);
    measurement_append(loc, EVENT_ENTER, 2, 5); /* earlier than the last event: clamped */
    finish(loc, far + 10);
    CHECK(log_count == 6);
    CHECK(log_events[1].a == big_region && log_events[1].time == 20);
    CHECK(log_events[2].time == far);
    CHECK(log_events[3].time == far + 1);
    CHECK(log_events[4].kind == 'E' && log_events[4].time == far + 1);
    CHECK(log_events[5].kind == 'L' && log_events[5].time == far + 10);
}

static void test_parameters_and_on_off(void)
{
    location *loc = fresh_location(1 << 20, 8192);
    measurement_append(loc, EVENT_ENTER, 1, 10);
    uint64_t payload[2] = {3, (uint64_t)-42};
    measurement_append_ext(loc, EXT_PARAMETER_INT, 11, payload, 2);
    measurement_append_ext(loc, EXT_MEASUREMENT_OFF, 12, NULL, 0);
    measurement_append_ext(loc, EXT_MEASUREMENT_ON, 13, NULL, 0);
    measurement_append(loc, EVENT_LEAVE, 1, 14);
    finish(loc, 20);
    CHECK(log_count == 5);
    CHECK(log_events[1].kind == 'P' && log_events[1].a == 3 && (int64_t)log_events[1].b == -42 &&
          log_events[1].time == 11);
    CHECK(log_events[2].kind == 'O' && log_events[2].a == 0 && log_events[2].time == 12);
    CHECK(log_events[3].kind == 'O' && log_events[3].a == 1 && log_events[3].time == 13);
    CHECK(log_events[4].kind == 'L' && log_events[4].time == 14);
}

static void test_rewind_discards_events(void)
{
    location *loc = fresh_location(1 << 20, 4096);
    measurement_append(loc, EVENT_ENTER, 1, 10);
    measurement_rewind_begin(loc, 77, 15);
    for (uint64_t i = 0; i < 2000; i++) { /* spans several chunks */
        measurement_append(loc, EVENT_ENTER, 2, 20 + 2 * i);
        measurement_append(loc, EVENT_LEAVE, 2, 21 + 2 * i);
    }
    CHECK(measurement_rewind_end(loc, 77, true, 5000) == REWIND_CUT);
    CHECK(measurement_rewind_end(loc, 77, true, 5001) == REWIND_NO_MARK); /* mark consumed */
    measurement_append(loc, EVENT_LEAVE, 1, 1u << 30);
    finish(loc, 1u << 31);
    /* enter 1, OFF, ON, leave 1 */
    CHECK(log_count == 4);
    CHECK(log_events[0].kind == 'E' && log_events[1].kind == 'O' && log_events[1].a == 0);
    CHECK(log_events[2].kind == 'O' && log_events[2].a == 1 && log_events[3].kind == 'L');
    CHECK(log_events[1].time <= log_events[2].time && log_events[2].time <= log_events[3].time);
}

static void test_rewind_keeps_leaves_of_regions_entered_before(void)
{
    location *loc = fresh_location(1 << 20, 4096);
    measurement_append(loc, EVENT_ENTER, 1, 10);
    measurement_append(loc, EVENT_ENTER, 2, 20);
    measurement_rewind_begin(loc, 8, 25);          /* inside 2 */
    measurement_append(loc, EVENT_ENTER, 3, 30);
    measurement_append(loc, EVENT_LEAVE, 3, 31);
    measurement_append(loc, EVENT_LEAVE, 2, 40); /* 2 ends before the rewind */
    measurement_append(loc, EVENT_ENTER, 4, 50);
    CHECK(measurement_rewind_end(loc, 8, true, 60) == REWIND_CUT);
    measurement_append(loc, EVENT_LEAVE, 4, 1u << 30); /* its enter was cut: dropped */
    measurement_append(loc, EVENT_LEAVE, 1, (1u << 30) + 1);
    finish(loc, 1u << 31);
    /* E1 E2 OFF L2(40) ON L1 */
    CHECK(log_count == 6);
    CHECK(log_events[2].kind == 'O' && log_events[2].a == 0);
    CHECK(log_events[3].kind == 'L' && log_events[3].a == 2 && log_events[3].time == 40);
    CHECK(log_events[4].kind == 'O' && log_events[4].a == 1);
    CHECK(log_events[5].kind == 'L' && log_events[5].a == 1);
}

static void test_rewind_keep(void)
{
    location *loc = fresh_location(1 << 20, 8192);
    measurement_rewind_begin(loc, 5, 15);
    measurement_append(loc, EVENT_ENTER, 2, 20);
    measurement_append(loc, EVENT_LEAVE, 2, 21);
    CHECK(measurement_rewind_end(loc, 5, false, 25) == REWIND_KEPT);
    finish(loc, 30);
    CHECK(log_count == 2);
}

static void test_flush_under_memory_pressure(void)
{
    /* 64 KiB budget in 8 KiB chunks: a million events must flush often */
    location *loc = fresh_location_with(64 * 1024, 8192, true);
    uint64_t t = 0;
    for (int i = 0; i < 500000; i++) {
        measurement_append(loc, EVENT_ENTER, 1, ++t);
        measurement_append(loc, EVENT_LEAVE, 1, ++t);
    }
    CHECK(locations_buffered_bytes() <= 64 * 1024 + 8192);
    finish(loc, t + 1);
    size_t enters = 0, leaves = 0, flushes = 0;
    uint64_t last = 0;
    bool monotonic = true;
    for (size_t i = 0; i < log_count; i++) {
        enters += log_events[i].kind == 'E';
        leaves += log_events[i].kind == 'L';
        flushes += log_events[i].kind == 'F';
        monotonic &= log_events[i].time >= last;
        last = log_events[i].time;
    }
    CHECK(enters == 500000);
    CHECK(leaves == 500000);
    CHECK(flushes > 10);
    CHECK(monotonic);

    /* without tracing, flushes are not events */
    loc = fresh_location(64 * 1024, 8192);
    for (int i = 0; i < 100000; i++) {
        measurement_append(loc, EVENT_ENTER, 1, ++t);
        measurement_append(loc, EVENT_LEAVE, 1, ++t);
    }
    finish(loc, t + 1);
    flushes = 0;
    for (size_t i = 0; i < log_count; i++)
        flushes += log_events[i].kind == 'F';
    CHECK(flushes == 0 && log_count == 200000);
}

static void test_keymap_and_ptrmap(void)
{
    keymap map;
    keymap_init(&map);
    char key[32];
    for (uint32_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "region-%u", i);
        keymap_put(&map, key, strlen(key), i * 3);
    }
    bool all = true;
    for (uint32_t i = 0; i < 5000; i++) {
        uint32_t v;
        snprintf(key, sizeof key, "region-%u", i);
        all &= keymap_get(&map, key, strlen(key), &v) && v == i * 3;
    }
    CHECK(all);
    uint32_t v;
    CHECK(!keymap_get(&map, "absent", 6, &v));
    keymap_free(&map);

    ptrmap pm = {0};
    static char objects[10000];
    CHECK(!ptrmap_get(&pm, &objects[0], &v));
    for (uint32_t i = 0; i < 10000; i++)
        ptrmap_put(&pm, &objects[i], i);
    all = true;
    for (uint32_t i = 0; i < 10000; i++)
        all &= ptrmap_get(&pm, &objects[i], &v) && v == i;
    CHECK(all);
    CHECK(pm.used == 10000);
    ptrmap_free(&pm);
}

static void test_definitions_are_unique(void)
{
    defs_init();
    uint32_t a = defs_region("m:f", "m", "/x.py", 3, 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    uint32_t b = defs_region("m:f", "m", "/x.py", 3, 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    uint32_t c = defs_region("m:f", "m", "/x.py", 9, 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    CHECK(a == b && a != c);
    CHECK(strcmp(defs_string_text(defs_region_get(c).name), "m:f") == 0);
    CHECK(defs_region_get(c).first_line == 9);
    uint32_t p = defs_parameter("n", PARAMETER_INT);
    CHECK(p == defs_parameter("n", PARAMETER_INT));
    CHECK(p != defs_parameter("n", PARAMETER_STRING));
    CHECK(defs_string("größe") == defs_string("größe"));
}

static bool parse_fails_with(const char *text, const char *expected)
{
    char err[512] = "";
    filter *f = filter_parse(text, "rules.filter", err, sizeof err);
    if (f) {
        filter_free(f);
        fprintf(stderr, "expected a parse error for:\n%s\n", text);
        return false;
    }
    if (!strstr(err, expected)) {
        fprintf(stderr, "error '%s' does not contain '%s'\n", err, expected);
        return false;
    }
    return true;
}

static void test_filter_rules(void)
{
    char err[512];
    filter *f = filter_parse(
        "# comment line\n"
        "SCOREP_REGION_NAMES_BEGIN   # trailing comment\n"
        "  EXCLUDE __main__:helper*  bar\n"
        "          baz?              # continues the rule\n"
        "  INCLUDE __main__:helper_keep\n"
        "  EXCLUDE MANGLED mangled:*\n"
        "  EXCLUDE hash\\#name [xy]z\n"
        "SCOREP_REGION_NAMES_END\n"
        "SCOREP_FILE_NAMES_BEGIN\n"
        "  EXCLUDE */lib/*\n"
        "  INCLUDE */lib/keep.py\n"
        "SCOREP_FILE_NAMES_END\n",
        "rules.filter", err, sizeof err);
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(filter_rule_count(f) == 6);
    CHECK(filter_excludes(f, "__main__:helper_a", "/x.py"));
    CHECK(!filter_excludes(f, "__main__:helper_keep", "/x.py"));  /* last matching rule wins */
    CHECK(filter_excludes(f, "bar", ""));
    CHECK(filter_excludes(f, "baz1", ""));
    CHECK(!filter_excludes(f, "baz12", ""));
    CHECK(filter_excludes(f, "mangled:x", ""));
    CHECK(filter_excludes(f, "hash#name", ""));
    CHECK(filter_excludes(f, "xz", "") && filter_excludes(f, "yz", "") && !filter_excludes(f, "zz", ""));
    CHECK(!filter_excludes(f, "__main__:main", "/x.py"));
    CHECK(filter_excludes(f, "__main__:main", "/usr/lib/mod.py"));
    CHECK(!filter_excludes(f, "__main__:main", "/usr/lib/keep.py"));
    /* the file block wins: a region in an excluded file cannot be re-included */
    CHECK(filter_excludes(f, "__main__:helper_keep", "/usr/lib/mod.py"));
    filter_free(f);

    f = filter_parse("", "empty.filter", err, sizeof err);
    CHECK(f && !filter_excludes(f, "anything", "/any.py") && filter_rule_count(f) == 0);
    filter_free(f);
    CHECK(!filter_excludes(NULL, "anything", "/any.py"));

    CHECK(parse_fails_with("EXCLUDE foo\n", "rules.filter:1: text outside"));
    CHECK(parse_fails_with("SCOREP_REGION_NAMES_BEGIN\n  foo\nSCOREP_REGION_NAMES_END\n",
                           "rules.filter:2: pattern without INCLUDE or EXCLUDE: 'foo'"));
    CHECK(parse_fails_with("SCOREP_REGION_NAMES_BEGIN\n EXCLUDE a\n", "rules.filter:1: SCOREP_REGION_NAMES_BEGIN is never closed (missing SCOREP_REGION_NAMES_END)"));
    CHECK(parse_fails_with("SCOREP_FILE_NAMES_END\n", "block end without its begin"));
    CHECK(parse_fails_with("SCOREP_FILE_NAMES_BEGIN\nSCOREP_REGION_NAMES_END\n", "rules.filter:2: block end"));
    CHECK(parse_fails_with("SCOREP_FILE_NAMES_BEGIN\n EXCLUDE MANGLED x\nSCOREP_FILE_NAMES_END\n",
                           "rules.filter:2: MANGLED is only allowed for region names"));
    CHECK(parse_fails_with("SCOREP_REGION_NAMES_BEGIN\n EXCLUDE\n INCLUDE a\nSCOREP_REGION_NAMES_END\n",
                           "rules.filter:3: rule without patterns before 'INCLUDE'"));
    CHECK(parse_fails_with("SCOREP_REGION_NAMES_BEGIN\nSCOREP_FILE_NAMES_BEGIN\n", "rules.filter:2: block begins inside"));
    CHECK(parse_fails_with("SCOREP_REGION_NAMES_BEGIN\n exclude foo\nSCOREP_REGION_NAMES_END\n",
                           "pattern without INCLUDE or EXCLUDE: 'exclude'"));
}

/* A substrate that fails is reported once and gets nothing more; the
 * others get every event; at the end it is closed without a summary. */
static location *failing_location;

static void record_twenty_events(void)
{
    for (uint64_t i = 0; i < 10; i++) {
        measurement_append(failing_location, EVENT_ENTER, 1, 10 + 2 * i);
        measurement_append(failing_location, EVENT_LEAVE, 1, 11 + 2 * i);
    }
    finish(failing_location, 100);
}

static void test_failing_substrate(void)
{
    failing_budget = 3;
    failing_location = fresh_location(1 << 20, 8192);
    failing_budget = 3;
    char err[2048];
    capture_fd(2, record_twenty_events, err, sizeof err);
    CHECK(log_count == 20);
    CHECK(failing_events == 4);  /* three delivered, the fourth failed, then none */
    CHECK(strcmp(err, "[Score-P] error: cannot write '/nowhere/test.evt': No space left on device; failing "
                      "stopped, the other results are still written\n") == 0);
    substrate_summary summary = {0};
    CHECK(!substrates_close(&summary));    /* a result is missing */
    CHECK(failing_closes == 1 && !failing_closed_with_summary);
    CHECK(log_closed && log_closed_with_summary);
    failing_budget = -1;
}

static void test_definitions_snapshot(void)
{
    uint32_t r = defs_region("snap:f", "snap", "/s.py", 1, 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    definitions d;
    CHECK(defs_snapshot(&d));
    CHECK(d.region_count == defs_region_count() && d.string_count == defs_string_count());
    CHECK(r < d.region_count && strcmp(d.strings[d.regions[r].name], "snap:f") == 0);
    defs_region("snap:g", "snap", "/s.py", 2, 0, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    CHECK(d.region_count + 1 == defs_region_count());  /* the snapshot does not move */
    defs_snapshot_free(&d);
    CHECK(defs_artificial(ARTIFICIAL_MEASUREMENT_OFF) == defs_artificial(ARTIFICIAL_MEASUREMENT_OFF));
    CHECK(defs_artificial(ARTIFICIAL_MEASUREMENT_OFF) != defs_artificial(ARTIFICIAL_BUFFER_FLUSH));
}

/* ---- the whole life through the public interface (runs last: one
 * measurement per process) ---- */

enum { WORKERS = 3, CALLS = 20000 };

static void *worker(void *arg)
{
    uint32_t region = *(uint32_t *)arg;
    scorep_location *loc = scorep_location_current();
    char name[32];
    snprintf(name, sizeof name, "worker-%u", loc ? loc->index : 0);
    scorep_location_set_name(loc, name);
    for (int i = 0; i < CALLS; i++) {
        scorep_enter(loc, region);
        scorep_leave(loc, region);
    }
    return NULL;
}

static void measurement_life(bool drain_thread)
{
    setenv("SCOREP_PYTHON_DRAIN_THREAD", drain_thread ? "true" : "false", 1);
    setenv("SCOREP_ENABLE_PROFILING", "false", 1);
    setenv("SCOREP_FORCE_CFG_FILES", "false", 1);
    setenv("SCOREP_TOTAL_MEMORY", "256k", 1);   /* forces flushes and waits */
    log_location_count = 0;
    log_count = 0;
    char err[512] = "";
    char *argv[] = {"one", "two"};
    scorep_start_info info = {.program = "/usr/bin/test-program", .argc = 2, .argv = argv};
    CHECK(scorep_measurement_phase() == SCOREP_NOT_STARTED);
    CHECK(scorep_location_current() == NULL);
    CHECK(scorep_measurement_start(&info, err, sizeof err));
    CHECK(scorep_measurement_phase() == SCOREP_RUNNING);
    scorep_location *master = scorep_location_current();
    CHECK(master && master->index == 0);
    uint32_t region = scorep_region_define("test:work", "test", "/t.c", 1, REGION_ROLE_FUNCTION,
                                           REGION_PARADIGM_USER);
    scorep_enter(master, region);
    pthread_t threads[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&threads[i], NULL, worker, &region);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(threads[i], NULL);
    /* the drain thread closes the locations of ended threads (without it,
     * the threads that need room close them: here they all fit) */
    bool closed = !drain_thread;
    for (int wait = 0; wait < 400 && !closed; wait++) {
        usleep(5000);
        pthread_mutex_lock(&log_lock);
        unsigned n = 0;
        for (unsigned i = 0; i < log_location_count; i++)
            n += log_locations[i].closed;
        pthread_mutex_unlock(&log_lock);
        closed = n == WORKERS;
    }
    CHECK(closed);
    unsigned live = 0;
    for (location *loc = locations_first_live(); loc; loc = atomic_load(&loc->next_live))
        live++;
    /* the master's; without the drain thread also those no one closed yet */
    CHECK(drain_thread ? live == 1 : live >= 1 && live <= 1 + WORKERS);
    scorep_leave(master, region);
    CHECK(scorep_measurement_finish());
    CHECK(scorep_measurement_phase() == SCOREP_FINISHED);
    CHECK(scorep_measurement_finish());  /* twice is harmless */
    scorep_enter(master, region);        /* after the end: nothing */
    CHECK(log_closed_with_summary);
    CHECK(log_summary_locations == WORKERS + 1);
    CHECK(strcmp(log_summary_names[0], "Master thread") == 0);
    bool named = true;
    for (uint32_t i = 1; i <= WORKERS && i < 8; i++) {
        char expected[32];
        snprintf(expected, sizeof expected, "worker-%u", i);
        named &= strcmp(log_summary_names[i], expected) == 0;
    }
    CHECK(named);
    uint64_t events = 0;
    for (unsigned i = 0; i < log_location_count; i++)
        events += log_locations[i].events;
    CHECK(events == 2 + 2ull * WORKERS * CALLS);
    size_t enters = 0;
    for (size_t i = 0; i < log_count; i++)
        enters += log_events[i].kind == 'E';
    CHECK(enters == 1 + (size_t)WORKERS * CALLS);
}

/* Run a test in a child process of its own (a measurement starts once per
 * process) and add its counts to ours. */
static void run_in_child(void (*test)(void))
{
    int fds[2];
    if (pipe(fds) != 0) {
        failed++;
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        passed = failed = 0;
        test();
        int counts[2] = {passed, failed};
        ssize_t w = write(fds[1], counts, sizeof counts);
        _exit(w == sizeof counts ? 0 : 1);
    }
    close(fds[1]);
    int counts[2] = {0, 1}, status = 0;
    ssize_t n = read(fds[0], counts, sizeof counts);
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (n != sizeof counts || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the test in the child process did not end normally (status %d)\n", status);
        counts[1]++;
    }
    passed += counts[0];
    failed += counts[1];
}

static void test_measurement_life(void) { measurement_life(true); }
static void test_measurement_life_without_drain_thread(void) { measurement_life(false); }

int main(void)
{
    run_in_child(test_measurement_life);
    run_in_child(test_measurement_life_without_drain_thread);
    test_config_parsing();
    test_config_load_reports_the_variable();
    test_event_encoding();
    test_replay_sanitises_nesting();
    test_wide_records();
    test_parameters_and_on_off();
    test_rewind_discards_events();
    test_rewind_keeps_leaves_of_regions_entered_before();
    test_rewind_keep();
    test_flush_under_memory_pressure();
    test_keymap_and_ptrmap();
    test_definitions_are_unique();
    test_definitions_snapshot();
    test_filter_rules();
    test_failing_substrate();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
