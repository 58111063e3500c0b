/*
 * Decimal strings at every integer boundary of a listpack (7-bit, 13-bit, 16,
 * 24, 32 and 64-bit entries) and of an intset (16, 32, 64-bit members), in
 * order of the width they need: the RDB unit test and the integration test's
 * RDB writer use the same list.
 */
#ifndef POLLUX_RDB_VALUES_TEST_H
#define POLLUX_RDB_VALUES_TEST_H

static const char *const rdb_test_ints[] = {
    "0",
    "127",
    "128",
    "-1",
    "4095",
    "4096",
    "-4096",
    "-4097",
    "32767",
    "32768",
    "-32768",
    "-32769",
    "8388607",
    "8388608",
    "-8388608",
    "-8388609",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "9223372036854775807",
    "-9223372036854775808",
};
#define RDB_TEST_NINTS (sizeof(rdb_test_ints) / sizeof(rdb_test_ints[0]))

#endif
