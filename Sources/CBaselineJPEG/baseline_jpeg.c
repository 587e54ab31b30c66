#include "CBaselineJPEG.h"
#include <stdlib.h>
#include <string.h>

// Written from the JPEG standard (ITU-T T.81: markers B.2, Huffman tables C and F.2.2, zig-zag
// order A.3.6) and libjpeg's documented behaviour: the inverse DCT is the "islow" algorithm of
// libjpeg's jidctint.c (Loeffler-Ligtenberg-Moschytz, 13-bit constants, 2 extra bits between the
// passes) with its output range limiting, so the pixels are libjpeg-turbo's.

enum { LOOKAHEAD = 10, PAD = 512 };

// The inverse DCT is vectorised by the compiler; on x86-64 Linux it is also built for AVX2 and
// the loader picks the version the CPU runs (an ifunc), elsewhere it is built once.
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define IDCT_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef IDCT_CLONES
#define IDCT_CLONES
#endif

typedef struct {
    uint16_t fast[1 << LOOKAHEAD];  // (code length << 8) | symbol for codes of up to LOOKAHEAD bits; 0: longer
    // For an AC table: where a code and the value bits after it fit in LOOKAHEAD bits and the
    // value is not 0, (value << 16) | (run << 8) | bits used; else 0.
    int32_t fastAC[1 << LOOKAHEAD];
    int32_t maxcode[17];            // largest code of each length, -1 where none
    int32_t valoffset[17];          // symbol index (into raw + 16) = code + valoffset[length]
    int count;                      // number of symbols
    uint8_t raw[16 + 256];          // the DHT bytes the table was derived from: 16 counts, then the symbols
    int rawSize;                    // 0: not defined
    int derived;                    // raw's tables derived
} HuffTable;

struct pk_jpeg_decoder {
    HuffTable tables[2][4];  // [class: 0 DC, 1 AC][id]
    uint16_t quant[4][64];   // zig-zag order, as in the file
    int quantDefined[4];
    uint8_t *scan;           // the scan's entropy-coded bytes with stuffing removed, then PAD zero bytes
    size_t capacity;
};

pk_jpeg_decoder *pk_jpeg_decoder_new(void) { return calloc(1, sizeof(pk_jpeg_decoder)); }

void pk_jpeg_decoder_free(pk_jpeg_decoder *decoder) {
    if (!decoder) return;
    free(decoder->scan);
    free(decoder);
}

