/* The MPI wrapper library, libscorep_mpi.so: python -m scorep --mpp=mpi
 * puts it in LD_PRELOAD, so that its MPI_ functions take the place of the
 * MPI library's for every caller in the process (mpi4py and any C
 * extension alike); each records its region through the measurement core
 * of the process (libscorep_measurement.so, the one the CPython extension
 * records into) and calls the library's PMPI_ function.
 *
 * The wrappers themselves are generated from the library's mpi.h
 * (generate.py); what a function records besides its region is in its
 * hooks below, before_<name>() and after_<name>(). */
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_call.h"
#include "mpi_clocks.h"
#include "wrappers_generated.h"

/* ---- communicators ---- */

/* Each communicator the program makes gets its id (scorep_comm_define) as
 * an MPI attribute of it, under this key. */
static int comm_keyval = MPI_KEYVAL_INVALID;
static int world_rank = -1, world_size;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= UINT64_C(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x *= UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}
/* the ids of MPI_COMM_WORLD and MPI_COMM_SELF, most calls' communicators,
 * without asking the library for its attribute (+ 1; 0: none yet) */
static _Atomic uint32_t world_id, self_id;

static uint32_t comm_id(MPI_Comm comm)
{
    void *value = NULL;
    int flag = 0;
    uint32_t known = comm == MPI_COMM_WORLD  ? atomic_load_explicit(&world_id, memory_order_relaxed)
                     : comm == MPI_COMM_SELF ? atomic_load_explicit(&self_id, memory_order_relaxed)
                                             : 0;
    if (known)
        return known - 1;
    if (comm == MPI_COMM_NULL || comm_keyval == MPI_KEYVAL_INVALID ||
        PMPI_Comm_get_attr(comm, comm_keyval, &value, &flag) != MPI_SUCCESS || !flag)
        return DEFS_NO_ID;
    return (uint32_t)((uintptr_t)value - 1);
}

/* The keys of the communicators by id (for the keys of those made from
 * them), and how many communicators were made so far from one parent
 * with one list of members. */
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *comm_keys;
static uint32_t comm_key_count;
typedef struct {
    uint64_t parent, members;
    uint32_t made;
} made_count;
static made_count *made;
static size_t made_used, made_capacity;

static uint64_t comm_key_of(uint32_t id)
{
    pthread_mutex_lock(&keys_lock);
    uint64_t key = id < comm_key_count ? comm_keys[id] : 0;
    pthread_mutex_unlock(&keys_lock);
    return key;
}

/* The n-th communicator made from parent with these members (n from 0). */
static uint32_t made_before(uint64_t parent, uint64_t members)
{
    pthread_mutex_lock(&keys_lock);
    uint32_t n = 0;
    size_t i = 0;
    while (i < made_used && !(made[i].parent == parent && made[i].members == members))
        i++;
    if (i < made_used) {
        n = made[i].made++;
    } else if (made_used < made_capacity ||
               (made = realloc(made, (made_capacity = made_capacity ? 2 * made_capacity : 16) * sizeof *made))) {
        made[made_used++] = (made_count){parent, members, 1};
    } else {
        made_capacity = made_used = 0;  /* out of memory: counting starts again (keys may then repeat) */
    }
    pthread_mutex_unlock(&keys_lock);
    return n;
}

static void comm_remember(MPI_Comm comm, uint64_t key, uint32_t id)
{
    if (id == DEFS_NO_ID)
        return;
    pthread_mutex_lock(&keys_lock);
    if (id >= comm_key_count) {
        uint64_t *grown = realloc(comm_keys, (size_t)(id + 1) * sizeof *grown);
        if (grown) {
            memset(grown + comm_key_count, 0, (size_t)(id + 1 - comm_key_count) * sizeof *grown);
            comm_keys = grown;
            comm_key_count = id + 1;
        }
    }
    if (id < comm_key_count)
        comm_keys[id] = key;
    pthread_mutex_unlock(&keys_lock);
    PMPI_Comm_set_attr(comm, comm_keyval, (void *)((uintptr_t)id + 1));
    if (comm == MPI_COMM_WORLD)
        atomic_store(&world_id, id + 1);
    else if (comm == MPI_COMM_SELF)
        atomic_store(&self_id, id + 1);
}

/* Keys: MPI_COMM_WORLD 1; a rank's MPI_COMM_SELF (rank + 1) << 32; a
 * communicator made by the program a hash of its parent's key, its
 * members (their world ranks in its rank order) and how many
 * communicators with these members were made from that parent before it.
 * Every member computes the same key by itself: the members of a new
 * communicator are all in the call that makes it, and the calls that make
 * communicators of the same members from the same parent come in the same
 * order on each of them (collective calls on a communicator are ordered).
 * No message is needed, so members outside the measurement (a part of an
 * MPMD job that is not measured) cannot make the others wait. */
