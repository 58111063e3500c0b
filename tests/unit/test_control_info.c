#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "control/node_info.h"

static void replica_fields(void **state)
{
    (void)state;
    const char text[] =
        "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_port:7001\r\n"
        "master_link_status:up\r\nmaster_last_io_seconds_ago:1\r\n"
        "master_sync_in_progress:0\r\nslave_read_repl_offset:1234\r\n"
        "slave_repl_offset:1234\r\nslave_priority:0\r\nslave_read_only:1\r\n"
        "master_replid:abcdef\r\nmaster_repl_offset:1234\r\n";
    struct ctl_repl_info i;
    assert_int_equal(ctl_info_parse(text, sizeof(text) - 1, &i), 0);
    assert_int_equal(i.role, CTL_SEEN_REPLICA);
    assert_string_equal(i.master_host, "10.0.0.1");
    assert_int_equal(i.master_port, 7001);
    assert_true(i.link_up);
    assert_false(i.sync_in_progress);
    assert_int_equal(i.replica_offset, 1234);
    assert_int_equal(i.priority, 0);
    assert_int_equal(i.last_io_seconds, 1);
    assert_string_equal(i.replid, "abcdef");
    assert_int_equal(ctl_info_offset(&i), 1234);
}

static void primary_fields(void **state)
{
    (void)state;
    const char text[] = "# Replication\nrole:master\nconnected_slaves:2\n"
                        "slave0:ip=127.0.0.1,port=7002,state=online,offset=99,lag=0\n"
                        "slave1:ip=127.0.0.1,port=7003,state=wait_bgsave,offset=0,lag=3\n"
                        "master_repl_offset:100\n";
    struct ctl_repl_info i;
    assert_int_equal(ctl_info_parse(text, sizeof(text) - 1, &i), 0);
    assert_int_equal(i.role, CTL_SEEN_MASTER);
    assert_int_equal(i.priority, 100);
    assert_int_equal(i.nreplicas, 2);
    assert_string_equal(i.replicas[0].ip, "127.0.0.1");
    assert_int_equal(i.replicas[0].port, 7002);
    assert_true(i.replicas[0].online);
    assert_int_equal(i.replicas[0].offset, 99);
    assert_false(i.replicas[1].online);
    assert_int_equal(i.replicas[1].lag, 3);
    assert_int_equal(ctl_info_offset(&i), 100);
}

static void no_role_is_an_error(void **state)
{
    (void)state;
    struct ctl_repl_info i;
    const char text[] = "# Server\r\nredis_version:7.0.0\r\nrole:sentinel\r\n";
    assert_int_equal(ctl_info_parse(text, sizeof(text) - 1, &i), -EINVAL);
    assert_int_equal(ctl_info_parse("", 0, &i), -EINVAL);
    /* Truncated text: whatever prefix, never a crash, and a role only when complete. */
    const char full[] = "role:slave\r\nmaster_port:70";
    for (size_t n = 0; n <= sizeof(full) - 1; n++) {
        int rc = ctl_info_parse(full, n, &i);
        assert_int_equal(rc, n >= 10 ? 0 : -EINVAL);
    }
}

/* master_apply_errors / master_last_apply_error: the error text keeps its colons. */
static void apply_errors(void **state)
{
    (void)state;
    const char text[] = "role:slave\r\nmaster_link_status:up\r\nmaster_apply_errors:3\r\n"
                        "master_last_apply_error:ERR wrong number of arguments for 'set' "
                        "command: SET k\r\nslave_repl_offset:10\r\n";
    struct ctl_repl_info i;
    assert_int_equal(ctl_info_parse(text, sizeof(text) - 1, &i), 0);
    assert_int_equal(i.apply_errors, 3);
    assert_string_equal(i.last_apply_error,
                        "ERR wrong number of arguments for 'set' command: SET k");
    assert_int_equal(i.replica_offset, 10);
    /* Absent (a node without the fields, or Redis): 0 and empty. */
    const char plain[] = "role:slave\r\nmaster_link_status:down\r\n";
    assert_int_equal(ctl_info_parse(plain, sizeof(plain) - 1, &i), 0);
    assert_int_equal(i.apply_errors, 0);
    assert_string_equal(i.last_apply_error, "");
    assert_false(i.link_up);
    /* A text longer than the field is cut, still terminated. */
    char longer[600];
    int n = snprintf(longer, sizeof(longer), "role:slave\nmaster_last_apply_error:%0400d\n", 7);
    assert_int_equal(ctl_info_parse(longer, (size_t)n, &i), 0);
    assert_int_equal(strlen(i.last_apply_error), sizeof(i.last_apply_error) - 1);
}

static void run_id(void **state)
{
    (void)state;
    char id[CTL_RUN_ID_LEN + 1];
    const char text[] = "# Server\r\nredis_version:7.0.15\r\nprocess_id:1\r\n"
                        "run_id:3fb7715507ca52a035696f7e46fe014ffd437c43\r\ntcp_port:7000\r\n";
    assert_int_equal(ctl_info_run_id(text, sizeof(text) - 1, id), 0);
    assert_string_equal(id, "3fb7715507ca52a035696f7e46fe014ffd437c43");
    /* LF line ends, last line without one. */
    const char lf[] = "tcp_port:1\nrun_id:0123456789abcdef0123456789ABCDEF01234567";
    assert_int_equal(ctl_info_run_id(lf, sizeof(lf) - 1, id), 0);
    assert_string_equal(id, "0123456789abcdef0123456789ABCDEF01234567");
    /* Missing, short, long or not hex: no identity. */
    const char *bad[] = { "# Server\r\nredis_version:7.0.0\r\n",
                          "run_id:abc\r\n",
                          "run_id:3fb7715507ca52a035696f7e46fe014ffd437c431\r\n",
                          "run_id:3fb7715507ca52a035696f7e46fe014ffd437c4g\r\n",
                          "run_id:",
                          "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ctl_info_run_id(bad[i], strlen(bad[i]), id), -EINVAL);
        assert_string_equal(id, "");
    }
    /* Every truncation of the good text: the id only once all of it is there. */
    for (size_t n = 0; n < sizeof(text) - 1; n++) {
        int rc = ctl_info_run_id(text, n, id);
        assert_int_equal(rc, n >= strlen(text) - strlen("\r\ntcp_port:7000\r\n") ? 0 : -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replica_fields),
        cmocka_unit_test(primary_fields),
        cmocka_unit_test(no_role_is_an_error),
        cmocka_unit_test(apply_errors),
        cmocka_unit_test(run_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