// Zig-zag position -> natural (row-major) position.
static const uint8_t natural[64] = {
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

// `s` received bits `v` as a signed value (T.81 F.2.2.1 EXTEND); s in 1...15.
static inline int extend(int v, int s) { return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v; }

// The canonical code of each symbol (T.81 C.2) and the decoding tables; 0 when the counts describe
// no valid prefix code (libjpeg's "bogus Huffman table"), or a DC table has a symbol above 15.
static int derive(HuffTable *t, int isDC) {
    const uint8_t *counts = t->raw, *symbols = t->raw + 16;
    int n = 0;
    for (int l = 0; l < 16; l++) n += counts[l];
    if (n > 256) return 0;
    t->count = n;
    memset(t->fast, 0, sizeof t->fast);
    int32_t code = 0;
    int p = 0;
    for (int l = 1; l <= 16; l++) {
        int c = counts[l - 1];
        if (c) {
            t->valoffset[l] = p - code;
            for (int i = 0; i < c; i++, p++, code++) {
                if (code >= (1 << l) || (isDC && symbols[p] > 15)) return 0;
                if (l <= LOOKAHEAD) {
                    int shift = LOOKAHEAD - l;
                    for (int fill = 0; fill < (1 << shift); fill++) t->fast[(code << shift) | fill] = (uint16_t)((l << 8) | symbols[p]);
                }
            }
            if (code >= (1 << l)) return 0;  // no room left, or an all-ones code (T.81 C.2; libjpeg refuses it)
            t->maxcode[l] = code - 1;
        } else {
            t->maxcode[l] = -1;
        }
        code <<= 1;
    }
    for (int i = 0; i < (1 << LOOKAHEAD); i++) {
        t->fastAC[i] = 0;
        unsigned e = t->fast[i];
        int length = (int)(e >> 8), run = (int)(e & 0xFF) >> 4, size = (int)(e & 15);
        if (isDC || !e || !size || length + size > LOOKAHEAD) continue;
        int value = extend((i >> (LOOKAHEAD - length - size)) & ((1 << size) - 1), size);
        t->fastAC[i] = (int32_t)((uint32_t)value << 16) | (run << 8) | (length + size);
    }
    t->derived = 1;
    return 1;
}

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

// Bits, most significant first, through a 64-bit buffer: `buffer`'s top `count` bits are the
// stream's next bits, and `next` is the first byte not yet in it. Reading past the data gives
// zeros (the buffer has PAD zero bytes after it); the caller checks the position afterwards.
typedef struct {
    const uint8_t *data;
    size_t next;
    uint64_t buffer;
    int count;
} Bits;

// At least 56 bits in the buffer (Giesen's branchless refill: whole bytes that fit, and the bits
// past them are the stream's own next bits, so OR-ing the next load over them changes nothing).
static inline __attribute__((always_inline)) void refill(Bits *b) {
    b->buffer |= load_be64(b->data + b->next) >> b->count;
    b->next += (size_t)((63 - b->count) >> 3);
    b->count |= 56;
}

static inline __attribute__((always_inline)) void consume(Bits *b, int n) {
    b->buffer <<= n;
    b->count -= n;
}

// Bits consumed so far.
static inline uint64_t position(const Bits *b) { return (uint64_t)b->next * 8 - (uint64_t)b->count; }

// One Huffman symbol; -1 for a bit pattern that is no code. Needs 16 bits in the buffer.
static inline __attribute__((always_inline)) int decode_symbol(const HuffTable *t, Bits *b) {
    unsigned e = t->fast[b->buffer >> (64 - LOOKAHEAD)];
    if (e) {
        consume(b, (int)(e >> 8));
        return (int)(e & 0xFF);
    }
    int32_t code16 = (int32_t)(b->buffer >> 48);
    int l = LOOKAHEAD + 1;
    while ((code16 >> (16 - l)) > t->maxcode[l]) {
        if (++l > 16) return -1;
    }
    int index = (code16 >> (16 - l)) + t->valoffset[l];
    if (index < 0 || index >= t->count) return -1;
    consume(b, l);
    return t->raw[16 + index];
}

// The next `s` bits as a signed value (`extend`); s in 1...15, and as many bits in the buffer.
static inline __attribute__((always_inline)) int receive_extend(Bits *b, int s) {
    int v = (int)(b->buffer >> (64 - s));
    consume(b, s);
    return extend(v, s);
}

#define CONST_BITS 13
#define PASS1_BITS 2
#define FIX_0_298631336 2446
#define FIX_0_390180644 3196
#define FIX_0_541196100 4433
#define FIX_0_765366865 6270
#define FIX_0_899976223 7373
#define FIX_1_175875602 9633
#define FIX_1_501321110 12299
#define FIX_1_847759065 15137
#define FIX_1_961570560 16069
#define FIX_2_053119869 16819
#define FIX_2_562915447 20995
#define FIX_3_072711026 25172
// A sample from the second pass's value v, within -512...511: v + 128 clamped to 0...255. There
// libjpeg's C range limiting (v masked to 10 bits, read as signed) and its SIMD code's (saturation)
// agree; outside it they differ, and idct_block declines.
static inline uint8_t limit(int32_t v) { return (uint8_t)(v < -128 ? 0 : v > 127 ? 255 : v + 128); }

// The 1-D inverse DCT along the first index of in[8][8], for all 8 positions of the second index
// at once (written so that the compiler vectorizes it), in 32-bit arithmetic: out = (result +
// rounding) >> shift. Exact when |in| <= 8192 (every sum stays under 2^31).
static inline __attribute__((always_inline)) void idct8x8_32(const int32_t in[8][8], int32_t out[8][8], int shift) {
    const int32_t round = 1 << (shift - 1);
    for (int c = 0; c < 8; c++) {
        int32_t z2 = in[2][c], z3 = in[6][c];
        int32_t z1 = (z2 + z3) * FIX_0_541196100;
        int32_t tmp2 = z1 + z3 * -FIX_1_847759065;
        int32_t tmp3 = z1 + z2 * FIX_0_765366865;
        int32_t tmp0 = (in[0][c] + in[4][c]) * (1 << CONST_BITS);
        int32_t tmp1 = (in[0][c] - in[4][c]) * (1 << CONST_BITS);
        int32_t tmp10 = tmp0 + tmp3 + round, tmp13 = tmp0 - tmp3 + round, tmp11 = tmp1 + tmp2 + round, tmp12 = tmp1 - tmp2 + round;
        tmp0 = in[7][c];
        tmp1 = in[5][c];
        tmp2 = in[3][c];
        tmp3 = in[1][c];
        z1 = tmp0 + tmp3;
        z2 = tmp1 + tmp2;
        z3 = tmp0 + tmp2;
        int32_t z4 = tmp1 + tmp3;
        int32_t z5 = (z3 + z4) * FIX_1_175875602;
        tmp0 *= FIX_0_298631336;
        tmp1 *= FIX_2_053119869;
        tmp2 *= FIX_3_072711026;
        tmp3 *= FIX_1_501321110;
        z1 *= -FIX_0_899976223;
        z2 *= -FIX_2_562915447;
        z3 = z3 * -FIX_1_961570560 + z5;
        z4 = z4 * -FIX_0_390180644 + z5;
        tmp0 += z1 + z3;
        tmp1 += z2 + z4;
        tmp2 += z2 + z3;
        tmp3 += z1 + z4;
        out[0][c] = (tmp10 + tmp3) >> shift;
        out[7][c] = (tmp10 - tmp3) >> shift;
        out[1][c] = (tmp11 + tmp2) >> shift;
        out[6][c] = (tmp11 - tmp2) >> shift;
        out[2][c] = (tmp12 + tmp1) >> shift;
        out[5][c] = (tmp12 - tmp1) >> shift;
        out[3][c] = (tmp13 + tmp0) >> shift;
        out[4][c] = (tmp13 - tmp0) >> shift;
    }
}

static inline __attribute__((always_inline)) void transpose(const int32_t in[8][8], int32_t out[8][8]) {
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) out[c][r] = in[r][c];
}

