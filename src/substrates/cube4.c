#include "cube4.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/defs.h"
#include "../core/metrics.h"
#include "profile.h"

/* ---- a growable byte buffer ---- */

typedef struct {
    char *data;
    size_t length, capacity;
    bool failed;    /* out of memory: the content is incomplete */
} bytes;

static void bytes_add(bytes *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->length + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->length + n)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, data, n);
    b->length += n;
}

static void bytes_printf(bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bytes_printf(bytes *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof small) {
        bytes_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bytes_add(b, big, (size_t)n);
    free(big);
}

#define bytes_literal(b, text) bytes_add((b), (text), sizeof(text) - 1)

static void bytes_text(bytes *b, const char *text) { bytes_add(b, text, strlen(text)); }

/* A number in decimal (the call tree has a line per call path: no
 * printf for each). */
static void bytes_uint(bytes *b, uint32_t value)
{
    char digits[10];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    bytes_add(b, digits + n, sizeof digits - n);
}

/* Text as XML character data or attribute value. */
static void bytes_xml(bytes *b, const char *text)
{
    for (const char *p = text; *p; p++) {
        /* a run of characters that stand for themselves, at once */
        size_t plain = strcspn(p, "&<>\"'\t\n\r\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12"
                                  "\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f");
        if (plain) {
            bytes_add(b, p, plain);
            p += plain;
            if (!*p)
                break;
        }
        switch (*p) {
        case '&': bytes_add(b, "&amp;", 5); break;
        case '<': bytes_add(b, "&lt;", 4); break;
        case '>': bytes_add(b, "&gt;", 4); break;
        case '"': bytes_add(b, "&quot;", 6); break;
        case '\'': bytes_add(b, "&apos;", 6); break;
        /* as character references, so that XML parsers keep them exactly
         * (a literal \r becomes \n, a literal tab in an attribute a space) */
        case '\t': bytes_add(b, "&#9;", 4); break;
        case '\n': bytes_add(b, "&#10;", 5); break;
        case '\r': bytes_add(b, "&#13;", 5); break;
        default:
            /* other control characters are not allowed in XML 1.0, not
             * even as references: written as the text \xNN */
            if ((unsigned char)*p < 0x20) {
                char escaped[5];
                snprintf(escaped, sizeof escaped, "\\x%02x", (unsigned char)*p);
                bytes_add(b, escaped, 4);
            } else {
                bytes_add(b, p, 1);
            }
        }
    }
}

/* ---- the merged call tree of all locations ---- */

typedef struct {
    uint32_t region, parent, first_child, last_child, next_sibling;
    uint32_t cube_id;
} merged_node;

typedef struct {
    merged_node *nodes;
    uint32_t count, capacity;
    ptrmap children;  /* (parent, region) -> child: a caller may have thousands of callees */
    bool failed;      /* out of memory */
} merged_tree;

static uint32_t merged_child(merged_tree *t, uint32_t parent, uint32_t region)
{
    const void *key = (const void *)(uintptr_t)((((uint64_t)parent << 32) | region) + 1);
    uint32_t child;
    if (parent != PROFILE_NO_NODE && ptrmap_get(&t->children, key, &child))
        return child;
    if (t->count == t->capacity) {
        uint32_t capacity = t->capacity ? 2 * t->capacity : 256;
        merged_node *grown = realloc(t->nodes, capacity * sizeof *grown);
        if (!grown) {
            t->failed = true;
            return 0;
        }
        t->nodes = grown;
        t->capacity = capacity;
    }
    uint32_t id = t->count++;
    t->nodes[id] = (merged_node){region, parent, PROFILE_NO_NODE, PROFILE_NO_NODE, PROFILE_NO_NODE, 0};
    if (parent != PROFILE_NO_NODE && !ptrmap_put(&t->children, key, id))
        t->failed = true;
    if (parent != PROFILE_NO_NODE) {
        /* children keep the order in which call paths first appeared */
        if (t->nodes[parent].last_child == PROFILE_NO_NODE)
            t->nodes[parent].first_child = id;
        else
            t->nodes[t->nodes[parent].last_child].next_sibling = id;
        t->nodes[parent].last_child = id;
    }
    return id;
}

/* Map every node of a location tree to a merged node (parents come before
 * their children in a location tree, so one pass in index order works). */
static uint32_t *merge_location(merged_tree *merged, const profile_tree *tree)
{
    uint32_t *map = malloc((tree->count ? tree->count : 1) * sizeof *map);
    if (!map) {
        merged->failed = true;
        return NULL;
    }
    for (uint32_t i = 0; i < tree->count && !merged->failed; i++) {
        const profile_node *n = &tree->nodes[i];
        uint32_t parent = n->parent == PROFILE_NO_NODE ? PROFILE_NO_NODE : map[n->parent];
        map[i] = parent == PROFILE_NO_NODE ? 0 : merged_child(merged, parent, n->region);
    }
    return map;
}

/* Cube ids in depth-first pre-order, the order Score-P writes them. */
static bool number_nodes(merged_tree *t)
{
    uint32_t next = 0, depth = 0;
    uint32_t *stack = malloc((t->count + 1) * sizeof *stack);
    if (!stack)
        return false;
    stack[depth++] = 0;
    while (depth) {
        uint32_t n = stack[--depth];
        t->nodes[n].cube_id = next++;
        /* push children in reverse so the first child is numbered first */
        uint32_t count = 0;
        for (uint32_t c = t->nodes[n].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling)
            count++;
        uint32_t i = depth + count;
        for (uint32_t c = t->nodes[n].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling)
            stack[--i] = c;
        depth += count;
    }
    free(stack);
    return true;
}

/* The order of values of INCLUSIVE metrics in their .data file (EXCLUSIVE
 * metrics use plain pre-order): the root, then depth first where visiting a
 * node lists all of its children at once before descending into the first. */
static bool children_first_order(const merged_tree *t, uint32_t *cube_ids)
{
    uint32_t *stack = malloc((t->count + 1) * sizeof *stack);
    if (!stack)
        return false;
    uint32_t depth = 0, next = 0;
    cube_ids[next++] = t->nodes[0].cube_id;
    stack[depth++] = 0;
    while (depth) {
        uint32_t n = stack[--depth];
        uint32_t count = 0;
        for (uint32_t c = t->nodes[n].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling) {
            cube_ids[next++] = t->nodes[c].cube_id;
            count++;
        }
        uint32_t i = depth + count;
        for (uint32_t c = t->nodes[n].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling)
            stack[--i] = c;
        depth += count;
    }
    free(stack);
    return true;
}

/* ---- anchor.xml ---- */

/* The experiment measured MPI (it has communicators): the profile has the
 * bytes metrics. */
static bool has_mpi(const cube4_profile *p) { return p->summary && p->summary->defs.comm_count > 0; }
static bool has_io(const cube4_profile *p) { return p->summary && p->summary->defs.io_handle_count > 0; }
/* the id of the first I/O metric */
static int io_metrics_at(const cube4_profile *p, unsigned nmetrics) { return 4 + (int)nmetrics + (has_mpi(p) ? 2 : 0); }

static const char *paradigm_name(region_paradigm p)
{
    switch (p) {
    case REGION_PARADIGM_USER: return "user";
    case REGION_PARADIGM_COMPILER: return "compiler";
    case REGION_PARADIGM_MEASUREMENT: return "measurement";
    case REGION_PARADIGM_MPI: return "mpi";
    case REGION_PARADIGM_IO: return "io";
    }
    return "unknown";
}

static const char *role_name(region_role r)
{
    switch (r) {
    case REGION_ROLE_FUNCTION: return "function";
    case REGION_ROLE_USER: return "user";
    case REGION_ROLE_ARTIFICIAL: return "artificial";
    case REGION_ROLE_POINT2POINT: return "point2point";
    case REGION_ROLE_COLL_ONE2ALL: return "one2all";
    case REGION_ROLE_COLL_ALL2ONE: return "all2one";
    case REGION_ROLE_COLL_ALL2ALL: return "all2all";
    case REGION_ROLE_COLL_OTHER: return "other collective";
    case REGION_ROLE_BARRIER: return "barrier";
    case REGION_ROLE_FILE_IO: return "file_io";
    case REGION_ROLE_FILE_IO_METADATA: return "file_io_metadata";
    }
    return "unknown";
}

static void write_metric(bytes *x, int id, const char *type, const char *disp, const char *uniq, const char *dtype,
                         const char *uom, const char *url, const char *descr)
{
    bytes_printf(x, "<metric id=\"%d\" type=\"%s\">\n<disp_name>%s</disp_name>\n<uniq_name>%s</uniq_name>\n"
                    "<dtype>%s</dtype>\n<uom>%s</uom>\n<url>%s</url>\n<descr>%s</descr>\n</metric>\n",
                 id, type, disp, uniq, dtype, uom, url, descr);
}

static void write_cnodes(bytes *x, const merged_tree *t, uint32_t n)
{
    bytes_literal(x, "<cnode id=\"");
    bytes_uint(x, t->nodes[n].cube_id);
    bytes_literal(x, "\" calleeId=\"");
    bytes_uint(x, t->nodes[n].region);
    bytes_literal(x, "\">\n");
    for (uint32_t c = t->nodes[n].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling)
        write_cnodes(x, t, c);
    bytes_add(x, "</cnode>\n", 9);
}

static const char *string_of(const cube4_profile *p, uint32_t id)
{
    return id < p->summary->defs.string_count ? p->summary->defs.strings[id] : "";
}

/* The name of the location a tree belongs to. */
static const char *location_name(const cube4_profile *p, const profile_tree *tree)
{
    /* the summary lists the locations in the order of their index */
    const substrate_summary *s = p->summary;
    uint32_t i = tree->location_index;
    if (i < s->location_count && s->locations[i].id == tree->location_id)
        return string_of(p, s->locations[i].name);
    for (i = 0; i < s->location_count; i++)
        if (s->locations[i].id == tree->location_id)
            return string_of(p, s->locations[i].name);
    return "";
}

static void write_anchor(bytes *x, const merged_tree *t, const cube4_profile *p)
{
    const substrate_facts *facts = p->facts;
    const definitions *defs = &p->summary->defs;
    bytes_printf(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<cube version=\"4.4\">\n");
    bytes_printf(x, "<attr key=\"CubePL Version\" value=\"1.1\"/>\n");
    bytes_printf(x, "<attr key=\"Cube anchor.xml syntax version\" value=\"4.4\"/>\n");
    bytes_printf(x, "<attr key=\"Creator\" value=\"scorep (Python measurement) " SCOREP_VERSION "\"/>\n");
    bytes_printf(x, "<attr key=\"CUBE_CT_AGGR\" value=\"SUM\"/>\n");
    bytes_printf(x, "<attr key=\"CLUSTERING\" value=\"OFF\"/>\n");
    bytes_printf(x, "<metrics>\n");
    write_metric(x, 0, "EXCLUSIVE", "Visits", "visits", "UINT64", "occ", "@mirror@scorep_metrics.html#visits",
                 "Number of visits");
    write_metric(x, 1, "INCLUSIVE", "Time", "time", "DOUBLE", "sec", "@mirror@scorep_metrics.html#time",
                 "Total CPU allocation time");
    write_metric(x, 2, "EXCLUSIVE", "Minimum Inclusive Time", "min_time", "MINDOUBLE", "sec",
                 "@mirror@scorep_metrics.html#time_min_incl", "Minimum inclusive CPU allocation time");
    write_metric(x, 3, "EXCLUSIVE", "Maximum Inclusive Time", "max_time", "MAXDOUBLE", "sec",
                 "@mirror@scorep_metrics.html#time_max_incl", "Maximum inclusive CPU allocation time");
    for (unsigned i = 0; i < facts->metric_count; i++) {
        const metric_def *m = &facts->metrics[i];
        char uniq[128], descr[256];
        snprintf(uniq, sizeof uniq, "%s%s", m->name, m->scope == METRIC_SCOPE_PROCESS ? "_per_process" : "");
        snprintf(descr, sizeof descr, "%s%s", m->description, m->scope == METRIC_SCOPE_PROCESS ? " (whole process)" : "");
        write_metric(x, 4 + (int)i, "INCLUSIVE", uniq, uniq, "UINT64", m->unit, "", descr);
    }
    if (has_mpi(p)) {
        /* as Score-P names them: the bytes of the MPI messages of each call path itself */
        write_metric(x, 4 + (int)facts->metric_count, "EXCLUSIVE", "bytes_sent", "bytes_sent", "UINT64", "bytes", "",
                     "Bytes sent");
        write_metric(x, 5 + (int)facts->metric_count, "EXCLUSIVE", "bytes_received", "bytes_received", "UINT64",
                     "bytes", "", "Bytes received");
    }
    if (has_io(p)) {
        /* the bytes the POSIX I/O calls of each call path itself read and wrote */
        int at = io_metrics_at(p, facts->metric_count);
        write_metric(x, at, "EXCLUSIVE", "io_bytes_read", "io_bytes_read", "UINT64", "bytes", "",
                     "Bytes read by I/O operations");
        write_metric(x, at + 1, "EXCLUSIVE", "io_bytes_written", "io_bytes_written", "UINT64", "bytes", "",
                     "Bytes written by I/O operations");
    }
    bytes_printf(x, "</metrics>\n<program>\n");
    for (uint32_t i = 0; i < defs->region_count; i++) {
        const region_def *r = &defs->regions[i];
        const char *name = string_of(p, r->name);
        /* a line per region (thousands): no printf */
        bytes_literal(x, "<region id=\"");
        bytes_uint(x, i);
        bytes_literal(x, "\" mod=\"");
        bytes_xml(x, string_of(p, r->file));
        if (r->first_line) {
            bytes_literal(x, "\" begin=\"");
            bytes_uint(x, r->first_line);
            bytes_literal(x, "\" end=\"");
            if (r->last_line)
                bytes_uint(x, r->last_line);
            else
                bytes_literal(x, "-1");
            bytes_literal(x, "\">\n<name>");
        } else {
            bytes_literal(x, "\" begin=\"-1\" end=\"-1\">\n<name>");
        }
        bytes_xml(x, name);
        bytes_literal(x, "</name>\n<mangled_name>");
        bytes_xml(x, name);
        bytes_literal(x, "</mangled_name>\n<paradigm>");
        bytes_text(x, paradigm_name(r->paradigm));
        bytes_literal(x, "</paradigm>\n<role>");
        bytes_text(x, role_name(r->role));
        bytes_literal(x, "</role>\n<url></url>\n<descr></descr>\n");
        if (i == facts->program_region)
            bytes_printf(x, "<attr key=\"Score-P::ProgramArguments::numberOfArguments\" value=\"%u\"/>\n",
                         facts->program_argc);
        bytes_literal(x, "</region>\n");
    }
    write_cnodes(x, t, 0);
    bytes_printf(x, "</program>\n<system>\n<systemtreenode Id=\"0\">\n<name>machine ");
    bytes_xml(x, facts->cfg->machine_name);
    bytes_printf(x, "</name>\n<class>machine</class>\n<attr key=\"platform\" value=\"Linux\"/>\n");
    bytes_printf(x, "<systemtreenode Id=\"1\">\n<name>node ");
    bytes_xml(x, p->summary->host_name);
    bytes_printf(x, "</name>\n<class>node</class>\n");
    /* one location group per process, its threads as locations: the
     * trees are in that order (process, then thread) */
    const substrate_summary *s = p->summary;
    uint32_t groups = 0, widest = 0;
    for (uint32_t i = 0; i < p->tree_count;) {
        uint32_t rank = location_rank(p->trees[i]->location_id);
        char name[64] = "Process";
        for (uint32_t k = 0; k < s->process_count; k++)
            if (s->processes[k].rank == rank)
                process_name(s, k, name, sizeof name);
        bytes_printf(x, "<locationgroup Id=\"%u\">\n<name>%s</name>\n<rank>%u</rank>\n<type>process</type>\n",
                     groups, name, rank);
        uint32_t threads = 0;
        for (; i < p->tree_count && location_rank(p->trees[i]->location_id) == rank; i++, threads++) {
            bytes_printf(x, "<location Id=\"%u\">\n<name>", i);
            bytes_xml(x, location_name(p, p->trees[i]));
            bytes_printf(x, "</name>\n<rank>%u</rank>\n<type>thread</type>\n</location>\n", p->trees[i]->location_index);
        }
        bytes_printf(x, "</locationgroup>\n");
        groups++;
        if (threads > widest)
            widest = threads;
    }
    bytes_printf(x, "</systemtreenode>\n</systemtreenode>\n<topologies>\n"
                    "<cart name=\"Process x Thread\" ndims=\"2\">\n"
                    "<dim name=\"Process\" size=\"%u\" periodic=\"false\"/>\n"
                    "<dim name=\"Thread\" size=\"%u\" periodic=\"false\"/>\n", groups, widest);
    for (uint32_t i = 0, group = 0, thread = 0; i < p->tree_count; i++) {
        if (i > 0 && location_rank(p->trees[i]->location_id) != location_rank(p->trees[i - 1]->location_id)) {
            group++;
            thread = 0;
        }
        bytes_printf(x, "<coord locId=\"%u\">%u %u</coord>\n", i, group, thread++);
    }
    bytes_printf(x, "</cart>\n</topologies>\n</system>\n</cube>\n");
}

/* ---- index and data files ---- */

static void write_index(bytes *b, uint32_t ncnodes)
{
    bytes_add(b, "CUBEX.INDEX", 11);
    uint32_t endian = 1;
    uint16_t version = 0;
    uint8_t type = 1; /* sparse: the list of cnode ids follows */
    bytes_add(b, &endian, 4);
    bytes_add(b, &version, 2);
    bytes_add(b, &type, 1);
    bytes_add(b, &ncnodes, 4);
    for (uint32_t i = 0; i < ncnodes; i++)
        bytes_add(b, &i, 4);
}

/* ---- the file: a tar archive written as it is made ---- */

typedef struct {
    FILE *file;
    time_t mtime;
    int error;      /* errno of the first failed write, else 0 */
} tar_writer;

static void tar_write(tar_writer *w, const void *data, size_t n)
{
    if (!w->error && n && fwrite(data, 1, n, w->file) != n)
        w->error = errno ? errno : EIO;
}

static void tar_header(tar_writer *w, const char *name, uint64_t size)
{
    char header[512];
    memset(header, 0, sizeof header);
    snprintf(header, 100, "%s", name);
    snprintf(header + 100, 8, "%07o", 0644);
    snprintf(header + 108, 8, "%07o", 0);
    snprintf(header + 116, 8, "%07o", 0);
    snprintf(header + 124, 12, "%011llo", (unsigned long long)size);
    snprintf(header + 136, 12, "%011llo", (unsigned long long)w->mtime);
    header[156] = '0';
    memcpy(header + 257, "ustar", 6);
    memcpy(header + 263, "00", 2);
    memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)header[i];
    snprintf(header + 148, 8, "%06o", sum);
    tar_write(w, header, 512);
}

