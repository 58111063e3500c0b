/*
 * The pollux-control application the control unit tests run verbs against: an epoll loop,
 * an in-memory store and the health engine, without an API server (the tests that want one
 * add it; without one, every caller is an admin).
 */
#ifndef POLLUX_TEST_CONTROL_H
#define POLLUX_TEST_CONTROL_H

#include <string.h>

#include "control/api.h"
#include "base/clock.h"
#include "control/health.h"
#include "control/loop.h"
#include "control/state.h"

static inline void control_test_app_init(struct ctl_app *app, struct ctl_loop *loop)
{
    struct ctl_health_opts opts = CTL_HEALTH_DEFAULTS;
    app->opts = opts;
    app->loop = loop;
    app->started_ns = clock_mono_ns();
    memset(app->myid, 'a', 40);
    app->st = ctl_state_create(":memory:");
    assert_non_null(app->st);
    app->h = ctl_health_create(loop, app->st, &opts, ctl_api_publish, app);
    assert_non_null(app->h);
}

static inline void control_test_app_deinit(struct ctl_app *app)
{
    ctl_api_deinit(app);
    ctl_health_destroy(app->h);
    ctl_state_destroy(app->st);
}

#endif