// Dequantizes and inverse-transforms one block (values = coefficient x quantizer, natural order,
// each within +-4096) into out (8x8, row stride `stride`); returns 0, with `out` partly written,
// where a first-pass value leaves +-8192 (beyond what blocks of 8-bit images give; libjpeg-turbo's
// SIMD code keeps them in 16 bits, its C code in 32) or a result leaves -512...511 before the +128
// (see `limit`). In 32-bit arithmetic, exact within those bounds.
IDCT_CLONES
static int idct_block(const int32_t values[64], uint8_t *out, size_t stride) {
    int32_t work[8][8], turned[8][8], result[8][8];
    idct8x8_32((const int32_t (*)[8])values, work, CONST_BITS - PASS1_BITS);
    uint32_t big = 0;
    for (int i = 0; i < 64; i++) big |= (uint32_t)(work[i / 8][i % 8] + 8192) > 16384u;
    if (big) return 0;
    transpose(work, turned);
    idct8x8_32(turned, result, CONST_BITS + PASS1_BITS + 3);  // result[column][row]
    uint32_t outside = 0;
    uint8_t samples[8][8];
    for (int c = 0; c < 8; c++)
        for (int r = 0; r < 8; r++) {
            outside |= (uint32_t)(result[c][r] + 512) > 1023u;
            samples[c][r] = limit(result[c][r]);
        }
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 8; c++) out[(size_t)r * stride + c] = samples[c][r];
    return !outside;
}

static inline unsigned be16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }

