/* The measurement of one process: its start and end, the calling thread's
 * location, and the recording functions of the public interface (scorep.h).
 * This is the top of the core: it composes the modules below it and is
 * called by none of them. */
#include "measurement.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buffers.h"
#include "experiment.h"
#include "filter.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "processes.h"
#include "salvage.h"
#include "substrates.h"
#include "unify.h"

/* The smallest SCOREP_PAGE_SIZE: an event buffer chunk holds many events. */
#define MIN_PAGE_SIZE 4096
#define MAX_MACHINE_NAME 1024

static measurement_config cfg;
static _Atomic int phase = SCOREP_NOT_STARTED;  /* scorep_phase */
static bool forked_child;
static filter *region_filter;
static char *experiment_dir, *result_dir;
static uint64_t start_time;
static uint32_t program_region, program_name;
static uint32_t *program_args;
static uint32_t program_argc;
static int exit_status;
static bool has_exit_status;
static uint64_t stop_time;  /* scorep_measurement_stop(): the end of the time line */
static _Atomic int termination_signal;  /* caught (scorep_catch_termination), 0 if none */
static _Atomic bool finishing;          /* scorep_measurement_finish() is writing */
static void die_by(int signo);
static void termination_check(void);
static void catch_crashes(bool handlers_hand_on);
static pthread_mutex_t lifecycle_lock = PTHREAD_MUTEX_INITIALIZER;
static substrate_facts facts;  /* what the substrates keep for the whole run */
/* The experiment further processes join (this one's, or the root's this
 * process joined), NULL when they are not measured. */
static char *children_root;
/* a rank of a parallel job (processes.h): the root (its rank 0), or a
 * rank that joined the root's experiment */
static job_info job;
static bool job_root, job_joined, mpi_ranks;
static bool ending_now;  /* scorep_measurement_finish_now() */
#define JOB_TERMINATION_WAIT_S 0.3
static char *job_path;
static int state_at_fork;  /* recording on or off when the program forked */
static bool definitions_kept;

/* ---- the calling thread's location ---- */

static __thread location *current_location;
static pthread_key_t thread_end_key;
static pthread_once_t thread_end_once = PTHREAD_ONCE_INIT;

/* Runs when a thread that recorded ends: nothing more is appended to its
 * location, which the buffer policy then replays and closes. */
static void thread_ended(void *loc)
{
    atomic_store_explicit(&((location *)loc)->phase, LOCATION_FINISHED, memory_order_release);
}

static void make_thread_end_key(void) { pthread_key_create(&thread_end_key, thread_ended); }

scorep_location *scorep_location_current(void)
{
    location *loc = current_location;
    if (__builtin_expect(loc != NULL, 1) || state_get() == MEASUREMENT_STOPPED)
        return loc;
    loc = location_create(defs_string(""), clock_now());
    if (!loc)
        return NULL;
    char name[32];
    if (loc->index == 0)
        snprintf(name, sizeof name, "Master thread");
    else
        snprintf(name, sizeof name, "Thread %u", loc->index);
    atomic_store(&loc->name, defs_string(name));
    pthread_once(&thread_end_once, make_thread_end_key);
    pthread_setspecific(thread_end_key, loc);
    current_location = loc;
    return loc;
}

void scorep_location_set_name(scorep_location *loc, const char *name)
{
    uint32_t id = defs_string(name);
    if (loc && id != DEFS_NO_ID)
        atomic_store(&loc->name, id);
}

/* ---- start ---- */

static bool select_clock(char *err, size_t errlen)
{
    const char *want = cfg.timer;
    bool tsc = clock_tsc_usable();
    clock_kind kind;
    if (!want[0])
        kind = tsc ? CLOCK_KIND_TSC : CLOCK_KIND_CLOCK_GETTIME;
    else if (strcmp(want, "tsc") == 0) {
        if (!tsc) {
            snprintf(err, errlen, "invalid value for SCOREP_TIMER: 'tsc' is not usable here (no invariant time-stamp counter)");
            return false;
        }
        kind = CLOCK_KIND_TSC;
    } else if (strcmp(want, "gettimeofday") == 0)
        kind = CLOCK_KIND_GETTIMEOFDAY;
    else
        kind = CLOCK_KIND_CLOCK_GETTIME;
    clock_init(kind);
    return true;
}

/* A variable's text as the user wrote it, or its default from the table. */
static const char *value_text(const char *env)
{
    const char *text = getenv(env);
    for (int i = 0; !text && i < config_var_count; i++)
        if (strcmp(config_vars[i].env_name, env) == 0)
            text = config_vars[i].default_value;
    return text ? text : "";
}

static uint64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

/* The checks of values and of variables together, before anything is made:
 * each message names the variable that is wrong. */
