/*
 * CRC-64 as the RDB trailer uses it: the Jones polynomial 0xad93d23594c935a9,
 * reflected input and output, initial value 0, no final xor. The check value
 * of "123456789" is 0xe9c6d914c4b8d9ca.
 *
 * Computed by Intel's ISA-L (Debian's libisal), which has this variant with
 * carry-less-multiply code for x86-64 and ARMv8; combining CRCs of pieces is
 * done here. Why and how fast: replication/NOTES.md.
 */
#ifndef POLLUX_CRC64_H
#define POLLUX_CRC64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC over n more bytes: crc64_update(crc64_update(0, a, na), b, nb)
 * equals the CRC of a followed by b. Start with 0. Thread-safe; p may be
 * unaligned, and NULL when n is 0.
 */
uint64_t crc64_update(uint64_t crc, const void *p, size_t n);

/*
 * The CRC of the concatenation A B from crc_a = CRC(A), crc_b = CRC(B) and the
 * length of B, without the bytes (O(log len_b) steps). Lets pieces made on
 * different threads be checksummed where they are made and combined in file
 * order.
 */
uint64_t crc64_combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

#endif
