#include "experiment.h"

#include <dirent.h>
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

#include "clock.h"
#include "journal.h"
#include "log.h"

#define TMP_NAME "scorep-measurement-tmp"

/* Room in a path for a name inside the experiment directory (NAME_MAX),
 * and in a name for "-YYYYMMDD_HHMM_<ticks>" when it is moved away. */
#define EXPERIMENT_PATH_MAX (PATH_MAX - NAME_MAX - 2)
#define EXPERIMENT_NAME_MAX (NAME_MAX - 40)

/* The directory this run writes, locked (flock on the directory itself)
 * for the whole run: another measurement never renames, removes or writes
 * into a directory a live run holds.  The descriptor is close-on-exec; a
 * forked child shares the lock (its open file description). */
static int held_fd = -1;
static struct stat held;  /* which directory it is */
static char *held_path;
static bool joined;       /* held_path is this process's directory in another's experiment */

static bool is_held(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_dev == held.st_dev &&
           st.st_ino == held.st_ino;
}

/* 1: locked now (held in *fd), 0: another live run holds it, -1: error. */
static int lock_directory(const char *dir, int *fd)
{
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0)
        return -1;
    if (flock(d, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;
        close(d);
        errno = error;
        return error == EWOULDBLOCK ? 0 : -1;
    }
    *fd = d;
    return 1;
}

static bool is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* Whether dir looks like an experiment directory (it has scorep.cfg, or
 * nothing at all) rather than some other directory of the user's. */
static bool is_experiment(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/scorep.cfg", dir);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        return true;
    return is_empty(dir);
}

/* Whether the leftover of a killed run in dir holds events a recovery can
 * use (the journal of a traced run). */
static bool has_journal(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/" JOURNAL_NAME, dir);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether dir is the working directory or one of its ancestors. */
static bool holds_working_directory(const char *dir)
{
    char cwd[PATH_MAX], real[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd) || !realpath(dir, real))
        return false;
    size_t n = strlen(real);
    return strncmp(cwd, real, n) == 0 && (cwd[n] == '\0' || cwd[n] == '/' || n == 1);
}

static char *absolute(const char *path)
{
    char cwd[PATH_MAX];
    bool relative = path[0] != '/' && getcwd(cwd, sizeof cwd);
    size_t n = (relative ? strlen(cwd) + 1 : 0) + strlen(path) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%s%s%s", relative ? cwd : "", relative ? "/" : "", path);
    /* the directory's own name last ("exp/", "exp/." are exp), so that
     * renaming to <name>-<stamp> renames it */
    for (size_t len = strlen(out); len > 1;) {
        if (out[len - 1] == '/')
            out[--len] = '\0';
        else if (len > 2 && out[len - 1] == '.' && out[len - 2] == '/')
            out[len -= 2] = '\0';
        else
            break;
    }
    return out;
}

/* "<prefix>YYYYMMDD_HHMM_<ticks>" with the given time, unique by ticks. */
static char *stamped_name(const char *prefix, time_t when)
{
    struct tm tm;
    localtime_r(&when, &tm);
    char stamp[64];
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M", &tm);
    size_t n = strlen(prefix) + strlen(stamp) + 32;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%s%s_%llu", prefix, stamp, (unsigned long long)clock_now());
    return out;
}

/* Length of the directory part of an absolute path ("/a/b" -> 2). */
static int parent_length(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (int)(slash - path) : 0;
}

/* The directories this run made (the experiment directory last), removed
 * again when the run is refused (experiment_abandon). */
static char *made[64];
static int made_count;

/* A named directory's previous experiment: its name, and where it went */
static char *moved_from, *moved_away;

static void note_made(const char *path)
{
    if (made_count < (int)(sizeof made / sizeof made[0]))
        made[made_count++] = strdup(path);
}

static void forget_made(void)
{
    while (made_count > 0)
        free(made[--made_count]);
}

/* mkdir -p: the missing parents, then the directory itself, which must
 * not exist (mkdir never follows a link at the name it makes). */
static bool make_dirs(const char *path)
{
    char *copy = strdup(path);
    if (!copy) {
        errno = ENOMEM;
        return false;
    }
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) == 0)
            note_made(copy);
        else if (errno != EEXIST) {
            free(copy);
            return false;
        }
        *p = '/';
    }
    bool ok = mkdir(copy, 0777) == 0;
    if (ok)
        note_made(copy);
    free(copy);
    return ok;
}

/* The path and its parts fit the system's limits, with room for the
 * names the measurement puts inside and the suffix of a later rename. */