static bool check_config(char *err, size_t errlen)
{
    const char *page = value_text("SCOREP_PAGE_SIZE"), *total = value_text("SCOREP_TOTAL_MEMORY");
    if (cfg.page_size < MIN_PAGE_SIZE) {
        snprintf(err, errlen, "invalid value for SCOREP_PAGE_SIZE: '%s' is less than the smallest page size, 4k", page);
        return false;
    }
    uint64_t machine = physical_memory();
    if (cfg.total_memory > machine) {
        snprintf(err, errlen, "invalid value for SCOREP_TOTAL_MEMORY: '%s' (%llu MiB) is more than this machine's "
                 "memory (%llu MiB)", total, (unsigned long long)(cfg.total_memory >> 20),
                 (unsigned long long)(machine >> 20));
        return false;
    }
    if (cfg.total_memory / 2 < cfg.page_size) {
        /* the one the user set is the one to change */
        if (getenv("SCOREP_PAGE_SIZE") && !getenv("SCOREP_TOTAL_MEMORY"))
            snprintf(err, errlen, "invalid value for SCOREP_PAGE_SIZE: '%s' is more than half of SCOREP_TOTAL_MEMORY ('%s')",
                     page, total);
        else
            snprintf(err, errlen, "invalid value for SCOREP_TOTAL_MEMORY: '%s' is less than two pages of SCOREP_PAGE_SIZE ('%s')",
                     total, page);
        return false;
    }
    if (cfg.profiling_max_callpath_depth < 1) {
        snprintf(err, errlen, "invalid value for SCOREP_PROFILING_MAX_CALLPATH_DEPTH: '%s' is less than 1",
                 value_text("SCOREP_PROFILING_MAX_CALLPATH_DEPTH"));
        return false;
    }
    if (strlen(cfg.machine_name) > MAX_MACHINE_NAME) {
        snprintf(err, errlen, "invalid value for SCOREP_MACHINE_NAME: it is %zu bytes long, more than %d",
                 strlen(cfg.machine_name), MAX_MACHINE_NAME);
        return false;
    }
    const char *base = cfg.profiling_base_name;
    if (!base[0] || strchr(base, '/') || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        snprintf(err, errlen, "invalid value for SCOREP_PROFILING_BASE_NAME: '%s' is not a file name", base);
        return false;
    }
    /* <base>.cubex.tmp-<n> must fit in a directory entry */
    if (strlen(base) > NAME_MAX - 24) {
        snprintf(err, errlen, "invalid value for SCOREP_PROFILING_BASE_NAME: it is %zu bytes long, more than %d",
                 strlen(base), NAME_MAX - 24);
        return false;
    }
    return true;
}

static bool define_program(const scorep_start_info *info)
{
    const char *program = info->program ? info->program : "python";
    program_name = defs_string(program);
    /* the program region is named like Score-P's: the executable's base name */
    const char *slash = strrchr(program, '/');
    program_region = defs_region(slash ? slash + 1 : program, "", "", 0, 0, REGION_ROLE_ARTIFICIAL,
                                 REGION_PARADIGM_MEASUREMENT);
    program_argc = info->argc > 0 ? (uint32_t)info->argc : 0;
    program_args = calloc(program_argc ? program_argc : 1, sizeof *program_args);
    if (!program_args)
        return false;
    bool ok = program_name != DEFS_NO_ID && program_region != DEFS_NO_ID;
    for (uint32_t i = 0; i < program_argc; i++)
        ok = (program_args[i] = defs_string(info->argv[i] ? info->argv[i] : "")) != DEFS_NO_ID && ok;
    return ok;
}

/* A rank of a job that its launcher ends (SIGTERM to every rank, SIGKILL
 * a moment later) has written its results: it ends by the signal once the
 * root has taken them in (its directory is gone) and has finished the
 * experiment (the job's directory has its final name), at most
 * JOB_LINGER_S.  Ending at once would cut the root's time short: mpirun
 * sends its SIGKILL as soon as it sees one of the ranks end. */
#define JOB_LINGER_S 2.0
static void wait_for_the_root(const char *own_dir)
{
    struct timespec step = {0, 2000000}, now, start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct stat st;
    double merged_at = -1;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) * 1e-9;
        if (merged_at < 0 && stat(own_dir, &st) != 0)
            merged_at = t;
        /* (a SCOREP_EXPERIMENT_DIRECTORY keeps its name: the root is done a moment after the merge) */
        if (merged_at >= 0 && (!job_path || stat(job_path, &st) != 0 || t - merged_at > 0.1))
            return;
        if (t > JOB_LINGER_S)
            return;
        nanosleep(&step, NULL);
    }
}

static bool create_experiment(const char *join, char *err, size_t errlen)
{
    if (join) {
        experiment_dir = processes_join(join, job_joined ? job.rank : UINT32_MAX, &facts.rank, err, errlen);
        if (experiment_dir)
            log_verbose("process of rank %u in the experiment %s", facts.rank, join);
        return experiment_dir != NULL;
    }
    if (!cfg.enable_tracing && !cfg.enable_profiling && !cfg.force_cfg_files)
        return true;
    experiment_dir = experiment_create(&cfg, job_root ? job.id : NULL, err, errlen);
    if (!experiment_dir)
        return false;
    if (!experiment_write_config(experiment_dir, &cfg, err, errlen))
        return false;
    if (region_filter && !experiment_copy_file(experiment_dir, cfg.filtering_file, &cfg, err, errlen))
        return false;
    /* the job's mark last: a rank that finds it finds the configuration it reads */
    if (job_root && !processes_job_open(experiment_fd(), &job, mpi_ranks, err, errlen))
        return false;
    log_verbose("experiment directory: %s", experiment_dir);
    log_verbose("timer: %s", clock_kind_name(scorep_clock_kind));
    return true;
}

/* A forked child inherits the parent's buffers and open files; it must not
 * write into the parent's experiment: it records nothing until
 * scorep_fork_child_start() makes it a process of the experiment of its
 * own (its parent's buffered events are never its). */
static void after_fork_in_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    lifecycle_lock = fresh;
    defs_after_fork();
    forked_child = true;
    current_location = NULL;
    state_at_fork = state_get();
    state_set(MEASUREMENT_STOPPED);
    buffers_forget();
    substrates_forget();
    journal_forget();
}

