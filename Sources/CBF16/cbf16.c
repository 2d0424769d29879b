/* See include/cbf16.h. Built without oneDNN (Package.swift found no dnnl.h), every entry point reports "unavailable". */
#include "cbf16.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CBF16_X86 1
#endif

/* ---- f32 <-> bf16, round to nearest even (integer arithmetic, so denormals round too) ---- */

static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

#ifdef CBF16_X86
__attribute__((target("avx512f")))
static void from_f32_avx512(const float *src, uint16_t *dst, size_t n) {
    const __m512i one = _mm512_set1_epi32(1), bias = _mm512_set1_epi32(0x7fff);
    const __m512i absMask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    const __m512i quiet = _mm512_set1_epi32(0x400000);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_loadu_si512((const void *)(src + i));
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(v, 16), one);
        __m512i r = _mm512_add_epi32(v, _mm512_add_epi32(bias, lsb));
        __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(v, absMask), inf);
        r = _mm512_mask_blend_epi32(nan, r, _mm512_or_si512(v, quiet));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    for (; i < n; i++) dst[i] = bf16_round(src[i]);
}

__attribute__((target("avx512f")))
static void to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + i));
        __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
        _mm512_storeu_si512((void *)(dst + i), w);
    }
    for (; i < n; i++) { uint32_t u = (uint32_t)src[i] << 16; memcpy(dst + i, &u, 4); }
}
#endif

void cbf16_from_f32(const float *src, uint16_t *dst, size_t n) {
#ifdef CBF16_X86
    if (__builtin_cpu_supports("avx512f")) { from_f32_avx512(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) dst[i] = bf16_round(src[i]);
}

void cbf16_to_f32(const uint16_t *src, float *dst, size_t n) {
#ifdef CBF16_X86
    if (__builtin_cpu_supports("avx512f")) { to_f32_avx512(src, dst, n); return; }
#endif
    for (size_t i = 0; i < n; i++) { uint32_t u = (uint32_t)src[i] << 16; memcpy(dst + i, &u, 4); }
}

/* ---- oneDNN ---- */

#if defined(TINH_HAS_ONEDNN) && __has_include(<dnnl.h>)
#include <dnnl.h>

/* OpenMP is oneDNN's threading runtime (libgomp, linked with it). */
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);

int cbf16_compiled_with_onednn(void) { return 1; }

void cbf16_set_threads(int n) { if (n > 0) omp_set_num_threads(n); }
int cbf16_max_threads(void) { return omp_get_max_threads(); }

int cbf16_cpu_supports_bf16(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

const char *cbf16_isa_name(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *cbf16_onednn_version(void) {
    static char buf[32];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}

/* The primitive cache: small, least-recently-used eviction (the row count of the LM head varies
   with the number of loss positions, so shapes can keep coming). */
enum { CACHE_CAPACITY = 64 };
typedef struct {
    long key[10];          /* transA, transB, m, n, k, lda, ldb, ldc, accumulate, input type (enum below) */
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, c_md;
    /* Memory objects made once with the primitive; each call only points them at its buffers. */
    dnnl_memory_t a_mem, b_mem, c_mem;
    unsigned long last_use;
    int used;
} entry_t;

/* The inputs' type: bf16 → f32, f32 → f32, or s8 → s32 (int8 base; exact integer products). */
enum { IN_BF16 = 0, IN_F32 = 1, IN_S8 = 2 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static entry_t cache[CACHE_CAPACITY];
static long entries, hits;
static unsigned long clock_tick;
static char last_error[256];

static int fail(dnnl_status_t s, const char *what) {
    snprintf(last_error, sizeof last_error, "oneDNN %s failed (status %d)", what, (int)s);
    return (int)s ? (int)s : -1;
}

#define CHECK(call, what) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) return fail(s_, what); } while (0)

static int ensure_engine(void) {
    if (engine) return 0;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine creation");
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags), "stream creation");
    return 0;
}

static void release(entry_t *e) {
    if (e->a_mem) dnnl_memory_destroy(e->a_mem);
    if (e->b_mem) dnnl_memory_destroy(e->b_mem);
    if (e->c_mem) dnnl_memory_destroy(e->c_mem);
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->pd) dnnl_primitive_desc_destroy(e->pd);
    memset(e, 0, sizeof *e);
}

