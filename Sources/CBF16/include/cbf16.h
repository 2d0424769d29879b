#ifndef CBF16_H
#define CBF16_H
/* Tinh's GEMM shim over oneDNN (bf16, int8 and f32 matmuls; the v2 C API of Debian's libdnnl 2.6). The only code that
   includes dnnl.h. Swift sees plain C types: bf16 values are uint16_t (the upper half of a float).
   Matrices are row-major with explicit leading dimensions, as in cblas. */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* 1 when built against oneDNN, 0 when the shim was compiled without it (every GEMM then fails). */
int cbf16_compiled_with_onednn(void);

/* 1 when oneDNN may use native bf16 instructions here (its effective ISA includes AVX512-BF16,
   which AMX implies); 0 otherwise. */
int cbf16_cpu_supports_bf16(void);

/* oneDNN's effective CPU ISA, e.g. "avx512_core_amx"; "none" without oneDNN. */
const char *cbf16_isa_name(void);

/* oneDNN's version, e.g. "2.6.3". */
const char *cbf16_onednn_version(void);

/* Threads for oneDNN's OpenMP parallel regions started from the calling thread. */
void cbf16_set_threads(int n);
int cbf16_max_threads(void);

/* dst[i] = src[i] rounded to bf16, nearest-even (NaN stays NaN, quieted). */
void cbf16_from_f32(const float *src, uint16_t *dst, size_t n);
/* dst[i] = src[i] widened to float (exact). */
void cbf16_to_f32(const uint16_t *src, float *dst, size_t n);

/* C[m×n] (f32) = op(A)[m×k] · op(B)[k×n] (+ C when accumulate), A and B bf16, all row-major;
   op(X) = Xᵀ when transX is nonzero (then X is stored [k×m] / [n×k]). lda/ldb/ldc are the row
   strides as stored. One oneDNN primitive per distinct (shape, transposes, strides, accumulate)
   is created on first use and reused. Returns 0, or a oneDNN status (message via
   cbf16_last_error). Serialised by a lock: call it from any thread. */
int cbf16_gemm(int transA, int transB, long m, long n, long k,
               const uint16_t *a, long lda, const uint16_t *b, long ldb,
               float *c, long ldc, int accumulate);

/* The same with Float32 A and B (oneDNN's f32 matmul). */
int cbf16_sgemm(int transA, int transB, long m, long n, long k,
                const float *a, long lda, const float *b, long ldb,
                float *c, long ldc, int accumulate);

/* C[m×n] (int32) = op(A)[m×k] · op(B)[k×n], A and B int8 (oneDNN's int8 matmul; the sums are exact
   integers). On CPUs without VNNI oneDNN multiplies with 16-bit intermediate sums that saturate
   unless |B| ≤ 63 (A may use ±127): cbf16_cpu_has_vnni says which range B may use. */
int cbf16_s8gemm(int transA, int transB, long m, long n, long k,
                 const int8_t *a, long lda, const int8_t *b, long ldb,
                 int32_t *c, long ldc);

/* 1 when oneDNN's ISA has VNNI (AVX512-VNNI, AVX-VNNI; AMX implies it): int8 products accumulate
   straight into int32, and B may use the full ±127. */
int cbf16_cpu_has_vnni(void);

/* The oneDNN implementation of that int8 product, e.g. "brg:avx512_core_vnni"; NULL on error. */
const char *cbf16_s8gemm_impl(int transA, int transB, long m, long n, long k, long lda, long ldb, long ldc);

/* The message of the last failed cbf16_gemm (static storage). */
const char *cbf16_last_error(void);

/* The oneDNN implementation the primitive for this call would use (creates it if needed), e.g.
   "brg:avx512_core_amx_bf16"; NULL on error. */
const char *cbf16_gemm_impl(int transA, int transB, long m, long n, long k,
                            long lda, long ldb, long ldc, int accumulate);

/* Primitives created so far (the cache's size) and cache hits since start. */
long cbf16_cache_entries(void);
long cbf16_cache_hits(void);
/* Drops every cached primitive. */
void cbf16_cache_clear(void);

#ifdef __cplusplus
}
#endif
#endif
