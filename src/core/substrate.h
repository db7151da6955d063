/* The substrate interface: how the measurement core hands its results to
 * the OTF2 trace writer, the call-path profile and whatever comes next.
 *
 * A substrate covers the whole life of a measurement through these
 * operations, and knows nothing else of the core: it gets a read-only
 * description of the experiment when it opens, each location's sanitised
 * event stream (properly nested, in time order per location) while the
 * program runs, and the definitions when it closes.  The core never names a
 * substrate: each one registers itself (SUBSTRATE_REGISTER) and says from
 * the configuration whether it is wanted.
 *
 * Threads: the events of one location are delivered by one thread at a
 * time, in order; different locations may be delivered concurrently.
 * Errors: an operation that fails returns false (NULL from the openers)
 * and error() says why in one line naming the file and the cause; the core
 * prints it, stops delivering to that substrate and closes it at the end,
 * while the other substrates go on. */
#ifndef SCOREP_CORE_SUBSTRATE_H
#define SCOREP_CORE_SUBSTRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "defs.h"
#include "events.h"
#include "metrics.h"

/* What a substrate knows when it opens: fixed for the whole run. */
typedef struct {
    const measurement_config *cfg;
    const char *experiment_dir;
    int experiment_fd;              /* its descriptor: files are made relative to it */
    uint32_t rank;                  /* this process in the experiment */
    uint64_t start_time;            /* ticks */
    uint32_t program_region;        /* the root of every call path */
    uint32_t program_name;          /* string ids */
    const uint32_t *program_args;
    uint32_t program_argc;
    /* metrics recorded with enters and leaves, thread metrics first */
    const metric_def *metrics;
    unsigned metric_count, thread_metric_count;
    /* the events are those of a killed run, salvaged (recovery.h): not a
     * run that could be killed itself */
    bool salvaging;
    /* a process of an experiment of several processes other than its
     * root: experiment_dir is this process's own directory in the
     * experiment, and the results stay there, unpublished, for the root
     * to merge (merge below) */
    bool child;
} substrate_facts;

/* Locations are numbered thread << 32 | rank: the process is in the id. */
static inline uint32_t location_rank(uint64_t location_id) { return (uint32_t)location_id; }

/* A location as a substrate meets it (location_open). */
typedef struct {
    uint64_t id;
    uint32_t index;                 /* 0: the master thread */
    unsigned metric_count;          /* values in each of its metric events */
} substrate_location;

/* One location of the summary. */
typedef struct {
    uint64_t id;
    uint32_t index;
    uint32_t name;                  /* string id */
} location_def;

/* A process of the experiment. */
typedef struct {
    uint32_t rank;                  /* 0: the root, then in the order they started (an MPI job's
                                     * ranks: their rank in the job, the others after them) */
    long pid;
    bool mpi_rank;                  /* a rank of an MPI job measured with --mpp=mpi */
} process_def;

/* Another process of the experiment, as the root merges it (merge, before
 * close): its directory, where the same substrate wrote its results in
 * that process, and how that process's definition ids map to the
 * summary's.  Its locations are in the summary too. */
typedef struct {
    uint32_t rank;
    long pid;
    int dir_fd;
    const char *dir;
    const uint32_t *strings, *regions, *parameters, *comms, *io_handles;  /* its id -> the summary's */
    uint32_t string_count, region_count, parameter_count, comm_count, io_handle_count;
    const clock_offset_def *clock_offsets;  /* its clock's offsets to the root's (defs.h), in time order */
    uint32_t clock_offset_count;
    const location_def *locations;  /* its locations, names in the summary's ids */
    uint32_t location_count;
    uint64_t start_time, end_time;  /* ticks, on the root's time line */
    unsigned metric_count, thread_metric_count;  /* as its facts said */
} substrate_process;

/* What a substrate learns when it closes. */
typedef struct {
    uint64_t start_time, end_time;  /* ticks */
    uint64_t clock_resolution;      /* ticks per second */
    uint64_t start_epoch_ns;        /* wall clock at start_time */
    bool has_exit_status;
    int exit_status;
    const char *host_name;
    definitions defs;               /* every string, region, parameter */
    const location_def *locations;  /* every location: the root's in creation order, then each
                                     * other process's, by rank */
    uint32_t location_count;
    const process_def *processes;   /* every process of the experiment, by rank */
    uint32_t process_count;
} substrate_summary;

/* Where salvaged events go (recovery.h): a substrate that finds what a
 * killed run of it left hands its events over location by location, each
 * location's in time order.  location() gives the handle of a location by
 * its id (NULL: not one the journal knows, its events are skipped); the
 * event functions return false when the results cannot be written (the
 * salvage stops). */
