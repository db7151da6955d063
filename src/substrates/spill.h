/* Event streams kept on disk for a while: the trace writer's way to hold
 * the events of a live thread that has no OTF2 writer yet (OTF2 buffers up
 * to 4 MiB per open event file, so only a few writers may be open at once).
 * Records use the measurement's own compact encoding (events.h): one word
 * for most enters and leaves.  All streams share one temporary file, which
 * is unlinked at once and gone when it is closed.  Each stream keeps one
 * small chunk in memory; full chunks go to the file. */
#ifndef SCOREP_SUBSTRATES_SPILL_H
#define SCOREP_SUBSTRATES_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/events.h"

typedef struct spill_file spill_file;
typedef struct spill_extent spill_extent;

typedef struct {
    spill_extent *first, *last;  /* chunks in the file, in order */
    uint64_t *chunk;             /* the chunk being filled */
    unsigned used;               /* words in it */
    uint64_t chunk_time;         /* running time at the start of the chunk */
    uint64_t time;               /* time of the last record */
} spill_stream;

/* A temporary file without a name in the directory dir_fd (`dir` names it
 * in messages); NULL with the reason in err. */
spill_file *spill_open(int dir_fd, const char *dir, char *err, size_t errlen);
void spill_close(spill_file *file);

/* Append an enter or leave, or an extended record (events.h).  False with
 * the reason in err (a full disk, no memory). */
bool spill_put(spill_file *file, spill_stream *stream, unsigned kind, uint32_t region, uint64_t time, char *err,
               size_t errlen);
bool spill_put_ext(spill_file *file, spill_stream *stream, enum event_ext_type type, uint64_t time,
                   const uint64_t *payload, unsigned payload_words, char *err, size_t errlen);

/* Hand every record of the stream, in order, to `deliver` (time and the
 * decoded record), then forget them.  False with the reason in err if
 * reading fails or `deliver` returns false (err untouched then). */
typedef bool (*spill_deliver)(void *context, uint64_t time, const decoded_event *event);
bool spill_replay(spill_file *file, spill_stream *stream, spill_deliver deliver, void *context, char *err,
                  size_t errlen);

/* Release what the stream holds in memory. */
void spill_stream_free(spill_stream *stream);

#endif