static void initialised(void)
{
    int flag = 0;
    if (PMPI_Initialized(&flag) != MPI_SUCCESS || !flag || world_rank >= 0)
        return;
    PMPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    PMPI_Comm_size(MPI_COMM_WORLD, &world_size);
    if (PMPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, MPI_COMM_NULL_DELETE_FN, &comm_keyval, NULL) != MPI_SUCCESS) {
        comm_keyval = MPI_KEYVAL_INVALID;
        return;
    }
    comm_remember(MPI_COMM_WORLD, 1, scorep_comm_define(1, "MPI_COMM_WORLD", DEFS_NO_ID, (uint32_t)world_size, NULL));
    uint32_t self = (uint32_t)world_rank;
    uint64_t self_key = (uint64_t)(world_rank + 1) << 32;
    comm_remember(MPI_COMM_SELF, self_key, scorep_comm_define(self_key, "MPI_COMM_SELF", DEFS_NO_ID, 1, &self));
}

/* A communicator the program made (every member calls this with it). */
void mpi_comm_made(MPI_Comm parent, MPI_Comm comm)
{
    int inter = 0, size = 0;
    if (comm == MPI_COMM_NULL || comm_keyval == MPI_KEYVAL_INVALID || PMPI_Comm_test_inter(comm, &inter) != MPI_SUCCESS ||
        inter || PMPI_Comm_size(comm, &size) != MPI_SUCCESS)
        return;  /* (intercommunicators: their MPI calls are regions only) */
    int *in = malloc(2 * (size_t)size * sizeof *in);
    uint32_t *members = malloc((size_t)size * sizeof *members);
    MPI_Group group = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
    bool listed = in && members && PMPI_Comm_group(comm, &group) == MPI_SUCCESS &&
                  PMPI_Comm_group(MPI_COMM_WORLD, &world) == MPI_SUCCESS;
    if (listed) {
        for (int i = 0; i < size; i++)
            in[i] = i;
        listed = PMPI_Group_translate_ranks(group, size, in, world, in + size) == MPI_SUCCESS;
    }
    bool identity = size == world_size;
    for (int i = 0; listed && i < size; i++) {
        members[i] = (uint32_t)in[size + i];
        identity = identity && in[size + i] == i;
    }
    if (group != MPI_GROUP_NULL)
        PMPI_Group_free(&group);
    if (world != MPI_GROUP_NULL)
        PMPI_Group_free(&world);
    if (listed) {
        uint32_t parent_id = comm_id(parent);
        uint64_t parent_key = parent_id == DEFS_NO_ID ? 0 : comm_key_of(parent_id);
        uint64_t h = UINT64_C(1469598103934665603);
        for (int i = 0; i < size; i++)
            h = (h ^ members[i]) * UINT64_C(1099511628211);
        uint32_t n = made_before(parent_key, h);
        uint64_t key = mix64(mix64(parent_key ^ UINT64_C(0x9E3779B97F4A7C15)) ^ h) + n;
        key |= UINT64_C(1) << 63;  /* never a world's or a self's key */
        comm_remember(comm, key, scorep_comm_define(key, "", parent_id, (uint32_t)size, identity ? NULL : members));
    }
    free(in);
    free(members);
}

/* ---- helpers ---- */

static uint64_t type_bytes(MPI_Datatype type, int count)
{
    int size = 0;
    if (count <= 0 || type == MPI_DATATYPE_NULL || PMPI_Type_size(type, &size) != MPI_SUCCESS || size < 0)
        return 0;
    return (uint64_t)size * (uint64_t)count;
}

static void event(mpi_call *call, mpi_record r)
{
    scorep_mpi_event(call->loc, &r);
}

static void p2p(mpi_call *call, enum event_ext_type kind, int peer, MPI_Comm comm, int tag, uint64_t bytes,
                uint64_t request)
{
    uint32_t id = comm_id(comm);
    if (id == DEFS_NO_ID || peer == MPI_PROC_NULL || peer < 0)
        return;
    event(call, (mpi_record){.kind = kind, .comm = id, .peer = (uint32_t)peer, .tag = (uint32_t)tag, .bytes = bytes,
                             .request = request});
}

/* ---- requests: the non-blocking operations in flight ---- */

typedef struct {
    uint64_t handle;        /* the MPI_Request's bits; 0: a free slot */
    uint64_t id;
    bool receive;
    MPI_Comm comm;
} request_entry;

