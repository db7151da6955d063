/* Process-local definitions: strings, regions, parameters.  Ids are dense
 * indices in creation order, so writers can emit them as OTF2/CUBE ids and a
 * later unification across processes can map them.  All functions are
 * thread safe; none is on the per-event hot path (sources cache ids). */
#ifndef SCOREP_CORE_DEFS_H
#define SCOREP_CORE_DEFS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    REGION_ROLE_FUNCTION,     /* Python function, C function */
    REGION_ROLE_USER,         /* user region */
    REGION_ROLE_ARTIFICIAL,   /* measurement-made regions */
    /* MPI functions (Score-P's roles for them) */
    REGION_ROLE_POINT2POINT,
    REGION_ROLE_COLL_ONE2ALL,
    REGION_ROLE_COLL_ALL2ONE,
    REGION_ROLE_COLL_ALL2ALL,
    REGION_ROLE_COLL_OTHER,
    REGION_ROLE_BARRIER,
    /* POSIX I/O functions: reading and writing, the rest (open, seek, close, dup) */
    REGION_ROLE_FILE_IO,
    REGION_ROLE_FILE_IO_METADATA,
} region_role;

typedef enum {
    REGION_PARADIGM_USER,         /* Python functions and user regions (as Score-P's bindings) */
    REGION_PARADIGM_COMPILER,     /* C functions called from Python */
    REGION_PARADIGM_MEASUREMENT,  /* artificial regions */
    REGION_PARADIGM_MPI,          /* MPI functions (the MPI wrapper library) */
    REGION_PARADIGM_IO,           /* POSIX I/O functions (the I/O wrapper library) */
} region_paradigm;

typedef enum { PARAMETER_INT, PARAMETER_UINT, PARAMETER_STRING } parameter_type;

typedef struct {
    uint32_t name;        /* string id */
    uint32_t group;       /* string id of the group (module) name */
    uint32_t file;        /* string id, or the empty string */
    uint32_t first_line;
    uint32_t last_line;
    region_role role;
    region_paradigm paradigm;
} region_def;

typedef struct {
    uint32_t name;
    parameter_type type;
} parameter_def;

/* An MPI communicator, as the MPI wrapper library defines it. */
typedef struct {
    uint64_t key;         /* the same for this communicator in every process that is a member of it */
    uint32_t name;        /* string id ("MPI_COMM_WORLD", or empty) */
    uint32_t parent;      /* the communicator it was made from, or DEFS_NO_ID */
    uint32_t size;        /* its members */
    const uint32_t *members;  /* their ranks in MPI_COMM_WORLD, in the communicator's rank order; NULL: 0..size-1 */
} comm_def;

/* An I/O handle: one per file the program opened (each open its own), and
 * the standard streams, pre-created.  A POSIX file descriptor's, or (flag
 * IO_HANDLE_ISO_C) an ISO C stream's. */
#define IO_HANDLE_PRE_CREATED 1u
#define IO_HANDLE_ISO_C 2u
typedef struct {
    uint32_t name;        /* string: the path as the program opened it (stdin, stdout, stderr) */
    uint32_t file;        /* string: the file's name, which identifies it (the same path) */
    uint32_t flags;       /* IO_HANDLE_PRE_CREATED, IO_HANDLE_ISO_C */
    uint32_t mode;        /* a pre-created handle's access mode and status flags (events.h) */
    uint32_t status;
} io_handle_def;

/* The offset of this process's clock to the experiment's (rank 0's) at one
 * moment, as the MPI wrapper library measures it at MPI_Init and
 * MPI_Finalize: an event at local time t happened at t + offset on rank
 * 0's clock (interpolated between two such moments).  Processes that
 * share rank 0's clock have none. */
typedef struct {
    uint64_t time;        /* ticks of this process's clock */
    int64_t offset;       /* ticks */
    double deviation;     /* its uncertainty, ticks */
} clock_offset_def;

void defs_init(void);
/* In a forked child: the definitions stay valid (ids cached by sources
 * too); only the lock is made anew (a thread that held it is gone). */
