/* SPDX-License-Identifier: MIT */
/* test_scoreboard.c - unit tests of the shared scoreboard: layout checks, sharing across
 * processes, the counters workers keep. */

#include "scoreboard.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static scoreboard_t *sb;
static int fd = -1;
static char err[256];

static void setup(void)
{
    err[0] = '\0';
    sb = scoreboard_create(8, 4, "dynamic", &fd, err, sizeof(err));
    cr_assert_not_null(sb, "create: %s", err);
}

static void teardown(void)
{
    scoreboard_detach(sb);
    sb = NULL;
    if (fd >= 0)
        close(fd);
    fd = -1;
}

/* Put a pretend worker in slot i, as the master does at spawn. */
static void occupy(unsigned i, int pid)
{
    atomic_store(&sb->slots[i].pid, pid);
    atomic_store(&sb->slots[i].state, SB_STARTING);
    scoreboard_worker_ready(sb, i);
}

Test(scoreboard, create_fills_the_header, .init = setup, .fini = teardown)
{
    cr_expect_eq(sb->magic, SCOREBOARD_MAGIC);
    cr_expect_eq(sb->n_slots, 8);
    cr_expect_eq(sb->max_children, 4);
    cr_expect_str_eq(sb->mode, "dynamic");
    cr_expect_eq(atomic_load(&sb->generation), 1);
    cr_expect_eq(atomic_load(&sb->max_listen_queue), -1);
    cr_expect_gt(sb->start_time, 0);
    for (unsigned i = 0; i < sb->n_slots; i++)
        cr_expect_eq(atomic_load(&sb->slots[i].state), SB_EMPTY);
    cr_expect_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "memfd must be close-on-exec");
}

Test(scoreboard, create_refuses_bad_sizes)
{
    int f = -1;

    cr_expect_null(scoreboard_create(0, 1, "static", &f, err, sizeof(err)));
    cr_expect(strstr(err, "slots") != NULL, "err: %s", err);
    cr_expect_null(scoreboard_create(SCOREBOARD_SLOTS_MAX + 1, 1, "static", &f, err,
                                     sizeof(err)));
    cr_expect_eq(f, -1);
}

Test(scoreboard, attach_maps_the_same_memory, .init = setup, .fini = teardown)
{
    /* A second mapping of the memfd, as a worker makes after exec: writes through one
     * are seen through the other. (Processes are covered by tests/integration.) */
    scoreboard_t *w = scoreboard_attach(fd, err, sizeof(err));

    cr_assert_not_null(w, "attach: %s", err);
    cr_assert_neq((void *)w, (void *)sb);
    atomic_store(&w->slots[3].pid, 1234);
    atomic_fetch_add(&w->accepted, 41);
    cr_expect_eq(atomic_load(&sb->slots[3].pid), 1234);
    cr_expect_eq(atomic_load(&sb->accepted), 41);
    scoreboard_detach(w);
}

Test(scoreboard, attach_refuses_a_foreign_layout, .init = setup, .fini = teardown)
{
    scoreboard_t *w;

    sb->version = SCOREBOARD_VERSION + 1;
    w = scoreboard_attach(fd, err, sizeof(err));
    cr_expect_null(w);
    cr_expect(strstr(err, "layout mismatch") != NULL, "err: %s", err);
    sb->version = SCOREBOARD_VERSION;
    sb->slot_size++;
    cr_expect_null(scoreboard_attach(fd, err, sizeof(err)));
    sb->slot_size--;
    w = scoreboard_attach(fd, err, sizeof(err));
    cr_expect_not_null(w, "err: %s", err);
    scoreboard_detach(w);
}

Test(scoreboard, attach_refuses_what_is_not_a_board)
{
    int p[2];

    cr_assert_eq(pipe(p), 0);
    cr_expect_null(scoreboard_attach(p[0], err, sizeof(err)));
    cr_expect_null(scoreboard_attach(-1, err, sizeof(err)));
    close(p[0]);
    close(p[1]);
}

Test(scoreboard, requests_move_state_and_count, .init = setup, .fini = teardown)
{
    scoreboard_counts_t c;

    occupy(0, 100);
    occupy(1, 101);
    scoreboard_count(sb, &c);
    cr_expect_eq(c.total, 2);
    cr_expect_eq(c.idle, 2);
    scoreboard_request_begin(sb, 0, "POST", "/mcp");
    cr_expect_eq(atomic_load(&sb->slots[0].state), SB_BUSY);
    cr_expect_str_eq(sb->slots[0].request, "POST /mcp");
    cr_expect_neq(atomic_load(&sb->slots[0].busy_since_ms), 0);
    scoreboard_count(sb, &c);
    cr_expect_eq(c.busy, 1);
    cr_expect_eq(c.idle, 1);
    cr_expect_eq(atomic_load(&sb->accepted), 1);
    cr_expect_eq(atomic_load(&sb->max_active), 1);
    cr_expect_eq(scoreboard_request_end(sb, 0, 12, 0), 0);
    cr_expect_eq(atomic_load(&sb->slots[0].state), SB_IDLE);
    cr_expect_eq(atomic_load(&sb->slots[0].requests), 1);
    cr_expect_eq(atomic_load(&sb->slots[0].busy_since_ms), 0);
    cr_expect_str_eq(sb->slots[0].request, "POST /mcp", "last request stays visible");
}