/* What a measurement's start took: its filter, configuration and program
 * arguments. */
static void release_run_state(void)
{
    filter_free(region_filter);
    region_filter = NULL;
    config_free(&cfg);
    free(program_args);
    program_args = NULL;
}

/* SCOREP_PYTHON_DRAIN_THREAD: auto is with a drain thread, except for a
 * job's rank whose host has no CPU to spare for it (one rank per core:
 * the drain thread would slow its rank down more than the rank's own
 * flushes do); such a rank's thread only watches for a termination signal
 * (it writes the results then, as a drain thread does), waking rarely. */
static void start_buffers(void)
{
    bool drain = true, watch = false, automatic = strcmp(cfg.python_drain_thread, "auto") == 0;
    job_info here;
    if (!automatic)
        drain = config_parse_bool(cfg.python_drain_thread, &drain) && drain;
    else if (processes_job_from_environment(&here) && !processes_job_spare_cpu(&here))
        drain = false, watch = true;
    log_verbose("drain thread: %s", drain ? "yes" : watch ? "no (no CPU to spare: each thread flushes its own "
                                                            "buffers; a thread watches for termination signals)"
                                                          : "no");
    buffers_start(&(buffers_policy){
        .total_memory = cfg.total_memory,
        .flush_events = cfg.enable_tracing,
        .drain_thread = drain || watch,
        .drain_events = drain,
        .drain_defers = automatic,
    });
}

static void start_failed(void)
{
    /* a refused run leaves nothing behind */
    if (experiment_dir) {
        experiment_abandon();
        free(experiment_dir);
        experiment_dir = NULL;
    }
    release_run_state();
}

static const char *host_name(void)
{
    static char name[256];
    if (gethostname(name, sizeof name) != 0)
        strcpy(name, "localhost");
    name[sizeof name - 1] = '\0';
    return name;
}

static bool start_measurement(const scorep_start_info *info, char *err, size_t errlen);

/* The measurement's start and end are its own work (state.h): the files
 * they open, read and write are not the program's I/O. */
bool scorep_measurement_start(const scorep_start_info *info, char *err, size_t errlen)
{
    state_own_work_begin();
    bool ok = start_measurement(info, err, errlen);
    state_own_work_end();
    return ok;
}

static bool finish_measurement(void);

bool scorep_measurement_finish(void)
{
    state_own_work_begin();
    bool ok = finish_measurement();
    state_own_work_end();
    return ok;
}

static bool start_measurement(const scorep_start_info *info, char *err, size_t errlen)
{
    pthread_mutex_lock(&lifecycle_lock);
    if (phase != SCOREP_NOT_STARTED) {
        pthread_mutex_unlock(&lifecycle_lock);
        return true;
    }
    err[0] = '\0';
    bool ok;
    const char *join = info->join;
    free(job_path);
    job_path = NULL;
    job_root = job_joined = false;
    mpi_ranks = info->mpi_ranks;
    if (join) {
        /* the configuration is the experiment's, whatever this process's environment says */
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/scorep.cfg", join);
        ok = config_load_file(&cfg, path, err, errlen);
    } else {
        ok = config_load(&cfg, err, errlen);
        if (ok && cfg.python_children && !info->no_children && (cfg.enable_tracing || cfg.enable_profiling) &&
            processes_job_from_environment(&job)) {
            /* a rank of a parallel job: rank 0 is the root of the job's experiment, the others join it */
            job_root = job.rank == 0;
            if (!job_root && (job_path = experiment_job_path(&cfg, job.id)) &&
                processes_job_wait(job_path, &job, (double)cfg.python_children_wait)) {
                job_joined = true;
                join = job_path;
                char path[PATH_MAX];
                snprintf(path, sizeof path, "%s/scorep.cfg", join);
                config_free(&cfg);
                ok = config_load_file(&cfg, path, err, errlen);
            } else if (!job_root) {
                log_warning("rank %u of the job: the experiment of its rank 0 did not appear in '%s' within "
                            "SCOREP_PYTHON_CHILDREN_WAIT=%llu s: measured into an experiment of its own", job.rank,
                            job_path ? job_path : "?", (unsigned long long)cfg.python_children_wait);
            }
        }
    }
    if (ok) {
        if (info->verbose)
            cfg.verbose = true;
        log_set_verbose(cfg.verbose);
        ok = select_clock(err, errlen) && check_config(err, errlen) && metrics_init(&cfg, err, errlen);
    }
    if (ok && cfg.filtering_file[0]) {
        char why[900], copy[PATH_MAX];
        /* a further process reads the experiment's copy (its working directory may differ) */
        if (join)
            snprintf(copy, sizeof copy, "%s/%s", join, experiment_copy_name(cfg.filtering_file, &cfg));
        region_filter = filter_load(join ? copy : cfg.filtering_file, why, sizeof why);
        if (!region_filter) {
            snprintf(err, errlen, "invalid value for SCOREP_FILTERING_FILE: %s", why);
            ok = false;
        }
    }
    if (ok) {
        if (!definitions_kept)
            defs_init();
        definitions_kept = true;  /* a later measurement of this process keeps them (sources cache their ids) */
        start_time = clock_now();
        if (!define_program(info)) {
            snprintf(err, errlen, "out of memory at the start of the measurement");
            ok = false;
        }
    }
    facts.rank = 0;
    ok = ok && create_experiment(join, err, errlen);
    if (ok) {
        locations_configure(cfg.page_size, facts.rank);
        facts = (substrate_facts){
            .cfg = &cfg,
            .experiment_dir = experiment_dir,
            .experiment_fd = experiment_fd(),
            .rank = facts.rank,
            .child = join != NULL,
            .start_time = start_time,
            .program_region = program_region,
            .program_name = program_name,
            .program_args = program_args,
            .program_argc = program_argc,
            .metrics = metrics_defs(),
            .metric_count = metrics_total(),
            .thread_metric_count = metrics_thread_count(),
        };
        ok = substrates_open(&facts, err, errlen);
    }
    if (!ok) {
        start_failed();
        pthread_mutex_unlock(&lifecycle_lock);
        return false;
    }
    /* a traced run's event files are written while it runs: what a
     * SIGKILL leaves of them can be completed with the journal; a further
     * process's journal is the export of its definitions */
    if (cfg.enable_tracing || facts.child)
        journal_open(&facts, scorep_clock_kind, host_name());
    free(children_root);
    children_root = NULL;
    if (join) {
        children_root = strdup(join);
    } else if (experiment_dir && cfg.python_children && !info->no_children) {
        children_root = strdup(experiment_dir);
    }
    static bool process_hooks;  /* once per process, whatever number of measurements */
    if (!process_hooks)
        pthread_atfork(NULL, NULL, after_fork_in_child);
    buffers_on_drain_pass(termination_check);
    if (!process_hooks)
        catch_crashes(info->crash_handlers_hand_on);
    process_hooks = true;
    start_buffers();
    state_allow_fast(scorep_clock_kind == CLOCK_KIND_TSC && !metrics_active);
    phase = SCOREP_RUNNING;
    state_set(MEASUREMENT_ACTIVE);
    pthread_mutex_unlock(&lifecycle_lock);
    scorep_location_current();  /* the starting thread is the master */
    return true;
}