static void tar_pad(tar_writer *w, uint64_t size)
{
    static const char zeros[512];
    tar_write(w, zeros, (512 - size % 512) % 512);
}

static void tar_member(tar_writer *w, const char *name, const bytes *content)
{
    tar_header(w, name, content->length);
    tar_write(w, content->data, content->length);
    tar_pad(w, content->length);
}

/* ---- the metric values ---- */

typedef enum {
    VALUE_VISITS,
    VALUE_TIME,
    VALUE_MIN_TIME,
    VALUE_MAX_TIME,
    VALUE_METRIC,
    VALUE_BYTES_SENT,
    VALUE_BYTES_RECEIVED,
    VALUE_IO_BYTES_READ,
    VALUE_IO_BYTES_WRITTEN
} value_kind;

/* Where each node of each location tree lands: its row in the data of a
 * metric (the rows of EXCLUSIVE metrics are cnodes in pre-order, those of
 * INCLUSIVE metrics in children-first order). */
typedef struct {
    const cube4_profile *p;
    uint32_t **maps;              /* location, node -> merged node */
    const merged_tree *merged;
    const uint32_t *inclusive_row;  /* cube id -> row of INCLUSIVE metrics */
    uint32_t rows, nlocs;
    double seconds_per_tick;
} value_layout;

