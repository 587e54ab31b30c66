// Direct convolution kernels vectorised over output channels (AVX-512 where the CPU has it).
//
// Both kernels see a convolution as a sum over K taps: the value of output pixel p at tap k is
// x[base[p] + offset[k]], so one pair of offset tables describes any kernel shape, padding (the
// caller pads x) or transposition (the input gradient is a forward pass over the padded output
// gradient with flipped weights).
#ifndef PIANO_CONV_KERNELS_H
#define PIANO_CONV_KERNELS_H

#include <stdint.h>

/// 1 when the kernels below may be called (an x86-64 CPU with AVX-512F), else 0.
int pk_direct_available(void);

/// out[p * channels + f] = bias[f] + sum over k < taps of x[base[p] + offset[k]] * w[k * channels + f],
/// for p < pixels and f < channels; channels a multiple of 16; bias may be NULL (zero). Each sum
/// runs over k in order, one fused multiply-add per tap. Both kernels read denormal inputs as zero
/// and flush denormal results to zero (MXCSR's DAZ and FTZ, restored before they return).
void pk_direct_forward(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                       const float *w, int channels, const float *bias, float *out);

/// dw[k * channels + f] += sum over p < pixels of x[base[p] + offset[k]] * dy[p * channels + f], for
/// k < taps and f < channels; channels a multiple of 16. Each sum runs over p in order.
void pk_direct_weight_gradient(const float *x, const int32_t *base, int pixels, const int32_t *offset, int taps,
                               const float *dy, int channels, float *dw);

/// What `pk_transpose` does with each value v = a[i * columns + j] it moves to b[j * rows + i].
enum {
    PK_TRANSPOSE_STORE = 0,   ///< b = v
    PK_TRANSPOSE_RELU = 1,    ///< b = max(0, v) (NaN stays NaN)
    PK_TRANSPOSE_MASKED = 2,  ///< b = v where mask[i * columns + j] > 0, else 0 (ReLU's backward pass)
};

/// b[j * rows + i] = a[i * columns + j] as `mode` says (one of the PK_TRANSPOSE values; `mask`,
/// laid out as a, is read only by PK_TRANSPOSE_MASKED and may be NULL otherwise), for i < rows
/// and j < columns: a row-major matrix transposed, in 16 x 16 blocks in registers.
void pk_transpose(const float *a, int rows, int columns, float *b, int mode, const float *mask);

#endif
