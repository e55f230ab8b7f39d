/*
 * crashpoint.c - see crashpoint.h. The point's name and count are read once at
 * start; passing a point compares one pointer when nothing is armed.
 */
#include "crashpoint.h"
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"

static char g_name[64];
static char g_file[1024];
static _Atomic(const char *) g_armed; /* g_name once armed */
static atomic_int g_left;

bool crash_points_arm(void)
{
    const char *path = getenv("KASSA_CRASH_AT_FILE");
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(g_file))
        return false;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    int n = 0;
    int got = fscanf(f, "%63s %d", g_name, &n);
    fclose(f);
    if (got != 2 || n < 1)
        return false;
    snprintf(g_file, sizeof(g_file), "%s", path);
    atomic_store(&g_left, n);
    atomic_store(&g_armed, g_name);
    log_warn("crash point '%s' armed: the process dies the %d. time it passes it", g_name, n);
    return true;
}

void crash_point(const char *name)
{
    const char *armed = atomic_load_explicit(&g_armed, memory_order_relaxed);
    if (armed == NULL || strcmp(armed, name) != 0)
        return;
    if (atomic_fetch_sub(&g_left, 1) != 1)
        return;
    unlink(g_file);
    log_warn("crash point '%s' reached: dying as kill -9 would", name);
    raise(SIGKILL);
}
