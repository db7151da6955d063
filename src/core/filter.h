/* Region filters in Score-P's filter file syntax:
 *
 *   SCOREP_FILE_NAMES_BEGIN                SCOREP_REGION_NAMES_BEGIN
 *     EXCLUDE *site-packages*                EXCLUDE __main__:helper* numpy*
 *     INCLUDE *mypkg*                        INCLUDE MANGLED __main__:helper_main
 *   SCOREP_FILE_NAMES_END                  SCOREP_REGION_NAMES_END
 *
 * Rules are evaluated in order, the last matching one wins, everything
 * starts included; the file block is checked first and a region in an
 * excluded file stays excluded.  Patterns are shell wildcards (fnmatch),
 * may continue over several lines, '#' starts a comment ('\#' is a '#').
 * Filtering is decided once per region, never per event. */
#ifndef SCOREP_CORE_FILTER_H
#define SCOREP_CORE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct filter filter;

/* Parse filter rules; `origin` names the file in error messages, which say
 * "<origin>:<line>: <problem> '<text>'".  NULL on error. */
filter *filter_parse(const char *text, const char *origin, char *err, size_t errlen);

/* The largest filter file read. */
#define FILTER_FILE_MAX_BYTES (16 << 20)

/* Read and parse a filter file: a regular file of at most
 * FILTER_FILE_MAX_BYTES in UTF-8 without NUL bytes. */
filter *filter_load(const char *path, char *err, size_t errlen);

/* Is a region with this name (mangled name: the same for Python) defined
 * in this file filtered out? */
bool filter_excludes(const filter *f, const char *region_name, const char *file_name);

/* Number of rules (both blocks), for reports. */
size_t filter_rule_count(const filter *f);

void filter_free(filter *f);

#endif
