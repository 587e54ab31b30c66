#include "CConvKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define PK_AVX512 1
#endif

#ifdef PK_AVX512

int pk_direct_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

/// Sets MXCSR's DAZ (denormal inputs read as zero) and FTZ (denormal results flushed to zero) for
/// the calling thread and returns the previous MXCSR, which the kernel restores before it returns.
/// A trained model's dead filters decay towards zero into denormal weights, and on this CPU every
/// vector multiply-add with a denormal lane takes a microcode assist: the bundled model's 62
/// denormal weights (of 4,096 in conv5) made `infer` 2.2x slower, and training slowed as they
/// appeared. A denormal weight times an activation is below the last bit of any sum it joins
/// unless that sum is itself within a few powers of two of FLT_MIN.
static inline unsigned int flush_denormals(void) {
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);
    return csr;
}

/// One register tile of the forward kernel: P output pixels x V blocks of 16 channels from
/// channel f, P x V accumulators. `rows[a]` is pixel a's first tap, or with `contiguous` pixel a
/// reads rows[0] + a (one address register for the whole tile). Pixels from n on repeat pixel
/// n - 1 (computed, not stored).
__attribute__((target("avx512f"), always_inline))
static inline void forward_tile(const int P, const int V, const int contiguous, const float *const *rows, int n, const int32_t *offset,
                                int taps, const float *w, int channels, int f, const float *bias, float *out) {
    __m512 acc[12][4];  // P <= 12, V <= 4 (fixed sizes: a variable-length array would live on the stack)
    for (int v = 0; v < V; v++) {
        __m512 start = bias ? _mm512_loadu_ps(bias + f + 16 * v) : _mm512_setzero_ps();
        for (int a = 0; a < P; a++) acc[a][v] = start;
    }
    const float *wf = w + f, *r0 = rows[0];
    for (int k = 0; k < taps; k++) {
        __m512 wk[4];
        for (int v = 0; v < V; v++) wk[v] = _mm512_loadu_ps(wf + (long)k * channels + 16 * v);
        int o = offset[k];
        for (int a = 0; a < P; a++) {
            __m512 xa = _mm512_set1_ps(contiguous ? r0[o + a] : rows[a][o]);
            for (int v = 0; v < V; v++) acc[a][v] = _mm512_fmadd_ps(xa, wk[v], acc[a][v]);
        }
    }
    for (int a = 0; a < n; a++)
        for (int v = 0; v < V; v++) _mm512_storeu_ps(out + (long)a * channels + f + 16 * v, acc[a][v]);
}

/// All pixels in tiles of P (the last one short), each tile over all channels V blocks at a time.
#define FORWARD_TILES(P, V)                                                                                   \
    for (int p0 = 0; p0 < pixels; p0 += P) {                                                                  \
        int n = pixels - p0 < P ? pixels - p0 : P, contiguous = n == P;                                      \
        const float *rows[P];                                                                                 \
        for (int a = 0; a < P; a++) {                                                                         \
            rows[a] = x + base[p0 + (a < n ? a : n - 1)];                                                     \
            contiguous &= rows[a] == rows[0] + a;                                                             \
        }                                                                                                     \
        for (int f = 0; f < channels; f += 16 * V) {                                                          \
            if (contiguous) forward_tile(P, V, 1, rows, n, offset, taps, w, channels, f, bias, out + (long)p0 * channels); \
            else forward_tile(P, V, 0, rows, n, offset, taps, w, channels, f, bias, out + (long)p0 * channels);           \
        }                                                                                                     \
    }

/// Tiles by channel count: 6 pixels x 4 blocks where 64 divide the channels (10 loads per 24
/// multiply-adds: about 1.35x the 12 x 1 tile's speed on 64-filter layers, single-thread
/// microbenchmark, 2026-12-07), 12 x 2 for 32, else 12 x 1 (13 loads per 12).
__attribute__((target("avx512f")))
void pk_direct_forward(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                       const float *w, int channels, const float *bias, float *out) {
    unsigned int csr = flush_denormals();
    if (channels % 64 == 0) { FORWARD_TILES(6, 4) }
    else if (channels % 32 == 0) { FORWARD_TILES(12, 2) }
    else { FORWARD_TILES(12, 1) }
    _mm_setcsr(csr);
}

