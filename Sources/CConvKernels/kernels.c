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

/// Output pixels per register tile: 12 accumulators of 16 channels (of 32 vector registers).
#define TILE 12

__attribute__((target("avx512f")))
void pk_direct_forward(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                       const float *w, int channels, const float *bias, float *out) {
    for (int p0 = 0; p0 < pixels; p0 += TILE) {
        int n = pixels - p0 < TILE ? pixels - p0 : TILE;
        // A short last tile repeats its last pixel, computed and not stored.
        const float *rows[TILE];
        for (int a = 0; a < TILE; a++) rows[a] = x + base[p0 + (a < n ? a : n - 1)];
        for (int f = 0; f < channels; f += 16) {
            __m512 start = bias ? _mm512_loadu_ps(bias + f) : _mm512_setzero_ps();
            __m512 acc[TILE];
            for (int a = 0; a < TILE; a++) acc[a] = start;
            const float *wf = w + f;
            for (int k = 0; k < taps; k++) {
                __m512 wk = _mm512_loadu_ps(wf + (long)k * channels);
                int o = offset[k];
                for (int a = 0; a < TILE; a++) acc[a] = _mm512_fmadd_ps(_mm512_set1_ps(rows[a][o]), wk, acc[a]);
            }
            for (int a = 0; a < n; a++) _mm512_storeu_ps(out + (long)(p0 + a) * channels + f, acc[a]);
        }
    }
}

__attribute__((target("avx512f")))
void pk_direct_weight_gradient(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                               const float *dy, int channels, float *dw) {
    for (int k0 = 0; k0 < taps; k0 += TILE) {
        int n = taps - k0 < TILE ? taps - k0 : TILE;
        // A short last tile repeats its last tap, computed and not stored.
        int32_t o[TILE];
        for (int a = 0; a < TILE; a++) o[a] = offset[k0 + (a < n ? a : n - 1)];
        for (int f = 0; f < channels; f += 16) {
            __m512 acc[TILE];
            for (int a = 0; a < TILE; a++) acc[a] = _mm512_setzero_ps();
            for (int p = 0; p < pixels; p++) {
                __m512 g = _mm512_loadu_ps(dy + (long)p * channels + f);
                const float *row = x + base[p];
                for (int a = 0; a < TILE; a++) acc[a] = _mm512_fmadd_ps(_mm512_set1_ps(row[o[a]]), g, acc[a]);
            }
            for (int a = 0; a < n; a++) {
                float *target = dw + (long)(k0 + a) * channels + f;
                _mm512_storeu_ps(target, _mm512_add_ps(_mm512_loadu_ps(target), acc[a]));
            }
        }
    }
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
__attribute__((target("avx512f")))
void pk_transpose(const float *a, int rows, int columns, float *b, int accumulate) {
    int fullRows = rows - rows % 16, fullColumns = columns - columns % 16;
    for (int i0 = 0; i0 < fullRows; i0 += 16) {
        for (int j0 = 0; j0 < fullColumns; j0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(a + (long)(i0 + i) * columns + j0);
            transpose16(r);
            for (int j = 0; j < 16; j++) {
                float *target = b + (long)(j0 + j) * rows + i0;
                _mm512_storeu_ps(target, accumulate ? _mm512_add_ps(_mm512_loadu_ps(target), r[j]) : r[j]);
            }
        }
    }
    // The edges: rows past the last full block (all columns), columns past it (full-block rows).
    for (int i = 0; i < rows; i++) {
        for (int j = i < fullRows ? fullColumns : 0; j < columns; j++) {
            float *target = b + (long)j * rows + i;
            *target = accumulate ? *target + a[(long)i * columns + j] : a[(long)i * columns + j];
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

void pk_transpose(const float *a, int rows, int columns, float *b, int accumulate) { __builtin_trap(); }

#endif
