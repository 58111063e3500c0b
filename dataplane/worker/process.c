#include "worker/process.h"

#include <signal.h>
#include <unistd.h>

struct server server;

void server_request_shutdown(int exit_code)
{
    atomic_store(&server.shutdown_exit_code, exit_code);
    atomic_store(&server.shutdown, true);
    kill(getpid(), SIGTERM);
}