/* Rows written at once: the values of every location for each of them. */
#define BLOCK_BYTES (1u << 20)

/* One metric's <id>.data: 8-byte values per (row, location), made block
 * by block, so that memory stays small whatever the number of locations. */
static bool tar_metric_data(tar_writer *w, const value_layout *v, unsigned id, value_kind kind, unsigned metric,
                            bool inclusive)
{
    char name[32];
    snprintf(name, sizeof name, "%u.data", id);
    uint64_t size = 10 + (uint64_t)v->rows * v->nlocs * 8;
    tar_header(w, name, size);
    tar_write(w, "CUBEX.DATA", 10);
    uint32_t nlocs = v->nlocs ? v->nlocs : 1;
    uint32_t block_rows = BLOCK_BYTES / 8 / nlocs ? BLOCK_BYTES / 8 / nlocs : 1;
    size_t cells = (size_t)block_rows * nlocs;
    void *block = malloc(cells * 8);
    if (!block)
        return false;
    for (uint32_t first = 0; first < v->rows && !w->error; first += block_rows) {
        uint32_t end = first + block_rows < v->rows ? first + block_rows : v->rows;
        memset(block, 0, (size_t)(end - first) * nlocs * 8);
        for (uint32_t l = 0; l < v->nlocs; l++) {
            const profile_tree *tree = v->p->trees[l];
            for (uint32_t i = 0; i < tree->count; i++) {
                uint32_t cube_id = v->merged->nodes[v->maps[l][i]].cube_id;
                uint32_t row = inclusive ? v->inclusive_row[cube_id] : cube_id;
                if (row < first || row >= end)
                    continue;
                size_t cell = (size_t)(row - first) * v->nlocs + l;
                const profile_node *node = &tree->nodes[i];
                uint64_t *u = (uint64_t *)block + cell;
                double *d = (double *)block + cell;
                switch (kind) {
                case VALUE_VISITS: *u += node->visits; break;
                case VALUE_TIME: *d += (double)node->inclusive * v->seconds_per_tick; break;
                case VALUE_MIN_TIME: *d = (double)node->minimum * v->seconds_per_tick; break;
                case VALUE_MAX_TIME: *d = (double)node->maximum * v->seconds_per_tick; break;
                case VALUE_METRIC:
                    if (metric < tree->metric_count)
                        *u += tree->metric_sums[(size_t)i * tree->metric_count + metric];
                    break;
                case VALUE_BYTES_SENT: *u += node->bytes_sent; break;
                case VALUE_BYTES_RECEIVED: *u += node->bytes_received; break;
                case VALUE_IO_BYTES_READ: *u += node->io_bytes_read; break;
                case VALUE_IO_BYTES_WRITTEN: *u += node->io_bytes_written; break;
                }
            }
        }
        tar_write(w, block, (size_t)(end - first) * v->nlocs * 8);
    }
    free(block);
    tar_pad(w, size);
    return true;
}