/* A row-major matrix [rows, cols] stored with row stride ld, or its transpose stored [cols, rows]. */
static dnnl_status_t init_md(dnnl_memory_desc_t *md, long rows, long cols, long ld, int trans, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

static int lookup(const long key[10], entry_t **out) {
    int empty = -1, oldest = 0;
    for (int i = 0; i < CACHE_CAPACITY; i++) {
        entry_t *e = &cache[i];
        if (!e->used) { if (empty < 0) empty = i; continue; }
        if (memcmp(e->key, key, sizeof e->key) == 0) {
            e->last_use = ++clock_tick;
            hits++;
            *out = e;
            return 0;
        }
        if (e->last_use < cache[oldest].last_use || !cache[oldest].used) oldest = i;
    }
    int r = ensure_engine();
    if (r) return r;
    entry_t *e = &cache[empty >= 0 ? empty : oldest];
    if (e->used) { release(e); entries--; }
    long transA = key[0], transB = key[1], m = key[2], n = key[3], k = key[4];
    /* int8 primitives take M at run time (one primitive for every row count: varlen micro-batches
       and the loss rows change it at every call; oneDNN's int8 GEMM ran as fast that way). */
    const int runtime_m = key[9] == IN_S8;
    if (runtime_m) m = DNNL_RUNTIME_DIM_VAL;
    dnnl_data_type_t in = key[9] == IN_F32 ? dnnl_f32 : key[9] == IN_S8 ? dnnl_s8 : dnnl_bf16;
    CHECK(init_md(&e->a_md, m, k, key[5], (int)transA, in), "source descriptor");
    CHECK(init_md(&e->b_md, k, n, key[6], (int)transB, in), "weights descriptor");
    CHECK(init_md(&e->c_md, m, n, key[7], 0, key[9] == IN_S8 ? dnnl_s32 : dnnl_f32), "destination descriptor");
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &e->a_md, &e->b_md, NULL, &e->c_md), "matmul descriptor");
    dnnl_primitive_attr_t attr = NULL;
    if (key[8]) {
        dnnl_post_ops_t ops;
        CHECK(dnnl_primitive_attr_create(&attr), "attribute creation");
        CHECK(dnnl_post_ops_create(&ops), "post-op creation");
        CHECK(dnnl_post_ops_append_sum(ops, 1.0f), "sum post-op");
        CHECK(dnnl_primitive_attr_set_post_ops(attr, ops), "setting post-ops");
        dnnl_post_ops_destroy(ops);
    }
    dnnl_status_t s = dnnl_primitive_desc_create(&e->pd, &desc, attr, engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) { memset(e, 0, sizeof *e); return fail(s, "matmul primitive descriptor"); }
    s = dnnl_primitive_create(&e->prim, e->pd);
    if (s == dnnl_success && !runtime_m) s = dnnl_memory_create(&e->a_mem, &e->a_md, engine, DNNL_MEMORY_NONE);
    if (s == dnnl_success) s = dnnl_memory_create(&e->b_mem, &e->b_md, engine, DNNL_MEMORY_NONE);
    if (s == dnnl_success && !runtime_m) s = dnnl_memory_create(&e->c_mem, &e->c_md, engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success) { release(e); return fail(s, "matmul primitive"); }
    memcpy(e->key, key, sizeof e->key);
    e->used = 1;
    e->last_use = ++clock_tick;
    entries++;
    *out = e;
    return 0;
}

static void make_key(long key[10], int transA, int transB, long m, long n, long k, long lda, long ldb, long ldc, int acc,
                     int input) {
    key[0] = transA != 0; key[1] = transB != 0; key[2] = m; key[3] = n; key[4] = k;
    key[5] = lda; key[6] = ldb; key[7] = ldc; key[8] = acc != 0; key[9] = input;
}

static int run(entry_t *e, const void *a, const void *b, void *c) {
    dnnl_status_t s = dnnl_memory_set_data_handle(e->a_mem, (void *)a);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(e->b_mem, (void *)b);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(e->c_mem, c);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->a_mem}, {DNNL_ARG_WEIGHTS, e->b_mem}, {DNNL_ARG_DST, e->c_mem}};
        s = dnnl_primitive_execute(e->prim, stream, 3, args);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
    }
    return s == dnnl_success ? 0 : fail(s, "matmul execution");
}

/* An int8 product on a primitive with run-time M: the source and destination memories are made
   for this call's m (microseconds), the weights' is the primitive's. */
static int run_rows(entry_t *e, long m, const void *a, const void *b, void *c) {
    long transA = e->key[0], k = e->key[4], n = e->key[3];
    dnnl_memory_desc_t a_md, c_md;
    dnnl_memory_t a_mem = NULL, c_mem = NULL;
    dnnl_status_t s = init_md(&a_md, m, k, e->key[5], (int)transA, dnnl_s8);
    if (s == dnnl_success) s = init_md(&c_md, m, n, e->key[7], 0, dnnl_s32);
    if (s == dnnl_success) s = dnnl_memory_create(&a_mem, &a_md, engine, (void *)a);
    if (s == dnnl_success) s = dnnl_memory_create(&c_mem, &c_md, engine, c);
    if (s == dnnl_success) s = dnnl_memory_set_data_handle(e->b_mem, (void *)b);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, e->b_mem}, {DNNL_ARG_DST, c_mem}};
        s = dnnl_primitive_execute(e->prim, stream, 3, args);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
    }
    if (a_mem) dnnl_memory_destroy(a_mem);
    if (c_mem) dnnl_memory_destroy(c_mem);
    return s == dnnl_success ? 0 : fail(s, "int8 matmul execution");
}

