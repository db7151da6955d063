#include "filter.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { BLOCK_NONE, BLOCK_FILES, BLOCK_REGIONS } block_kind;

typedef struct {
    bool exclude;
    bool mangled;
    char **patterns;
    size_t count, capacity;
} rule;

typedef struct {
    rule *rules;
    size_t count, capacity;
} rule_list;

struct filter {
    rule_list files, regions;
};

static void rule_list_free(rule_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        for (size_t j = 0; j < list->rules[i].count; j++)
            free(list->rules[i].patterns[j]);
        free(list->rules[i].patterns);
    }
    free(list->rules);
}

void filter_free(filter *f)
{
    if (!f)
        return;
    rule_list_free(&f->files);
    rule_list_free(&f->regions);
    free(f);
}

/* NULL when out of memory. */
static rule *rule_add(rule_list *list, bool exclude, bool mangled)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 8;
        rule *grown = realloc(list->rules, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        list->rules = grown;
        list->capacity = capacity;
    }
    rule *r = &list->rules[list->count++];
    *r = (rule){.exclude = exclude, .mangled = mangled};
    return r;
}

/* False when out of memory. */
static bool rule_add_pattern(rule *r, const char *pattern)
{
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? 2 * r->capacity : 4;
        char **grown = realloc(r->patterns, capacity * sizeof *grown);
        if (!grown)
            return false;
        r->patterns = grown;
        r->capacity = capacity;
    }
    char *copy = strdup(pattern);
    if (copy)
        r->patterns[r->count++] = copy;
    return copy != NULL;
}

/* The next whitespace-separated token of the text, with comments removed
 * and "\#" turned into "#".  Returns false at the end of the text. */
typedef struct {
    const char *p;
    int line;
    char token[4096];
    int token_line;
    bool too_long;
} lexer;

static bool next_token(lexer *lx)
{
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n') {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (*lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
            continue;
        }
        break;
    }
    if (!*lx->p)
        return false;
    size_t n = 0;
    lx->token_line = lx->line;
    lx->too_long = false;
    while (*lx->p && *lx->p != ' ' && *lx->p != '\t' && *lx->p != '\r' && *lx->p != '\n' && *lx->p != '#') {
        char c = *lx->p++;
        if (c == '\\' && *lx->p == '#')
            c = *lx->p++;
        if (n + 1 < sizeof lx->token)
            lx->token[n++] = c;
        else
            lx->too_long = true;
    }
    lx->token[n] = '\0';
    return true;
}

static filter *fail(filter *f, char *err, size_t errlen, const char *origin, int line, const char *problem,
                    const char *text)
{
    snprintf(err, errlen, "%s:%d: %s '%s'", origin, line, problem, text);
    filter_free(f);
    return NULL;
}