/// One register tile of the weight gradient: T taps from k0 x V blocks of 16 channels from
/// channel f, T x V accumulators, summed over all pixels in order. Taps from n on repeat tap
/// n - 1 (computed, not stored).
__attribute__((target("avx512f"), always_inline))
static inline void gradient_tile(const int T, const int V, const float *x, const int32_t *base, int pixels, const int32_t *offset,
                                 int k0, int n, const float *dy, int channels, int f, float *dw) {
    int32_t o[12];
    for (int a = 0; a < T; a++) o[a] = offset[k0 + (a < n ? a : n - 1)];
    __m512 acc[12][4];  // T <= 12, V <= 4
    for (int a = 0; a < T; a++)
        for (int v = 0; v < V; v++) acc[a][v] = _mm512_setzero_ps();
    for (int p = 0; p < pixels; p++) {
        __m512 g[4];
        for (int v = 0; v < V; v++) g[v] = _mm512_loadu_ps(dy + (long)p * channels + f + 16 * v);
        const float *row = x + base[p];
        for (int a = 0; a < T; a++) {
            __m512 xa = _mm512_set1_ps(row[o[a]]);
            for (int v = 0; v < V; v++) acc[a][v] = _mm512_fmadd_ps(xa, g[v], acc[a][v]);
        }
    }
    for (int a = 0; a < n; a++) {
        for (int v = 0; v < V; v++) {
            float *target = dw + (long)(k0 + a) * channels + f + 16 * v;
            _mm512_storeu_ps(target, _mm512_add_ps(_mm512_loadu_ps(target), acc[a][v]));
        }
    }
}

/// All taps in tiles of T (the last one short), each tile over all channels V blocks at a time.
#define GRADIENT_TILES(T, V)                                                                         \
    for (int k0 = 0; k0 < taps; k0 += T) {                                                           \
        int n = taps - k0 < T ? taps - k0 : T;                                                       \
        for (int f = 0; f < channels; f += 16 * V) gradient_tile(T, V, x, base, pixels, offset, k0, n, dy, channels, f, dw); \
    }

/// Tiles as the forward kernel's (6 x 4: about 1.5x on 64-channel layers), but 8 taps x 1 block
/// for 16 channels, whose 8 tap offsets stay in registers (12 did not: a few % slower).
__attribute__((target("avx512f")))
void pk_direct_weight_gradient(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                               const float *dy, int channels, float *dw) {
    unsigned int csr = flush_denormals();
    if (channels % 64 == 0) { GRADIENT_TILES(6, 4) }
    else if (channels % 32 == 0) { GRADIENT_TILES(12, 2) }
    else { GRADIENT_TILES(8, 1) }
    _mm_setcsr(csr);
}

__attribute__((target("avx512f")))
/// Transposes the 16 x 16 matrix whose rows are r[0..15] in place (unpack pairs, then 2 x 2 and
/// 4 x 4 blocks of 128-bit lanes).
static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
    }
}
/// One element of the output as `mode` makes it from value v (and its mask value m).
static inline float transpose_one(float v, float m, int mode) {
    switch (mode) {
    case PK_TRANSPOSE_RELU: return 0 >= v ? 0 : v;  // Swift's max(v, 0): NaN stays NaN, -0 becomes 0
    case PK_TRANSPOSE_MASKED: return m > 0 ? v : 0;
    default: return v;
    }
}

__attribute__((target("avx512f")))
void pk_transpose(const float *a, int rows, int columns, float *b, int mode, const float *mask) {
    int fullRows = rows - rows % 16, fullColumns = columns - columns % 16;
    const __m512 zero = _mm512_setzero_ps();
    for (int i0 = 0; i0 < fullRows; i0 += 16) {
        for (int j0 = 0; j0 < fullColumns; j0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                long at = (long)(i0 + i) * columns + j0;
                r[i] = _mm512_loadu_ps(a + at);
                if (mode == PK_TRANSPOSE_MASKED)
                    r[i] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_loadu_ps(mask + at), zero, _CMP_GT_OQ), r[i]);
                // Kept where !(v <= 0) (NaN too), else +0: as the scalar edge and Swift's max(v, 0).
                else if (mode == PK_TRANSPOSE_RELU) r[i] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r[i], zero, _CMP_NLE_UQ), r[i]);
            }
            transpose16(r);
            for (int j = 0; j < 16; j++) {
                float *target = b + (long)(j0 + j) * rows + i0;
                _mm512_storeu_ps(target, r[j]);
            }
        }
    }
    // The edges: rows past the last full block (all columns), columns past it (full-block rows).
    for (int i = 0; i < rows; i++) {
        for (int j = i < fullRows ? fullColumns : 0; j < columns; j++) {
            long from = (long)i * columns + j;
            b[(long)j * rows + i] = transpose_one(a[from], mode == PK_TRANSPOSE_MASKED ? mask[from] : 0, mode);
        }
    }
}

#else

// No AVX-512 here: pk_direct_available says 0, so the layers never call the kernels.
int pk_direct_available(void) { return 0; }

void pk_direct_forward(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                       const float *w, int channels, const float *bias, float *out) {
    __builtin_trap();
}

void pk_direct_weight_gradient(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                               const float *dy, int channels, float *dw) {
    __builtin_trap();
}

void pk_transpose(const float *a, int rows, int columns, float *b, int mode, const float *mask) { __builtin_trap(); }

#endif