static bool tar_metric(tar_writer *w, const value_layout *v, const bytes *index, unsigned id, value_kind kind,
                       unsigned metric, bool inclusive)
{
    char name[32];
    snprintf(name, sizeof name, "%u.index", id);
    tar_member(w, name, index);
    return tar_metric_data(w, v, id, kind, metric, inclusive);
}

/* A new temporary file next to <name>: made here, never through a link
 * (another file at the first name gets the next one). */
static FILE *create_temporary(int dir_fd, const char *name, char *tmp, size_t tmplen)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        if (attempt == 0)
            snprintf(tmp, tmplen, "%s.tmp", name);
        else
            snprintf(tmp, tmplen, "%s.tmp-%d", name, attempt);
        int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0)
            return fdopen(fd, "wb");
        if (errno != EEXIST)
            return NULL;
    }
    return NULL;
}

/* The whole file, into a temporary one that becomes <dir>/<name> when
 * complete: a profile is never left half-written, never written through a
 * link, and never replaces a file of that name it did not make. */
static bool write_cubex(int dir_fd, const char *dir, const char *name, const bytes *anchor, const bytes *index,
                        const value_layout *v, unsigned nmetrics, char *err, size_t errlen)
{
    char tmp[NAME_MAX + 1];
    tar_writer w = {.file = create_temporary(dir_fd, name, tmp, sizeof tmp), .mtime = time(NULL)};
    if (!w.file) {
        snprintf(err, errlen, "cannot write '%s/%s': %s", dir, name, strerror(errno ? errno : EEXIST));
        return false;
    }
    tar_member(&w, "anchor.xml", anchor);
    bool memory = tar_metric(&w, v, index, 0, VALUE_VISITS, 0, false) &&
                  tar_metric(&w, v, index, 1, VALUE_TIME, 0, true) &&
                  tar_metric(&w, v, index, 2, VALUE_MIN_TIME, 0, false) &&
                  tar_metric(&w, v, index, 3, VALUE_MAX_TIME, 0, false);
    for (unsigned m = 0; memory && m < nmetrics; m++)
        memory = tar_metric(&w, v, index, 4 + m, VALUE_METRIC, m, true);
    if (memory && has_mpi(v->p))
        memory = tar_metric(&w, v, index, 4 + nmetrics, VALUE_BYTES_SENT, 0, false) &&
                 tar_metric(&w, v, index, 5 + nmetrics, VALUE_BYTES_RECEIVED, 0, false);
    if (memory && has_io(v->p))
        memory = tar_metric(&w, v, index, (unsigned)io_metrics_at(v->p, nmetrics), VALUE_IO_BYTES_READ, 0, false) &&
                 tar_metric(&w, v, index, (unsigned)io_metrics_at(v->p, nmetrics) + 1, VALUE_IO_BYTES_WRITTEN, 0,
                            false);
    static const char end[1024];
    tar_write(&w, end, sizeof end);
    if (fflush(w.file) != 0 && !w.error)
        w.error = errno ? errno : EIO;
    if (fclose(w.file) != 0 && !w.error)
        w.error = errno ? errno : EIO;
    if (!memory || w.error) {
        snprintf(err, errlen, "cannot write '%s/%s': %s", dir, name, memory ? strerror(w.error) : "out of memory");
        unlinkat(dir_fd, tmp, 0);
        return false;
    }
    if (renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) != 0) {
        /* the complete profile stays under its temporary name */
        snprintf(err, errlen, "cannot name the profile '%s/%s' (%s): it is left in '%s/%s'", dir, name,
                 errno == EEXIST ? "a file of that name exists that this measurement did not make" : strerror(errno),
                 dir, tmp);
        return false;
    }
    return true;
}

