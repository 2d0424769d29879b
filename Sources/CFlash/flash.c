/* See include/cflash.h. */
#include "cflash.h"
#include <math.h>
#include <string.h>

#define T 32   /* tile edge: query rows per tile and keys per tile */

long cflash_tile(void) { return T; }

/* forward: K transposed [d×N], scores [T×T], acc [T×d], m, l [T]; backward: K and V transposed
   [d×N], P, dS, capped [T×T], dK, dV [T×d], D [N]; N = n rounded up to whole tiles. */
long cflash_scratch_floats(const cflash_shape *s, long n) {
    long d = s->head_dim, N = (n + T - 1) / T * T;
    long fwd = d * N + T * T + T * d + 2 * T;
    long bwd = 2 * d * N + 3 * T * T + 2 * T * d + N;
    return fwd > bwd ? fwd : bwd;
}

#if defined(__FMA__) || defined(__aarch64__)
#define HAS_FMA 1
#else
#define HAS_FMA 0
#endif
#define SFX generic
#define VL 4
#define TARGET
#include "flash_impl.h"
#undef HAS_FMA
#define HAS_FMA 1
#undef SFX
#undef VL
#undef TARGET

#if defined(__x86_64__)
#define SFX avx2
#define VL 8
#define TARGET __attribute__((target("avx2,fma")))
#include "flash_impl.h"
#undef SFX
#undef VL
#undef TARGET

#define SFX avx512
#define VL 16
#define TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#include "flash_impl.h"
#undef SFX
#undef VL
#undef TARGET

int cflash_isas(void) {
    __builtin_cpu_init();
    int m = CFLASH_GENERIC;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) m |= CFLASH_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl")) m |= CFLASH_AVX512;
    return m;
}
#else
int cflash_isas(void) { return CFLASH_GENERIC; }
#endif

/* An ISA this CPU lacks falls back to the generic kernel (callers pick from cflash_isas()). */
void cflash_forward(int isa, const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                    const float *v, float *out, float *lse, float *scratch) {
#if defined(__x86_64__)
    int have = cflash_isas();
    if (isa == CFLASH_AVX512 && (have & CFLASH_AVX512)) { forward_avx512(s, n, h0, h1, q, k, v, out, lse, scratch); return; }
    if (isa == CFLASH_AVX2 && (have & CFLASH_AVX2)) { forward_avx2(s, n, h0, h1, q, k, v, out, lse, scratch); return; }
#endif
    forward_generic(s, n, h0, h1, q, k, v, out, lse, scratch);
}

void cflash_backward(int isa, const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                     const float *v, const float *out, const float *dout, const float *lse,
                     float *dq, float *dk, float *dv, float *scratch) {
#if defined(__x86_64__)
    int have = cflash_isas();
    if (isa == CFLASH_AVX512 && (have & CFLASH_AVX512)) { backward_avx512(s, n, h0, h1, q, k, v, out, dout, lse, dq, dk, dv, scratch); return; }
    if (isa == CFLASH_AVX2 && (have & CFLASH_AVX2)) { backward_avx2(s, n, h0, h1, q, k, v, out, dout, lse, dq, dk, dv, scratch); return; }
#endif
    backward_generic(s, n, h0, h1, q, k, v, out, dout, lse, dq, dk, dv, scratch);
}

/* The kernel's vector exp on n floats (n a multiple of 16), for the test of the accuracy the
   attention bounds assume. */
void cflash_exp(int isa, const float *x, float *y, long n) {
#if defined(__x86_64__)
    int have = cflash_isas();
    if (isa == CFLASH_AVX512 && (have & CFLASH_AVX512)) { exp_array_avx512(x, y, n); return; }
    if (isa == CFLASH_AVX2 && (have & CFLASH_AVX2)) { exp_array_avx2(x, y, n); return; }
#endif
    exp_array_generic(x, y, n);
}
