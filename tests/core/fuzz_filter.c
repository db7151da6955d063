/* Fuzz test of the filter file parser.
 *
 * With libFuzzer:  clang -fsanitize=fuzzer,address -DUSE_LIBFUZZER ...
 * Without it (the default, run by tests/test_core_c.py): a deterministic
 * mutation driver over a seed corpus, built with AddressSanitizer and
 * UndefinedBehaviorSanitizer.  Either way every input must parse to a filter
 * or to a one-line error naming the origin, never crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/filter.h"

static int check_one(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512] = "";
    filter *f = filter_parse(text, "fuzz.filter", err, sizeof err);
    int bad = 0;
    if (f) {
        /* the filter must answer for any name */
        filter_excludes(f, text, text);
        filter_excludes(f, "__main__:foo", "/a/b.py");
        filter_free(f);
    } else if (strncmp(err, "fuzz.filter:", 12) != 0 || strchr(err, '\n')) {
        fprintf(stderr, "bad error message '%s' for input:\n%s\n", err, text);
        bad = 1;
    }
    free(text);
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (check_one(data, size))
        abort();
    return 0;
}

#ifndef USE_LIBFUZZER
static const char *const seeds[] = {
    "SCOREP_REGION_NAMES_BEGIN\n EXCLUDE foo* bar\n INCLUDE MANGLED baz\nSCOREP_REGION_NAMES_END\n",
    "SCOREP_FILE_NAMES_BEGIN # c\n EXCLUDE */x/*\n   */y/*\n INCLUDE *.py\nSCOREP_FILE_NAMES_END\n",
    "# only a comment\n",
    "SCOREP_REGION_NAMES_BEGIN\n EXCLUDE a\\#b [a-z]?*\nSCOREP_REGION_NAMES_END\nSCOREP_FILE_NAMES_BEGIN\n"
    " EXCLUDE *\nSCOREP_FILE_NAMES_END\n",
};

static const char *const words[] = {
    "SCOREP_REGION_NAMES_BEGIN", "SCOREP_REGION_NAMES_END", "SCOREP_FILE_NAMES_BEGIN",
    "SCOREP_FILE_NAMES_END", "INCLUDE", "EXCLUDE", "MANGLED", "#", "\\#", "\n", " ", "*", "[", "]",
    "[!a-", "\\", "?", "\t", "\r\n",
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 20000;
    char buffer[8192];
    int failures = 0;
    for (long i = 0; i < iterations; i++) {
        size_t n = strlen(seeds[i % (sizeof seeds / sizeof seeds[0])]);
        memcpy(buffer, seeds[i % (sizeof seeds / sizeof seeds[0])], n);
        int mutations = 1 + (int)(next_random() % 8);
        for (int m = 0; m < mutations; m++) {
            size_t at = n ? next_random() % (n + 1) : 0;
            switch (next_random() % 4) {
            case 0: /* flip a byte */
                if (n)
                    buffer[at % n] = (char)(next_random() & 0xff);
                break;
            case 1: /* insert a keyword or separator */ {
                const char *w = words[next_random() % (sizeof words / sizeof words[0])];
                size_t wl = strlen(w);
                if (n + wl < sizeof buffer) {
                    memmove(buffer + at + wl, buffer + at, n - at);
                    memcpy(buffer + at, w, wl);
                    n += wl;
                }
                break;
            }
            case 2: /* cut */
                n = at;
                break;
            default: /* duplicate a span */ {
                size_t len = n - at < 64 ? n - at : 64;
                if (n + len < sizeof buffer) {
                    memmove(buffer + at + len, buffer + at, n - at);
                    n += len;
                }
            }
            }
        }
        failures += check_one((const uint8_t *)buffer, n);
    }
    /* a pattern longer than the parser's token limit */
    memset(buffer, 'a', sizeof buffer - 1);
    memcpy(buffer, "SCOREP_REGION_NAMES_BEGIN\nEXCLUDE ", 34);
    failures += check_one((const uint8_t *)buffer, sizeof buffer - 1);
    printf("%ld passed, %d failed\n", iterations + 1 - failures, failures);
    return failures != 0;
}
#endif