bool cube4_write(const cube4_profile *p, const char *dir, const char *base_name, char *err, size_t errlen)
{
    char name[NAME_MAX + 1];
    snprintf(name, sizeof name, "%s.cubex", base_name);
    uint32_t nlocs = p->tree_count;
    uint32_t **maps = calloc(nlocs ? nlocs : 1, sizeof *maps);
    merged_tree merged = {.failed = maps == NULL};
    merged_child(&merged, PROFILE_NO_NODE, p->facts->program_region);
    for (uint32_t l = 0; l < nlocs && !merged.failed; l++)
        maps[l] = merge_location(&merged, p->trees[l]);
    uint32_t n = merged.count;
    uint32_t *inclusive_order = malloc((n ? n : 1) * sizeof *inclusive_order);
    uint32_t *inclusive_row = malloc((n ? n : 1) * sizeof *inclusive_row);
    bytes anchor = {0}, index = {0};
    bool ok = !merged.failed && inclusive_order && inclusive_row && number_nodes(&merged) &&
              children_first_order(&merged, inclusive_order);
    if (ok) {
        for (uint32_t k = 0; k < n; k++)
            inclusive_row[inclusive_order[k]] = k;
        write_anchor(&anchor, &merged, p);
        write_index(&index, n);
        ok = !anchor.failed && !index.failed;
    }
    if (ok) {
        value_layout layout = {
            .p = p,
            .maps = maps,
            .merged = &merged,
            .inclusive_row = inclusive_row,
            .rows = n,
            .nlocs = nlocs,
            .seconds_per_tick = 1.0 / (double)p->summary->clock_resolution,
        };
        ok = write_cubex(p->facts->experiment_fd, dir, name, &anchor, &index, &layout, p->facts->metric_count, err,
                         errlen);
    } else {
        snprintf(err, errlen, "cannot write '%s/%s': out of memory", dir, name);
    }
    free(anchor.data);
    free(index.data);
    free(inclusive_order);
    free(inclusive_row);
    for (uint32_t l = 0; maps && l < nlocs; l++)
        free(maps[l]);
    free(maps);
    free(merged.nodes);
    ptrmap_free(&merged.children);
    return ok;
}