/* ---- end ---- */


static location_def *location_table(uint32_t *count)
{
    uint32_t n = 0;
    for (location *loc = locations_first(); loc; loc = atomic_load(&loc->next))
        n++;
    location_def *table = calloc(n ? n : 1, sizeof *table);
    if (!table)
        return NULL;
    uint32_t i = 0;
    for (location *loc = locations_first(); loc && i < n; loc = atomic_load(&loc->next))
        table[i++] = (location_def){loc->id, loc->index, atomic_load(&loc->name)};
    *count = i;
    return table;
}

bool scorep_measurement_finish_now(void)
{
    ending_now = true;
    return scorep_measurement_finish();
}

static bool finish_measurement(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    if (phase != SCOREP_RUNNING || forked_child) {
        if (forked_child)
            phase = SCOREP_FINISHED;
        pthread_mutex_unlock(&lifecycle_lock);
        return true;
    }
    atomic_store(&finishing, true);
    state_set(MEASUREMENT_STOPPED);
    uint64_t end_time = buffers_finish(stop_time ? stop_time : clock_now());
    substrate_summary summary = {
        .start_time = start_time,
        .end_time = end_time,
        .clock_resolution = clock_finish(!facts.child),
        .start_epoch_ns = clock_ticks_to_epoch_ns(start_time),
        .has_exit_status = has_exit_status,
        .exit_status = exit_status,
        .host_name = host_name(),
    };
    location_def *locations = location_table(&summary.location_count);
    summary.locations = locations;
    facts.experiment_fd = experiment_fd();  /* the program may have closed it */
    /* the root takes in the processes that joined its experiment */
    process_results others = {0};
    process_def self = {facts.rank, (long)getpid(), job_root && mpi_ranks}, *processes = NULL;
    summary.processes = &self;
    summary.process_count = 1;
    struct timespec unify_start, unify_end;
    clock_gettime(CLOCK_MONOTONIC, &unify_start);
    if (!facts.child && children_root && locations) {
        /* a job's root that mpirun ends (SIGTERM, then SIGKILL a second
         * later) ends with its ranks: it takes those that end at once */
        double wait = ending_now ? 0.0 : (double)cfg.python_children_wait;
        if (job_root && atomic_load(&termination_signal) && wait > JOB_TERMINATION_WAIT_S)
            wait = JOB_TERMINATION_WAIT_S;
        processes_collect(facts.experiment_fd, experiment_dir, job_root && !ending_now ? job.size : 0, wait, &others);
        if (others.absent)
            log_warning("%u rank%s of the job never joined its experiment within SCOREP_PYTHON_CHILDREN_WAIT=%llu s "
                        "(%s not measured): left out", others.absent, others.absent == 1 ? "" : "s",
                        (unsigned long long)cfg.python_children_wait, others.absent == 1 ? "it is" : "they are");
        if (others.left_out)
            log_warning("%u process%s of the experiment %s still running after SCOREP_PYTHON_CHILDREN_WAIT=%llu s, "
                        "or ended without results: left out", others.left_out, others.left_out == 1 ? "" : "es",
                        others.left_out == 1 ? "was" : "were", (unsigned long long)cfg.python_children_wait);
        unify_take_killed(&others, facts.experiment_fd);
        if (others.ended_count) {
            if (unify_add_processes(&others, job_root && mpi_ranks ? job.size : 0, &locations, &summary.location_count,
                                    &processes, &summary.process_count)) {
                summary.locations = locations;
                summary.processes = processes;
            } else {
                log_warning("error: out of memory for the processes of the experiment: they are left out");
                others.ended_count = 0;
            }
        }
        unify_time_span(&others, &summary.start_time, &summary.end_time);
        summary.start_epoch_ns = clock_ticks_to_epoch_ns(summary.start_time);
    }
    bool ok;
    if (locations && defs_snapshot(&summary.defs)) {
        for (uint32_t i = 0; i < others.ended_count; i++)
            if (!others.ended[i].killed)
                others.ended[i].merged = substrates_merge(&others.ended[i].p);
        ok = substrates_close(&summary);
        clock_gettime(CLOCK_MONOTONIC, &unify_end);
        if (others.ended_count)
            log_verbose("%u processes of the experiment unified and written in %.1f ms (after waiting %.1f ms for "
                        "them to end)", others.ended_count + 1,
                        ((double)(unify_end.tv_sec - unify_start.tv_sec) * 1e3 +
                         (double)(unify_end.tv_nsec - unify_start.tv_nsec) * 1e-6) - others.waited_s * 1e3,
                        others.waited_s * 1e3);
    } else {
        log_warning("error: out of memory at the end of the measurement: no results written");
        substrates_close(NULL);
        ok = false;
    }
    defs_snapshot_free(&summary.defs);
    free(locations);
    free(processes);
    if (others.ended)
        processes_release(facts.experiment_fd, &others);
    if (facts.child) {
        /* the results stay for the root, which reads them once the
         * journal has its end and this process has let go */
        if (ok) {
            journal_sync();  /* what was made since the last replay (a process that recorded nothing has its master) */
            journal_end(end_time, has_exit_status, exit_status);
        }
        else
            journal_remove();
        processes_leave();
        result_dir = strdup(experiment_dir);
    } else {
        journal_remove();
        if (experiment_dir) {
            result_dir = experiment_finish(experiment_dir, &cfg);
            log_verbose("results written to %s", result_dir ? result_dir : experiment_dir);
        }
    }
    phase = SCOREP_FINISHED;  /* after result_dir: whoever sees the phase sees the final name */
    pthread_mutex_unlock(&lifecycle_lock);
    int signo = atomic_load(&termination_signal);
    if (signo) {
        if (job_joined && result_dir)
            wait_for_the_root(result_dir);
        die_by(signo);  /* it arrived while the results were being written */
    }
    return ok;
}