Test(scoreboard, slow_requests_are_counted_at_the_threshold, .init = setup, .fini = teardown)
{
    occupy(0, 100);
    scoreboard_request_begin(sb, 0, "GET", "/ready");
    cr_expect_eq(scoreboard_request_end(sb, 0, 499, 500), 0);
    scoreboard_request_begin(sb, 0, "GET", "/ready");
    cr_expect_eq(scoreboard_request_end(sb, 0, 500, 500), 1);
    scoreboard_request_begin(sb, 0, "GET", "/ready");
    cr_expect_eq(scoreboard_request_end(sb, 0, 100000, 0), 0, "0 turns it off");
    cr_expect_eq(atomic_load(&sb->slow_requests), 1);
}

Test(scoreboard, max_active_and_max_children_reached, .init = setup, .fini = teardown)
{
    for (unsigned i = 0; i < 4; i++)
        occupy(i, 100 + (int)i);
    for (unsigned i = 0; i < 3; i++)
        scoreboard_request_begin(sb, i, "GET", "/x");
    cr_expect_eq(atomic_load(&sb->max_active), 3);
    cr_expect_eq(atomic_load(&sb->max_children_reached), 0);
    scoreboard_request_begin(sb, 3, "GET", "/x");       /* all 4 busy: an episode */
    cr_expect_eq(atomic_load(&sb->max_active), 4);
    cr_expect_eq(atomic_load(&sb->max_children_reached), 1);
    /* Saturated: each worker that finishes takes the next waiting request at once.
     * That is one long episode, not one per request. */
    for (int round = 0; round < 5; round++) {
        for (unsigned i = 0; i < 4; i++) {
            scoreboard_request_end(sb, i, 1, 0);
            scoreboard_request_begin(sb, i, "GET", "/x");
        }
    }
    cr_expect_eq(atomic_load(&sb->max_children_reached), 1, "one episode under saturation");
    scoreboard_request_end(sb, 3, 1, 0);
    scoreboard_request_end(sb, 2, 1, 0);
    cr_expect_eq(atomic_load(&sb->max_active), 4, "max_active never goes down");
    scoreboard_request_begin(sb, 2, "GET", "/x");       /* 3 busy: the episode is over */
    cr_expect_eq(atomic_load(&sb->max_children_reached), 1);
    scoreboard_request_begin(sb, 3, "GET", "/x");       /* 4 again: a second one */
    cr_expect_eq(atomic_load(&sb->max_children_reached), 2);
}

Test(scoreboard, a_stopping_mark_is_not_overwritten, .init = setup, .fini = teardown)
{
    occupy(0, 100);
    scoreboard_request_begin(sb, 0, "GET", "/x");
    atomic_store(&sb->slots[0].state, SB_STOPPING);      /* the master asked it to stop */
    scoreboard_request_end(sb, 0, 1, 0);
    cr_expect_eq(atomic_load(&sb->slots[0].state), SB_STOPPING);
    scoreboard_request_begin(sb, 0, "GET", "/y");
    cr_expect_eq(atomic_load(&sb->slots[0].state), SB_STOPPING);
    cr_expect_neq(atomic_load(&sb->slots[0].busy_since_ms), 0, "still timed while stopping");
}

Test(scoreboard, texts_are_truncated_and_terminated, .init = setup, .fini = teardown)
{
    char longpath[300];

    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    occupy(0, 100);
    scoreboard_request_begin(sb, 0, NULL, longpath);
    cr_expect_eq(strlen(sb->slots[0].request), SCOREBOARD_REQUEST_MAX - 1);
    cr_expect_eq(strncmp(sb->slots[0].request, "- /ppp", 6), 0);
    scoreboard_set_text(sb->last_swap_error, sizeof(sb->last_swap_error), NULL);
    cr_expect_str_eq(sb->last_swap_error, "");
}

Test(scoreboard, state_names)
{
    cr_expect_str_eq(scoreboard_state_name(SB_IDLE), "idle");
    cr_expect_str_eq(scoreboard_state_name(SB_BUSY), "busy");
    cr_expect_str_eq(scoreboard_state_name(SB_STOPPING), "stopping");
    cr_expect_str_eq(scoreboard_state_name(99), "?");
    cr_expect_str_eq(scoreboard_state_name(-1), "?");
}
