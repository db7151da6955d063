/* Recovery of a killed run (scorep.h, scorep_recover): what a SIGKILL left
 * in an experiment directory, the journal (journal.h) and the event files
 * a substrate had written, becomes the experiment the run would have
 * written had it ended at its last written event.
 *
 * The leftover's substrate reads its events back (substrate.h, salvage)
 * into the sink here, which hands them to the substrates this
 * configuration wants, as replay does in a live run: each location's
 * events in order, the regions still open at its last event left there.
 * The results are written with the journal's definitions, and the
 * leftover's files are removed only once they are. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "experiment.h"
#include "journal.h"
#include "log.h"
#include "salvage.h"
#include "scorep.h"
#include "processes.h"
#include "substrates.h"
#include "unify.h"

/* Ticks per second of the killed run's clock: from its first and last
 * journal readings; for a run too short for that (the TSC), calibrated
 * here, which is the same clock on the same machine. */
static uint64_t resolution_of(const journal_contents *j)
{
    uint64_t span = j->last_mono_ns > j->start_mono_ns ? j->last_mono_ns - j->start_mono_ns : 0;
    if (j->clock_kind != CLOCK_KIND_TSC)
        return 1000000000ull;
    if (span >= 20000000ull)
        return clock_resolution_between(CLOCK_KIND_TSC, j->start_ticks, j->start_mono_ns, j->last_ticks,
                                        j->last_mono_ns);
    clock_init(CLOCK_KIND_TSC);
    return clock_finish(true);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

bool scorep_recover(const char *path, char **result, char *message, size_t messagelen, char *err, size_t errlen)
{
    *result = NULL;
    message[0] = err[0] = '\0';
    if (scorep_measurement_phase() == SCOREP_RUNNING) {
        snprintf(err, errlen, "cannot recover an experiment while this process is measured");
        return false;
    }
    measurement_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!config_load(&cfg, err, errlen))
        return false;
    log_set_verbose(cfg.verbose);
    char *dir = experiment_adopt(path, err, errlen);
    if (!dir) {
        config_free(&cfg);
        return false;
    }
    journal_contents journal;
    memset(&journal, 0, sizeof journal);
    char results[PATH_MAX];
    snprintf(results, sizeof results, "%s.cubex", cfg.profiling_base_name);
    bool ok = true;
    if (faccessat(experiment_fd(), "traces.otf2", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
        faccessat(experiment_fd(), results, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
        faccessat(experiment_fd(), "traces", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        snprintf(err, errlen, "'%s' holds results already (traces.otf2, traces/ or %s): nothing is recovered into "
                 "it", dir, results);
        ok = false;
    }
    ok = ok && journal_load(experiment_fd(), dir, &journal, err, errlen);
    /* the run's definitions are defined here (the processes that joined it
     * are mapped onto the same), its ids mapped */
    defs_init();
    process_result root;
    memset(&root, 0, sizeof root);
    root.dir_fd = -1;
    if (ok) {
        root.journal = journal;
        if (!processes_map(&root)) {
            snprintf(err, errlen, "out of memory for the definitions of '%s'", dir);
            ok = false;
        }
    }
    const substrate_process *own = &root.p;
    salvage_job job = {.journal = &journal, .strings = own->strings, .regions = own->regions,
                       .parameters = own->parameters};
    /* the killed run's facts, in this process's ids (all zero if its journal could not be read) */
    substrate_facts facts = journal.facts;
    uint32_t *args = calloc(journal.facts.program_argc + 1, sizeof *args);
    if (ok && args) {
        facts.program_region = own->regions[journal.facts.program_region];
        facts.program_name = own->strings[journal.facts.program_name];
        for (uint32_t i = 0; i < journal.facts.program_argc; i++)
            args[i] = own->strings[journal.facts.program_args[i]];
        facts.program_args = args;
    }
    ok = ok && args;
    facts.cfg = &cfg;
    facts.experiment_dir = dir;
    facts.experiment_fd = experiment_fd();
    facts.salvaging = true;
    ok = ok && substrates_open(&facts, err, errlen);
    int64_t events = -1;
    uint64_t resolution = 1000000000ull;
    process_results others;
    memset(&others, 0, sizeof others);
    uint32_t job_size = 0;
    bool mpi = false;
    if (ok) {
        char why[1024];
        events = salvage_into_substrates(experiment_fd(), dir, &job, why, sizeof why);
        /* and the processes of its experiment: those that ended with their
         * results, and what the killed ones had written */
        if (events >= 0) {
            processes_collect(experiment_fd(), dir, 0, 0.0, &others);
            unify_take_killed(&others, experiment_fd());
            processes_job_of(experiment_fd(), &job_size, &mpi);
        }
        if (events <= 0 && others.ended_count == 0) {
            if (events == 0)
                snprintf(err, errlen, "'%s' holds no event files of the run to recover (a run writes them only "
                         "with SCOREP_ENABLE_TRACING=true, a chunk of 256 KiB per thread at a time)", dir);
            else
                snprintf(err, errlen, "cannot recover '%s': %s", dir, why);
            substrates_discard();
            ok = false;
        }
        if (events < 0)
            events = 0;
    }
    if (ok) {
        resolution = resolution_of(&journal);
        double since = ((double)journal.facts.start_time - (double)journal.start_ticks) * 1e9 / (double)resolution;
        uint32_t location_count = journal.location_count;
        location_def *locations = calloc(location_count ? location_count : 1, sizeof *locations);
        process_def *processes = NULL;
        uint32_t process_count = 1;
        if (locations)
            memcpy(locations, own->locations, location_count * sizeof *locations);
        for (uint32_t i = 0; i < others.ended_count; i++)
            if (!others.ended[i].killed)
                others.ended[i].merged = substrates_merge(&others.ended[i].p);
        ok = locations && unify_add_processes(&others, mpi ? job_size : 0, &locations, &location_count, &processes,
                                              &process_count);
        substrate_summary summary = {
            .start_time = journal.facts.start_time,
            .end_time = job.end_time,
            .clock_resolution = resolution,
            .start_epoch_ns = journal.start_epoch_ns + (uint64_t)(since > 0 ? since : 0),
            .has_exit_status = false,
            .host_name = journal.host_name,
            .locations = locations,
            .location_count = location_count,
        };
        if (ok) {
            processes[0].pid = journal.pid;
            summary.processes = processes;
            summary.process_count = process_count;
            unify_time_span(&others, &summary.start_time, &summary.end_time);
        }
        ok = ok && defs_snapshot(&summary.defs);
        if (ok) {
            ok = substrates_close(&summary);
            defs_snapshot_free(&summary.defs);
            if (!ok)
                snprintf(err, errlen, "the recovered results of '%s' could not all be written (see above); the "
                         "leftover's own files are kept", dir);
        } else {
            substrates_discard();
            snprintf(err, errlen, "out of memory for the recovered results of '%s'", dir);
        }
        free(locations);
        free(processes);
    }
    uint32_t joined = others.ended_count;
    if (others.ended)
        processes_release(experiment_fd(), &others);
    free(args);
    root.journal = (journal_contents){0};  /* freed below */
    process_result_free(&root);
    if (ok) {
        substrates_salvaged(experiment_fd());
        unlinkat(experiment_fd(), JOURNAL_NAME, 0);
        uint32_t threads = job.threads;
        snprintf(message, messagelen,
                 "recovered %lld events of %u thread%s, %.3f s of the run up to the last event written%s%s",
                 (long long)events, threads, threads == 1 ? "" : "s",
                 (double)(job.end_time - journal.facts.start_time) / (double)resolution,
                 journal.complete ? "" : " (the journal's last record was cut off)",
                 joined ? ", with the other processes of its experiment" : "");
    }
    /* a killed unnamed run's directory gets the name its end would have
     * given it; any other keeps its name */
    const char *name = base_name(dir);
    bool unnamed = strncmp(name, "scorep-measurement-tmp", 22) == 0 || strncmp(name, "scorep-failed-", 14) == 0;
    if (!ok || !unnamed) {
        free(cfg.experiment_directory);
        cfg.experiment_directory = strdup(dir);
    } else {
        cfg.experiment_directory[0] = '\0';
    }
    *result = experiment_finish(dir, &cfg);
    journal_contents_free(&journal);
    free(dir);
    config_free(&cfg);
    if (!ok) {
        free(*result);
        *result = NULL;
    }
    return ok;
}