const char *scorep_children_experiment(void) { return phase == SCOREP_RUNNING ? children_root : NULL; }

bool scorep_fork_child_start(void)
{
    if (!forked_child || phase != SCOREP_RUNNING || !children_root)
        return false;
    pthread_mutex_lock(&lifecycle_lock);
    experiment_forget_inherited();
    free(experiment_dir);
    experiment_dir = NULL;
    char err[1024];
    uint32_t rank = 0;
    char *dir = processes_join(children_root, UINT32_MAX, &rank, err, sizeof err);
    bool ok = dir != NULL;
    if (ok) {
        experiment_dir = dir;
        locations_forget();
        locations_configure(cfg.page_size, rank);
        start_time = clock_now();
        stop_time = 0;
        has_exit_status = false;
        exit_status = 0;
        atomic_store(&termination_signal, 0);
        atomic_store(&finishing, false);
        facts.experiment_dir = experiment_dir;
        facts.experiment_fd = experiment_fd();
        facts.rank = rank;
        facts.child = true;
        facts.start_time = start_time;
        ok = substrates_open(&facts, err, sizeof err);
        if (!ok)
            processes_leave();
    }
    if (!ok) {
        log_verbose("the forked process is not measured: %s", err);
        phase = SCOREP_FINISHED;
        pthread_mutex_unlock(&lifecycle_lock);
        return false;
    }
    journal_open(&facts, scorep_clock_kind, host_name());
    start_buffers();
    forked_child = false;
    state_set(state_at_fork == MEASUREMENT_RECORDING_OFF ? MEASUREMENT_RECORDING_OFF : MEASUREMENT_ACTIVE);
    pthread_mutex_unlock(&lifecycle_lock);
    log_verbose("forked process of rank %u in the experiment %s", rank, children_root);
    scorep_location_current();  /* the forking thread is the master */
    return true;
}

/* ---- the end on a termination signal ---- */

/* A signal whose default action ends the process arrived: the drain thread
 * writes the results (the program's threads may be in a long C call) and
 * then ends the process by that signal, as it would have without us. */
/* The thread the signal interrupted stops here, as the program would have
 * stopped without us, while the drain thread writes the results and ends
 * the process.  The drain thread may need a lock this thread holds (the
 * signal can come inside malloc or the dynamic loader): after
 * TERMINATION_FREEZE_MS this thread goes on, so that the lock is given
 * back, until the results are written; should that take more than
 * TERMINATION_WAIT_S, the process ends by the signal all the same. */
#define TERMINATION_FREEZE_MS 250
#define TERMINATION_WAIT_S 60

static void on_termination_alarm(int unused)
{
    (void)unused;
    die_by(atomic_load(&termination_signal));
}

static void on_termination_signal(int signo)
{
    atomic_store(&termination_signal, signo);
    if (atomic_load(&finishing))
        return;  /* the results are being written: the process ends by the signal after that */
    if (!buffers_drain_running())
        die_by(signo);
    struct timespec step = {0, 1000000};
    for (long waited = 0; waited < TERMINATION_FREEZE_MS; waited++)
        nanosleep(&step, NULL);
    struct sigaction alarm_action = {.sa_handler = on_termination_alarm};
    sigemptyset(&alarm_action.sa_mask);
    sigaction(SIGALRM, &alarm_action, NULL);
    alarm(TERMINATION_WAIT_S);
}

