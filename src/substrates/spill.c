#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Words of a stream's chunk in memory. */
#define SPILL_CHUNK_WORDS 1024

struct spill_extent {
    uint64_t offset;            /* bytes into the file */
    uint32_t words;
    uint64_t base_time;         /* running time before its first record */
    struct spill_extent *next;
};

struct spill_file {
    int fd;
    char path[4200];
    pthread_mutex_t lock;       /* the end of the file */
    uint64_t end;
};

spill_file *spill_open(int dir_fd, const char *dir, char *err, size_t errlen)
{
    spill_file *file = calloc(1, sizeof *file);
    if (!file) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(file->path, sizeof file->path, "%s/(the spill file)", dir);
    /* a file without a name: nothing to plant a link at, nothing left behind */
    file->fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    for (int attempt = 0; file->fd < 0 && attempt < 100; attempt++) {
        /* a file system without O_TMPFILE: a new name, removed at once */
        char name[64];
        snprintf(name, sizeof name, "traces.spill-%ld-%d", (long)getpid(), attempt);
        file->fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (file->fd >= 0)
            unlinkat(dir_fd, name, 0);
        else if (errno != EEXIST)
            break;
    }
    if (file->fd < 0) {
        snprintf(err, errlen, "cannot create '%s': %s", file->path, strerror(errno));
        free(file);
        return NULL;
    }
    pthread_mutex_init(&file->lock, NULL);
    return file;
}

void spill_close(spill_file *file)
{
    if (!file)
        return;
    close(file->fd);
    pthread_mutex_destroy(&file->lock);
    free(file);
}

static bool write_chunk(spill_file *file, spill_stream *s, char *err, size_t errlen)
{
    if (!s->used)
        return true;
    spill_extent *e = malloc(sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    size_t bytes = (size_t)s->used * sizeof(uint64_t);
    pthread_mutex_lock(&file->lock);
    e->offset = file->end;
    file->end += bytes;
    pthread_mutex_unlock(&file->lock);
    for (size_t done = 0; done < bytes;) {
        ssize_t n = pwrite(file->fd, (const char *)s->chunk + done, bytes - done, (off_t)(e->offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot write '%s': %s", file->path, strerror(n < 0 ? errno : ENOSPC));
            free(e);
            return false;
        }
        done += (size_t)n;
    }
    e->words = s->used;
    e->base_time = s->chunk_time;
    e->next = NULL;
    if (s->last)
        s->last->next = e;
    else
        s->first = e;
    s->last = e;
    s->used = 0;
    s->chunk_time = s->time;
    return true;
}

/* Room for `words` more words in the chunk in memory. */
static bool room(spill_file *file, spill_stream *s, unsigned words, char *err, size_t errlen)
{
    if (!s->chunk) {
        s->chunk = malloc(SPILL_CHUNK_WORDS * sizeof(uint64_t));
        if (!s->chunk) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        s->chunk_time = s->time;
    }
    return s->used + words <= SPILL_CHUNK_WORDS || write_chunk(file, s, err, errlen);
}

bool spill_put(spill_file *file, spill_stream *s, unsigned kind, uint32_t region, uint64_t time, char *err,
               size_t errlen)
{
    if (time < s->time)
        time = s->time;
    if (!event_fits(region, time - s->time)) {
        uint64_t payload = region;
        return spill_put_ext(file, s, kind == EVENT_ENTER ? EXT_ENTER : EXT_LEAVE, time, &payload, 1, err, errlen);
    }
    if (!room(file, s, 1, err, errlen))
        return false;
    s->chunk[s->used++] = event_pack(kind, region, time - s->time);
    s->time = time;
    return true;
}

bool spill_put_ext(spill_file *file, spill_stream *s, enum event_ext_type type, uint64_t time,
                   const uint64_t *payload, unsigned payload_words, char *err, size_t errlen)
{
    if (time < s->time)
        time = s->time;
    if (!room(file, s, 2 + payload_words, err, errlen))
        return false;
    s->chunk[s->used++] = event_ext_header(type, payload_words);
    s->chunk[s->used++] = time;
    for (unsigned i = 0; i < payload_words; i++)
        s->chunk[s->used++] = payload[i];
    s->time = time;
    return true;
}

static bool deliver_words(const uint64_t *words, unsigned count, uint64_t base_time, spill_deliver deliver,
                          void *context)
{
    const uint64_t *p = words, *end = words + count;
    uint64_t t = base_time;
    decoded_event e;
    while (p < end) {
        event_decode(&p, &t, &e);
        if (!deliver(context, t, &e))
            return false;
    }
    return true;
}

bool spill_replay(spill_file *file, spill_stream *s, spill_deliver deliver, void *context, char *err,
                  size_t errlen)
{
    uint64_t *buffer = NULL;
    bool ok = true;
    for (spill_extent *e = s->first; e && ok; e = e->next) {
        if (!buffer && !(buffer = malloc(SPILL_CHUNK_WORDS * sizeof(uint64_t)))) {
            snprintf(err, errlen, "out of memory");
            ok = false;
            break;
        }
        size_t bytes = (size_t)e->words * sizeof(uint64_t);
        for (size_t done = 0; done < bytes && ok;) {
            ssize_t n = pread(file->fd, (char *)buffer + done, bytes - done, (off_t)(e->offset + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                snprintf(err, errlen, "cannot read '%s': %s", file->path, n < 0 ? strerror(errno) : "it is shorter");
                ok = false;
            }
            done += n > 0 ? (size_t)n : 0;
        }
        ok = ok && deliver_words(buffer, e->words, e->base_time, deliver, context);
    }
    free(buffer);
    ok = ok && deliver_words(s->chunk, s->chunk ? s->used : 0, s->chunk_time, deliver, context);
    spill_stream_free(s);
    return ok;
}

void spill_stream_free(spill_stream *s)
{
    for (spill_extent *e = s->first; e;) {
        spill_extent *next = e->next;
        free(e);
        e = next;
    }
    free(s->chunk);
    uint64_t time = s->time;
    *s = (spill_stream){.time = time};
}
