/* SPDX-License-Identifier: MIT */
/* scoreboard.c - the pool's shared-memory scoreboard: create, attach, update, count. */
#include "scoreboard.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Shared memory between processes needs address-free, hence lock-free, atomics. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "atomic long long must be lock-free");

static size_t scoreboard_size(unsigned n_slots)
{
    return sizeof(scoreboard_t) + (size_t)n_slots * sizeof(scoreboard_slot_t);
}

long long scoreboard_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void scoreboard_set_text(char *field, size_t cap, const char *text)
{
    size_t n = text != NULL ? strnlen(text, cap - 1) : 0;

    if (n > 0)
        memcpy(field, text, n);
    field[n] = '\0';
}

scoreboard_t *scoreboard_create(unsigned n_slots, unsigned max_children, const char *mode,
                                int *fd, char *err, size_t errlen)
{
    scoreboard_t *sb;
    size_t size;
    int mfd;

    if (n_slots == 0 || n_slots > SCOREBOARD_SLOTS_MAX) {
        snprintf(err, errlen, "scoreboard: %u slots (1 to %u)", n_slots, SCOREBOARD_SLOTS_MAX);
        return NULL;
    }
    size = scoreboard_size(n_slots);
    mfd = memfd_create("mcpgw-scoreboard", MFD_CLOEXEC);
    if (mfd < 0) {
        snprintf(err, errlen, "memfd_create: %s", strerror(errno));
        return NULL;
    }
    if (ftruncate(mfd, (off_t)size) < 0) {
        snprintf(err, errlen, "ftruncate scoreboard to %zu bytes: %s", size, strerror(errno));
        goto fail;
    }
    sb = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    if (sb == MAP_FAILED) {
        snprintf(err, errlen, "mmap scoreboard: %s", strerror(errno));
        goto fail;
    }
    /* ftruncate zero-fills: every atomic starts at 0, every slot is SB_EMPTY. */
    sb->magic = SCOREBOARD_MAGIC;
    sb->version = SCOREBOARD_VERSION;
    sb->header_size = (uint32_t)sizeof(scoreboard_t);
    sb->slot_size = (uint32_t)sizeof(scoreboard_slot_t);
    sb->n_slots = n_slots;
    sb->max_children = max_children;
    scoreboard_set_text(sb->mode, sizeof(sb->mode), mode);
    sb->start_time = (int64_t)time(NULL);
    sb->start_ms = scoreboard_now_ms();
    atomic_store(&sb->generation, 1u);
    atomic_store(&sb->max_listen_queue, -1);
    *fd = mfd;
    return sb;
fail:
    close(mfd);
    return NULL;
}

scoreboard_t *scoreboard_attach(int fd, char *err, size_t errlen)
{
    struct stat st;
    scoreboard_t *sb;

    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "scoreboard fd %d: %s", fd, strerror(errno));
        return NULL;
    }
    if ((size_t)st.st_size < sizeof(scoreboard_t)) {
        snprintf(err, errlen, "scoreboard fd %d: %lld bytes is too small", fd,
                 (long long)st.st_size);
        return NULL;
    }
    sb = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (sb == MAP_FAILED) {
        snprintf(err, errlen, "mmap scoreboard fd %d: %s", fd, strerror(errno));
        return NULL;
    }
    if (sb->magic != SCOREBOARD_MAGIC || sb->version != SCOREBOARD_VERSION ||
        sb->header_size != sizeof(scoreboard_t) || sb->slot_size != sizeof(scoreboard_slot_t) ||
        sb->n_slots == 0 || sb->n_slots > SCOREBOARD_SLOTS_MAX ||
        (size_t)st.st_size < scoreboard_size(sb->n_slots)) {
        snprintf(err, errlen, "scoreboard layout mismatch (magic %08x version %u, we read "
                 "%08x version %u): the pool master runs another release; restart the pool",
                 sb->magic, sb->version, SCOREBOARD_MAGIC, SCOREBOARD_VERSION);
        munmap(sb, (size_t)st.st_size);
        return NULL;
    }
    return sb;
}

