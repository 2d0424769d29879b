#include "cfmapeak.h"

#define ACCUMULATORS 12

int cfmapeak_accumulators(void) { return ACCUMULATORS; }

int cfmapeak_lanes(int width) {
    switch (width) {
    case CFMAPEAK_AVX2: return 8;
    case CFMAPEAK_AVX512: return 16;
    case CFMAPEAK_NEON: return 4;
    default: return 0;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

int cfmapeak_widths(void) {
    __builtin_cpu_init();
    int w = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) w |= CFMAPEAK_AVX2;
    if (__builtin_cpu_supports("avx512f")) w |= CFMAPEAK_AVX512;
    return w;
}

/* The multiplier and addend come from memory the compiler cannot see through, so the loop is
   not folded; the accumulators stay in registers (12 of 16 ymm / 32 zmm). */
static volatile float one = 1.0f;

__attribute__((target("avx2,fma"))) static double run_avx2(int64_t n) {
    __m256 m = _mm256_set1_ps(one), a = _mm256_set1_ps(one);
    __m256 acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t t = 0; t < n; t++) {
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    }
    float lanes[8];
    double sum = 0;
    for (int i = 0; i < ACCUMULATORS; i++) {
        _mm256_storeu_ps(lanes, acc[i]);
        for (int l = 0; l < 8; l++) sum += lanes[l];
    }
    return sum;
}

__attribute__((target("avx512f"))) static double run_avx512(int64_t n) {
    __m512 m = _mm512_set1_ps(one), a = _mm512_set1_ps(one);
    __m512 acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_setzero_ps();
    for (int64_t t = 0; t < n; t++) {
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    }
    float lanes[16];
    double sum = 0;
    for (int i = 0; i < ACCUMULATORS; i++) {
        _mm512_storeu_ps(lanes, acc[i]);
        for (int l = 0; l < 16; l++) sum += lanes[l];
    }
    return sum;
}

double cfmapeak_run(int width, int64_t iterations) {
    if (!(cfmapeak_widths() & width)) return -1;
    if (width == CFMAPEAK_AVX2) return run_avx2(iterations);
    if (width == CFMAPEAK_AVX512) return run_avx512(iterations);
    return -1;
}

#elif defined(__aarch64__)
#include <arm_neon.h>

int cfmapeak_widths(void) { return CFMAPEAK_NEON; }

static volatile float one = 1.0f;

double cfmapeak_run(int width, int64_t iterations) {
    if (width != CFMAPEAK_NEON) return -1;
    float32x4_t m = vdupq_n_f32(one), a = vdupq_n_f32(one);
    float32x4_t acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; i++) acc[i] = vdupq_n_f32(0);
    for (int64_t t = 0; t < iterations; t++) {
        for (int i = 0; i < ACCUMULATORS; i++) acc[i] = vfmaq_f32(a, acc[i], m);
    }
    double sum = 0;
    for (int i = 0; i < ACCUMULATORS; i++) sum += vaddvq_f32(acc[i]);
    return sum;
}

#else
int cfmapeak_widths(void) { return 0; }
double cfmapeak_run(int width, int64_t iterations) { (void)width; (void)iterations; return -1; }
#endif