static void die_by(int signo)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(signo, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    kill(getpid(), signo);
    for (;;)
        pause();
}

/* ---- the end on a crash ---- */

/* A fatal signal (a segfault in a C extension, abort()): the thread that
 * crashed waits in the handler, on an alternate stack, while the drain
 * thread writes what was recorded up to the crash (at most CRASH_WAIT_S,
 * should it be stuck on a lock the crashed thread holds); then the signal
 * takes its course with the action the program had (the default one, or
 * e.g. faulthandler's), so the process ends as it would have. */
#define CRASH_WAIT_S 60
#define ALTERNATE_STACK_BYTES (64 * 1024)

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define CRASH_SIGNAL_COUNT (sizeof crash_signals / sizeof crash_signals[0])
static struct sigaction crash_previous[CRASH_SIGNAL_COUNT];
static _Atomic int crash_signal;
static atomic_bool crash_written;

static void on_crash_signal(int signo, siginfo_t *info, void *context)
{
    (void)context;
    int expected = 0;
    bool first = atomic_compare_exchange_strong(&crash_signal, &expected, signo);
    if (first && phase == SCOREP_RUNNING && !forked_child && !atomic_load(&finishing) && buffers_drain_running()) {
        struct timespec step = {0, 1000000};
        for (long waited = 0; waited < CRASH_WAIT_S * 1000L && !atomic_load(&crash_written); waited++)
            nanosleep(&step, NULL);
    }
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++)
        if (crash_signals[i] == signo)
            sigaction(signo, &crash_previous[i], NULL);
    /* a fault happens again when the instruction does; a sent signal
     * (kill, abort) is sent again, delivered when this handler returns */
    if (info->si_code <= 0)
        raise(signo);
}

/* The calling thread's alternate signal stack, unless it has one. */
static void give_alternate_stack(void)
{
    stack_t current;
    if (sigaltstack(NULL, &current) != 0 || !(current.ss_flags & SS_DISABLE))
        return;
    static void *memory;
    if (!memory)
        memory = malloc(ALTERNATE_STACK_BYTES);
    stack_t stack = {.ss_sp = memory, .ss_size = ALTERNATE_STACK_BYTES};
    if (memory)
        sigaltstack(&stack, NULL);
}

static void catch_crashes(bool handlers_hand_on)
{
    give_alternate_stack();
    struct sigaction action = {.sa_sigaction = on_crash_signal, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < CRASH_SIGNAL_COUNT; i++) {
        struct sigaction *previous = &crash_previous[i];
        if (sigaction(crash_signals[i], NULL, previous) != 0 || previous->sa_handler == SIG_IGN)
            continue;
        if (previous->sa_handler == SIG_DFL || handlers_hand_on)
            sigaction(crash_signals[i], &action, NULL);
    }
}

/* On the drain thread, after a signal: write the results (false when the
 * measurement is ending already, on another thread). */
static bool finish_after(int signo)
{
    if (pthread_mutex_trylock(&lifecycle_lock) != 0)
        return false;
    bool running = phase == SCOREP_RUNNING && !forked_child;
    pthread_mutex_unlock(&lifecycle_lock);
    if (running) {
        scorep_measurement_stop();
        /* a thread that is appending an event right now finishes it */
        struct timespec pause_time = {0, 2000000};
        nanosleep(&pause_time, NULL);
        scorep_set_exit_status(128 + signo);
        scorep_measurement_finish();
    }
    return true;
}

/* The drain thread's pass hook: a crash or a termination signal arrived. */
static void termination_check(void)
{
    int crashed = atomic_load(&crash_signal);
    if (crashed && !atomic_load(&crash_written) && finish_after(crashed))
        atomic_store(&crash_written, true);  /* the crashed thread lets the signal take its course */
    int signo = atomic_load(&termination_signal);
    if (signo && finish_after(signo))
        die_by(signo);
    /* else: the measurement is ending already; it dies by the signal afterwards */
}

