#include "CDeflateScan.h"
#include <string.h>

// Bits are read least significant first through a 64-bit buffer refilled a byte at a time; a
// read past the end of the data is an error, found when the position passes size * 8.
typedef struct {
    const uint8_t *data;
    size_t size;
    uint64_t position;  // bits consumed
    uint64_t buffer;    // the bits from `position` on, least significant first
    int count;          // valid bits in buffer
    size_t next;        // next byte to load
} Bits;

static inline void refill(Bits *b) {
    while (b->count <= 56) {
        uint64_t byte = b->next < b->size ? b->data[b->next] : 0;  // zeros past the end; checked below
        b->buffer |= byte << b->count;
        b->count += 8;
        b->next++;
    }
}

static inline uint32_t peek(Bits *b, int n) {
    if (b->count < n) refill(b);
    return (uint32_t)(b->buffer & ((1ull << n) - 1));
}

static inline void drop(Bits *b, int n) {
    b->buffer >>= n;
    b->count -= n;
    b->position += n;
}

static inline uint32_t take(Bits *b, int n) {
    if (n == 0) return 0;
    uint32_t v = peek(b, n);
    drop(b, n);
    return v;
}

// A canonical Huffman code: a direct table on the first FAST bits (symbol << 4 | length, 0 where
// the code is longer), then canonical decoding bit by bit (counts per length, symbols by code).
#define FAST 10
typedef struct {
    uint16_t table[1 << FAST];
    uint16_t counts[16];
    uint16_t symbols[320];
} Code;

static uint32_t reverse(uint32_t code, int length) {
    uint32_t r = 0;
    for (int i = 0; i < length; i++) { r = (r << 1) | (code & 1); code >>= 1; }
    return r;
}

// Builds the code of `n` symbols with bit lengths `lengths` (0: unused). Returns -1 for an
// over-subscribed set of lengths; an incomplete one is allowed (deflate allows one-code distance sets).
static int build(Code *c, const uint8_t *lengths, int n) {
    memset(c->counts, 0, sizeof c->counts);
    memset(c->table, 0, sizeof c->table);
    for (int s = 0; s < n; s++) c->counts[lengths[s]]++;
    c->counts[0] = 0;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left <<= 1;
        left -= c->counts[len];
        if (left < 0) return -1;
    }
    uint16_t offsets[16];
    offsets[1] = 0;
    for (int len = 1; len < 15; len++) offsets[len + 1] = offsets[len] + c->counts[len];
    for (int s = 0; s < n; s++) if (lengths[s]) c->symbols[offsets[lengths[s]]++] = (uint16_t)s;
    // Canonical codes in order of length then symbol; the short ones fill the fast table.
    uint32_t code = 0;
    int index = 0;
    for (int len = 1; len < 16; len++) {
        for (int k = 0; k < c->counts[len]; k++, index++, code++) {
            if (len > FAST) continue;
            uint32_t r = reverse(code, len);
            for (uint32_t fill = r; fill < (1u << FAST); fill += 1u << len) c->table[fill] = (uint16_t)(c->symbols[index] << 4 | len);
        }
        code <<= 1;
    }
    return 0;
}