static pthread_mutex_t requests_lock = PTHREAD_MUTEX_INITIALIZER;
static request_entry *requests;
static size_t request_capacity, request_count;
static atomic_ullong request_ids;

static uint64_t handle_bits(MPI_Request request)
{
    uint64_t bits = 0;
    memcpy(&bits, &request, sizeof request < sizeof bits ? sizeof request : sizeof bits);
    return bits;
}

static size_t slot_of(uint64_t handle, size_t capacity)
{
    return (size_t)((handle * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (capacity - 1);
}

static bool requests_grow(void)
{
    size_t capacity = request_capacity ? 2 * request_capacity : 256;
    request_entry *grown = calloc(capacity, sizeof *grown);
    if (!grown)
        return false;
    for (size_t i = 0; i < request_capacity; i++)
        if (requests[i].handle) {
            size_t k = slot_of(requests[i].handle, capacity);
            while (grown[k].handle)
                k = (k + 1) & (capacity - 1);
            grown[k] = requests[i];
        }
    free(requests);
    requests = grown;
    request_capacity = capacity;
    return true;
}

/* A request the program started: its id for the events. */
static uint64_t request_started(MPI_Request request, bool receive, MPI_Comm comm)
{
    uint64_t handle = handle_bits(request), id = atomic_fetch_add(&request_ids, 1) + 1;
    if (!handle || request == MPI_REQUEST_NULL)
        return 0;
    pthread_mutex_lock(&requests_lock);
    if ((request_count + 1) * 2 > request_capacity && !requests_grow()) {
        pthread_mutex_unlock(&requests_lock);
        return 0;
    }
    size_t k = slot_of(handle, request_capacity);
    while (requests[k].handle && requests[k].handle != handle)
        k = (k + 1) & (request_capacity - 1);
    if (!requests[k].handle)
        request_count++;
    requests[k] = (request_entry){handle, id, receive, comm};
    pthread_mutex_unlock(&requests_lock);
    return id;
}

/* The request is complete (or freed): what it was, taken out. */
static bool request_done(uint64_t handle, request_entry *out)
{
    bool found = false;
    pthread_mutex_lock(&requests_lock);
    if (request_capacity && handle) {
        size_t k = slot_of(handle, request_capacity);
        while (requests[k].handle && requests[k].handle != handle)
            k = (k + 1) & (request_capacity - 1);
        if (requests[k].handle == handle) {
            *out = requests[k];
            found = true;
            /* backward-shift deletion keeps the probe chains whole */
            size_t hole = k;
            for (size_t next = (hole + 1) & (request_capacity - 1); requests[next].handle;
                 next = (next + 1) & (request_capacity - 1)) {
                size_t home = slot_of(requests[next].handle, request_capacity);
                if (((next - home) & (request_capacity - 1)) >= ((next - hole) & (request_capacity - 1))) {
                    requests[hole] = requests[next];
                    hole = next;
                }
            }
            requests[hole].handle = 0;
            request_count--;
        }
    }
    pthread_mutex_unlock(&requests_lock);
    return found;
}

static bool request_known(uint64_t handle, request_entry *out)
{
    bool found = false;
    pthread_mutex_lock(&requests_lock);
    if (request_capacity && handle) {
        size_t k = slot_of(handle, request_capacity);
        while (requests[k].handle && requests[k].handle != handle)
            k = (k + 1) & (request_capacity - 1);
        if (requests[k].handle == handle) {
            *out = requests[k];
            found = true;
        }
    }
    pthread_mutex_unlock(&requests_lock);
    return found;
}

/* A request that completed with status. */
static void completed(mpi_call *call, uint64_t handle, const MPI_Status *status)
{
    request_entry e;
    if (!request_done(handle, &e))
        return;
    int cancelled = 0;
    if (status && PMPI_Test_cancelled(status, &cancelled) == MPI_SUCCESS && cancelled) {
        event(call, (mpi_record){.kind = EXT_MPI_REQUEST_CANCELLED, .request = e.id});
        return;
    }
    if (!e.receive) {
        event(call, (mpi_record){.kind = EXT_MPI_ISEND_COMPLETE, .request = e.id});
        return;
    }
    int count = 0;
    if (!status || status->MPI_SOURCE == MPI_PROC_NULL || PMPI_Get_count(status, MPI_BYTE, &count) != MPI_SUCCESS ||
        count == MPI_UNDEFINED)
        count = 0;
    if (status && status->MPI_SOURCE != MPI_PROC_NULL)
        p2p(call, EXT_MPI_IRECV, status->MPI_SOURCE, e.comm, status->MPI_TAG, (uint64_t)count, e.id);
}

/* The handles of requests before the call completes them (it sets them
 * to MPI_REQUEST_NULL). */
static uint64_t *handles_of(int count, const MPI_Request *array, uint64_t *small, size_t small_n)
{
    if (count < 0)
        count = 0;
    uint64_t *out = (size_t)count <= small_n ? small : malloc((size_t)count * sizeof *out);
    for (int i = 0; out && i < count; i++)
        out[i] = handle_bits(array[i]);
    return out;
}

static MPI_Status *statuses_for(int count, MPI_Status *given, MPI_Status *small, size_t small_n)
{
    if (given != MPI_STATUSES_IGNORE)
        return given;
    if (count < 0)
        count = 0;
    return (size_t)count <= small_n ? small : malloc((size_t)(count ? count : 1) * sizeof *small);
}

/* ---- environment ---- */

void after_Init(mpi_call *call, int result, int *argc, char ***argv)
{
    (void)call, (void)argc, (void)argv;
    if (result != MPI_SUCCESS)
        return;
    initialised();
    mpi_clocks_init(world_rank, world_size);
}

void after_Init_thread(mpi_call *call, int result, int *argc, char ***argv, int required, int *provided)
{
    (void)call, (void)argc, (void)argv, (void)required;
    if (result != MPI_SUCCESS)
        return;
    initialised();
    mpi_clocks_init(world_rank, world_size);
    /* as Score-P says it, once (by rank 0): events of several threads in
     * MPI at once are recorded, each on its thread's location, but
     * nothing orders two threads' messages to the same peer and tag */
    if (provided && *provided > MPI_THREAD_FUNNELED && world_rank == 0) {
        scorep_log_warning("%s:%d: Warning: Support for MPI_THREAD_%s is currently experimental!", __FILE__,
                           __LINE__, *provided == MPI_THREAD_MULTIPLE ? "MULTIPLE" : "SERIALIZED");
    }
}

void before_Finalize(mpi_call *call)
{
    (void)call;
    mpi_clocks_finalize();
}

/* MPI_Abort ends every process of the job at once: this one's results are
 * written now (its region of MPI_Abort ends here); the others write
 * theirs when mpirun's SIGTERM reaches them. */
void before_Abort(mpi_call *call, MPI_Comm comm, int errorcode)
{
    (void)comm, (void)errorcode;
    scorep_leave(call->loc, call->region);
    call->recording = false;
    scorep_measurement_finish_now();
}

/* ---- point to point ---- */

#define BLOCKING_SEND(name)                                                                                  \
    void before_##name(mpi_call *call, const void *buf, int count, MPI_Datatype datatype, int dest, int tag, \
                       MPI_Comm comm)                                                                        \
    {                                                                                                        \
        (void)buf;                                                                                           \
        p2p(call, EXT_MPI_SEND, dest, comm, tag, type_bytes(datatype, count), 0);                            \
    }
BLOCKING_SEND(Send)
BLOCKING_SEND(Bsend)
BLOCKING_SEND(Ssend)
BLOCKING_SEND(Rsend)

#define NONBLOCKING_SEND(name)                                                                                   \
    void after_##name(mpi_call *call, int result, const void *buf, int count, MPI_Datatype datatype, int dest,   \
                      int tag, MPI_Comm comm, MPI_Request *request)                                              \
    {                                                                                                            \
        (void)buf;                                                                                               \
        if (result != MPI_SUCCESS || !request || dest == MPI_PROC_NULL || comm_id(comm) == DEFS_NO_ID)           \
            return;                                                                                              \
        uint64_t id = request_started(*request, false, comm);                                                    \
        if (id)                                                                                                  \
            p2p(call, EXT_MPI_ISEND, dest, comm, tag, type_bytes(datatype, count), id);                          \
    }
