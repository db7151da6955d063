#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Length of the valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
             : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* no overlong forms, surrogates or code points above U+10FFFF */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* The text must be UTF-8 without NUL bytes: the line of the first bad byte. */
static bool check_text(const char *text, size_t length, const char *path, char *err, size_t errlen)
{
    int line = 1;
    for (size_t i = 0; i < length;) {
        const unsigned char *s = (const unsigned char *)text + i;
        size_t n = s[0] ? utf8_sequence(s, length - i) : 0;
        if (n == 0) {
            snprintf(err, errlen, "%s:%d: not UTF-8 text (byte 0x%02x)", path, line, s[0]);
            return false;
        }
        line += s[0] == '\n';
        i += n;
    }
    return true;
}

filter *filter_load(const char *path, char *err, size_t errlen)
{
    /* non-blocking: a FIFO is refused below instead of waiting for a writer */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read filter file '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *problem = NULL;
    if (fstat(fd, &st) != 0)
        problem = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        problem = "not a regular file";
    else if (st.st_size > FILTER_FILE_MAX_BYTES)
        problem = "larger than 16 MiB";
    if (problem) {
        snprintf(err, errlen, "cannot read filter file '%s': %s", path, problem);
        close(fd);
        return NULL;
    }
    /* read at most one byte more than the limit: the file may grow meanwhile */
    size_t capacity = (size_t)st.st_size + 2, length = 0;
    char *text = malloc(capacity);
    int why = text ? 0 : ENOMEM;
    while (!why && length < capacity - 1) {
        ssize_t n = read(fd, text + length, capacity - 1 - length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            why = errno;
        if (n <= 0)
            break;
        length += (size_t)n;
    }
    close(fd);
    if (why) {
        snprintf(err, errlen, "cannot read filter file '%s': %s", path, strerror(why));
        free(text);
        return NULL;
    }
    if (length > (size_t)st.st_size) {
        snprintf(err, errlen, "filter file '%s' changed while it was read", path);
        free(text);
        return NULL;
    }
    text[length] = '\0';
    filter *f = check_text(text, length, path, err, errlen) ? filter_parse(text, path, err, errlen) : NULL;
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
