#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const config_var_info config_vars[] = {
#define CONFIG_VAR(field, env, type, def, help, longhelp) {env, type, def, help, longhelp},
#include "config_vars.def"
#undef CONFIG_VAR
};
const int config_var_count = (int)(sizeof config_vars / sizeof config_vars[0]);

static const size_t config_offsets[] = {
#define CONFIG_VAR(field, env, type, def, help, longhelp) offsetof(measurement_config, field),
#include "config_vars.def"
#undef CONFIG_VAR
};

/* Allowed values of option-typed variables (first entry: variable name). */
static const char *const option_values[][11] = {
    {"SCOREP_TIMER", "", "tsc", "clock_gettime", "gettimeofday", NULL},
    {"SCOREP_PROFILING_FORMAT", "none", "cube4", "default", NULL, NULL},
    {"SCOREP_PYTHON_CLOCK_OFFSETS", "host", "rank", "none", NULL, NULL},
    {"SCOREP_PYTHON_DRAIN_THREAD", "auto", "true", "false", "yes", "no", "on", "off", "1", "0", NULL},
};

const char *config_type_name(config_type type)
{
    static const char *const names[] = {"boolean", "size", "number", "path", "string", "option"};
    return names[type];
}

static const char *skip_space(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

static bool rest_is_space(const char *s) { return *skip_space(s) == '\0'; }

bool config_parse_bool(const char *text, bool *out)
{
    const char *s = skip_space(text);
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (n == 0) {
        *out = false;
        return true;
    }
    for (size_t i = 0; i < 3; i++) {
        if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0)
            return *out = true, true;
        if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0)
            return *out = false, true;
    }
    /* an integer, signed or not, is true when non-zero (as Score-P's strtol) */
    char copy[64];
    if (n >= sizeof copy)
        return false;
    memcpy(copy, s, n);
    copy[n] = '\0';
    const char *digits = copy + (copy[0] == '+' || copy[0] == '-');
    uint64_t number;
    if (!isdigit((unsigned char)*digits) || !config_parse_number(digits, &number))
        return false;
    *out = number != 0;
    return true;
}

bool config_parse_number(const char *text, uint64_t *out)
{
    const char *s = skip_space(text);
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE || !rest_is_space(end))
        return false;
    *out = v;
    return true;
}

