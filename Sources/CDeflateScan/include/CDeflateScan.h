// Walks a raw deflate stream's blocks without producing its output: where the last block starts
// and where the stream ends, in bits, which is what turning a complete stream into one that
// continues needs (its final-block bit cleared, an empty stored block appended).
#ifndef PIANO_DEFLATE_SCAN_H
#define PIANO_DEFLATE_SCAN_H

#include <stddef.h>
#include <stdint.h>

/// Scans the deflate stream in data[0 ..< size]. On success returns 0 and sets *last_header to the
/// bit offset of the final block's header and *end to the bit offset just past its end-of-block
/// code (bits count from the first byte's least significant bit). Returns -1 when the data is not
/// a complete valid stream (a bad block type or code, a code past the end of the data, a
/// distance or length code out of range, no final block); the symbols' values are not checked
/// beyond that (distances are not checked against the output so far).
int pk_deflate_scan(const uint8_t *data, size_t size, uint64_t *last_header, uint64_t *end);

#endif
