#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

clock_kind scorep_clock_kind = CLOCK_KIND_CLOCK_GETTIME;

static uint64_t start_ticks, start_mono_ns, start_epoch_ns;
static uint64_t resolution = 1000000000ull;

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t epoch_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t read_kind(clock_kind kind)
{
#ifdef SCOREP_HAVE_TSC
    if (kind == CLOCK_KIND_TSC)
        return __rdtsc();
#endif
    if (kind == CLOCK_KIND_GETTIMEOFDAY) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
    }
    return monotonic_ns();
}

uint64_t scorep_clock_read_slow(void) { return read_kind(scorep_clock_kind); }

bool clock_tsc_usable(void)
{
#ifdef SCOREP_HAVE_TSC
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return false;
    char line[4096];
    bool constant = false, nonstop = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        constant = strstr(line, " constant_tsc") != NULL;
        nonstop = strstr(line, " nonstop_tsc") != NULL;
        break;
    }
    fclose(f);
    return constant && nonstop;
#else
    return false;
#endif
}

void clock_init(clock_kind kind)
{
    scorep_clock_kind = kind;
    start_epoch_ns = epoch_ns();
    start_mono_ns = monotonic_ns();
    start_ticks = clock_now();
    resolution = 1000000000ull;
}

uint64_t clock_finish(bool wait)
{
    if (scorep_clock_kind != CLOCK_KIND_TSC)
        return resolution = 1000000000ull;
    /* The TSC frequency is measured against CLOCK_MONOTONIC over the whole
     * run.  Each end point is read to within ~100 ns, so 2 ms give the
     * frequency to better than 1e-4; only shorter runs wait for that. */
    uint64_t mono, ticks;
    for (;;) {
        mono = monotonic_ns();
        ticks = clock_now();
        if (mono - start_mono_ns >= 2000000ull || (!wait && mono > start_mono_ns))
            break;
        struct timespec nap = {0, 200000};
        nanosleep(&nap, NULL);
    }
    double hz = (double)(ticks - start_ticks) * 1e9 / (double)(mono - start_mono_ns);
    return resolution = (uint64_t)(hz + 0.5);
}

uint64_t clock_resolution(void) { return resolution; }

void clock_start_point(uint64_t *ticks, uint64_t *mono_ns, uint64_t *epoch)
{
    *ticks = start_ticks;
    *mono_ns = start_mono_ns;
    *epoch = start_epoch_ns;
}

void clock_reading(uint64_t *ticks, uint64_t *mono_ns)
{
    *mono_ns = monotonic_ns();
    *ticks = clock_now();
}

uint64_t clock_resolution_between(clock_kind kind, uint64_t ticks0, uint64_t mono0, uint64_t ticks1, uint64_t mono1)
{
    if (kind != CLOCK_KIND_TSC || mono1 <= mono0 || ticks1 <= ticks0)
        return 1000000000ull;
    return (uint64_t)((double)(ticks1 - ticks0) * 1e9 / (double)(mono1 - mono0) + 0.5);
}

uint64_t clock_ticks_to_epoch_ns(uint64_t t)
{
    double dt = ((double)t - (double)start_ticks) * 1e9 / (double)resolution;
    return start_epoch_ns + (int64_t)dt;
}

const char *clock_kind_name(clock_kind kind)
{
    switch (kind) {
    case CLOCK_KIND_TSC: return "tsc";
    case CLOCK_KIND_CLOCK_GETTIME: return "clock_gettime";
    case CLOCK_KIND_GETTIMEOFDAY: return "gettimeofday";
    }
    return "?";
}

double clock_cost_ns(clock_kind kind)
{
    const int n = 1000000;
    volatile uint64_t sink = 0;
    uint64_t begin = monotonic_ns();
    for (int i = 0; i < n; i++)
        sink += read_kind(kind);
    (void)sink;
    return (double)(monotonic_ns() - begin) / n;
}
