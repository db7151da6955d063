/* The experiment directory, made and named as Score-P does. */
#ifndef SCOREP_CORE_EXPERIMENT_H
#define SCOREP_CORE_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Create the directory the measurement writes into (the named one, or
 * scorep-measurement-tmp; for the root of a parallel job, job_id not
 * NULL: scorep-measurement-tmp-job-<id>) following the overwrite rules.
 * Returns the absolute path (malloc'd) or NULL with a one-line message in
 * err. */
char *experiment_create(const measurement_config *cfg, const char *job_id, char *err, size_t errlen);

/* The path experiment_create makes for the job's root (malloc'd). */
char *experiment_job_path(const measurement_config *cfg, const char *job_id);

/* The experiment directory's descriptor (held for the run, -1 before):
 * files in it are made relative to it, without following links. */
int experiment_fd(void);

/* Write <dir>/scorep.cfg. */
bool experiment_write_config(const char *dir, const measurement_config *cfg, char *err, size_t errlen);

/* Copy a file into the experiment directory under its base name (as
 * scorep.filter if the measurement writes a file of that name itself). */
bool experiment_copy_file(const char *dir, const char *path, const measurement_config *cfg, char *err, size_t errlen);

/* The name experiment_copy_file gives the copy of path. */
const char *experiment_copy_name(const char *path, const measurement_config *cfg);

/* A refused run: remove what experiment_create and the two above made. */
void experiment_abandon(void);

/* Rename a scorep-measurement-tmp directory to scorep-YYYYMMDD_HHMM_<ticks>;
 * a named directory keeps its name.  Returns the final path (malloc'd). */
char *experiment_finish(const char *dir, const measurement_config *cfg);

/* Take over an existing experiment directory (a killed run's leftover,
 * to complete it): locked as if this run had made it, so that no other
 * measurement touches it meanwhile.  Returns the absolute path (malloc'd)
 * or NULL with a one-line message (a live run holds it, it is not an
 * experiment directory).  experiment_finish ends it. */
char *experiment_adopt(const char *path, char *err, size_t errlen);

/* A process of another's experiment: fd (locked, close-on-exec) and path
 * are its own directory there, where it writes everything
 * (processes.h); experiment_finish then only lets it go. */
void experiment_hold(int fd, const char *path);

/* A forked child: the directory is the parent's; let go of it (the lock
 * stays the parent's). */
void experiment_forget_inherited(void);

#endif
