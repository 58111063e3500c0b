/*
 * SLOWLOG: each worker keeps its own ring of the slowest recent commands it
 * executed; SLOWLOG GET merges the rings (newest first) while holding every
 * shard. Entry ids come from one process-wide counter, so they are unique
 * and increase with time as in Redis.
 */
#ifndef POLLUX_SLOWLOG_H
#define POLLUX_SLOWLOG_H

#include <stdint.h>

#include "resp/parse.h"

struct worker;

#define SLOWLOG_MAX_ARGC   32
#define SLOWLOG_MAX_STRING 128

void slowlog_add(struct worker *w, int argc, const struct resp_arg *argv, uint64_t usec,
                 const char *peer, const char *name);
void slowlog_reset(struct worker *w);
void slowlog_resize(struct worker *w, unsigned cap);
void slowlog_free(struct worker *w);

#endif
