#include "processes.h"

#include <dirent.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "defs.h"
#include "experiment.h"
#include "keymap.h"
#include "log.h"

/* <experiment>/.scorep-processes/ranks: the next rank (u32) and whether
 * the experiment is closed to newcomers (u32), read and written under
 * its flock. */
#define RANKS_FILE "ranks"
/* <experiment>/.scorep-processes/job: a job's experiment (its id, size, MPI ranks) */
#define JOB_FILE "job"
enum { OPEN = 0, CLOSED_WAITING = 1, CLOSED_DONE = 2 };

static int open_dir_at(int dir, const char *name)
{
    return openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The directory of the processes in the experiment, made by whoever
 * needs it first. */
static int processes_dir(int experiment)
{
    if (mkdirat(experiment, PROCESSES_DIR, 0777) != 0 && errno != EEXIST)
        return -1;
    return open_dir_at(experiment, PROCESSES_DIR);
}

/* The ranks file, locked (made by whoever comes first, empty meaning
 * "rank 1 is next, open"); -1 if it cannot be had. */
static int lock_ranks(int procs, uint32_t state[2])
{
    int fd = openat(procs, RANKS_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    ssize_t n = pread(fd, state, 2 * sizeof(uint32_t), 0);
    if (n == 0) {
        state[0] = 1;
        state[1] = OPEN;
    } else if (n != 2 * (ssize_t)sizeof(uint32_t)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void unlock_ranks(int fd, const uint32_t state[2])
{
    if (state)
        pwrite(fd, state, 2 * sizeof(uint32_t), 0);
    close(fd);  /* the lock goes with it */
}

/* Whether the process that holds dir (flock) is running: true also when
 * it cannot be told. */
static bool holder_alive(int dir_fd)
{
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return true;
    bool alive = flock(fd, LOCK_EX | LOCK_NB) != 0;
    close(fd);
    return alive;
}

char *processes_join(const char *root_dir, uint32_t fixed_rank, uint32_t *rank, char *err, size_t errlen)
{
    int root = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* (a root that has ended is not there to see the directory made) */
    bool alive = root >= 0 && holder_alive(root);
    int procs = alive ? processes_dir(root) : -1;
    uint32_t state[2];
    int ranks = procs >= 0 ? lock_ranks(procs, state) : -1;
    char *path = NULL;
    bool fixed = fixed_rank != UINT32_MAX;
    /* while the root waits for the processes still running, they may start further ones */
    if (!alive || (ranks >= 0 && state[1] == CLOSED_DONE)) {
        snprintf(err, errlen, "the experiment '%s' has ended", root_dir);
    } else if (ranks < 0) {
        snprintf(err, errlen, "cannot join the experiment '%s': %s", root_dir, strerror(errno));
    } else {
        uint32_t taken = fixed ? fixed_rank : state[0];
        char name[16];
        snprintf(name, sizeof name, "%u", taken);
        int fd = -1;
        if (mkdirat(procs, name, 0700) == 0 && (fd = open_dir_at(procs, name)) >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            size_t n = strlen(root_dir) + strlen(PROCESSES_DIR) + strlen(name) + 3;
            path = malloc(n);
            if (path) {
                snprintf(path, n, "%s/%s/%s", root_dir, PROCESSES_DIR, name);
                experiment_hold(fd, path);
                *rank = taken;
                fd = -1;
            }
        } else {
            snprintf(err, errlen, "cannot join the experiment '%s' as rank %u: %s", root_dir, taken,
                     strerror(errno));
        }
        if (fd >= 0)
            close(fd);
        if (!fixed)
            state[0]++;  /* a failed rank is skipped */
    }
    if (ranks >= 0)
        unlock_ranks(ranks, state);
    if (procs >= 0)
        close(procs);
    if (root >= 0)
        close(root);
    return path;
}

/* ---- the ranks of a job ---- */


/* The job's id as a part of a file name: letters, digits, '.', '-', '_'. */
static void job_id(char out[64], const char *a, const char *b)
{
    snprintf(out, 64, "%s%s%s", a, b ? "." : "", b ? b : "");
    for (char *c = out; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '-'))
            *c = '_';
}

static bool env_u32(const char *name, uint32_t *out)
{
    const char *text = getenv(name);
    char *end;
    if (!text || !*text)
        return false;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || *end || value > UINT32_MAX - 1)
        return false;
    *out = (uint32_t)value;
    return true;
}

bool processes_job_from_environment(job_info *job)
{
    memset(job, 0, sizeof *job);
    const char *id;
    if (env_u32("OMPI_COMM_WORLD_RANK", &job->rank) && env_u32("OMPI_COMM_WORLD_SIZE", &job->size) &&
        ((id = getenv("OMPI_MCA_ess_base_jobid")) || (id = getenv("PMIX_NAMESPACE")) ||
         (id = getenv("OMPI_MCA_orte_ess_jobid"))) && *id) {
        job_id(job->id, id, NULL);
    } else if (env_u32("SLURM_PROCID", &job->rank) && env_u32("SLURM_NTASKS", &job->size) &&
               (id = getenv("SLURM_JOB_ID")) && *id) {
        job_id(job->id, id, getenv("SLURM_STEP_ID"));
    } else {
        return false;
    }
    if (!env_u32("OMPI_COMM_WORLD_LOCAL_SIZE", &job->local_size) && !env_u32("MPI_LOCALNRANKS", &job->local_size))
        env_u32("SLURM_NTASKS_PER_NODE", &job->local_size);
    return job->size > 1 && job->rank < job->size;
}

bool processes_job_spare_cpu(const job_info *job)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) != 0 || online < 1)
        return true;
    long mine = CPU_COUNT(&set), ranks = job->local_size ? job->local_size : 1;
    /* bound to some of the CPUs: the ranks are spread over the host's CPUs alike */
    long sharing = mine < online ? (ranks * mine + online - 1) / online : ranks;
    return mine > (sharing > 1 ? sharing : 1);
}

