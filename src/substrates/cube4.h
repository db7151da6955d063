/* CUBE4 profile files (.cubex): a tar archive of anchor.xml (metrics,
 * regions, call tree, system tree) and one .index/.data pair per metric,
 * in the layout Score-P writes and Cube and pycubexr read. */
#ifndef SCOREP_SUBSTRATES_CUBE4_H
#define SCOREP_SUBSTRATES_CUBE4_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/substrate.h"
#include "profile.h"

/* What goes into the file: the call-path trees of the locations that
 * recorded, and what the substrate was told about the experiment. */
typedef struct {
    const substrate_facts *facts;
    const substrate_summary *summary;
    profile_tree *const *trees;     /* in location order; the master first */
    uint32_t tree_count;
} cube4_profile;

/* Merge the trees and write <dir>/<base>.cubex (through a temporary file,
 * so it is never left half-written).  False with a one-line message naming
 * the file and the cause. */
bool cube4_write(const cube4_profile *profile, const char *dir, const char *base_name, char *err, size_t errlen);

#endif
