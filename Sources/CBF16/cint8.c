/* See include/cint8.h. */
#include "cint8.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CINT8_X86 1
#endif

static inline float scaled(const float *x, const float *cs, long j) { return cs ? x[j] * cs[j] : x[j]; }

/* q = round(v·inv) to nearest even, clamped to ±qmax. */
static inline int8_t code(float v, float inv, float qmax) {
    float r = nearbyintf(v * inv);
    r = r > qmax ? qmax : r;
    r = r < -qmax ? -qmax : r;
    return (int8_t)r;
}

/* max |v_j| and whether every v_j is finite (Σ v_j·0 stays 0 exactly when it is). */
static void row_range_scalar(const float *x, long n, const float *cs, long from, float *amax, float *nonfinite) {
    for (long j = from; j < n; j++) {
        float v = scaled(x, cs, j);
        float a = fabsf(v);
        if (a > *amax) *amax = a;
        *nonfinite += v * 0.0f;
    }
}

static void quantize_scalar(const float *x, long n, const float *cs, long from, float inv, float qmax, int8_t *q) {
    for (long j = from; j < n; j++) q[j] = code(scaled(x, cs, j), inv, qmax);
}

#ifdef CINT8_X86
__attribute__((target("avx2")))
static inline __m256 load_scaled(const float *x, const float *cs, long j) {
    __m256 v = _mm256_loadu_ps(x + j);
    return cs ? _mm256_mul_ps(v, _mm256_loadu_ps(cs + j)) : v;
}

__attribute__((target("avx2")))
static long row_range_avx2(const float *x, long n, const float *cs, float *amax, float *nonfinite) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    __m256 m = zero, bad = zero;
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 v = load_scaled(x, cs, j);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v));
        bad = _mm256_add_ps(bad, _mm256_mul_ps(v, zero));
    }
    float mv[8], bv[8];
    _mm256_storeu_ps(mv, m);
    _mm256_storeu_ps(bv, bad);
    for (int i = 0; i < 8; i++) { if (mv[i] > *amax) *amax = mv[i]; *nonfinite += bv[i]; }
    return j;
}

__attribute__((target("avx2")))
static inline __m256i codes8(__m256 v, __m256 inv, __m256 hi, __m256 lo) {
    __m256 r = _mm256_round_ps(_mm256_mul_ps(v, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvttps_epi32(_mm256_max_ps(_mm256_min_ps(r, hi), lo));
}

__attribute__((target("avx2")))
static long quantize_avx2(const float *x, long n, const float *cs, float inv, float qmax, int8_t *q) {
    const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(qmax), lo = _mm256_set1_ps(-qmax);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    long j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256i a = codes8(load_scaled(x, cs, j), vinv, hi, lo);
        __m256i b = codes8(load_scaled(x, cs, j + 8), vinv, hi, lo);
        __m256i c = codes8(load_scaled(x, cs, j + 16), vinv, hi, lo);
        __m256i d = codes8(load_scaled(x, cs, j + 24), vinv, hi, lo);
        /* packs work within 128-bit lanes: the permute puts the 32 bytes back in order */
        __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), order);
        _mm256_storeu_si256((__m256i *)(q + j), bytes);
    }
    return j;
}

__attribute__((target("avx2")))
static long dequantize_avx2(const int32_t *c, long n, float rs, const float *cs, float *y, int accumulate) {
    const __m256 vr = _mm256_set1_ps(rs);
    long j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 t = cs ? _mm256_mul_ps(vr, _mm256_loadu_ps(cs + j)) : vr;
        t = _mm256_mul_ps(t, _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(c + j))));
        if (accumulate) t = _mm256_add_ps(t, _mm256_loadu_ps(y + j));
        _mm256_storeu_ps(y + j, t);
    }
    return j;
}
#endif

void cint8_quantize_rows(const float *x, long rows, long cols, long ldx, const float *col_scale,
                         int qmax, int8_t *q, float *row_scale) {
    const float fq = (float)qmax;
#ifdef CINT8_X86
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    for (long i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        int8_t *qi = q + i * cols;
        float amax = 0, nonfinite = 0;
        long j = 0;
#ifdef CINT8_X86
        if (avx2) j = row_range_avx2(xi, cols, col_scale, &amax, &nonfinite);
#endif
        row_range_scalar(xi, cols, col_scale, j, &amax, &nonfinite);
        if (nonfinite != 0 || amax == 0) {
            for (long k = 0; k < cols; k++) qi[k] = 0;
            row_scale[i] = amax == 0 && nonfinite == 0 ? 0.0f : NAN;
            continue;
        }
        const float inv = fq / amax;
        row_scale[i] = amax / fq;
        j = 0;
#ifdef CINT8_X86
        if (avx2) j = quantize_avx2(xi, cols, col_scale, inv, fq, qi);
#endif
        quantize_scalar(xi, cols, col_scale, j, inv, fq, qi);
    }
}

void cint8_dequantize(const int32_t *c, long rows, long cols, const float *row_scale,
                      const float *col_scale, float *y, long ldy, int accumulate) {
#ifdef CINT8_X86
    const int avx2 = __builtin_cpu_supports("avx2");
#endif
    for (long i = 0; i < rows; i++) {
        const int32_t *ci = c + i * cols;
        float *yi = y + i * ldy;
        const float rs = row_scale[i];
        long j = 0;
#ifdef CINT8_X86
        if (avx2) j = dequantize_avx2(ci, cols, rs, col_scale, yi, accumulate);
#endif
        for (; j < cols; j++) {
            float t = col_scale ? rs * col_scale[j] : rs;
            t = t * (float)ci[j];
            if (accumulate) t = t + yi[j];
            yi[j] = t;
        }
    }
}