NONBLOCKING_SEND(Isend)
NONBLOCKING_SEND(Ibsend)
NONBLOCKING_SEND(Issend)
NONBLOCKING_SEND(Irsend)

void after_Irecv(mpi_call *call, int result, void *buf, int count, MPI_Datatype datatype, int source, int tag,
                 MPI_Comm comm, MPI_Request *request)
{
    (void)buf, (void)count, (void)datatype, (void)tag;
    if (result != MPI_SUCCESS || !request || source == MPI_PROC_NULL || comm_id(comm) == DEFS_NO_ID)
        return;
    uint64_t id = request_started(*request, true, comm);
    if (id)
        event(call, (mpi_record){.kind = EXT_MPI_IRECV_REQUEST, .request = id});
}

static void received(mpi_call *call, MPI_Comm comm, const MPI_Status *status)
{
    int count = 0;
    if (status->MPI_SOURCE == MPI_PROC_NULL)
        return;
    if (PMPI_Get_count(status, MPI_BYTE, &count) != MPI_SUCCESS || count == MPI_UNDEFINED)
        count = 0;
    p2p(call, EXT_MPI_RECV, status->MPI_SOURCE, comm, status->MPI_TAG, (uint64_t)count, 0);
}

SCOREP_MPI_API int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                            MPI_Status *status)
{
    mpi_call call = {.function = FN_Recv};
    mpi_enter(&call);
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    int result = PMPI_Recv(buf, count, datatype, source, tag, comm, use);
    if (call.recording && result == MPI_SUCCESS)
        received(&call, comm, use);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag,
                                void *recvbuf, int recvcount, MPI_Datatype recvtype, int source, int recvtag,
                                MPI_Comm comm, MPI_Status *status)
{
    mpi_call call = {.function = FN_Sendrecv};
    mpi_enter(&call);
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    if (call.recording)
        p2p(&call, EXT_MPI_SEND, dest, comm, sendtag, type_bytes(sendtype, sendcount), 0);
    int result = PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source,
                               recvtag, comm, use);
    if (call.recording && result == MPI_SUCCESS)
        received(&call, comm, use);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Sendrecv_replace(void *buf, int count, MPI_Datatype datatype, int dest, int sendtag,
                                        int source, int recvtag, MPI_Comm comm, MPI_Status *status)
{
    mpi_call call = {.function = FN_Sendrecv_replace};
    mpi_enter(&call);
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    if (call.recording)
        p2p(&call, EXT_MPI_SEND, dest, comm, sendtag, type_bytes(datatype, count), 0);
    int result = PMPI_Sendrecv_replace(buf, count, datatype, dest, sendtag, source, recvtag, comm, use);
    if (call.recording && result == MPI_SUCCESS)
        received(&call, comm, use);
    mpi_leave(&call);
    return result;
}

