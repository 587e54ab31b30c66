#include <cblas.h>
/* mallopt: the network layers keep their large per-batch buffers in the heap (see setBLASThreads). */
#include <malloc.h>
/* The widest x86 vector instructions OpenBLAS's kernels could use on this CPU, for choosing
   OPENBLAS_CORETYPE where OpenBLAS does not know the CPU (BLASCore.swift): 2 for AVX-512 with the
   subsets its SkylakeX kernels use (F, CD, BW, DQ, VL), 1 for AVX2 with FMA (its Haswell kernels),
   0 otherwise and on other architectures. The compiler's checks include the OS saving the state. */
static inline int pk_blas_vector_level(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}