static bool check_length(const char *dir, bool named, char *err, size_t errlen)
{
    const char *culprit = named ? "invalid value for SCOREP_EXPERIMENT_DIRECTORY: " : "";
    size_t n = strlen(dir);
    if (n > EXPERIMENT_PATH_MAX) {
        snprintf(err, errlen, "%scannot create experiment directory: its path '%.80s...' is %zu bytes long, more than %d",
                 culprit, dir, n, EXPERIMENT_PATH_MAX);
        return false;
    }
    for (const char *part = dir; *part;) {
        part += strspn(part, "/");
        size_t len = strcspn(part, "/");
        if (len > EXPERIMENT_NAME_MAX) {
            snprintf(err, errlen, "%scannot create experiment directory '%.80s...': the name '%.40s...' in it is %zu bytes "
                     "long, more than %d", culprit, dir, part, len, EXPERIMENT_NAME_MAX);
            return false;
        }
        part += len;
    }
    return true;
}

static char *name_of_its_own(const char *dir)
{
    char *unique = malloc(strlen(dir) + 32);
    if (unique)
        sprintf(unique, "%s-%ld", dir, (long)getpid());
    return unique;
}

/* Create the run's directory and lock it; unnamed runs that find the
 * default temporary name taken by a live run use one of their own. */
static char *create_locked(char *dir, bool named, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (make_dirs(dir)) {
            int fd;
            if (lock_directory(dir, &fd) == 1) {
                held_fd = fd;
                fstat(fd, &held);
                held_path = strdup(dir);
                return dir;
            }
        } else if (errno != EEXIST || named) {
            break;
        }
        if (named) {
            errno = EEXIST;
            break;
        }
        /* another run started at the same moment: a name of this run's own */
        char *unique = name_of_its_own(dir);
        if (!unique) {
            errno = ENOMEM;
            break;
        }
        free(dir);
        dir = unique;
    }
    snprintf(err, errlen, "%scannot create experiment directory '%s': %s",
             named ? "invalid value for SCOREP_EXPERIMENT_DIRECTORY: " : "", dir, strerror(errno));
    free(dir);
    return NULL;
}

/* The unnamed run's directory under a name of its own, <dir>-<pid>
 * (frees dir). */
static char *create_unique(char *dir, char *err, size_t errlen)
{
    char *unique = name_of_its_own(dir);
    free(dir);
    if (!unique) {
        snprintf(err, errlen, "out of memory for the experiment directory's name");
        return NULL;
    }
    return create_locked(unique, false, err, errlen);
}

/* The temporary name of an unnamed experiment: of a job's, the job's own. */
static char *temporary_name(const char *job_id)
{
    char *name = malloc(sizeof TMP_NAME + (job_id ? strlen(job_id) + 5 : 0));
    if (name)
        sprintf(name, "%s%s%s", TMP_NAME, job_id ? "-job-" : "", job_id ? job_id : "");
    return name;
}

char *experiment_job_path(const measurement_config *cfg, const char *job_id)
{
    if (cfg->experiment_directory && cfg->experiment_directory[0])
        return absolute(cfg->experiment_directory);
    char *name = temporary_name(job_id);
    char *path = name ? absolute(name) : NULL;
    free(name);
    return path;
}

