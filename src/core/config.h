/* Measurement configuration, read from SCOREP_* environment variables.
 * The variables themselves are declared once, in config_vars.def. */
#ifndef SCOREP_CORE_CONFIG_H
#define SCOREP_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { CONFIG_BOOL, CONFIG_SIZE, CONFIG_NUMBER, CONFIG_PATH, CONFIG_STRING, CONFIG_OPTION } config_type;

typedef struct {
#define CONFIG_VAR(field, env, type, def, help, longhelp) config_value_##type field;
#define config_value_CONFIG_BOOL bool
#define config_value_CONFIG_SIZE uint64_t
#define config_value_CONFIG_NUMBER uint64_t
#define config_value_CONFIG_PATH char *
#define config_value_CONFIG_STRING char *
#define config_value_CONFIG_OPTION char *
#include "config_vars.def"
#undef CONFIG_VAR
} measurement_config;

typedef struct {
    const char *env_name;
    config_type type;
    const char *default_value;
    const char *help;
    const char *long_help;
} config_var_info;

extern const config_var_info config_vars[];
extern const int config_var_count;

/* Parse every variable from the environment into cfg.  On a bad value,
 * returns false and writes a one-line message naming variable and value. */
bool config_load(measurement_config *cfg, char *err, size_t errlen);

/* The same from a scorep.cfg that config_write wrote (another process's
 * configuration, exactly as it had it); false with a one-line reason. */
bool config_load_file(measurement_config *cfg, const char *path, char *err, size_t errlen);

/* Parse one textual value of the given type; false if it is malformed. */
bool config_parse_bool(const char *text, bool *out);
bool config_parse_size(const char *text, uint64_t *out);
bool config_parse_number(const char *text, uint64_t *out);

void config_free(measurement_config *cfg);

/* Write the effective configuration in scorep.cfg syntax. */
void config_write(const measurement_config *cfg, FILE *out);

const char *config_type_name(config_type type);

#endif
