#include "unify.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "salvage.h"

uint64_t unify_root_time(const substrate_process *p, uint64_t time)
{
    uint32_t n = p->clock_offset_count;
    if (!n)
        return time;
    const clock_offset_def *o = p->clock_offsets;
    uint32_t i = 0;
    while (i + 2 < n && time > o[i + 1].time)
        i++;  /* the interval [o[i], o[i + 1]] that holds time, or the first or last */
    double offset = (double)o[i].offset;
    if (i + 1 < n && o[i + 1].time > o[i].time)
        offset += (double)(o[i + 1].offset - o[i].offset) / (double)(o[i + 1].time - o[i].time) *
                  ((double)time - (double)o[i].time);
    double corrected = (double)time + offset;
    return corrected > 0 ? (uint64_t)corrected : 0;
}

void unify_time_span(const process_results *others, uint64_t *start, uint64_t *end)
{
    for (uint32_t i = 0; i < others->ended_count; i++) {
        const substrate_process *p = &others->ended[i].p;
        uint64_t s = unify_root_time(p, p->start_time), e = unify_root_time(p, p->end_time);
        if (s < *start)
            *start = s;
        if (e > *end)
            *end = e;
    }
}

bool unify_add_processes(const process_results *others, uint32_t mpi_ranks, location_def **locations,
                         uint32_t *count, process_def **processes, uint32_t *process_count)
{
    uint32_t n = *count;
    for (uint32_t i = 0; i < others->ended_count; i++)
        n += others->ended[i].p.location_count;
    location_def *all = realloc(*locations, (n ? n : 1) * sizeof *all);
    process_def *procs = calloc((size_t)others->ended_count + 1, sizeof *procs);
    if (all)
        *locations = all;
    if (!all || !procs) {
        free(procs);
        return false;
    }
    procs[0] = (process_def){0, (long)getpid(), mpi_ranks > 0};
    for (uint32_t i = 0; i < others->ended_count; i++) {
        const substrate_process *p = &others->ended[i].p;
        memcpy(all + *count, p->locations, p->location_count * sizeof *all);
        *count += p->location_count;
        procs[i + 1] = (process_def){p->rank, p->pid, p->rank < mpi_ranks};
    }
    *processes = procs;
    *process_count = others->ended_count + 1;
    return true;
}

void unify_take_killed(process_results *others, int experiment_fd)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < others->ended_count; i++) {
        process_result *r = &others->ended[i];
        if (r->killed) {
            salvage_job job = {.journal = &r->journal, .strings = r->p.strings, .regions = r->p.regions,
                               .parameters = r->p.parameters};
            char err[1024] = "";
            int64_t events = salvage_into_substrates(r->dir_fd, r->dir, &job, err, sizeof err);
            if (events > 0) {
                r->p.end_time = job.end_time;
                r->merged = true;
                log_warning("process %ld (rank %u) of the experiment was killed: the %lld events its trace had "
                            "written are in the experiment, up to %s", r->p.pid, r->p.rank, (long long)events,
                            "its last written event");
            } else {
                log_warning("process %ld (rank %u) of the experiment was killed before its trace had written "
                            "events%s%s: it is left out", r->p.pid, r->p.rank, err[0] ? ": " : "", err);
                uint32_t rank = r->p.rank;
                process_result_free(r);
                processes_remove(experiment_fd, rank);
                continue;
            }
        }
        others->ended[kept++] = *r;
    }
    others->ended_count = kept;
}