char *experiment_create(const measurement_config *cfg, const char *job_id, char *err, size_t errlen)
{
    bool named = cfg->experiment_directory && cfg->experiment_directory[0];
    char *dir = experiment_job_path(cfg, job_id);
    if (!dir) {
        snprintf(err, errlen, "out of memory for the experiment directory's name");
        return NULL;
    }
    if (!check_length(dir, named, err, errlen)) {
        free(dir);
        return NULL;
    }
    struct stat st;
    if (lstat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode) && !named) {
            /* not a directory of a run (a file, a link): left alone */
            return create_unique(dir, err, errlen);
        }
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "invalid value for SCOREP_EXPERIMENT_DIRECTORY: '%s' exists and is not a directory",
                     dir);
            free(dir);
            return NULL;
        }
        int fd = -1;
        int locked = lock_directory(dir, &fd);
        if ((locked == 0 || (locked == 1 && is_empty(dir))) && !named) {
            /* a live run writes the default directory (or has just made it
             * and not yet locked it: a leftover is never empty, a run writes
             * its scorep.cfg at once): this one takes its own */
            if (fd >= 0)
                close(fd);
            return create_unique(dir, err, errlen);
        }
        if (locked == 0) {
            snprintf(err, errlen, "experiment directory '%s' is being written by another measurement that is still "
                     "running; set SCOREP_EXPERIMENT_DIRECTORY to another directory", dir);
            free(dir);
            return NULL;
        }
        if (locked < 0) {
            snprintf(err, errlen, "cannot use experiment directory '%s': %s", dir, strerror(errno));
            free(dir);
            return NULL;
        }
        if (named && cfg->overwrite_experiment_directory && (holds_working_directory(dir) || !is_experiment(dir))) {
            snprintf(err, errlen, "invalid value for SCOREP_EXPERIMENT_DIRECTORY: '%s' exists and is not an "
                     "experiment directory (%s): it is left as it is", dir,
                     holds_working_directory(dir) ? "it holds the working directory" : "it has no scorep.cfg");
            close(fd);
            free(dir);
            return NULL;
        }
        char *moved;
        if (!named) {
            /* left over from a run that ended without finishing */
            char prefix[PATH_MAX];
            snprintf(prefix, sizeof prefix, "%.*s/scorep-failed-", parent_length(dir), dir);
            moved = stamped_name(prefix, time(NULL));
        } else if (!cfg->overwrite_experiment_directory) {
            snprintf(err, errlen,
                     "experiment directory '%s' exists and SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY is false", dir);
            close(fd);
            free(dir);
            return NULL;
        } else {
            char prefix[PATH_MAX];
            snprintf(prefix, sizeof prefix, "%s-", dir);
            moved = stamped_name(prefix, st.st_mtime);
        }
        if (!moved) {
            snprintf(err, errlen, "out of memory for the experiment directory's name");
            close(fd);
            free(dir);
            return NULL;
        }
        /* renamed while locked: no other run can be writing it meanwhile;
         * never over anything that has the new name */
        if (renameat2(AT_FDCWD, dir, AT_FDCWD, moved, RENAME_NOREPLACE) != 0) {
            snprintf(err, errlen, "cannot move existing experiment directory '%s' to '%s': %s", dir, moved,
                     strerror(errno));
            close(fd);
            free(moved);
            free(dir);
            return NULL;
        }
        if (!named || has_journal(moved))
            log_warning("an experiment directory left by a run that did not finish was moved to '%s'%s%s%s", moved,
                        has_journal(moved) ? "; if its trace had written events, 'python -m scorep.recover " : "",
                        has_journal(moved) ? moved : "",
                        has_journal(moved) ? "' makes a readable experiment of them" : "");
        if (!named) {
            free(moved);
        } else {
            /* put back should this run be refused */
            moved_away = moved;
            moved_from = strdup(dir);
        }
        close(fd);
    }
    char *made_dir = create_locked(dir, named, err, errlen);
    if (!made_dir)
        experiment_abandon();  /* the parents made on the way, the previous experiment */
    return made_dir;
}