bool config_parse_size(const char *text, uint64_t *out)
{
    const char *s = skip_space(text);
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return false;
    s = skip_space(end);
    static const char units[] = "KMGTPE";
    int shift = 0;
    if (*s) {
        const char *u = strchr(units, toupper((unsigned char)*s));
        if (u) {
            shift = 10 * (int)(u - units + 1);
            s++;
        }
        if (toupper((unsigned char)*s) == 'B')
            s++;
    }
    if (!rest_is_space(s))
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

static bool option_allowed(const char *env, const char *value)
{
    for (size_t i = 0; i < sizeof option_values / sizeof option_values[0]; i++) {
        if (strcmp(option_values[i][0], env) != 0)
            continue;
        for (int j = 1; j < 11 && option_values[i][j]; j++)
            if (strcasecmp(option_values[i][j], value) == 0)
                return true;
        return false;
    }
    return true;
}

static char *trimmed_copy(const char *text)
{
    const char *s = skip_space(text);
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

typedef const char *(*value_lookup)(const char *name, void *context);

static const char *from_environment(const char *name, void *context)
{
    (void)context;
    return getenv(name);
}

static bool load_with(measurement_config *cfg, value_lookup lookup, void *context, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    bool ok = true;
    for (int i = 0; i < config_var_count; i++) {
        const config_var_info *var = &config_vars[i];
        const char *env = lookup(var->env_name, context);
        const char *text = env ? env : var->default_value;
        void *slot = (char *)cfg + config_offsets[i];
        bool parsed = true;
        switch (var->type) {
        case CONFIG_BOOL:
            parsed = config_parse_bool(text, (bool *)slot);
            break;
        case CONFIG_SIZE:
            parsed = config_parse_size(text, (uint64_t *)slot);
            break;
        case CONFIG_NUMBER:
            parsed = config_parse_number(text, (uint64_t *)slot);
            break;
        case CONFIG_OPTION: {
            char *value = trimmed_copy(text);
            for (char *p = value; p && *p; p++)
                *p = (char)tolower((unsigned char)*p);
            parsed = !value || option_allowed(var->env_name, value);
            *(char **)slot = value;
            break;
        }
        case CONFIG_PATH:
        case CONFIG_STRING:
            *(char **)slot = trimmed_copy(text);
            break;
        }
        bool is_text = var->type == CONFIG_PATH || var->type == CONFIG_STRING || var->type == CONFIG_OPTION;
        if (is_text && !*(char **)slot && ok) {
            snprintf(err, errlen, "out of memory reading %s", var->env_name);
            ok = false;
        } else if (!parsed && ok) {
            snprintf(err, errlen, "invalid value for %s: '%s' is not a valid %s", var->env_name, text,
                     config_type_name(var->type));
            ok = false;
        }
    }
    if (!ok)
        config_free(cfg);
    return ok;
}

bool config_load(measurement_config *cfg, char *err, size_t errlen)
{
    return load_with(cfg, from_environment, NULL, err, errlen);
}

/* scorep.cfg as config_write wrote it: NAME=value lines, the value in
 * single quotes for text (a quote or ! outside them, escaped). */
typedef struct {
    char **names, **values;
    size_t count;
} cfg_file;

static const char *from_file(const char *name, void *context)
{
    cfg_file *f = context;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    return NULL;
}

static char *unquote(const char *s)
{
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    bool quoted = false;
    for (; *s && *s != '\n'; s++) {
        if (*s == '\'' ) {
            quoted = !quoted;
        } else if (!quoted && *s == '\\' && s[1]) {
            *o++ = *++s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

bool config_load_file(measurement_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *in = fopen(path, "re");
    if (!in) {
        snprintf(err, errlen, "cannot read the configuration '%s': %s", path, strerror(errno));
        return false;
    }
    cfg_file f = {0};
    char *line = NULL;
    size_t cap = 0;
    bool ok = true;
    while (ok && getline(&line, &cap, in) > 0) {
        char *eq = line[0] == '#' ? NULL : strchr(line, '=');
        if (!eq)
            continue;
        char **names = realloc(f.names, (f.count + 1) * sizeof *names);
        char **values = names ? realloc(f.values, (f.count + 1) * sizeof *values) : NULL;
        if (names)
            f.names = names;
        if (values)
            f.values = values;
        *eq = '\0';
        char *name = names && values ? strdup(line) : NULL, *value = name ? unquote(eq + 1) : NULL;
        if (!value) {
            free(name);
            ok = false;
            break;
        }
        f.names[f.count] = name;
        f.values[f.count++] = value;
    }
    free(line);
    fclose(in);
    if (!ok)
        snprintf(err, errlen, "out of memory reading '%s'", path);
    ok = ok && load_with(cfg, from_file, &f, err, errlen);
    for (size_t i = 0; i < f.count; i++) {
        free(f.names[i]);
        free(f.values[i]);
    }
    free(f.names);
    free(f.values);
    return ok;
}

void config_free(measurement_config *cfg)
{
    for (int i = 0; i < config_var_count; i++) {
        config_type t = config_vars[i].type;
        if (t == CONFIG_PATH || t == CONFIG_STRING || t == CONFIG_OPTION) {
            char **slot = (char **)((char *)cfg + config_offsets[i]);
            free(*slot);
            *slot = NULL;
        }
    }
}

/* Single-quoted so that sourcing scorep.cfg in a shell gives back exactly
 * the value: ' and ! leave the quotes and come back escaped. */
static void write_shell_quoted(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; s && *s; s++) {
        if (*s == '\'' || *s == '!')
            fprintf(out, "'\\%c'", *s);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

void config_write(const measurement_config *cfg, FILE *out)
{
    for (int i = 0; i < config_var_count; i++) {
        const config_var_info *var = &config_vars[i];
        const void *slot = (const char *)cfg + config_offsets[i];
        fprintf(out, "# %s\n%s=", var->help, var->env_name);
        switch (var->type) {
        case CONFIG_BOOL:
            fputs(*(const bool *)slot ? "true" : "false", out);
            break;
        case CONFIG_SIZE:
        case CONFIG_NUMBER:
            fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)slot);
            break;
        default:
            write_shell_quoted(out, *(char *const *)slot);
        }
        fputs("\n", out);
    }
}