bool processes_job_open(int experiment_fd, const job_info *job, bool mpi, char *err, size_t errlen)
{
    int procs = experiment_fd >= 0 ? processes_dir(experiment_fd) : -1;
    uint32_t state[2];
    int ranks = procs >= 0 ? lock_ranks(procs, state) : -1;
    bool ok = ranks >= 0;
    if (ok) {
        if (state[0] < job->size)
            state[0] = job->size;  /* the processes the ranks start come after the ranks */
        /* the mark last, written whole: a rank that reads it finds the ranks ready */
        int fd = openat(procs, JOB_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
        char text[128];
        int n = snprintf(text, sizeof text, "%s %u %d\n", job->id, job->size, mpi);
        ok = fd >= 0 && write(fd, text, (size_t)n) == (ssize_t)n;
        if (fd >= 0)
            close(fd);
        ok = ok && renameat(procs, JOB_FILE ".tmp", procs, JOB_FILE) == 0;
        unlock_ranks(ranks, state);
    }
    if (!ok)
        snprintf(err, errlen, "cannot make the experiment the job's: %s", strerror(errno));
    if (procs >= 0)
        close(procs);
    return ok;
}

/* What the job file of the experiment says (its id, size, MPI ranks). */
static bool read_job(int root, char id[64], uint32_t *size, bool *mpi)
{
    char text[128] = "";
    int procs = open_dir_at(root, PROCESSES_DIR);
    int fd = procs >= 0 ? openat(procs, JOB_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    text[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    if (procs >= 0)
        close(procs);
    unsigned s = 0;
    int m = 0;
    return n > 0 && sscanf(text, "%63s %u %d", id, &s, &m) == 3 && (*size = s, *mpi = m != 0, true);
}

bool processes_job_of(int experiment_fd, uint32_t *size, bool *mpi)
{
    char id[64];
    return read_job(experiment_fd, id, size, mpi);
}

/* Whether the experiment at dir is the job's, its root running. */
static bool is_jobs(const char *dir, const job_info *job)
{
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return false;
    char id[64];
    uint32_t size;
    bool mpi;
    bool ours = read_job(root, id, &size, &mpi) && strcmp(id, job->id) == 0 && holder_alive(root);
    close(root);
    return ours;
}

static double now_s(void);

bool processes_job_wait(const char *dir, const job_info *job, double wait_s)
{
    double deadline = now_s() + wait_s;
    for (long step_ns = 1000000;; step_ns = step_ns < 50000000 ? step_ns * 2 : step_ns) {
        if (is_jobs(dir, job))
            return true;
        if (now_s() >= deadline)
            return false;
        struct timespec step = {0, step_ns};
        nanosleep(&step, NULL);
    }
}

/* Remove a directory of this measurement's own and all in it (never
 * following a link). */
static void remove_tree(int parent, const char *name)
{
    int fd = open_dir_at(parent, name);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            struct stat st;
            if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                remove_tree(fd, e->d_name);
            else
                unlinkat(fd, e->d_name, 0);
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    unlinkat(parent, name, AT_REMOVEDIR);
}

/* The directory of the processes goes when no one is left in it (procs:
 * it, open; its ranks file may be locked by the caller). */
static void remove_if_last(int procs)
{
    DIR *d = fdopendir(dup(procs));
    bool others = false;
    for (struct dirent *e; d && (e = readdir(d));)
        others = others || (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, RANKS_FILE) &&
                            strcmp(e->d_name, JOB_FILE));
    if (d)
        closedir(d);
    if (others || !d)
        return;
    unlinkat(procs, JOB_FILE, 0);
    unlinkat(procs, RANKS_FILE, 0);
    int experiment = openat(procs, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (experiment >= 0) {
        unlinkat(experiment, PROCESSES_DIR, AT_REMOVEDIR);
        close(experiment);
    }
}

bool processes_leave(void)
{
    int own = experiment_fd();
    int procs = own >= 0 ? openat(own, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    uint32_t state[2];
    int ranks = procs >= 0 ? lock_ranks(procs, state) : -1;
    bool wanted = ranks >= 0 && state[1] != CLOSED_DONE;
    if (!wanted && procs >= 0) {
        /* the root has finished without this process: its directory goes */
        char link[64], where[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", own);
        ssize_t n = readlink(link, where, sizeof where - 1);
        where[n > 0 ? n : 0] = '\0';
        const char *base = n > 0 ? strrchr(where, '/') : NULL;
        if (base)
            remove_tree(procs, base + 1);
        remove_if_last(procs);
    }
    /* its lock goes while the ranks are locked: the root, which gives up
     * waiting under that lock, either sees it or has given up */
    experiment_forget_inherited();
    if (ranks >= 0)
        unlock_ranks(ranks, NULL);
    if (procs >= 0)
        close(procs);
    return wanted;
}

/* ---- the root's side ---- */

void process_result_free(process_result *r)
{
    journal_contents_free(&r->journal);
    free(r->maps);
    free(r->locations);
    free(r->dir);
    if (r->dir_fd >= 0)
        close(r->dir_fd);
    memset(r, 0, sizeof *r);
    r->dir_fd = -1;
}

/* The process's definitions, defined in this process: its ids mapped. */
bool processes_map(process_result *r)
{
    const journal_contents *j = &r->journal;
    const definitions *d = &j->defs;
    size_t n = (size_t)d->string_count + d->region_count + d->parameter_count + d->comm_count + d->io_handle_count;
    r->maps = calloc(n ? n : 1, sizeof *r->maps);
    r->locations = calloc(j->location_count ? j->location_count : 1, sizeof *r->locations);
    if (!r->maps || !r->locations)
        return false;
    uint32_t *strings = r->maps, *regions = strings + d->string_count, *parameters = regions + d->region_count;
    uint32_t *comms = parameters + d->parameter_count, *io_handles = comms + d->comm_count;
    for (uint32_t i = 0; i < d->string_count; i++)
        if ((strings[i] = defs_string(d->strings[i] ? d->strings[i] : "")) == DEFS_NO_ID)
            return false;
    uint32_t no_string = defs_string("");
#define MAPPED_STRING(id) ((id) < d->string_count ? strings[id] : no_string)
    for (uint32_t i = 0; i < d->region_count; i++) {
        const region_def *x = &d->regions[i];
        regions[i] = defs_region_of_strings(MAPPED_STRING(x->name), MAPPED_STRING(x->group), MAPPED_STRING(x->file),
                                            x->first_line, x->last_line, x->role, x->paradigm);
        if (regions[i] == DEFS_NO_ID)
            return false;
    }
    for (uint32_t i = 0; i < d->parameter_count; i++)
        if ((parameters[i] = defs_parameter(defs_string_text(MAPPED_STRING(d->parameters[i].name)),
                                            d->parameters[i].type)) == DEFS_NO_ID)
            return false;
    /* communicators by key (parents first: a communicator is made from an older one) */
    for (uint32_t i = 0; i < d->comm_count; i++) {
        const comm_def *c = &d->comms[i];
        uint32_t parent = c->parent < i ? comms[c->parent] : DEFS_NO_ID;
        if ((comms[i] = defs_comm(c->key, defs_string_text(MAPPED_STRING(c->name)), parent, c->size, c->members)) ==
            DEFS_NO_ID)
            return false;
    }
    /* I/O handles: the process's n-th of a content is the n-th of the experiment */
    keymap seen;
    if (!keymap_init(&seen))
        return false;
    for (uint32_t i = 0; i < d->io_handle_count; i++) {
        const io_handle_def *h = &d->io_handles[i];
        uint32_t key[5] = {MAPPED_STRING(h->name), MAPPED_STRING(h->file), h->flags, h->mode, h->status}, before = 0;
        keymap_get(&seen, key, sizeof key, &before);
        io_handles[i] = key[0] == DEFS_NO_ID || key[1] == DEFS_NO_ID || !keymap_put(&seen, key, sizeof key, before + 1)
                            ? DEFS_NO_ID
                            : defs_io_handle_of(defs_string_text(key[0]), defs_string_text(key[1]), h->flags,
                                                h->mode, h->status, before);
        if (io_handles[i] == DEFS_NO_ID) {
            keymap_free(&seen);
            return false;
        }
    }
    keymap_free(&seen);
    for (uint32_t i = 0; i < j->location_count; i++) {
        r->locations[i] = j->locations[i];
        r->locations[i].name = MAPPED_STRING(j->locations[i].name);
    }
#undef MAPPED_STRING
    r->p = (substrate_process){
        .rank = j->facts.rank,
        .pid = j->pid,
        .dir_fd = r->dir_fd,
        .dir = r->dir,
        .strings = strings,
        .regions = regions,
        .parameters = parameters,
        .comms = comms,
        .io_handles = io_handles,
        .string_count = d->string_count,
        .region_count = d->region_count,
        .parameter_count = d->parameter_count,
        .comm_count = d->comm_count,
        .io_handle_count = d->io_handle_count,
        .clock_offsets = d->clock_offsets,
        .clock_offset_count = d->clock_offset_count,
        .locations = r->locations,
        .location_count = j->location_count,
        .start_time = j->facts.start_time,
        .end_time = j->end_time,
        .metric_count = j->facts.metric_count,
        .thread_metric_count = j->facts.thread_metric_count,
    };
    return true;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Rank i+1's directory, opened under the ranks' lock: one that exists is
 * locked by its process (joining makes and locks it under that lock), or
 * its process has ended. */
static int open_rank_locked(int procs, uint32_t i)
{
    uint32_t state[2];
    int ranks = lock_ranks(procs, state);
    char name[16];
    snprintf(name, sizeof name, "%u", i + 1);
    int fd = open_dir_at(procs, name);
    if (ranks >= 0)
        unlock_ranks(ranks, NULL);
    return fd;
}

/* The processes processes_collect waits for: rank i + 1's directory
 * (fds[i], -1 while it has not joined), whether it ended (done[i]). */
typedef struct {
    int procs;
    uint32_t job_size, count, pending, absent;
    int *fds;
    bool *done;
    process_results *out;
} collection;

/* Take in the processes that joined up to next_rank (exclusive); false
 * when out of memory. */
static bool take_newcomers(collection *c, uint32_t next_rank)
{
    uint32_t wanted = next_rank > 1 ? next_rank - 1 : 0;
    if (wanted <= c->count)
        return true;
    int *f = realloc(c->fds, wanted * sizeof *c->fds);
    c->fds = f ? f : c->fds;
    bool *d = f ? realloc(c->done, wanted * sizeof *c->done) : NULL;
    c->done = d ? d : c->done;
    process_result *e = d ? realloc(c->out->ended, wanted * sizeof *c->out->ended) : NULL;
    c->out->ended = e ? e : c->out->ended;
    if (!e)
        return false;
    for (uint32_t i = c->count; i < wanted; i++) {
        c->fds[i] = open_rank_locked(c->procs, i);
        c->done[i] = c->fds[i] < 0 && i + 1 >= c->job_size;
        c->absent += c->fds[i] < 0 && !c->done[i];
        c->pending += !c->done[i];
    }
    c->count = wanted;
    return true;
}

void processes_collect(int experiment_fd, const char *experiment_dir, uint32_t job_size, double wait_s,
                       process_results *out)
{
    memset(out, 0, sizeof *out);
    int procs = experiment_fd >= 0 ? processes_dir(experiment_fd) : -1;
    uint32_t state[2];
    int ranks = procs >= 0 ? lock_ranks(procs, state) : -1;
    if (ranks < 0) {
        if (procs >= 0)
            close(procs);
        return;
    }
    /* no process starts the experiment anew now, but those still running
     * may start further ones while the root waits for them */
    state[1] = CLOSED_WAITING;
    unlock_ranks(ranks, state);
    collection c = {.procs = procs, .job_size = job_size, .out = out};
    /* the processes that joined so far (and the job's ranks, joined or not) */
    out->ended = calloc(1, sizeof *out->ended);
    bool ok = out->ended != NULL && take_newcomers(&c, state[0]);
    /* wait for those still running, all at once, and for the job's ranks
     * that have not joined yet */
    double deadline = now_s() + wait_s;
    bool waited = false;
    double wait_start = now_s();
    while (ok && c.pending > 0) {
        for (uint32_t i = 0; i < c.count; i++) {
            if (!c.done[i] && c.fds[i] < 0 && (c.fds[i] = open_rank_locked(procs, i)) >= 0)
                c.absent--;
            if (!c.done[i] && c.fds[i] >= 0 && flock(c.fds[i], LOCK_EX | LOCK_NB) == 0) {
                c.done[i] = true;
                c.pending--;
            }
        }
        if (!c.pending || now_s() >= deadline)
            break;
        if (!waited)
            log_verbose("waiting for %u processes of the experiment to end%s", c.pending - c.absent,
                        c.absent ? " and for ranks of the job to join" : "");
        waited = true;
        struct timespec step = {0, 5000000};
        nanosleep(&step, NULL);
        /* processes started by those still running */
        ranks = lock_ranks(procs, state);
        if (ranks >= 0) {
            unlock_ranks(ranks, NULL);
            ok = take_newcomers(&c, state[0]);
        }
    }
    out->waited_s = now_s() - wait_start;
    /* those still running now are left out: they see it at their end */
    ranks = lock_ranks(procs, state);
    for (uint32_t i = 0; c.fds && c.done && i < c.count; i++) {
        if (!c.done[i] && c.fds[i] < 0) {
            char name[16];
            snprintf(name, sizeof name, "%u", i + 1);
            if ((c.fds[i] = open_dir_at(procs, name)) >= 0)
                c.absent--;
        }
        if (!c.done[i] && c.fds[i] >= 0 && flock(c.fds[i], LOCK_EX | LOCK_NB) == 0)
            c.done[i] = true;
    }
    uint32_t count = c.count, absent = c.absent;
    int *fds = c.fds;
    bool *done = c.done;
    out->absent = absent;
    if (!ok) {
        out->left_out += count;
        for (uint32_t i = 0; i < count; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        count = 0;
    }
    if (ranks >= 0) {
        /* those that joined since the last look are left out too */
        if (state[0] > 1 && state[0] - 1 > count)
            out->left_out += state[0] - 1 - count;
        state[1] = CLOSED_DONE;
        unlock_ranks(ranks, state);
    }
    for (uint32_t i = 0; fds && done && i < count; i++) {
        if (fds[i] < 0)
            continue;
        if (!done[i]) {
            out->left_out++;
            close(fds[i]);
            continue;
        }
        process_result *r = &out->ended[out->ended_count];
        memset(r, 0, sizeof *r);
        r->dir_fd = fds[i];
        size_t n = strlen(experiment_dir) + strlen(PROCESSES_DIR) + 16;
        r->dir = malloc(n);
        if (r->dir)
            snprintf(r->dir, n, "%s/%s/%u", experiment_dir, PROCESSES_DIR, i + 1);
        char err[1024];
        bool loaded = r->dir && journal_load(r->dir_fd, r->dir, &r->journal, err, sizeof err);
        if (loaded && processes_map(r)) {
            r->killed = !r->journal.ended;
            out->ended_count++;
            continue;
        }
        if (loaded)
            out->left_out++;  /* out of memory */
        else
            log_verbose("process of rank %u left nothing readable: %s", i + 1, err);
        process_result_free(r);
        if (!loaded) {
            /* it never measured (it could not start): nothing of it is kept */
            char name[16];
            snprintf(name, sizeof name, "%u", i + 1);
            remove_tree(procs, name);
        }
    }
    free(fds);
    free(done);
    close(procs);
}

void processes_release(int experiment_fd, process_results *results)
{
    int procs = experiment_fd >= 0 ? open_dir_at(experiment_fd, PROCESSES_DIR) : -1;
    for (uint32_t i = 0; i < results->ended_count; i++) {
        process_result *r = &results->ended[i];
        if (r->merged && procs >= 0) {
            char name[16];
            snprintf(name, sizeof name, "%u", r->p.rank);
            remove_tree(procs, name);
        }
        process_result_free(r);
    }
    free(results->ended);
    memset(results, 0, sizeof *results);
    if (procs < 0)
        return;
    /* the directory of the processes goes when no one is left in it */
    remove_if_last(procs);
    close(procs);
}

void processes_remove(int experiment_fd, uint32_t rank)
{
    int procs = experiment_fd >= 0 ? open_dir_at(experiment_fd, PROCESSES_DIR) : -1;
    if (procs < 0)
        return;
    char name[16];
    snprintf(name, sizeof name, "%u", rank);
    remove_tree(procs, name);
    close(procs);
}