typedef struct {
    void *self;
    void *(*location)(void *self, uint64_t location_id);
    bool (*enter)(void *loc, uint64_t time, uint32_t region);
    bool (*leave)(void *loc, uint64_t time, uint32_t region);
    bool (*parameter_int)(void *loc, uint64_t time, uint32_t parameter, int64_t value);
    bool (*parameter_uint)(void *loc, uint64_t time, uint32_t parameter, uint64_t value);
    bool (*parameter_string)(void *loc, uint64_t time, uint32_t parameter, uint32_t string);
    bool (*measurement_on_off)(void *loc, uint64_t time, bool on);
    bool (*metric)(void *loc, uint64_t time, const uint64_t *values, unsigned count);
} salvage_sink;

typedef struct substrate_ops {
    const char *name;               /* "tracing", "profiling": for messages */
    bool (*wanted)(const measurement_config *cfg);

    /* life */
    void *(*open)(const substrate_facts *facts, char *err, size_t errlen);
    void *(*location_open)(void *self, const substrate_location *where);
    /* the location's thread ended and every event of it was delivered:
     * release what it holds (its state stays valid until close) */
    bool (*location_close)(void *self, void *state, uint64_t end_time);
    uint64_t (*memory)(void *self);  /* bytes held, part of SCOREP_TOTAL_MEMORY */
    /* write the results and release everything; summary NULL: the
     * measurement ends without results from this substrate (it failed, or
     * the start failed): discard what it wrote */
    bool (*close)(void *self, const substrate_summary *summary, char *err, size_t errlen);
    const char *(*error)(void *self);
    /* optional: one line for the user about the results (e.g. a limit the
     * program reached), or NULL; asked just before close with a summary */
    const char *(*notice)(void *self);

    /* events of one location; `state` is what location_open returned */
    bool (*enter)(void *state, uint64_t time, uint32_t region);
    bool (*leave)(void *state, uint64_t time, uint32_t region);
    bool (*parameter_int)(void *state, uint64_t time, uint32_t parameter, int64_t value);
    bool (*parameter_uint)(void *state, uint64_t time, uint32_t parameter, uint64_t value);
    bool (*parameter_string)(void *state, uint64_t time, uint32_t parameter, uint32_t string);
    /* recording off from an OFF to the next ON; `region` is the artificial
     * region that stands for the interval (defs_artificial) */
    bool (*measurement_on_off)(void *state, uint64_t time, bool on, uint32_t region);
    /* the program waited from time to end_time for a buffer flush */
    bool (*buffer_flush)(void *state, uint64_t time, uint64_t end_time, uint32_t region);
    /* metric values taken with the enter or leave just before */
    bool (*metric)(void *state, uint64_t time, const uint64_t *values, unsigned count);
    /* an MPI event (events.h), inside the region of the MPI function */
    bool (*mpi)(void *state, uint64_t time, const mpi_record *record);
    bool (*io)(void *state, uint64_t time, const io_record *record);

    /* optional, in another process after the run was killed: find what
     * this substrate had written of it in the experiment directory
     * (dir_fd, named dir), and deliver its events to the sink.  Returns
     * the number of events delivered, or -1 with a one-line reason in err
     * (0 and err empty: the substrate left nothing there).  Nothing is
     * changed in the directory. */
    int64_t (*salvage)(int dir_fd, const char *dir, const salvage_sink *sink, char *err, size_t errlen);
    /* the results were written anew: remove what salvage read */
    void (*salvaged)(int dir_fd);

    /* optional, in the root of an experiment of several processes, before
     * close: take in what this substrate wrote in process p, which has
     * ended.  False with error() saying why: that process is then missing
     * from this substrate's results, the rest goes on.  A substrate
     * without it leaves other processes out. */
    bool (*merge)(void *self, const substrate_process *p);
} substrate_ops;

/* The name of process i of the summary: "MPI Rank <rank>" for a rank of
 * an MPI job measured with --mpp=mpi; otherwise "Process" alone, "Process <pid>"
 * among several ("Process <pid>.<rank>" when an exec made more than one of
 * that pid). */
static inline void process_name(const substrate_summary *s, uint32_t i, char *out, size_t outlen)
{
    if (s->processes[i].mpi_rank) {
        snprintf(out, outlen, "MPI Rank %u", s->processes[i].rank);
        return;
    }
    if (s->process_count <= 1) {
        snprintf(out, outlen, "Process");
        return;
    }
    bool shared = false;
    for (uint32_t k = 0; k < s->process_count; k++)
        shared = shared || (k != i && s->processes[k].pid == s->processes[i].pid);
    if (shared)
        snprintf(out, outlen, "Process %ld.%u", s->processes[i].pid, s->processes[i].rank);
    else
        snprintf(out, outlen, "Process %ld", s->processes[i].pid);
}

/* Make a substrate available to every measurement of this process. */
void substrate_register(const substrate_ops *ops);

#define SUBSTRATE_REGISTER(ops)                                                                  \
    static void __attribute__((constructor)) substrate_register_##ops(void) { substrate_register(&ops); }

#endif