/* ---- completion ---- */

#define SMALL 16

SCOREP_MPI_API int MPI_Wait(MPI_Request *request, MPI_Status *status)
{
    mpi_call call = {.function = FN_Wait};
    mpi_enter(&call);
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    uint64_t handle = call.recording && request ? handle_bits(*request) : 0;
    int result = PMPI_Wait(request, use);
    if (call.recording && result == MPI_SUCCESS)
        completed(&call, handle, use);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status)
{
    mpi_call call = {.function = FN_Test};
    mpi_enter(&call);
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    uint64_t handle = call.recording && request ? handle_bits(*request) : 0;
    int result = PMPI_Test(request, flag, use);
    if (call.recording && result == MPI_SUCCESS && flag) {
        request_entry e;
        if (*flag)
            completed(&call, handle, use);
        else if (request_known(handle, &e))
            event(&call, (mpi_record){.kind = EXT_MPI_REQUEST_TEST, .request = e.id});
    }
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Waitall(int count, MPI_Request array_of_requests[], MPI_Status array_of_statuses[])
{
    mpi_call call = {.function = FN_Waitall};
    mpi_enter(&call);
    uint64_t small[SMALL], *handles = NULL;
    MPI_Status small_statuses[SMALL], *use = array_of_statuses;
    if (call.recording) {
        handles = handles_of(count, array_of_requests, small, SMALL);
        use = statuses_for(count, array_of_statuses, small_statuses, SMALL);
    }
    int result = PMPI_Waitall(count, array_of_requests, use ? use : array_of_statuses);
    if (call.recording && handles && use && result == MPI_SUCCESS)
        for (int i = 0; i < count; i++)
            completed(&call, handles[i], &use[i]);
    if (handles != small)
        free(handles);
    if (use != array_of_statuses && use != small_statuses)
        free(use);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Testall(int count, MPI_Request array_of_requests[], int *flag, MPI_Status array_of_statuses[])
{
    mpi_call call = {.function = FN_Testall};
    mpi_enter(&call);
    uint64_t small[SMALL], *handles = NULL;
    MPI_Status small_statuses[SMALL], *use = array_of_statuses;
    if (call.recording) {
        handles = handles_of(count, array_of_requests, small, SMALL);
        use = statuses_for(count, array_of_statuses, small_statuses, SMALL);
    }
    int result = PMPI_Testall(count, array_of_requests, flag, use ? use : array_of_statuses);
    if (call.recording && handles && use && result == MPI_SUCCESS && flag) {
        for (int i = 0; i < count; i++) {
            request_entry e;
            if (*flag)
                completed(&call, handles[i], &use[i]);
            else if (request_known(handles[i], &e))
                event(&call, (mpi_record){.kind = EXT_MPI_REQUEST_TEST, .request = e.id});
        }
    }
    if (handles != small)
        free(handles);
    if (use != array_of_statuses && use != small_statuses)
        free(use);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Waitany(int count, MPI_Request array_of_requests[], int *index, MPI_Status *status)
{
    mpi_call call = {.function = FN_Waitany};
    mpi_enter(&call);
    uint64_t small[SMALL], *handles = call.recording ? handles_of(count, array_of_requests, small, SMALL) : NULL;
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    int result = PMPI_Waitany(count, array_of_requests, index, use);
    if (call.recording && handles && result == MPI_SUCCESS && index && *index != MPI_UNDEFINED && *index >= 0 &&
        *index < count)
        completed(&call, handles[*index], use);
    if (handles != small)
        free(handles);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Testany(int count, MPI_Request array_of_requests[], int *index, int *flag, MPI_Status *status)
{
    mpi_call call = {.function = FN_Testany};
    mpi_enter(&call);
    uint64_t small[SMALL], *handles = call.recording ? handles_of(count, array_of_requests, small, SMALL) : NULL;
    MPI_Status own;
    MPI_Status *use = call.recording && status == MPI_STATUS_IGNORE ? &own : status;
    int result = PMPI_Testany(count, array_of_requests, index, flag, use);
    if (call.recording && handles && result == MPI_SUCCESS && flag && *flag && index && *index != MPI_UNDEFINED &&
        *index >= 0 && *index < count)
        completed(&call, handles[*index], use);
    if (handles != small)
        free(handles);
    mpi_leave(&call);
    return result;
}

static int some(mpi_call *call, int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
                MPI_Status array_of_statuses[], bool wait)
{
    uint64_t small[SMALL], *handles = NULL;
    MPI_Status small_statuses[SMALL], *use = array_of_statuses;
    if (call->recording) {
        handles = handles_of(incount, array_of_requests, small, SMALL);
        use = statuses_for(incount, array_of_statuses, small_statuses, SMALL);
    }
    MPI_Status *given = use ? use : array_of_statuses;
    int result = wait ? PMPI_Waitsome(incount, array_of_requests, outcount, array_of_indices, given)
                      : PMPI_Testsome(incount, array_of_requests, outcount, array_of_indices, given);
    if (call->recording && handles && use && result == MPI_SUCCESS && outcount && *outcount != MPI_UNDEFINED)
        for (int k = 0; k < *outcount; k++)
            if (array_of_indices[k] >= 0 && array_of_indices[k] < incount)
                completed(call, handles[array_of_indices[k]], &use[k]);
    if (handles != small)
        free(handles);
    if (use != array_of_statuses && use != small_statuses)
        free(use);
    return result;
}

SCOREP_MPI_API int MPI_Waitsome(int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
                                MPI_Status array_of_statuses[])
{
    mpi_call call = {.function = FN_Waitsome};
    mpi_enter(&call);
    int result = some(&call, incount, array_of_requests, outcount, array_of_indices, array_of_statuses, true);
    mpi_leave(&call);
    return result;
}

SCOREP_MPI_API int MPI_Testsome(int incount, MPI_Request array_of_requests[], int *outcount, int array_of_indices[],
                                MPI_Status array_of_statuses[])
{
    mpi_call call = {.function = FN_Testsome};
    mpi_enter(&call);
    int result = some(&call, incount, array_of_requests, outcount, array_of_indices, array_of_statuses, false);
    mpi_leave(&call);
    return result;
}

/* ---- collectives ---- */

/* The bytes of a collective, as this rank's arguments give them: sent is
 * what its send buffer holds for the operation (once per receiver for
 * one-to-all and all-to-all data), received what its receive buffer takes. */
void mpi_collective_begin(mpi_call *call)
{
    event(call, (mpi_record){.kind = EXT_MPI_COLLECTIVE_BEGIN});
}

static void collective_end(mpi_call *call, mpi_collective op, MPI_Comm comm, int root, uint64_t sent,
                           uint64_t received)
{
    uint32_t id = comm_id(comm);  /* DEFS_NO_ID (an intercommunicator): OTF2's undefined communicator */
    event(call, (mpi_record){.kind = EXT_MPI_COLLECTIVE_END, .op = op, .comm = id,
                             .root = root < 0 ? MPI_RECORD_NO_ROOT : (uint32_t)root, .sent = sent,
                             .received = received});
}

static int comm_rank(MPI_Comm comm)
{
    int rank = -1;
    PMPI_Comm_rank(comm, &rank);
    return rank;
}

static int comm_size(MPI_Comm comm)
{
    int size = 0;
    PMPI_Comm_size(comm, &size);
    return size;
}

static uint64_t sum_counts(const int *counts, int n, MPI_Datatype type)
{
    uint64_t total = 0;
    for (int i = 0; counts && i < n; i++)
        total += type_bytes(type, counts[i]);
    return total;
}

void after_Barrier(mpi_call *call, int result, MPI_Comm comm)
{
    (void)result;
    collective_end(call, MPI_COLL_BARRIER, comm, -1, 0, 0);
}

void after_Bcast(mpi_call *call, int result, void *buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm)
{
    (void)result, (void)buffer;
    uint64_t n = type_bytes(datatype, count);
    bool is_root = comm_rank(comm) == root;
    collective_end(call, MPI_COLL_BCAST, comm, root, is_root ? n * (uint64_t)comm_size(comm) : 0, n);
}

void after_Gather(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                  void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    (void)result, (void)recvbuf;
    bool is_root = comm_rank(comm) == root;
    uint64_t sent = sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcount) : type_bytes(sendtype, sendcount);
    collective_end(call, MPI_COLL_GATHER, comm, root, sent,
                   is_root ? type_bytes(recvtype, recvcount) * (uint64_t)comm_size(comm) : 0);
}

void after_Gatherv(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, const int recvcounts[], const int displs[], MPI_Datatype recvtype, int root,
                   MPI_Comm comm)
{
    (void)result, (void)recvbuf, (void)displs;
    int rank = comm_rank(comm);
    bool is_root = rank == root;
    uint64_t sent = sendbuf == MPI_IN_PLACE ? (recvcounts && rank >= 0 ? type_bytes(recvtype, recvcounts[rank]) : 0)
                                            : type_bytes(sendtype, sendcount);
    collective_end(call, MPI_COLL_GATHERV, comm, root, sent,
                   is_root ? sum_counts(recvcounts, comm_size(comm), recvtype) : 0);
}

void after_Scatter(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                   void *recvbuf, int recvcount, MPI_Datatype recvtype, int root, MPI_Comm comm)
{
    (void)result, (void)sendbuf;
    bool is_root = comm_rank(comm) == root;
    uint64_t received = recvbuf == MPI_IN_PLACE ? type_bytes(sendtype, sendcount) : type_bytes(recvtype, recvcount);
    collective_end(call, MPI_COLL_SCATTER, comm, root,
                   is_root ? type_bytes(sendtype, sendcount) * (uint64_t)comm_size(comm) : 0, received);
}

void after_Scatterv(mpi_call *call, int result, const void *sendbuf, const int sendcounts[], const int displs[],
                    MPI_Datatype sendtype, void *recvbuf, int recvcount, MPI_Datatype recvtype, int root,
                    MPI_Comm comm)
{
    (void)result, (void)sendbuf, (void)displs;
    int rank = comm_rank(comm);
    bool is_root = rank == root;
    uint64_t received = recvbuf == MPI_IN_PLACE
                            ? (sendcounts && rank >= 0 ? type_bytes(sendtype, sendcounts[rank]) : 0)
                            : type_bytes(recvtype, recvcount);
    collective_end(call, MPI_COLL_SCATTERV, comm, root, is_root ? sum_counts(sendcounts, comm_size(comm), sendtype) : 0,
                   received);
}

void after_Allgather(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                     void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    (void)result, (void)recvbuf;
    uint64_t size = (uint64_t)comm_size(comm);
    uint64_t one = sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcount) : type_bytes(sendtype, sendcount);
    collective_end(call, MPI_COLL_ALLGATHER, comm, -1, one * size, type_bytes(recvtype, recvcount) * size);
}

void after_Allgatherv(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                      void *recvbuf, const int recvcounts[], const int displs[], MPI_Datatype recvtype, MPI_Comm comm)
{
    (void)result, (void)recvbuf, (void)displs;
    int rank = comm_rank(comm), size = comm_size(comm);
    uint64_t one = sendbuf == MPI_IN_PLACE ? (recvcounts && rank >= 0 ? type_bytes(recvtype, recvcounts[rank]) : 0)
                                           : type_bytes(sendtype, sendcount);
    collective_end(call, MPI_COLL_ALLGATHERV, comm, -1, one * (uint64_t)size, sum_counts(recvcounts, size, recvtype));
}

void after_Alltoall(mpi_call *call, int result, const void *sendbuf, int sendcount, MPI_Datatype sendtype,
                    void *recvbuf, int recvcount, MPI_Datatype recvtype, MPI_Comm comm)
{
    (void)result, (void)recvbuf;
    uint64_t size = (uint64_t)comm_size(comm);
    uint64_t one = sendbuf == MPI_IN_PLACE ? type_bytes(recvtype, recvcount) : type_bytes(sendtype, sendcount);
    collective_end(call, MPI_COLL_ALLTOALL, comm, -1, one * size, type_bytes(recvtype, recvcount) * size);
}

void after_Alltoallv(mpi_call *call, int result, const void *sendbuf, const int sendcounts[], const int sdispls[],
                     MPI_Datatype sendtype, void *recvbuf, const int recvcounts[], const int rdispls[],
                     MPI_Datatype recvtype, MPI_Comm comm)
{
    (void)result, (void)recvbuf, (void)sdispls, (void)rdispls;
    int size = comm_size(comm);
    uint64_t received = sum_counts(recvcounts, size, recvtype);
    collective_end(call, MPI_COLL_ALLTOALLV, comm, -1,
                   sendbuf == MPI_IN_PLACE ? received : sum_counts(sendcounts, size, sendtype), received);
}

void after_Alltoallw(mpi_call *call, int result, const void *sendbuf, const int sendcounts[], const int sdispls[],
                     const MPI_Datatype sendtypes[], void *recvbuf, const int recvcounts[], const int rdispls[],
                     const MPI_Datatype recvtypes[], MPI_Comm comm)
{
    (void)result, (void)recvbuf, (void)sdispls, (void)rdispls;
    int size = comm_size(comm);
    uint64_t sent = 0, received = 0;
    for (int i = 0; i < size; i++) {
        if (recvcounts && recvtypes)
            received += type_bytes(recvtypes[i], recvcounts[i]);
        if (sendbuf != MPI_IN_PLACE && sendcounts && sendtypes)
            sent += type_bytes(sendtypes[i], sendcounts[i]);
    }
    collective_end(call, MPI_COLL_ALLTOALLW, comm, -1, sendbuf == MPI_IN_PLACE ? received : sent, received);
}

void after_Reduce(mpi_call *call, int result, const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                  MPI_Op op, int root, MPI_Comm comm)
{
    (void)result, (void)sendbuf, (void)recvbuf, (void)op;
    uint64_t n = type_bytes(datatype, count);
    collective_end(call, MPI_COLL_REDUCE, comm, root, n, comm_rank(comm) == root ? n : 0);
}

void after_Allreduce(mpi_call *call, int result, const void *sendbuf, void *recvbuf, int count, MPI_Datatype datatype,
                     MPI_Op op, MPI_Comm comm)
{
    (void)result, (void)sendbuf, (void)recvbuf, (void)op;
    uint64_t n = type_bytes(datatype, count);
    collective_end(call, MPI_COLL_ALLREDUCE, comm, -1, n, n);
}

void after_Reduce_scatter(mpi_call *call, int result, const void *sendbuf, void *recvbuf, const int recvcounts[],
                          MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    (void)result, (void)sendbuf, (void)recvbuf, (void)op;
    int rank = comm_rank(comm);
    collective_end(call, MPI_COLL_REDUCE_SCATTER, comm, -1, sum_counts(recvcounts, comm_size(comm), datatype),
                   recvcounts && rank >= 0 ? type_bytes(datatype, recvcounts[rank]) : 0);
}

void after_Reduce_scatter_block(mpi_call *call, int result, const void *sendbuf, void *recvbuf, int recvcount,
                                MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)
{
    (void)result, (void)sendbuf, (void)recvbuf, (void)op;
    uint64_t n = type_bytes(datatype, recvcount);
    collective_end(call, MPI_COLL_REDUCE_SCATTER_BLOCK, comm, -1, n * (uint64_t)comm_size(comm), n);
}

#define SCAN(name, op_kind)                                                                                       \
    void after_##name(mpi_call *call, int result, const void *sendbuf, void *recvbuf, int count,                  \
                      MPI_Datatype datatype, MPI_Op op, MPI_Comm comm)                                            \
    {                                                                                                             \
        (void)result, (void)sendbuf, (void)recvbuf, (void)op;                                                     \
        uint64_t n = type_bytes(datatype, count);                                                                 \
        collective_end(call, op_kind, comm, -1, n, n);                                                            \
    }
SCAN(Scan, MPI_COLL_SCAN)
SCAN(Exscan, MPI_COLL_EXSCAN)