int experiment_fd(void)
{
    if (held_fd < 0 || is_held(held_fd))
        return held_fd;
    /* the program closed it (os.closerange) and may use the number for a
     * file of its own: the directory again from its path, if it is still
     * there (else -1: nothing more is written) */
    int fd = held_path ? open(held_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (fd >= 0 && !is_held(fd)) {
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        flock(fd, LOCK_EX | LOCK_NB);
    held_fd = fd;
    return held_fd;
}

/* A new file in the experiment directory: made here, never through a link
 * and never over an existing file. */
static FILE *create_file(const char *name, char *err, size_t errlen, const char *dir)
{
    int fd = openat(experiment_fd(), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        snprintf(err, errlen, "cannot write '%s/%s': %s", dir, name,
                 errno == EEXIST ? "a file of that name exists that this measurement did not make" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    return f;
}

/* The first error of writing and closing f, or 0. */
static int close_file(FILE *f, int error)
{
    if (!error && ferror(f))
        error = errno ? errno : EIO;
    if (fclose(f) != 0 && !error)
        error = errno ? errno : EIO;
    return error;
}

static char *config_name, *copy_name;  /* the files made here: removed if the run is refused */

bool experiment_write_config(const char *dir, const measurement_config *cfg, char *err, size_t errlen)
{
    FILE *f = create_file("scorep.cfg", err, errlen, dir);
    if (!f)
        return false;
    config_name = "scorep.cfg";
    errno = 0;
    config_write(cfg, f);
    int error = close_file(f, 0);
    if (error) {
        snprintf(err, errlen, "cannot write '%s/scorep.cfg': %s", dir, strerror(error));
        return false;
    }
    return true;
}

/* Whether name is one of the files the measurement writes itself. */
static bool own_name(const char *name, const measurement_config *cfg)
{
    size_t base = strlen(cfg->profiling_base_name);
    return name[0] == '.' || strcmp(name, "scorep.cfg") == 0 || strcmp(name, "traces") == 0 ||
           strncmp(name, "traces.", 7) == 0 ||
           (strncmp(name, cfg->profiling_base_name, base) == 0 && strncmp(name + base, ".cubex", 6) == 0);
}

const char *experiment_copy_name(const char *path, const measurement_config *cfg)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    return own_name(base, cfg) ? "scorep.filter" : base;
}

bool experiment_copy_file(const char *dir, const char *path, const measurement_config *cfg, char *err, size_t errlen)
{
    /* (read before, but it may have been replaced by a FIFO meanwhile) */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    FILE *in = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!in) {
        snprintf(err, errlen, "cannot read '%s': %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return false;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* under its own name, unless the measurement writes a file of that name */
    const char *name = own_name(base, cfg) ? "scorep.filter" : base;
    FILE *out = create_file(name, err, errlen, dir);
    if (!out) {
        fclose(in);
        return false;
    }
    copy_name = strdup(name);
    char buf[8192];
    size_t n;
    int error = 0;  /* the first one */
    while (!error && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            error = errno ? errno : EIO;
    if (!error && ferror(in))
        error = errno ? errno : EIO;
    fclose(in);
    error = close_file(out, error);
    if (error) {
        snprintf(err, errlen, "cannot copy '%s' to '%s/%s': %s", path, dir, name, strerror(error));
        return false;
    }
    return true;
}

static void release(void)
{
    if (is_held(held_fd))  /* never a descriptor that is no longer this run's */
        close(held_fd);
    held_fd = -1;
    free(held_path);
    held_path = NULL;
    forget_made();
    free(copy_name);
    copy_name = NULL;
    config_name = NULL;
    free(moved_away);
    free(moved_from);
    moved_away = moved_from = NULL;
}

void experiment_abandon(void)
{
    if (experiment_fd() >= 0) {
        if (config_name)
            unlinkat(held_fd, config_name, 0);
        if (copy_name)
            unlinkat(held_fd, copy_name, 0);
    }
    /* the experiment directory, then the parents made for it; rmdir
     * removes only what is empty: nothing of anyone else's */
    for (int i = made_count - 1; i >= 0; i--)
        if (rmdir(made[i]) != 0)
            break;
    /* the previous experiment of a named directory gets its name back
     * (never over what is there now) */
    if (moved_away && moved_from)
        renameat2(AT_FDCWD, moved_away, AT_FDCWD, moved_from, RENAME_NOREPLACE);
    release();
}

/* Whether dir still names the directory this run holds (it may have been
 * moved, and something else put at its name, while the program ran). */
static bool still_there(const char *dir)
{
    struct stat now, named;
    if (fstat(held_fd, &now) != 0 || now.st_nlink == 0)
        return true;  /* removed: what could not be written said so */
    return lstat(dir, &named) == 0 && now.st_dev == named.st_dev && now.st_ino == named.st_ino;
}

void experiment_hold(int fd, const char *path)
{
    held_fd = fd;
    fstat(fd, &held);
    held_path = strdup(path);
    joined = true;
}

void experiment_forget_inherited(void)
{
    release();
    joined = false;
}

char *experiment_finish(const char *dir, const measurement_config *cfg)
{
    if (joined) {
        release();
        joined = false;
        return strdup(dir);
    }
    if (experiment_fd() >= 0 && !still_there(dir)) {
        /* whatever is at its name now is not this run's: left alone */
        char link[64], where[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%d", held_fd);
        ssize_t n = readlink(link, where, sizeof where - 1);
        where[n > 0 ? n : 0] = '\0';
        log_warning("the experiment directory '%s' was moved or replaced while the program ran: its results are "
                    "in '%s'", dir, n > 0 ? where : "(unknown)");
        release();
        return strdup(n > 0 ? where : dir);
    }
    if (cfg->experiment_directory && cfg->experiment_directory[0]) {
        release();
        return strdup(dir);
    }
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%.*s/scorep-", parent_length(dir), dir);
    char *final = stamped_name(prefix, time(NULL));
    /* never over another directory (renameat2 RENAME_NOREPLACE) */
    if (!final || renameat2(AT_FDCWD, dir, AT_FDCWD, final, RENAME_NOREPLACE) != 0) {
        free(final);
        release();
        return strdup(dir);
    }
    release();
    return final;
}

char *experiment_adopt(const char *path, char *err, size_t errlen)
{
    char *dir = absolute(path);
    if (!dir) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int fd = -1;
    int locked = lock_directory(dir, &fd);
    if (locked == 0)
        snprintf(err, errlen, "'%s' is being written by a measurement that is still running", dir);
    else if (locked < 0)
        snprintf(err, errlen, "cannot open experiment directory '%s': %s", dir, strerror(errno));
    else if (!is_experiment(dir))
        snprintf(err, errlen, "'%s' is not an experiment directory (it has no scorep.cfg)", dir);
    if (locked != 1 || !is_experiment(dir)) {
        if (fd >= 0)
            close(fd);
        free(dir);
        return NULL;
    }
    held_fd = fd;
    fstat(fd, &held);
    held_path = strdup(dir);
    return dir;
}