filter *filter_parse(const char *text, const char *origin, char *err, size_t errlen)
{
    filter *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "%s: out of memory", origin);
        return NULL;
    }
    lexer lx = {.p = text, .line = 1};
    block_kind block = BLOCK_NONE;
    int block_line = 0;
    const char *block_name = "";
    rule *current = NULL;
    bool expect_mangled = false;
    while (next_token(&lx)) {
        const char *t = lx.token;
        int line = lx.token_line;
        if (lx.too_long)
            return fail(f, err, errlen, origin, line, "pattern too long (more than 4095 bytes) starting with", t);
        if (strcmp(t, "SCOREP_REGION_NAMES_BEGIN") == 0 || strcmp(t, "SCOREP_FILE_NAMES_BEGIN") == 0) {
            if (block != BLOCK_NONE)
                return fail(f, err, errlen, origin, line, "block begins inside another block:", t);
            block = t[7] == 'R' ? BLOCK_REGIONS : BLOCK_FILES;
            block_line = line;
            block_name = block == BLOCK_REGIONS ? "SCOREP_REGION_NAMES_BEGIN" : "SCOREP_FILE_NAMES_BEGIN";
            current = NULL;
            continue;
        }
        if (strcmp(t, "SCOREP_REGION_NAMES_END") == 0 || strcmp(t, "SCOREP_FILE_NAMES_END") == 0) {
            block_kind ending = t[7] == 'R' ? BLOCK_REGIONS : BLOCK_FILES;
            if (block != ending)
                return fail(f, err, errlen, origin, line, "block end without its begin:", t);
            if (current && current->count == 0)
                return fail(f, err, errlen, origin, line, "rule without patterns before", t);
            block = BLOCK_NONE;
            current = NULL;
            continue;
        }
        if (block == BLOCK_NONE)
            return fail(f, err, errlen, origin, line, "text outside of a SCOREP_*_NAMES_BEGIN/END block:", t);
        if (strcmp(t, "INCLUDE") == 0 || strcmp(t, "EXCLUDE") == 0) {
            if (current && current->count == 0)
                return fail(f, err, errlen, origin, line, "rule without patterns before", t);
            current = rule_add(block == BLOCK_REGIONS ? &f->regions : &f->files, t[0] == 'E', false);
            if (!current)
                return fail(f, err, errlen, origin, line, "out of memory at", t);
            expect_mangled = true;
            continue;
        }
        if (strcmp(t, "MANGLED") == 0 && expect_mangled) {
            if (block != BLOCK_REGIONS)
                return fail(f, err, errlen, origin, line, "MANGLED is only allowed for region names:", t);
            current->mangled = true;
            expect_mangled = false;
            continue;
        }
        expect_mangled = false;
        if (!current)
            return fail(f, err, errlen, origin, line, "pattern without INCLUDE or EXCLUDE:", t);
        if (!rule_add_pattern(current, t))
            return fail(f, err, errlen, origin, line, "out of memory at", t);
    }
    if (block != BLOCK_NONE) {
        char missing[64];
        snprintf(missing, sizeof missing, "%s", block_name);
        memcpy(missing + strlen(missing) - 5, "END", 4);
        snprintf(err, errlen, "%s:%d: %s is never closed (missing %s)", origin, block_line, block_name, missing);
        filter_free(f);
        return NULL;
    }
    return f;
}

filter *filter_load(const char *path, char *err, size_t errlen)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "cannot read filter file '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t capacity = 8192, length = 0;
    char *text = malloc(capacity);
    size_t n;
    bool no_memory = text == NULL;
    while (!no_memory && (n = fread(text + length, 1, capacity - length - 1, in)) > 0) {
        length += n;
        if (capacity - length - 1 == 0) {
            char *grown = realloc(text, 2 * capacity);
            no_memory = grown == NULL;
            if (grown) {
                text = grown;
                capacity *= 2;
            }
        }
    }
    bool failed = no_memory || ferror(in);
    int why = no_memory ? ENOMEM : errno;
    fclose(in);
    if (failed) {
        snprintf(err, errlen, "cannot read filter file '%s': %s", path, strerror(why));
        free(text);
        return NULL;
    }
    text[length] = '\0';
    if (strlen(text) != length) {
        snprintf(err, errlen, "%s: not a text file (contains a NUL byte)", path);
        free(text);
        return NULL;
    }
    filter *f = filter_parse(text, path, err, errlen);
    free(text);
    return f;
}

/* Last matching rule wins; no match keeps the default (included). */
static bool excluded_by(const rule_list *list, const char *name, bool *decided)
{
    bool excluded = false;
    *decided = false;
    for (size_t i = 0; i < list->count; i++) {
        const rule *r = &list->rules[i];
        for (size_t j = 0; j < r->count; j++) {
            if (fnmatch(r->patterns[j], name, 0) == 0) {
                excluded = r->exclude;
                *decided = true;
                break;
            }
        }
    }
    return excluded;
}

bool filter_excludes(const filter *f, const char *region_name, const char *file_name)
{
    if (!f)
        return false;
    bool decided;
    if (file_name && file_name[0] && excluded_by(&f->files, file_name, &decided))
        return true;
    /* Python has no name mangling: MANGLED rules see the same name */
    return excluded_by(&f->regions, region_name ? region_name : "", &decided);
}

size_t filter_rule_count(const filter *f) { return f ? f->files.count + f->regions.count : 0; }