bool scorep_catch_termination(int signo)
{
    if (phase != SCOREP_RUNNING || forked_child || !buffers_drain_running())
        return false;
    struct sigaction current;
    if (sigaction(signo, NULL, &current) != 0 || current.sa_handler != SIG_DFL)
        return false;
    struct sigaction action = {.sa_handler = on_termination_signal, .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    return sigaction(signo, &action, NULL) == 0;
}

void scorep_fork_prepare(void)
{
    state_own_work_begin();  /* (it reads /proc/self/stat: no I/O of the program's) */
    pthread_mutex_lock(&lifecycle_lock);
    if (phase == SCOREP_RUNNING && !forked_child)
        buffers_pause_drain();
    pthread_mutex_unlock(&lifecycle_lock);
    state_own_work_end();
}

void scorep_measurement_stop(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    if (phase == SCOREP_RUNNING && !forked_child && !stop_time) {
        stop_time = clock_now();
        state_set(MEASUREMENT_STOPPED);
        buffers_recording_ended();
    }
    pthread_mutex_unlock(&lifecycle_lock);
}

scorep_phase scorep_measurement_phase(void) { return (scorep_phase)phase; }

const char *scorep_experiment_directory(void) { return phase == SCOREP_FINISHED && result_dir ? result_dir : experiment_dir; }

void scorep_set_exit_status(int status)
{
    exit_status = status;
    has_exit_status = true;
}

const measurement_config *scorep_configuration(void) { return phase == SCOREP_NOT_STARTED ? NULL : &cfg; }

/* ---- definitions ---- */

uint32_t scorep_region_define(const char *name, const char *group, const char *file, uint32_t first_line,
                              region_role role, region_paradigm paradigm)
{
    return defs_region(name, group, file, first_line, 0, role, paradigm);
}

uint32_t scorep_wrapped_region_define(_Atomic uint32_t *slot, const char *name, const char *group, region_role role,
                                      region_paradigm paradigm)
{
    if (scorep_region_filtered(name, "")) {
        atomic_store_explicit(slot, SCOREP_WRAPPED_FILTERED, memory_order_relaxed);
        return DEFS_NO_ID;
    }
    uint32_t id = defs_region(name, group, "", 0, 0, role, paradigm);
    if (id != DEFS_NO_ID)
        atomic_store_explicit(slot, id + 1, memory_order_relaxed);
    return id;
}

bool scorep_region_filtered(const char *name, const char *file)
{
    return region_filter && filter_excludes(region_filter, name, file);
}

uint32_t scorep_region_count(void) { return defs_region_count(); }

uint32_t scorep_region_name(uint32_t region)
{
    return region < defs_region_count() ? defs_region_get(region).name : DEFS_NO_ID;
}

uint32_t scorep_string_define(const char *text) { return defs_string(text); }

uint32_t scorep_parameter_define(const char *name, parameter_type type) { return defs_parameter(name, type); }

/* ---- events ---- */

void measurement_append(location *loc, unsigned kind, uint32_t region, uint64_t now)
{
    if (__builtin_expect(region < EVENT_REGION_LIMIT, 1) && location_append_short(loc, kind, region, now))
        return;
    if (buffers_make_room(loc, 1 + EVENT_EXT_MAX_WORDS))
        location_put(loc, kind, region, now);
}

void measurement_append_ext(location *loc, enum event_ext_type type, uint64_t now, const uint64_t *payload,
                            unsigned payload_words)
{
    if (buffers_make_room(loc, 2 + payload_words))
        location_put_ext(loc, type, now, payload, payload_words);
}

uint32_t scorep_comm_define(uint64_t key, const char *name, uint32_t parent, uint32_t size, const uint32_t *members)
{
    if (phase != SCOREP_RUNNING)
        return DEFS_NO_ID;
    return defs_comm(key, name, parent, size, members);
}

void scorep_mpi_event(scorep_location *loc, const mpi_record *record)
{
    if (state_get() != MEASUREMENT_ACTIVE || !event_ext_is_mpi(record->kind))
        return;
    uint64_t payload[MPI_RECORD_WORDS];
    mpi_record_pack(record, payload);
    measurement_append_ext(loc, record->kind, clock_now(), payload, MPI_RECORD_WORDS);
}

void scorep_clock_offset(uint64_t time, int64_t offset, double deviation)
{
    if (phase == SCOREP_RUNNING)
        defs_clock_offset(time, offset, deviation);
}

uint64_t scorep_clock_now(void) { return clock_now(); }

static __thread unsigned filtered_depth;  /* nesting of filtered regions' extents */

void scorep_filtered_enter(void) { filtered_depth++; }

void scorep_filtered_leave(void)
{
    if (filtered_depth)
        filtered_depth--;
}

bool scorep_io_recorded(void)
{
    return phase == SCOREP_RUNNING && state_get() == MEASUREMENT_ACTIVE && !state_own_work && !forked_child &&
           !filtered_depth;
}

uint32_t scorep_io_handle_define(const char *name, const char *file, uint32_t flags, uint32_t mode, uint32_t status)
{
    return phase == SCOREP_RUNNING ? defs_io_handle(name, file, flags, mode, status) : DEFS_NO_ID;
}

const char *scorep_io_handle_file(uint32_t handle)
{
    if (handle >= defs_io_handle_count())
        return "";
    const char *name = defs_string_text(defs_io_handle_get(handle).file);
    return name ? name : "";
}

void scorep_io_event(scorep_location *loc, const io_record *record)
{
    if (state_get() != MEASUREMENT_ACTIVE || !event_ext_is_io(record->kind))
        return;
    uint64_t payload[IO_RECORD_WORDS];
    io_record_pack(record, payload);
    measurement_append_ext(loc, record->kind, clock_now(), payload, IO_RECORD_WORDS);
}

uint32_t scorep_process_rank(void) { return phase == SCOREP_RUNNING ? facts.rank : 0; }

/* The metric values that go with an enter or leave just recorded. */
static void append_metrics(location *loc, uint64_t now)
{
    uint64_t values[METRICS_MAX];
    unsigned n = metrics_count(loc->index);
    if (!n)
        return;
    metrics_read(loc->index, values);
    measurement_append_ext(loc, EXT_METRIC, now, values, n);
}

void scorep_enter(scorep_location *loc, uint32_t region)
{
    int state = state_get();
    if (__builtin_expect(state == MEASUREMENT_ACTIVE, 1)) {
        uint64_t now = clock_now();
        measurement_append(loc, EVENT_ENTER, region, now);
        if (__builtin_expect(metrics_active != 0, 0))
            append_metrics(loc, now);
    } else if (state == MEASUREMENT_RECORDING_OFF) {
        loc->off_depth++;
    }
}

void scorep_leave(scorep_location *loc, uint32_t region)
{
    int state = state_get();
    if (__builtin_expect(state == MEASUREMENT_ACTIVE, 1)) {
        uint64_t now = clock_now();
        measurement_append(loc, EVENT_LEAVE, region, now);
        if (__builtin_expect(metrics_active != 0, 0))
            append_metrics(loc, now);
    } else if (state == MEASUREMENT_RECORDING_OFF) {
        /* regions entered before recording went off still get their leave */
        if (loc->off_depth > 0)
            loc->off_depth--;
        else
            measurement_append(loc, EVENT_LEAVE, region, clock_now());
    }
}

static void append_parameter(location *loc, enum event_ext_type type, uint32_t parameter, uint64_t value)
{
    if (state_get() != MEASUREMENT_ACTIVE || parameter == DEFS_NO_ID)
        return;
    uint64_t payload[2] = {parameter, value};
    measurement_append_ext(loc, type, clock_now(), payload, 2);
}

void scorep_parameter_int(scorep_location *loc, uint32_t parameter, int64_t value)
{
    append_parameter(loc, EXT_PARAMETER_INT, parameter, (uint64_t)value);
}

void scorep_parameter_uint(scorep_location *loc, uint32_t parameter, uint64_t value)
{
    append_parameter(loc, EXT_PARAMETER_UINT, parameter, value);
}

void scorep_parameter_string(scorep_location *loc, uint32_t parameter, uint32_t string)
{
    if (string != DEFS_NO_ID)
        append_parameter(loc, EXT_PARAMETER_STRING, parameter, string);
}

void scorep_recording_set(scorep_location *loc, bool on)
{
    int state = state_get();
    if (state == MEASUREMENT_STOPPED || on == (state == MEASUREMENT_ACTIVE))
        return;
    measurement_append_ext(loc, on ? EXT_MEASUREMENT_ON : EXT_MEASUREMENT_OFF, clock_now(), NULL, 0);
    loc->off_depth = 0;
    state_set(on ? MEASUREMENT_ACTIVE : MEASUREMENT_RECORDING_OFF);
}

void measurement_rewind_begin(location *loc, uint32_t name, uint64_t now)
{
    if ((loc->pos || buffers_make_room(loc, 1)) && !location_rewind_mark(loc, name, now))
        log_warning("rewind_begin: out of memory, the rewind mark is not set");
}

rewind_result measurement_rewind_end(location *loc, uint32_t name, bool discard, uint64_t now)
{
    uint64_t mark_time = 0;
    kept_leave *leaves = NULL;
    size_t count = 0;
    rewind_result result = location_rewind_cut(loc, name, discard, &mark_time, &leaves, &count);
    if (result != REWIND_CUT)
        return result;
    /* the dropped interval is marked as recording off; the leaves of
     * regions entered before the mark survive the cut, or those regions
     * would stay open and swallow everything after */
    measurement_append_ext(loc, EXT_MEASUREMENT_OFF, mark_time, NULL, 0);
    for (size_t i = 0; i < count; i++) {
        uint64_t region = leaves[i].region;
        measurement_append_ext(loc, EXT_LEAVE, leaves[i].time, &region, 1);
    }
    free(leaves);
    measurement_append_ext(loc, EXT_MEASUREMENT_ON, now, NULL, 0);
    return REWIND_CUT;
}

void scorep_rewind_begin(scorep_location *loc, uint32_t name)
{
    if (state_get() != MEASUREMENT_STOPPED && name != DEFS_NO_ID)
        measurement_rewind_begin(loc, name, clock_now());
}

rewind_result scorep_rewind_end(scorep_location *loc, uint32_t name, bool discard)
{
    return measurement_rewind_end(loc, name, discard, clock_now());
}

/* ---- messages and facts ---- */

void scorep_log_verbose(const char *fmt, ...)
{
    if (!log_is_verbose())
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_verbose("%s", line);
}

void scorep_log_warning(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_warning("%s", line);
}

void scorep_buffer_statistics(uint64_t *events, uint64_t *record_bytes)
{
    *events = *record_bytes = 0;
    for (location *loc = locations_first(); loc; loc = atomic_load(&loc->next)) {
        pthread_mutex_lock(&loc->replay_lock);
        *events += loc->event_count;
        *record_bytes += loc->record_bytes;
        pthread_mutex_unlock(&loc->replay_lock);
    }
}

bool scorep_clock_tsc_usable(void) { return clock_tsc_usable(); }
double scorep_clock_cost_ns(clock_kind kind) { return clock_cost_ns(kind); }
const char *scorep_clock_name(clock_kind kind) { return clock_kind_name(kind); }

const config_var_info *scorep_config_variables(int *count)
{
    *count = config_var_count;
    return config_vars;
}

const char *scorep_config_type_name(config_type type) { return config_type_name(type); }

bool scorep_has_papi(void)
{
#ifdef SCOREP_HAVE_PAPI
    return true;
#else
    return false;
#endif
}

bool scorep_measurement_reset(void)
{
    pthread_mutex_lock(&lifecycle_lock);
    if (phase != SCOREP_FINISHED || forked_child) {
        pthread_mutex_unlock(&lifecycle_lock);
        return false;
    }
    locations_forget();
    current_location = NULL;
    release_run_state();
    free(experiment_dir);
    free(result_dir);
    free(children_root);
    experiment_dir = result_dir = children_root = NULL;
    stop_time = 0;
    has_exit_status = false;
    exit_status = 0;
    atomic_store(&termination_signal, 0);
    atomic_store(&finishing, false);
    atomic_store(&crash_signal, 0);
    atomic_store(&crash_written, false);
    memset(&facts, 0, sizeof facts);
    phase = SCOREP_NOT_STARTED;
    pthread_mutex_unlock(&lifecycle_lock);
    return true;
}
