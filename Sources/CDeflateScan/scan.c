#include "CDeflateScan.h"
#include <string.h>

// Bits are read least significant first through a 64-bit buffer refilled eight bytes at a time; a
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
    if (b->next + 8 <= b->size) {
        // Eight bytes at once: the bits past the whole bytes counted are the stream's own next
        // bits, so OR-ing the next load over them changes nothing.
        uint64_t word;
        memcpy(&word, b->data + b->next, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        word = __builtin_bswap64(word);
#endif
        b->buffer |= word << b->count;
        b->next += (size_t)((63 - b->count) >> 3);
        b->count |= 56;
        return;
    }
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

static const uint8_t lengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint8_t distanceExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

// What a code's symbols are: code-length symbols of a block header (read one by one), or a
// block's literal/length or distance symbols (only skipped, with their extra bits).
enum Role { LENGTHS, LITERALS, DISTANCES };
// What a symbol is when skipped: a literal byte (or a distance, or a code length), a length that
// a distance follows, the end of the block, or a symbol deflate does not use (286, 287, 30, 31).
enum Kind { PLAIN, LENGTH, END, INVALID };

// A canonical Huffman code: a direct table on the first FAST bits, then canonical decoding bit by
// bit (counts per length, symbols by code) for longer codes. A table entry is
// symbol << 7 | kind << 5 | bits, where bits counts the code and the symbol's extra bits (so a
// skip drops them at once); 0 where the code is longer than FAST bits or not in the set.
#define FAST 10
typedef struct {
    uint16_t table[1 << FAST];
    uint16_t counts[16];
    uint16_t symbols[320];
} Code;

static inline int entryBits(uint16_t entry) { return entry & 31; }
static inline int entryKind(uint16_t entry) { return entry >> 5 & 3; }
static inline int entrySymbol(uint16_t entry) { return entry >> 7; }

static uint16_t entry(int symbol, int length, enum Role role) {
    int kind = PLAIN, extra = 0;
    if (role == LITERALS && symbol == 256) {
        kind = END;
    } else if (role == LITERALS && symbol > 256) {
        if (symbol - 257 < 29) { kind = LENGTH; extra = lengthExtra[symbol - 257]; } else { kind = INVALID; }
    } else if (role == DISTANCES) {
        if (symbol < 30) { extra = distanceExtra[symbol]; } else { kind = INVALID; }
    }
    return (uint16_t)(symbol << 7 | kind << 5 | (length + extra));
}

static uint32_t reverse(uint32_t code, int length) {
    uint32_t r = 0;
    for (int i = 0; i < length; i++) { r = (r << 1) | (code & 1); code >>= 1; }
    return r;
}

// Builds the code of `n` symbols with bit lengths `lengths` (0: unused). Returns -1 for an
// over-subscribed set of lengths; an incomplete one is allowed (deflate allows one-code distance sets).
static int build(Code *c, const uint8_t *lengths, int n, enum Role role) {
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
    for (int len = 1; len <= FAST; len++) {
        for (int k = 0; k < c->counts[len]; k++, index++, code++) {
            uint16_t e = entry(c->symbols[index], len, role);
            for (uint32_t fill = reverse(code, len); fill < (1u << FAST); fill += 1u << len) c->table[fill] = e;
        }
        code <<= 1;
    }
    return 0;
}

// Decodes a code longer than FAST bits (or one not in the set: -1) one bit at a time.
static int decodeLong(Bits *b, const Code *c) {
    uint32_t bits = peek(b, 15);
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

// Decodes one code-length symbol of a block header; -1 for a code that is not in the set.
static inline int decode(Bits *b, const Code *c) {
    uint16_t e = c->table[peek(b, 15) & ((1u << FAST) - 1)];
    if (!e) return decodeLong(b, c);
    drop(b, entryBits(e));
    return entrySymbol(e);
}

// Skips a length's distance code and extra bits after a length decoded the slow way.
static int skipDistance(Bits *b, const Code *distances) {
    uint16_t e = distances->table[peek(b, 28) & ((1u << FAST) - 1)];
    if (e) {
        if (entryKind(e) == INVALID) return -1;
        drop(b, entryBits(e));
        return 0;
    }
    int distance = decodeLong(b, distances);
    if (distance < 0 || distance >= 30) return -1;
    take(b, distanceExtra[distance]);
    return 0;
}

// Skips a Huffman-coded block's symbols up to and including its end-of-block code. A length and
// its distance take at most 15 + 5 + 15 + 13 = 48 bits, so one refill covers a whole symbol.
static int skipCodes(Bits *reader, const Code *literals, const Code *distances) {
    // A copy the compiler keeps in registers (stores through `reader` could alias the tables).
    Bits local = *reader, *b = &local;
    uint64_t limit = (uint64_t)b->size * 8;
    const uint32_t mask = (1u << FAST) - 1;
    int status;
    for (;;) {
        if (b->position > limit) { status = -1; break; }  // zeros read past the end decode as codes too
        if (b->count < 48) refill(b);
        // Without a branch on literal or length (about even odds, so often mispredicted): the
        // entry of the bits after the symbol is looked up in the distance table every time, and
        // its bits are dropped too when the symbol is a length.
        uint16_t s = literals->table[b->buffer & mask];
        uint16_t d = distances->table[(b->buffer >> entryBits(s)) & mask];
        int kind = entryKind(s), isLength = kind == LENGTH;
        if (entryBits(s) && (kind == PLAIN || (isLength && entryBits(d) && entryKind(d) != INVALID))) {
            drop(b, entryBits(s) + (isLength ? entryBits(d) : 0));
            continue;
        }
        // The rare cases: the end of the block, a bad symbol, a code longer than FAST bits.
        if (entryBits(s)) {
            if (kind == END) { drop(b, entryBits(s)); status = 0; break; }
            if (kind == INVALID) { status = -1; break; }
            drop(b, entryBits(s));
        } else {
            int symbol = decodeLong(b, literals);
            if (symbol < 0) { status = -1; break; }
            if (symbol < 256) continue;
            if (symbol == 256) { status = 0; break; }
            symbol -= 257;
            if (symbol >= 29) { status = -1; break; }
            take(b, lengthExtra[symbol]);
        }
        if (skipDistance(b, distances) < 0) { status = -1; break; }
    }
    *reader = local;
    return status;
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
                build(&literals, lengths, 288, LITERALS);
                build(&distances, lengths + 288, 30, DISTANCES);
                haveFixed = 1;
            }
            if (skipCodes(&b, &literals, &distances) < 0) return -1;
        } else if (type == 2) {
            int nlit = (int)take(&b, 5) + 257, ndist = (int)take(&b, 5) + 1, ncode = (int)take(&b, 4) + 4;
            if (nlit > 286 || ndist > 30) return -1;
            uint8_t codeLengths[19] = {0};
            for (int i = 0; i < ncode; i++) codeLengths[order[i]] = (uint8_t)take(&b, 3);
            Code lengthCode;
            if (build(&lengthCode, codeLengths, 19, LENGTHS) < 0) return -1;
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
            if (build(&literals, lengths, nlit, LITERALS) < 0 || build(&distances, lengths + nlit, ndist, DISTANCES) < 0) return -1;
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
