/* Fault injection: every allocation of the measurement core fails in turn.
 * Linked with -Wl,--wrap for malloc, calloc, realloc and strdup, so that
 * the core's allocations pass through here: in run N the first N succeed
 * and every later one fails.  Each run is a whole measurement (start with a
 * filter file and an experiment directory, two threads recording with
 * small buffers, parameters, a rewind, the end) in a child process of its
 * own; none may crash, and a start that fails must say why.  Built and run
 * by tests/test_core_c.py; prints "N runs, M crashed". */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/core/scorep.h"
#include "../../src/core/substrate.h"

static long allocations_left = -1;  /* <0: no failures */
static long allocations_made;

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);

static int may_allocate(void)
{
    allocations_made++;
    if (allocations_left < 0)
        return 1;
    if (allocations_left == 0)
        return 0;
    allocations_left--;
    return 1;
}

void *__wrap_malloc(size_t size) { return may_allocate() ? __real_malloc(size) : NULL; }
void *__wrap_calloc(size_t count, size_t size) { return may_allocate() ? __real_calloc(count, size) : NULL; }
void *__wrap_realloc(void *p, size_t size) { return may_allocate() ? __real_realloc(p, size) : NULL; }
char *__wrap_strdup(const char *s) { return may_allocate() ? __real_strdup(s) : NULL; }

/* A substrate without allocations of its own. */
static int state;
static bool s_wanted(const measurement_config *cfg) { (void)cfg; return true; }
static void *s_open(const substrate_facts *f, char *err, size_t errlen) { (void)f; (void)err; (void)errlen; return &state; }
static void *s_location_open(void *self, const substrate_location *where) { (void)where; return self; }
static bool s_close(void *self, const substrate_summary *s, char *err, size_t errlen)
{
    (void)self; (void)s; (void)err; (void)errlen;
    return true;
}
static bool s_event(void *st, uint64_t t, uint32_t r) { (void)st; (void)t; (void)r; return true; }
static const substrate_ops quiet_ops = {
    .name = "quiet", .wanted = s_wanted, .open = s_open, .location_open = s_location_open, .close = s_close,
    .enter = s_event, .leave = s_event,
};
SUBSTRATE_REGISTER(quiet_ops)

static uint32_t region;

static void *worker(void *arg)
{
    (void)arg;
    scorep_location *loc = scorep_location_current();
    if (!loc)
        return NULL;
    scorep_location_set_name(loc, "worker");
    uint32_t parameter = scorep_parameter_define("i", PARAMETER_INT);
    for (int i = 0; i < 3000; i++) {
        scorep_enter(loc, region);
        scorep_parameter_int(loc, parameter, i);
        scorep_leave(loc, region);
    }
    return NULL;
}

/* One measurement; returns the exit code for the child. */
static int measure(void)
{
    char err[512] = "";
    char *argv[] = {"alloc-test"};
    scorep_start_info info = {.program = "/bin/alloc-test", .argc = 1, .argv = argv};
    if (!scorep_measurement_start(&info, err, sizeof err))
        return err[0] ? 0 : 3;  /* a failed start says why */
    scorep_location *master = scorep_location_current();
    region = scorep_region_define("test:work", "test", "/t.c", 1, REGION_ROLE_FUNCTION, REGION_PARADIGM_USER);
    if (master) {
        scorep_rewind_begin(master, scorep_string_define("try"));
        scorep_enter(master, region);
        scorep_leave(master, region);
        scorep_rewind_end(master, scorep_string_define("try"), true);
        scorep_enter(master, region);
    }
    pthread_t threads[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        started += pthread_create(&threads[started], NULL, worker, NULL) == 0;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (master)
        scorep_leave(master, region);
    scorep_measurement_finish();
    return 0;
}

static int run(long fail_after, const char *dir, int number)
{
    char experiment[512];
    snprintf(experiment, sizeof experiment, "%s/experiment-%d", dir, number);
    setenv("SCOREP_EXPERIMENT_DIRECTORY", experiment, 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(4);
        allocations_left = fail_after;
        int code = measure();
        if (fail_after < 0)
            printf("%ld\n", allocations_made);
        fflush(stdout);
        _exit(code);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

int main(void)
{
    char dir[] = "/tmp/scorep-alloc-failures-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    char filter[600];
    snprintf(filter, sizeof filter, "%s/rules.filter", dir);
    FILE *f = fopen(filter, "w");
    fputs("SCOREP_REGION_NAMES_BEGIN\n  EXCLUDE test:skip* other:*\n  INCLUDE test:skip_not\nSCOREP_REGION_NAMES_END\n", f);
    fclose(f);
    setenv("SCOREP_FILTERING_FILE", filter, 1);
    setenv("SCOREP_TOTAL_MEMORY", "64k", 1);
    setenv("SCOREP_PAGE_SIZE", "8k", 1);
    setenv("SCOREP_ENABLE_PROFILING", "false", 1);
    setenv("SCOREP_ENABLE_TRACING", "false", 1);

    /* how many allocations a whole measurement makes */
    int fds[2];
    if (pipe(fds) != 0)
        return 2;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        _exit(WEXITSTATUS(run(-1, dir, 0)));
    }
    close(fds[1]);
    char count_text[64] = "";
    ssize_t n = read(fds[0], count_text, sizeof count_text - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    long total = n > 0 ? strtol(count_text, NULL, 10) : 0;
    if (total <= 0) {
        printf("the measurement without failures did not run\n");
        return 1;
    }
    /* every allocation of the start and a good part of the run fails in turn */
    long runs = total < 600 ? total + 1 : 600;
    int crashed = 0;
    for (long k = 0; k < runs; k++) {
        int status = run(k, dir, (int)k + 1);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            crashed++;
            fprintf(stderr, "allocation %ld failing: %s %d\n", k, WIFSIGNALED(status) ? "signal" : "exit code",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
    }
    char command[700];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    printf("%ld runs, %d crashed\n", runs, crashed);
    return crashed != 0;
}