void scoreboard_detach(scoreboard_t *sb)
{
    if (sb != NULL)
        munmap(sb, scoreboard_size(sb->n_slots));
}

void scoreboard_count(const scoreboard_t *sb, scoreboard_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < sb->n_slots; i++) {
        const scoreboard_slot_t *s = &sb->slots[i];

        if (atomic_load(&s->pid) == 0)
            continue;
        switch (atomic_load(&s->state)) {
        case SB_STARTING: out->starting++; break;
        case SB_IDLE:     out->idle++;     break;
        case SB_BUSY:     out->busy++;     break;
        case SB_STOPPING: out->stopping++; break;
        default:          continue;
        }
        out->total++;
    }
}

const char *scoreboard_state_name(int state)
{
    static const char *const names[] = {
        [SB_EMPTY] = "empty", [SB_STARTING] = "starting", [SB_IDLE] = "idle",
        [SB_BUSY] = "busy", [SB_STOPPING] = "stopping",
    };

    if (state < 0 || (size_t)state >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[state];
}

/* Move a slot from one state to another unless something else (the master's STOPPING)
 * got there first. */
static void scoreboard_move(scoreboard_slot_t *s, int from, int to)
{
    int expected = from;

    atomic_compare_exchange_strong(&s->state, &expected, to);
}

void scoreboard_worker_ready(scoreboard_t *sb, unsigned slot)
{
    scoreboard_slot_t *s = &sb->slots[slot];

    atomic_store(&s->idle_since_ms, scoreboard_now_ms());
    scoreboard_move(s, SB_STARTING, SB_IDLE);
}

void scoreboard_request_begin(scoreboard_t *sb, unsigned slot, const char *method,
                              const char *path)
{
    scoreboard_slot_t *s = &sb->slots[slot];
    unsigned long long busy = 0, seen;
    char line[SCOREBOARD_REQUEST_MAX];

    snprintf(line, sizeof(line), "%s %s", method != NULL ? method : "-",
             path != NULL ? path : "-");
    scoreboard_set_text(s->request, sizeof(s->request), line);
    atomic_store(&s->busy_since_ms, scoreboard_now_ms());
    scoreboard_move(s, SB_IDLE, SB_BUSY);
    atomic_fetch_add(&sb->accepted, 1);
    for (unsigned i = 0; i < sb->n_slots; i++)
        busy += atomic_load(&sb->slots[i].pid) != 0 &&
                atomic_load(&sb->slots[i].busy_since_ms) != 0;
    seen = atomic_load(&sb->max_active);
    while (busy > seen && !atomic_compare_exchange_weak(&sb->max_active, &seen, busy))
        ;
    /* An episode lasts while every request finds every worker busy.  Under saturation
     * a worker that finishes takes the next waiting connection at once, so a request's
     * end does not end the episode: a request that starts while a worker is free does. */
    if (busy >= sb->max_children) {
        int expected = 0;

        /* Only the worker that opens the episode counts it. */
        if (atomic_compare_exchange_strong(&sb->reached, &expected, 1))
            atomic_fetch_add(&sb->max_children_reached, 1);
    } else {
        atomic_store(&sb->reached, 0);
    }
}

int scoreboard_request_end(scoreboard_t *sb, unsigned slot, long long duration_ms,
                           long slow_ms)
{
    scoreboard_slot_t *s = &sb->slots[slot];
    int slow = slow_ms > 0 && duration_ms >= slow_ms;

    atomic_fetch_add(&s->requests, 1);
    atomic_store(&s->idle_since_ms, scoreboard_now_ms());
    atomic_store(&s->busy_since_ms, 0);
    scoreboard_move(s, SB_BUSY, SB_IDLE);
    if (slow)
        atomic_fetch_add(&sb->slow_requests, 1);
    return slow;
}

void scoreboard_worker_leaving(scoreboard_t *sb, unsigned slot)
{
    atomic_store(&sb->slots[slot].state, SB_STOPPING);
}