int pk_jpeg_decode_gray(pk_jpeg_decoder *d, const uint8_t *data, size_t size, uint8_t *pixels,
                        int width, int height, int *declared_width, int *declared_height) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) return PK_JPEG_DECLINED;
    size_t at = 2;
    int frameWidth = 0, frameHeight = 0, quantId = -1, componentId = -1;
    int dcId = -1, acId = -1;
    for (int i = 0; i < 4; i++) d->quantDefined[i] = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 4; i++) d->tables[c][i].rawSize = 0;
    // Markers up to the scan. Every marker must follow the last segment directly (libjpeg warns
    // about bytes in between), and only those a baseline grayscale image needs are accepted.
    for (;;) {
        if (at + 4 > size || data[at] != 0xFF) return PK_JPEG_DECLINED;
        unsigned marker = data[at + 1];
        unsigned length = be16(data + at + 2);
        if (length < 2 || at + 2 + length > size) return PK_JPEG_DECLINED;
        const uint8_t *seg = data + at + 4;
        size_t n = length - 2;
        at += 2 + length;
        if (marker == 0xC0) {  // SOF0: baseline
            if (frameWidth || n != 9 || seg[0] != 8 || seg[5] != 1) return PK_JPEG_DECLINED;
            frameHeight = (int)be16(seg + 1);
            frameWidth = (int)be16(seg + 3);
            componentId = seg[6];
            quantId = seg[8];
            if (frameWidth == 0 || frameHeight == 0 || frameWidth > 65500 || frameHeight > 65500 || seg[7] != 0x11 || quantId > 3)
                return PK_JPEG_DECLINED;
        } else if (marker == 0xC4) {  // DHT: one or more tables
            size_t k = 0;
            while (k < n) {
                if (k + 17 > n) return PK_JPEG_DECLINED;
                int cls = seg[k] >> 4, id = seg[k] & 15;
                if (cls > 1 || id > 3) return PK_JPEG_DECLINED;
                int count = 0;
                for (int l = 0; l < 16; l++) count += seg[k + 1 + l];
                if (count > 256 || k + 17 + (size_t)count > n) return PK_JPEG_DECLINED;
                HuffTable *t = &d->tables[cls][id];
                int rawSize = 16 + count;
                if (!(t->derived && memcmp(t->raw, seg + k + 1, (size_t)rawSize) == 0)) {  // the last image's tables: kept
                    memcpy(t->raw, seg + k + 1, (size_t)rawSize);
                    t->derived = 0;
                    if (!derive(t, cls == 0)) return PK_JPEG_DECLINED;
                }
                t->rawSize = rawSize;
                k += 17 + (size_t)count;
            }
        } else if (marker == 0xDB) {  // DQT
            size_t k = 0;
            while (k < n) {
                int precision = seg[k] >> 4, id = seg[k] & 15;
                size_t bytes = precision ? 128 : 64;
                if (precision > 1 || id > 3 || k + 1 + bytes > n) return PK_JPEG_DECLINED;
                for (int i = 0; i < 64; i++) {
                    unsigned q = precision ? be16(seg + k + 1 + 2 * i) : seg[k + 1 + i];
                    if (q > 32767) return PK_JPEG_DECLINED;
                    d->quant[id][i] = (uint16_t)q;
                }
                d->quantDefined[id] = 1;
                k += 1 + bytes;
            }
        } else if (marker == 0xDD) {  // DRI: only "no restart interval"
            if (n != 2 || be16(seg) != 0) return PK_JPEG_DECLINED;
        } else if (marker == 0xE0) {  // APP0: libjpeg warns about a JFIF major version other than 1
            if (n >= 14 && memcmp(seg, "JFIF", 5) == 0 && seg[5] != 1) return PK_JPEG_DECLINED;
        } else if ((marker >= 0xE1 && marker <= 0xEF) || marker == 0xFE) {  // other APPn, COM: skipped
        } else if (marker == 0xDA) {  // SOS
            if (!frameWidth || n != 6 || seg[0] != 1 || seg[1] != componentId || seg[3] != 0 || seg[4] != 63 || seg[5] != 0)
                return PK_JPEG_DECLINED;
            dcId = seg[2] >> 4;
            acId = seg[2] & 15;
            break;
        } else {
            return PK_JPEG_DECLINED;
        }
    }
    if (dcId > 3 || acId > 3 || !d->quantDefined[quantId] || !d->tables[0][dcId].rawSize || !d->tables[1][acId].rawSize)
        return PK_JPEG_DECLINED;
    if (frameWidth != width || frameHeight != height) {
        *declared_width = frameWidth;
        *declared_height = frameHeight;
        return PK_JPEG_OTHER_SIZE;
    }
    // The entropy-coded segment, unstuffed (FF 00 -> FF), up to the next marker, which must be EOI.
    size_t need = size - at + PAD;
    if (need > d->capacity) {
        uint8_t *grown = realloc(d->scan, need);
        if (!grown) return PK_JPEG_DECLINED;
        d->scan = grown;
        d->capacity = need;
    }
    uint8_t *bits = d->scan;
    size_t count = 0;
    for (;;) {
        const uint8_t *mark = memchr(data + at, 0xFF, size - at);
        if (!mark) return PK_JPEG_DECLINED;
        size_t run = (size_t)(mark - (data + at));
        memcpy(bits + count, data + at, run);
        count += run;
        at += run + 1;
        if (at >= size) return PK_JPEG_DECLINED;
        uint8_t next = data[at++];
        if (next == 0x00) {
            bits[count++] = 0xFF;
            continue;
        }
        if (next != 0xD9) return PK_JPEG_DECLINED;  // anything but EOI (a restart marker, fill bytes, another scan)
        break;
    }
    memset(bits + count, 0, PAD);
    const uint64_t total = (uint64_t)count * 8;
    const HuffTable *dc = &d->tables[0][dcId], *ac = &d->tables[1][acId];
    const uint16_t *quant = d->quant[quantId];
    const int blocksAcross = (width + 7) / 8, blocksDown = (height + 7) / 8;
    Bits b = {bits, 0, 0, 0};
    int predictor = 0;
    int32_t values[64];
    uint8_t edge[64];
    for (int by = 0; by < blocksDown; by++) {
        for (int bx = 0; bx < blocksAcross; bx++) {
            memset(values, 0, sizeof values);
            // Each value times its quantizer, checked against +-4096: beyond what 8-bit samples
            // give, where libjpeg-turbo's 16-bit SIMD inverse DCT could differ from its C one.
            int32_t outside = 0;
            refill(&b);
            int s = decode_symbol(dc, &b);
            if (s < 0) return PK_JPEG_DECLINED;
            if (s) predictor += receive_extend(&b, s);
            if (predictor < -32768 || predictor > 32767) return PK_JPEG_DECLINED;
            values[0] = predictor * quant[0];
            outside |= (uint32_t)(values[0] + 4096) > 8192u;
            for (int k = 1; k < 64; k++) {
                if (b.count < 32) refill(&b);  // a symbol and its value take at most 31 bits
                int32_t f = ac->fastAC[b.buffer >> (64 - LOOKAHEAD)];
                int32_t v;
                if (f) {
                    k += (f >> 8) & 0xFF;
                    consume(&b, f & 0xFF);
                    v = f >> 16;
                } else {
                    int rs = decode_symbol(ac, &b);
                    if (rs < 0) return PK_JPEG_DECLINED;
                    int r = rs >> 4;
                    s = rs & 15;
                    if (!s) {
                        if (r != 15) break;  // end of block
                        k += 15;
                        continue;
                    }
                    k += r;
                    v = receive_extend(&b, s);
                }
                if (k > 63) return PK_JPEG_DECLINED;  // libjpeg stores it at 63 without a warning; left to it
                v *= quant[k];
                outside |= (uint32_t)(v + 4096) > 8192u;
                values[natural[k]] = v;
            }
            if (outside || position(&b) > total) return PK_JPEG_DECLINED;  // past the data: libjpeg warns of a premature end
            int x = bx * 8, y = by * 8;
            if (x + 8 <= width && y + 8 <= height) {
                if (!idct_block(values, pixels + (size_t)y * (size_t)width + (size_t)x, (size_t)width)) return PK_JPEG_DECLINED;
            } else {
                if (!idct_block(values, edge, 8)) return PK_JPEG_DECLINED;
                for (int r = 0; r < 8 && y + r < height; r++)
                    for (int c = 0; c < 8 && x + c < width; c++) pixels[(size_t)(y + r) * (size_t)width + (size_t)(x + c)] = edge[r * 8 + c];
            }
        }
    }
    if (total - position(&b) >= 8) return PK_JPEG_DECLINED;  // whole bytes left over: libjpeg warns of extraneous data
    return PK_JPEG_DECODED;
}