// Decodes one symbol; -1 for a code that is not in the set.
static inline int decode(Bits *b, const Code *c) {
    uint32_t bits = peek(b, 15);
    uint16_t entry = c->table[bits & ((1u << FAST) - 1)];
    if (entry) {
        drop(b, entry & 15);
        return entry >> 4;
    }
    // Longer than FAST bits: canonical decoding, one bit at a time.
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        code |= (int)(bits >> (len - 1)) & 1;
        int count = c->counts[len];
        if (code - count < first) {
            drop(b, len);
            return c->symbols[index + (code - first)];
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return -1;
}

static const uint8_t lengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint8_t distanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// Skips a Huffman-coded block's symbols up to and including its end-of-block code.
static int skipCodes(Bits *b, const Code *literals, const Code *distances) {
    uint64_t limit = (uint64_t)b->size * 8;
    for (;;) {
        if (b->position > limit) return -1;  // zeros read past the end decode as codes too
        int symbol = decode(b, literals);
        if (symbol < 0) return -1;
        if (symbol < 256) continue;
        if (symbol == 256) return 0;
        symbol -= 257;
        if (symbol >= 29) return -1;
        take(b, lengthExtra[symbol]);
        int distance = decode(b, distances);
        if (distance < 0 || distance >= 30) return -1;
        take(b, distanceExtra[distance]);
    }
}

int pk_deflate_scan(const uint8_t *data, size_t size, uint64_t *last_header, uint64_t *end) {
    Bits b = {data, size, 0, 0, 0, 0};
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    Code literals, distances;
    int haveFixed = 0;
    for (;;) {
        uint64_t header = b.position;
        int final = (int)take(&b, 1), type = (int)take(&b, 2);
        if (type == 0) {
            // Stored: to the byte boundary, LEN and its complement, LEN bytes.
            take(&b, (int)((8 - b.position % 8) % 8));
            uint32_t len = take(&b, 16), nlen = take(&b, 16);
            if ((len ^ 0xFFFF) != nlen) return -1;
            // Skip the bytes: reposition the reader at the byte after them.
            uint64_t next = b.position + (uint64_t)len * 8;
            if (next > (uint64_t)size * 8) return -1;
            b.position = next;
            b.next = (size_t)(next / 8);
            b.buffer = 0;
            b.count = 0;
            haveFixed = 0;
        } else if (type == 1) {
            if (!haveFixed) {
                uint8_t lengths[288 + 30];
                for (int s = 0; s < 144; s++) lengths[s] = 8;
                for (int s = 144; s < 256; s++) lengths[s] = 9;
                for (int s = 256; s < 280; s++) lengths[s] = 7;
                for (int s = 280; s < 288; s++) lengths[s] = 8;
                for (int s = 0; s < 30; s++) lengths[288 + s] = 5;
                build(&literals, lengths, 288);
                build(&distances, lengths + 288, 30);
                haveFixed = 1;
            }
            if (skipCodes(&b, &literals, &distances) < 0) return -1;
        } else if (type == 2) {
            int nlit = (int)take(&b, 5) + 257, ndist = (int)take(&b, 5) + 1, ncode = (int)take(&b, 4) + 4;
            if (nlit > 286 || ndist > 30) return -1;
            uint8_t codeLengths[19] = {0};
            for (int i = 0; i < ncode; i++) codeLengths[order[i]] = (uint8_t)take(&b, 3);
            Code lengthCode;
            if (build(&lengthCode, codeLengths, 19) < 0) return -1;
            uint8_t lengths[286 + 30];
            int n = 0;
            while (n < nlit + ndist) {
                int symbol = decode(&b, &lengthCode);
                if (symbol < 0) return -1;
                if (symbol < 16) { lengths[n++] = (uint8_t)symbol; continue; }
                int repeat, value = 0;
                if (symbol == 16) {
                    if (n == 0) return -1;
                    value = lengths[n - 1];
                    repeat = 3 + (int)take(&b, 2);
                } else if (symbol == 17) {
                    repeat = 3 + (int)take(&b, 3);
                } else {
                    repeat = 11 + (int)take(&b, 7);
                }
                if (n + repeat > nlit + ndist) return -1;
                while (repeat--) lengths[n++] = (uint8_t)value;
            }
            if (lengths[256] == 0) return -1;  // no end-of-block code
            if (build(&literals, lengths, nlit) < 0 || build(&distances, lengths + nlit, ndist) < 0) return -1;
            haveFixed = 0;
            if (skipCodes(&b, &literals, &distances) < 0) return -1;
        } else {
            return -1;
        }
        if (b.position > (uint64_t)size * 8) return -1;
        if (final) {
            *last_header = header;
            *end = b.position;
            return 0;
        }
    }
}