/* The cached primitive for this product (bf16, f32 or s8 inputs), run on a, b, c under the lock. */
static int cached_gemm(int transA, int transB, long m, long n, long k, const void *a, long lda,
                       const void *b, long ldb, void *c, long ldc, int accumulate, int input) {
    if (m <= 0 || n <= 0) return 0;
    long key[10];
    make_key(key, transA, transB, input == IN_S8 ? 0 : m, n, k, lda, ldb, ldc, accumulate, input);
    pthread_mutex_lock(&lock);
    entry_t *e = NULL;
    int r = lookup(key, &e);
    if (r == 0) r = input == IN_S8 ? run_rows(e, m, a, b, c) : run(e, a, b, c);
    pthread_mutex_unlock(&lock);
    return r;
}

int cbf16_gemm(int transA, int transB, long m, long n, long k,
               const uint16_t *a, long lda, const uint16_t *b, long ldb,
               float *c, long ldc, int accumulate) {
    return cached_gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, IN_BF16);
}

int cbf16_sgemm(int transA, int transB, long m, long n, long k,
                const float *a, long lda, const float *b, long ldb,
                float *c, long ldc, int accumulate) {
    return cached_gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, IN_F32);
}

int cbf16_s8gemm(int transA, int transB, long m, long n, long k,
                 const int8_t *a, long lda, const int8_t *b, long ldb,
                 int32_t *c, long ldc) {
    return cached_gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, 0, IN_S8);
}

int cbf16_cpu_has_vnni(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_vnni) == (unsigned)dnnl_cpu_isa_avx512_core_vnni
        || (isa & (unsigned)dnnl_cpu_isa_avx2_vnni) == (unsigned)dnnl_cpu_isa_avx2_vnni;
}

const char *cbf16_s8gemm_impl(int transA, int transB, long m, long n, long k, long lda, long ldb, long ldc) {
    long key[10];
    (void)m;
    make_key(key, transA, transB, 0, n, k, lda, ldb, ldc, 0, IN_S8);
    pthread_mutex_lock(&lock);
    entry_t *e = NULL;
    const char *name = NULL;
    if (lookup(key, &e) == 0 &&
        dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) name = NULL;
    pthread_mutex_unlock(&lock);
    return name;
}

const char *cbf16_gemm_impl(int transA, int transB, long m, long n, long k,
                            long lda, long ldb, long ldc, int accumulate) {
    long key[10];
    make_key(key, transA, transB, m, n, k, lda, ldb, ldc, accumulate, IN_BF16);
    pthread_mutex_lock(&lock);
    entry_t *e = NULL;
    const char *name = NULL;
    if (lookup(key, &e) == 0 &&
        dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) name = NULL;
    pthread_mutex_unlock(&lock);
    return name;
}

const char *cbf16_last_error(void) { return last_error; }

long cbf16_cache_entries(void) { pthread_mutex_lock(&lock); long v = entries; pthread_mutex_unlock(&lock); return v; }
long cbf16_cache_hits(void) { pthread_mutex_lock(&lock); long v = hits; pthread_mutex_unlock(&lock); return v; }

void cbf16_cache_clear(void) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < CACHE_CAPACITY; i++) if (cache[i].used) release(&cache[i]);
    entries = 0;
    pthread_mutex_unlock(&lock);
}

#else /* no oneDNN */

int cbf16_compiled_with_onednn(void) { return 0; }
int cbf16_cpu_supports_bf16(void) { return 0; }
const char *cbf16_isa_name(void) { return "none"; }
const char *cbf16_onednn_version(void) { return "none"; }
void cbf16_set_threads(int n) { (void)n; }
int cbf16_max_threads(void) { return 1; }
int cbf16_gemm(int transA, int transB, long m, long n, long k, const uint16_t *a, long lda,
               const uint16_t *b, long ldb, float *c, long ldc, int accumulate) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb;
    (void)c; (void)ldc; (void)accumulate;
    return -1;
}
int cbf16_sgemm(int transA, int transB, long m, long n, long k, const float *a, long lda,
                const float *b, long ldb, float *c, long ldc, int accumulate) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb;
    (void)c; (void)ldc; (void)accumulate;
    return -1;
}
int cbf16_s8gemm(int transA, int transB, long m, long n, long k, const int8_t *a, long lda,
                 const int8_t *b, long ldb, int32_t *c, long ldc) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb;
    (void)c; (void)ldc;
    return -1;
}
int cbf16_cpu_has_vnni(void) { return 0; }
const char *cbf16_s8gemm_impl(int transA, int transB, long m, long n, long k, long lda, long ldb, long ldc) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)lda; (void)ldb; (void)ldc;
    return NULL;
}
const char *cbf16_last_error(void) { return "Tinh was built without oneDNN (install libdnnl-dev and rebuild)"; }
const char *cbf16_gemm_impl(int transA, int transB, long m, long n, long k, long lda, long ldb, long ldc,
                            int accumulate) {
    (void)transA; (void)transB; (void)m; (void)n; (void)k; (void)lda; (void)ldb; (void)ldc; (void)accumulate;
    return NULL;
}
long cbf16_cache_entries(void) { return 0; }
long cbf16_cache_hits(void) { return 0; }
void cbf16_cache_clear(void) {}
#endif
