#include "cube4.h"

#include <errno.h>
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
} bytes;

static void bytes_add(bytes *b, const void *data, size_t n)
{
    if (b->length + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->length + n)
            capacity *= 2;
        b->data = realloc(b->data, capacity);
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
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bytes_add(b, big, (size_t)n);
    free(big);
}

/* Text as XML character data or attribute value. */
static void bytes_xml(bytes *b, const char *text)
{
    for (const char *p = text; *p; p++) {
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
            /* other control characters are not allowed in XML 1.0 */
            if ((unsigned char)*p < 0x20)
                bytes_add(b, "?", 1);
            else
                bytes_add(b, p, 1);
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
} merged_tree;

static uint32_t merged_child(merged_tree *t, uint32_t parent, uint32_t region)
{
    if (parent != PROFILE_NO_NODE)
        for (uint32_t c = t->nodes[parent].first_child; c != PROFILE_NO_NODE; c = t->nodes[c].next_sibling)
            if (t->nodes[c].region == region)
                return c;
    if (t->count == t->capacity) {
        t->capacity = t->capacity ? 2 * t->capacity : 256;
        t->nodes = realloc(t->nodes, t->capacity * sizeof *t->nodes);
    }
    uint32_t id = t->count++;
    t->nodes[id] = (merged_node){region, parent, PROFILE_NO_NODE, PROFILE_NO_NODE, PROFILE_NO_NODE, 0};
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
    for (uint32_t i = 0; i < tree->count; i++) {
        const profile_node *n = &tree->nodes[i];
        uint32_t parent = n->parent == PROFILE_NO_NODE ? PROFILE_NO_NODE : map[n->parent];
        map[i] = parent == PROFILE_NO_NODE ? 0 : merged_child(merged, parent, n->region);
    }
    return map;
}

/* Cube ids in depth-first pre-order, the order Score-P writes them. */
static void number_nodes(merged_tree *t)
{
    uint32_t next = 0, depth = 0;
    uint32_t *stack = malloc((t->count + 1) * sizeof *stack);
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
}

/* The order of values of INCLUSIVE metrics in their .data file (EXCLUSIVE
 * metrics use plain pre-order): the root, then depth first where visiting a
 * node lists all of its children at once before descending into the first. */
static void children_first_order(const merged_tree *t, uint32_t *cube_ids)
{
    uint32_t *stack = malloc((t->count + 1) * sizeof *stack);
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
}

/* ---- anchor.xml ---- */

static const char *paradigm_name(region_paradigm p)
{
    switch (p) {
    case REGION_PARADIGM_USER: return "user";
    case REGION_PARADIGM_COMPILER: return "compiler";
    case REGION_PARADIGM_MEASUREMENT: return "measurement";
    }
    return "unknown";
}

static const char *role_name(region_role r)
{
    switch (r) {
    case REGION_ROLE_FUNCTION: return "function";
    case REGION_ROLE_USER: return "user";
    case REGION_ROLE_ARTIFICIAL: return "artificial";
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
    bytes_printf(x, "<cnode id=\"%u\" calleeId=\"%u\">\n", t->nodes[n].cube_id, t->nodes[n].region);
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
    const substrate_summary *s = p->summary;
    for (uint32_t i = 0; i < s->location_count; i++)
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
    bytes_printf(x, "<attr key=\"Creator\" value=\"scorep (Python measurement) 0.1.0\"/>\n");
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
    bytes_printf(x, "</metrics>\n<program>\n");
    for (uint32_t i = 0; i < defs->region_count; i++) {
        const region_def *r = &defs->regions[i];
        const char *name = string_of(p, r->name);
        bytes_printf(x, "<region id=\"%u\" mod=\"", i);
        bytes_xml(x, string_of(p, r->file));
        if (r->first_line)
            bytes_printf(x, "\" begin=\"%u\" end=\"%d\">\n<name>", r->first_line, r->last_line ? (int)r->last_line : -1);
        else
            bytes_printf(x, "\" begin=\"-1\" end=\"-1\">\n<name>");
        bytes_xml(x, name);
        bytes_printf(x, "</name>\n<mangled_name>");
        bytes_xml(x, name);
        bytes_printf(x, "</mangled_name>\n<paradigm>%s</paradigm>\n<role>%s</role>\n<url></url>\n<descr></descr>\n",
                     paradigm_name(r->paradigm), role_name(r->role));
        if (i == facts->program_region)
            bytes_printf(x, "<attr key=\"Score-P::ProgramArguments::numberOfArguments\" value=\"%u\"/>\n",
                         facts->program_argc);
        bytes_printf(x, "</region>\n");
    }
    write_cnodes(x, t, 0);
    bytes_printf(x, "</program>\n<system>\n<systemtreenode Id=\"0\">\n<name>machine ");
    bytes_xml(x, facts->cfg->machine_name);
    bytes_printf(x, "</name>\n<class>machine</class>\n<attr key=\"platform\" value=\"Linux\"/>\n");
    bytes_printf(x, "<systemtreenode Id=\"1\">\n<name>node ");
    bytes_xml(x, p->summary->host_name);
    bytes_printf(x, "</name>\n<class>node</class>\n<locationgroup Id=\"0\">\n<name>Process</name>\n<rank>%u</rank>\n"
                    "<type>process</type>\n", facts->rank);
    for (uint32_t i = 0; i < p->tree_count; i++) {
        bytes_printf(x, "<location Id=\"%u\">\n<name>", i);
        bytes_xml(x, location_name(p, p->trees[i]));
        bytes_printf(x, "</name>\n<rank>%u</rank>\n<type>thread</type>\n</location>\n", p->trees[i]->location_index);
    }
    bytes_printf(x, "</locationgroup>\n</systemtreenode>\n</systemtreenode>\n<topologies>\n"
                    "<cart name=\"Process x Thread\" ndims=\"2\">\n"
                    "<dim name=\"Process\" size=\"1\" periodic=\"false\"/>\n"
                    "<dim name=\"Thread\" size=\"%u\" periodic=\"false\"/>\n", p->tree_count);
    for (uint32_t i = 0; i < p->tree_count; i++)
        bytes_printf(x, "<coord locId=\"%u\">0 %u</coord>\n", i, i);
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

/* ---- tar ---- */

static void tar_member(bytes *tar, const char *name, const bytes *content, time_t mtime)
{
    char header[512];
    memset(header, 0, sizeof header);
    snprintf(header, 100, "%s", name);
    snprintf(header + 100, 8, "%07o", 0644);
    snprintf(header + 108, 8, "%07o", 0);
    snprintf(header + 116, 8, "%07o", 0);
    snprintf(header + 124, 12, "%011llo", (unsigned long long)content->length);
    snprintf(header + 136, 12, "%011llo", (unsigned long long)mtime);
    header[156] = '0';
    memcpy(header + 257, "ustar", 6);
    memcpy(header + 263, "00", 2);
    memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)header[i];
    snprintf(header + 148, 8, "%06o", sum);
    bytes_add(tar, header, 512);
    bytes_add(tar, content->data ? content->data : "", content->length);
    static const char zeros[512];
    size_t pad = (512 - content->length % 512) % 512;
    bytes_add(tar, zeros, pad);
}

/* One metric's <id>.index and <id>.data: 8-byte values per (cnode,
 * location), cnodes in pre-order, or for INCLUSIVE metrics in `order`. */
static void tar_metric(bytes *tar, const bytes *index, unsigned id, const void *values, const uint32_t *order,
                       uint32_t ncnodes, uint32_t nlocs, time_t now)
{
    bytes data = {0};
    bytes_add(&data, "CUBEX.DATA", 10);
    size_t row = (size_t)nlocs * 8;
    for (uint32_t k = 0; k < ncnodes; k++)
        bytes_add(&data, (const char *)values + (size_t)(order ? order[k] : k) * row, row);
    char name[32];
    snprintf(name, sizeof name, "%u.index", id);
    tar_member(tar, name, index, now);
    snprintf(name, sizeof name, "%u.data", id);
    tar_member(tar, name, &data, now);
    free(data.data);
}

static bool write_file_atomically(const char *path, const bytes *content, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        return false;
    }
    bool ok = fwrite(content->data, 1, content->length, f) == content->length;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

bool cube4_write(const cube4_profile *p, const char *dir, const char *base_name, char *err, size_t errlen)
{
    uint32_t nlocs = p->tree_count;
    uint32_t **maps = calloc(nlocs ? nlocs : 1, sizeof *maps);
    merged_tree merged = {0};
    merged_child(&merged, PROFILE_NO_NODE, p->facts->program_region);
    for (uint32_t l = 0; l < nlocs; l++)
        maps[l] = merge_location(&merged, p->trees[l]);
    uint32_t n = merged.count;
    number_nodes(&merged);

    size_t cells = (size_t)n * nlocs;
    uint64_t *visits = calloc(cells ? cells : 1, sizeof *visits);
    double *times = calloc(cells ? cells : 1, sizeof *times);
    double *mins = calloc(cells ? cells : 1, sizeof *mins);
    double *maxs = calloc(cells ? cells : 1, sizeof *maxs);
    unsigned nmetrics = p->facts->metric_count;
    uint64_t *metric_values = calloc((cells ? cells : 1) * (nmetrics ? nmetrics : 1), sizeof *metric_values);
    double seconds_per_tick = 1.0 / (double)p->summary->clock_resolution;
    for (uint32_t l = 0; l < nlocs; l++) {
        const profile_tree *tree = p->trees[l];
        for (uint32_t i = 0; i < tree->count; i++) {
            const profile_node *node = &tree->nodes[i];
            size_t cell = (size_t)merged.nodes[maps[l][i]].cube_id * nlocs + l;
            visits[cell] += node->visits;
            times[cell] += (double)node->inclusive * seconds_per_tick;
            mins[cell] = (double)node->minimum * seconds_per_tick;
            maxs[cell] = (double)node->maximum * seconds_per_tick;
            /* metric m of this cell lives at metric_values[m * cells + cell] */
            for (unsigned m = 0; m < tree->metric_count; m++)
                metric_values[(size_t)m * cells + cell] += tree->metric_sums[(size_t)i * tree->metric_count + m];
        }
    }

    bytes anchor = {0}, index = {0}, tar = {0};
    write_anchor(&anchor, &merged, p);
    write_index(&index, n);
    time_t now = time(NULL);
    tar_member(&tar, "anchor.xml", &anchor, now);
    uint32_t *inclusive_order = malloc(n * sizeof *inclusive_order);
    children_first_order(&merged, inclusive_order);
    tar_metric(&tar, &index, 0, visits, NULL, n, nlocs, now);
    tar_metric(&tar, &index, 1, times, inclusive_order, n, nlocs, now);
    tar_metric(&tar, &index, 2, mins, NULL, n, nlocs, now);
    tar_metric(&tar, &index, 3, maxs, NULL, n, nlocs, now);
    for (unsigned m = 0; m < nmetrics; m++)
        tar_metric(&tar, &index, 4 + m, metric_values + (size_t)m * cells, inclusive_order, n, nlocs, now);
    static const char end[1024];
    bytes_add(&tar, end, sizeof end);

    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cubex", dir, base_name);
    bool ok = write_file_atomically(path, &tar, err, errlen);

    free(anchor.data);
    free(index.data);
    free(tar.data);
    free(visits);
    free(times);
    free(mins);
    free(maxs);
    free(metric_values);
    free(inclusive_order);
    for (uint32_t l = 0; l < nlocs; l++)
        free(maps[l]);
    free(maps);
    free(merged.nodes);
    return ok;
}