void defs_after_fork(void);

/* Ids returned when a definition cannot be stored (out of memory): no
 * valid id is that large. */
#define DEFS_NO_ID UINT32_MAX

/* Bytes held by the definitions (accounted against SCOREP_TOTAL_MEMORY). */
uint64_t defs_bytes(void);

/* Strings longer than DEFS_STRING_MAX_BYTES (a region name, a parameter
 * value, a thread name) are cut at a character boundary and end with
 * DEFS_TRUNCATED_MARK, DEFS_STRING_MAX_BYTES bytes in all: OTF2 cannot
 * store a record larger than its 256 KiB chunks. */
#define DEFS_STRING_MAX_BYTES 32768
#define DEFS_TRUNCATED_MARK "...[truncated]"

uint32_t defs_string(const char *text);
const char *defs_string_text(uint32_t id);
uint32_t defs_string_count(void);

/* Regions are unique by (name, file, first line); user regions by name. */
uint32_t defs_region(const char *name, const char *group, const char *file, uint32_t first_line,
                     uint32_t last_line, region_role role, region_paradigm paradigm);
/* The same, of strings defined already (their ids): what a process's
 * definitions map to at unification. */
uint32_t defs_region_of_strings(uint32_t name, uint32_t group, uint32_t file, uint32_t first_line,
                                uint32_t last_line, region_role role, region_paradigm paradigm);
uint32_t defs_region_count(void);
region_def defs_region_get(uint32_t id);

uint32_t defs_parameter(const char *name, parameter_type type);
uint32_t defs_parameter_count(void);
parameter_def defs_parameter_get(uint32_t id);

/* Communicators are unique by key (members are copied). */
uint32_t defs_comm(uint64_t key, const char *name, uint32_t parent, uint32_t size, const uint32_t *members);
uint32_t defs_comm_count(void);
comm_def defs_comm_get(uint32_t id);

/* I/O handles: a new one at each call (not unified by name). */
uint32_t defs_io_handle(const char *name, const char *file, uint32_t flags, uint32_t mode, uint32_t status);
/* The occurrence-th handle (from 0) of this content, defined if there is
 * none such yet: how another process's handles are unified, so that the
 * handles a forked child inherited (and the standard streams every process
 * has) are one definition, while each open in a process stays its own. */
uint32_t defs_io_handle_of(const char *name, const char *file, uint32_t flags, uint32_t mode, uint32_t status,
                           uint32_t occurrence);
uint32_t defs_io_handle_count(void);
io_handle_def defs_io_handle_get(uint32_t id);

/* Clock offsets in the order they were measured (at most
 * DEFS_CLOCK_OFFSETS_MAX; more are ignored). */
#define DEFS_CLOCK_OFFSETS_MAX 16
void defs_clock_offset(uint64_t time, int64_t offset, double deviation);
uint32_t defs_clock_offset_count(void);
clock_offset_def defs_clock_offset_get(uint32_t i);

/* Regions the measurement itself records: defined on first use. */
typedef enum {
    ARTIFICIAL_MEASUREMENT_OFF,  /* recording was switched off */
    ARTIFICIAL_BUFFER_FLUSH,     /* the program waited for a buffer flush */
    ARTIFICIAL_COUNT
} artificial_region;

uint32_t defs_artificial(artificial_region which);

/* Every definition made so far, as arrays indexed by id: what substrates
 * get when they close.  A copy, so definitions made later do not move it;
 * the strings themselves stay valid for the life of the process. */
typedef struct {
    const char **strings;
    uint32_t string_count;
    region_def *regions;
    uint32_t region_count;
    parameter_def *parameters;
    uint32_t parameter_count;
    comm_def *comms;
    uint32_t comm_count;
    clock_offset_def *clock_offsets;
    uint32_t clock_offset_count;
    io_handle_def *io_handles;
    uint32_t io_handle_count;
} definitions;

/* False when out of memory. */
bool defs_snapshot(definitions *out);
void defs_snapshot_free(definitions *defs);

#endif
