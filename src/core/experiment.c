#include "experiment.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define TMP_NAME "scorep-measurement-tmp"

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

char *experiment_create(const measurement_config *cfg, char *err, size_t errlen)
{
    bool named = cfg->experiment_directory && cfg->experiment_directory[0];
    char *dir = absolute(named ? cfg->experiment_directory : TMP_NAME);
    if (!dir) {
        snprintf(err, errlen, "out of memory for the experiment directory's name");
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "invalid value for SCOREP_EXPERIMENT_DIRECTORY: '%s' exists and is not a directory",
                     dir);
            free(dir);
            return NULL;
        }
        char *moved;
        if (!named) {
            /* left over from a run that crashed */
            char prefix[PATH_MAX];
            snprintf(prefix, sizeof prefix, "%.*s/scorep-failed-", parent_length(dir), dir);
            moved = stamped_name(prefix, time(NULL));
        } else if (!cfg->overwrite_experiment_directory) {
            snprintf(err, errlen,
                     "experiment directory '%s' exists and SCOREP_OVERWRITE_EXPERIMENT_DIRECTORY is false", dir);
            free(dir);
            return NULL;
        } else {
            char prefix[PATH_MAX];
            snprintf(prefix, sizeof prefix, "%s-", dir);
            moved = stamped_name(prefix, st.st_mtime);
        }
        if (!moved) {
            snprintf(err, errlen, "out of memory for the experiment directory's name");
            free(dir);
            return NULL;
        }
        if (rename(dir, moved) != 0) {
            snprintf(err, errlen, "cannot move existing experiment directory '%s' to '%s': %s", dir, moved,
                     strerror(errno));
            free(moved);
            free(dir);
            return NULL;
        }
        free(moved);
    }
    if (!make_dirs(dir)) {
        snprintf(err, errlen, "%scannot create experiment directory '%s': %s",
                 named ? "invalid value for SCOREP_EXPERIMENT_DIRECTORY: " : "", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
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

char *experiment_finish(const char *dir, const measurement_config *cfg)
{
    if (cfg->experiment_directory && cfg->experiment_directory[0])
        return strdup(dir);
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%.*s/scorep-", parent_length(dir), dir);
    char *final = stamped_name(prefix, time(NULL));
    if (!final || rename(dir, final) != 0) {
        free(final);
        return strdup(dir);
    }
    return final;
}
