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
#include "log.h"

#define TMP_NAME "scorep-measurement-tmp"

/* The directory this run writes, locked (flock on the directory itself)
 * for the whole run: another measurement never renames, removes or writes
 * into a directory a live run holds.  The descriptor is close-on-exec; a
 * forked child shares the lock (its open file description). */
static int held_fd = -1;

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

/* Whether dir looks like an experiment directory (it has scorep.cfg, or
 * nothing at all) rather than some other directory of the user's. */
static bool is_experiment(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/scorep.cfg", dir);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        return true;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
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
    if (path[0] == '/')
        return strdup(path);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return strdup(path);
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%s/%s", cwd, path);
    /* drop trailing slashes so renaming to <name>-<stamp> works */
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
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
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            free(copy);
            return false;
        }
        *p = '/';
    }
    bool ok = mkdir(copy, 0777) == 0;
    free(copy);
    return ok;
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
        char *unique = malloc(strlen(dir) + 32);
        if (!unique) {
            errno = ENOMEM;
            break;
        }
        sprintf(unique, "%s-%ld", dir, (long)getpid());
        free(dir);
        dir = unique;
    }
    snprintf(err, errlen, "%scannot create experiment directory '%s': %s",
             named ? "invalid value for SCOREP_EXPERIMENT_DIRECTORY: " : "", dir, strerror(errno));
    free(dir);
    return NULL;
}

char *experiment_create(const measurement_config *cfg, char *err, size_t errlen)
{
    bool named = cfg->experiment_directory && cfg->experiment_directory[0];
    char *dir = absolute(named ? cfg->experiment_directory : TMP_NAME);
    if (!dir) {
        snprintf(err, errlen, "out of memory for the experiment directory's name");
        return NULL;
    }
    struct stat st;
    if (lstat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "invalid value for SCOREP_EXPERIMENT_DIRECTORY: '%s' exists and is not a directory",
                     dir);
            free(dir);
            return NULL;
        }
        int fd = -1;
        int locked = lock_directory(dir, &fd);
        if (locked == 0 && !named) {
            /* a live run writes the default directory: this one takes its own */
            char *unique = malloc(strlen(dir) + 32);
            if (!unique) {
                snprintf(err, errlen, "out of memory for the experiment directory's name");
                free(dir);
                return NULL;
            }
            sprintf(unique, "%s-%ld", dir, (long)getpid());
            free(dir);
            return create_locked(unique, false, err, errlen);
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
        /* renamed while locked: no other run can be writing it meanwhile */
        if (rename(dir, moved) != 0) {
            snprintf(err, errlen, "cannot move existing experiment directory '%s' to '%s': %s", dir, moved,
                     strerror(errno));
            close(fd);
            free(moved);
            free(dir);
            return NULL;
        }
        if (!named)
            log_warning("an experiment directory left by a run that did not finish was moved to '%s'", moved);
        close(fd);
        free(moved);
    }
    return create_locked(dir, named, err, errlen);
}

bool experiment_write_config(const char *dir, const measurement_config *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/scorep.cfg", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        return false;
    }
    errno = 0;
    config_write(cfg, f);
    int error = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fclose(f) != 0 && !error)
        error = errno ? errno : EIO;
    if (error) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(error));
        return false;
    }
    return true;
}

bool experiment_copy_file(const char *dir, const char *path, char *err, size_t errlen)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        return false;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/%s", dir, base);
    FILE *out = fopen(target, "wb");
    if (!out) {
        snprintf(err, errlen, "cannot write '%s': %s", target, strerror(errno));
        fclose(in);
        return false;
    }
    char buf[8192];
    size_t n;
    int error = 0;  /* the first one */
    while (!error && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            error = errno ? errno : EIO;
    if (!error && ferror(in))
        error = errno ? errno : EIO;
    fclose(in);
    if (fclose(out) != 0 && !error)
        error = errno ? errno : EIO;
    if (error) {
        snprintf(err, errlen, "cannot copy '%s' to '%s': %s", path, target, strerror(error));
        return false;
    }
    return true;
}

static void release(void)
{
    if (held_fd >= 0)
        close(held_fd);
    held_fd = -1;
}

char *experiment_finish(const char *dir, const measurement_config *cfg)
{
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
