/* The flash attention kernel body, included by flash.c once per vector width with
     SFX     a name suffix (generic, avx2, avx512),
     VL      floats per vector register,
     TARGET  the function attribute that selects the instruction set (empty: the baseline).
   Vectors are clang/GCC vector extensions, so one body serves AVX2, AVX-512 and NEON. */

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define F(name) CAT(name, SFX)
#define V F(vf)
#define VI F(vi)
typedef float V __attribute__((vector_size(VL * 4), aligned(4)));
typedef int VI __attribute__((vector_size(VL * 4), aligned(4)));

#define INLINE static inline __attribute__((always_inline)) TARGET

/* x − (+0) is x for every x, so the compiler folds it to a plain broadcast (x + 0 is not: −0 + 0 = +0). */
INLINE V F(splat)(float x) { return x - (V){}; }
INLINE V F(load)(const float *p) { return *(const V *)p; }
INLINE void F(store)(float *p, V x) { *(V *)p = x; }
#if HAS_FMA
INLINE V F(fma)(V a, V b, V c) { return __builtin_elementwise_fma(a, b, c); }
INLINE float F(fmas)(float a, float b, float c) { return fmaf(a, b, c); }
#else
/* No FMA unit: fmaf would be a library call per element. */
INLINE V F(fma)(V a, V b, V c) { return a * b + c; }
INLINE float F(fmas)(float a, float b, float c) { return a * b + c; }
#endif

/* e^x: x = n·ln2 + r, a degree-6 polynomial in r, 2^n in the exponent bits; the same range
   reduction and coefficients as Tinh's simdExp (relative error ≈ 1e-7). */
INLINE V F(exp)(V x) {
    x = __builtin_elementwise_min(x, F(splat)(88.3f));
    x = __builtin_elementwise_max(x, F(splat)(-87.3f));
    const V magic = F(splat)(12582912.0f);
    V t = F(fma)(x, F(splat)(1.44269504f), magic);
    V n = t - magic;
    V r = F(fma)(n, F(splat)(-0.693359375f), x);
    r = F(fma)(n, F(splat)(2.1219444e-4f), r);
    V r2 = r * r;
    V p = F(splat)(1.98756915e-4f);
    p = F(fma)(p, r, F(splat)(1.39819995e-3f));
    p = F(fma)(p, r, F(splat)(8.3334519e-3f));
    p = F(fma)(p, r, F(splat)(4.16665796e-2f));
    p = F(fma)(p, r, F(splat)(1.66666655e-1f));
    p = F(fma)(p, r, F(splat)(5.00000012e-1f));
    p = F(fma)(p, r2, r + F(splat)(1.0f));
    VI ni = (VI)t - (VI)magic;
    return p * (V)((ni + 127) << 23);
}

INLINE float F(hsum)(V x) { float s = 0; for (int i = 0; i < VL; i++) s += x[i]; return s; }
INLINE float F(hmax)(V x) { float m = x[0]; for (int i = 1; i < VL; i++) m = x[i] > m ? x[i] : m; return m; }

/* One R×(N vectors) register tile of C = (acc ? C : 0) + A·B over k: A[r][kk] at a[r·ars + kk·acs]
   (broadcast), B[kk][·] at b + kk·ldb (vector loads). R and N are constants after inlining. */
INLINE void F(tile)(float *c, long ldc, const float *a, long ars, long acs, const float *b, long ldb,
                    long k, int acc, const int R, const int N) {
    V t[4][2];
    for (int i = 0; i < R; i++)
        for (int j = 0; j < N; j++) t[i][j] = acc ? F(load)(c + i * ldc + j * VL) : F(splat)(0);
    for (long kk = 0; kk < k; kk++) {
        const float *bk = b + kk * ldb;
        V bv[2];
        for (int j = 0; j < N; j++) bv[j] = F(load)(bk + j * VL);
        for (int i = 0; i < R; i++) {
            V ai = F(splat)(a[i * ars + kk * acs]);
            for (int j = 0; j < N; j++) t[i][j] = F(fma)(ai, bv[j], t[i][j]);
        }
    }
    for (int i = 0; i < R; i++)
        for (int j = 0; j < N; j++) F(store)(c + i * ldc + j * VL, t[i][j]);
}

/* C[m×w] (row stride ldc) = (acc ? C : 0) + A[m×k]·B[k×w]; A's element (r, kk) at a[r·ars + kk·acs],
   B's rows at b + kk·ldb. Register tiles of 4 rows × 2 vectors; narrower column tails go one
   vector, then one float, at a time. */
static TARGET void F(mm)(float *c, long ldc, const float *a, long ars, long acs, const float *b, long ldb,
                         long m, long k, long w, int acc) {
    long c0 = 0;
    for (; c0 + 2 * VL <= w; c0 += 2 * VL) {
        long r = 0;
        for (; r + 4 <= m; r += 4) F(tile)(c + r * ldc + c0, ldc, a + r * ars, ars, acs, b + c0, ldb, k, acc, 4, 2);
        for (; r < m; r++) F(tile)(c + r * ldc + c0, ldc, a + r * ars, ars, acs, b + c0, ldb, k, acc, 1, 2);
    }
    for (; c0 + VL <= w; c0 += VL) {
        long r = 0;
        for (; r + 4 <= m; r += 4) F(tile)(c + r * ldc + c0, ldc, a + r * ars, ars, acs, b + c0, ldb, k, acc, 4, 1);
        for (; r < m; r++) F(tile)(c + r * ldc + c0, ldc, a + r * ars, ars, acs, b + c0, ldb, k, acc, 1, 1);
    }
    for (; c0 < w; c0++)
        for (long r = 0; r < m; r++) {
            float s = acc ? c[r * ldc + c0] : 0;
            for (long kk = 0; kk < k; kk++) s = F(fmas)(a[r * ars + kk * acs], b[kk * ldb + c0], s);
            c[r * ldc + c0] = s;
        }
}

/* scores[rows×T] = scale·Q_i·K_jᵀ from the transposed keys kt (the tile's T columns of rows of
   stride ldk), then the soft-cap. With `capped`, the capped scores are kept there (backward's
   chain rule needs them). */
INLINE void F(scores)(float *sc, const cflash_shape *s, const float *qi, long rows, const float *kt, long ldk, float *capped) {
    F(mm)(sc, T, qi, s->q_stride, 1, kt, ldk, rows, s->head_dim, T, 0);
    const V scale = F(splat)(s->scale);
    for (long e = 0; e < rows * T; e += VL) F(store)(sc + e, F(load)(sc + e) * scale);
    if (s->softcap > 0) {
        const float cap = s->softcap, inv = 1 / cap;
        for (long e = 0; e < rows * T; e++) sc[e] = cap * tanhf(sc[e] * inv);
        if (capped) memcpy(capped, sc, sizeof(float) * rows * T);
    }
}

/* The keys [lo, hi) of tile j0 that query i sees (hi ≤ lo: none). */
INLINE void F(visible)(const cflash_shape *s, long i, long j0, long cols, long *lo, long *hi) {
    long first = s->window > 0 ? i - s->window + 1 : 0;
    *lo = first > j0 ? first - j0 : 0;
    *hi = i - j0 + 1 < cols ? i - j0 + 1 : cols;
}

/* Row stride of an example's transposed keys: n rounded up to whole tiles. */
INLINE long F(padded)(long n) { return (n + T - 1) / T * T; }

/* xt[dd][c] = x[c·stride + dd] for the example's n keys, zero up to the padded width: once per
   example and KV head, shared by the group's query heads and all their tiles. */
INLINE void F(transpose)(float *xt, const float *x, long stride, long d, long n) {
    const long ld = F(padded)(n);
    for (long c0 = 0; c0 < n; c0 += T) {   /* a tile of keys at a time: its rows stay in cache */
        const long c1 = c0 + T < n ? c0 + T : n;
        for (long dd = 0; dd < d; dd++) {
            float *row = xt + dd * ld;
            for (long c = c0; c < c1; c++) row[c] = x[c * stride + dd];
        }
    }
    for (long dd = 0; dd < d; dd++) for (long c = n; c < ld; c++) xt[dd * ld + c] = 0;
}

/* The first key tile that query tile i0's first row sees. */
INLINE long F(first_tile)(const cflash_shape *s, long i0) {
    long first = s->window > 0 ? i0 - s->window + 1 : 0;
    return first > 0 ? first / T * T : 0;
}

/* One head, its KV head's keys already transposed into kt (row stride padded(n)). */
static TARGET void F(forward_head)(const cflash_shape *s, long n, long h, const float *q, const float *kt, const float *v,
                                   float *out, float *lse, float *scratch) {
    const long d = s->head_dim, qs = s->q_stride, kvs = s->kv_stride, g = h / (s->heads / s->kv_heads), ldk = F(padded)(n);
    const float *qh = q + h * d, *vh = v + g * d;
    float *sc = scratch, *acc = sc + T * T, *m = acc + T * d, *l = m + T;
    for (long i0 = 0; i0 < n; i0 += T) {
        const long rows = n - i0 < T ? n - i0 : T;
        for (long r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0; }
        memset(acc, 0, sizeof(float) * rows * d);
        for (long j0 = F(first_tile)(s, i0); j0 < i0 + rows; j0 += T) {
            const long cols = n - j0 < T ? n - j0 : T;
            F(scores)(sc, s, qh + i0 * qs, rows, kt + j0, ldk, NULL);
            for (long r = 0; r < rows; r++) {
                float *p = sc + r * T;
                long lo, hi;
                F(visible)(s, i0 + r, j0, cols, &lo, &hi);
                if (hi <= lo) { memset(p, 0, sizeof(float) * T); continue; }
                float mt = -INFINITY;
                if (lo == 0 && hi == T) {
                    V mv = F(load)(p);
                    for (long c = VL; c < T; c += VL) mv = __builtin_elementwise_max(mv, F(load)(p + c));
                    mt = F(hmax)(mv);
                } else {
                    for (long c = lo; c < hi; c++) mt = p[c] > mt ? p[c] : mt;
                }
                const float mNew = mt > m[r] ? mt : m[r];
                const float alpha = expf(m[r] - mNew);   /* 0 on the first visible tile */
                const V mv = F(splat)(mNew);
                V sum = F(splat)(0);
                for (long c = 0; c < T; c += VL) F(store)(p + c, F(exp)(F(load)(p + c) - mv));
                for (long c = 0; c < lo; c++) p[c] = 0;
                for (long c = hi; c < T; c++) p[c] = 0;
                for (long c = 0; c < T; c += VL) sum += F(load)(p + c);
                l[r] = l[r] * alpha + F(hsum)(sum);
                m[r] = mNew;
                if (alpha != 1) for (long c = 0; c < d; c++) acc[r * d + c] *= alpha;
            }
            F(mm)(acc, d, sc, T, 1, vh + j0 * kvs, kvs, rows, cols, d, 1);
        }
        for (long r = 0; r < rows; r++) {
            const float inv = 1 / l[r];
            float *o = out + (i0 + r) * qs + h * d;
            for (long c = 0; c < d; c++) o[c] = acc[r * d + c] * inv;
            lse[(i0 + r) * s->heads + h] = m[r] + logf(l[r]);
        }
    }
}

/* Key tiles outer, query tiles inner: a key tile's dK and dV sum in scratch over every query tile
   that sees it, then add into the KV head. dQ accumulates in place. */
/* One head, its KV head's keys and values already transposed into kt, vt (row stride padded(n)). */
static TARGET void F(backward_head)(const cflash_shape *s, long n, long h, const float *q, const float *k,
                                    const float *kt, const float *vt, const float *out, const float *dout, const float *lse,
                                    float *dq, float *dk, float *dv, float *scratch) {
    const long d = s->head_dim, qs = s->q_stride, kvs = s->kv_stride, g = h / (s->heads / s->kv_heads), ldk = F(padded)(n);
    const float *qh = q + h * d, *kh = k + g * d, *oh = out + h * d, *doh = dout + h * d;
    float *dqh = dq + h * d, *dkh = dk + g * d, *dvh = dv + g * d;
    float *p = scratch, *ds = p + T * T, *capped = ds + T * T;
    float *dkAcc = capped + T * T, *dvAcc = dkAcc + T * d, *dd = dvAcc + T * d;   /* dd: D = dO·O per query, [n] */
    const int cap = s->softcap > 0;
    for (long i = 0; i < n; i++) {
        memset(dqh + i * qs, 0, sizeof(float) * d);
        const float *o = oh + i * qs, *g0 = doh + i * qs;
        V acc = F(splat)(0);
        long c = 0;
        for (; c + VL <= d; c += VL) acc = F(fma)(F(load)(g0 + c), F(load)(o + c), acc);
        float sum = F(hsum)(acc);
        for (; c < d; c++) sum = F(fmas)(g0[c], o[c], sum);
        dd[i] = sum;
    }
    for (long j0 = 0; j0 < n; j0 += T) {
        const long cols = n - j0 < T ? n - j0 : T;
        memset(dkAcc, 0, sizeof(float) * T * d);
        memset(dvAcc, 0, sizeof(float) * T * d);
        for (long i0 = j0; i0 < n; i0 += T) {
            if (s->window > 0 && i0 - s->window + 1 > j0 + cols - 1) break;   /* this and later tiles see none of it */
            const long rows = n - i0 < T ? n - i0 : T;
            F(scores)(p, s, qh + i0 * qs, rows, kt + j0, ldk, cap ? capped : NULL);
            for (long r = 0; r < rows; r++) {
                float *pr = p + r * T;
                long lo, hi;
                F(visible)(s, i0 + r, j0, cols, &lo, &hi);
                const V l = F(splat)(lse[(i0 + r) * s->heads + h]);
                for (long c = 0; c < T; c += VL) F(store)(pr + c, F(exp)(F(load)(pr + c) - l));
                if (hi <= lo) lo = hi = 0;
                for (long c = 0; c < lo; c++) pr[c] = 0;
                for (long c = hi; c < T; c++) pr[c] = 0;
            }
            /* dV_j += Pᵀ·dO_i;  dP = dO_i·V_jᵀ */
            F(mm)(dvAcc, d, p, 1, T, doh + i0 * qs, qs, cols, rows, d, 1);
            F(mm)(ds, T, doh + i0 * qs, qs, 1, vt + j0, ldk, rows, d, T, 0);
            /* dS = scale·P∘(dP − D), through the cap's slope 1 − (y/c)² */
            const float invCap = cap ? 1 / s->softcap : 0;
            for (long r = 0; r < rows; r++) {
                const V dv0 = F(splat)(dd[i0 + r]), sc = F(splat)(s->scale);
                float *dsr = ds + r * T;
                const float *pr = p + r * T;
                for (long c = 0; c < T; c += VL) F(store)(dsr + c, F(load)(pr + c) * (F(load)(dsr + c) - dv0) * sc);
                if (cap)
                    for (long c = 0; c < T; c++) { float t = capped[r * T + c] * invCap; dsr[c] *= 1 - t * t; }
            }
            /* dQ_i += dS·K_j;  dK_j += dSᵀ·Q_i */
            F(mm)(dqh + i0 * qs, qs, ds, T, 1, kh + j0 * kvs, kvs, rows, cols, d, 1);
            F(mm)(dkAcc, d, ds, 1, T, qh + i0 * qs, qs, cols, rows, d, 1);
        }
        for (long c = 0; c < cols; c++)
            for (long e = 0; e < d; e++) {
                dkh[(j0 + c) * kvs + e] += dkAcc[c * d + e];
                dvh[(j0 + c) * kvs + e] += dvAcc[c * d + e];
            }
    }
}

/* Heads h0..<h1, their KV heads' keys transposed once each (consecutive heads share one). */
static TARGET void F(forward)(const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                              const float *v, float *out, float *lse, float *scratch) {
    const long d = s->head_dim, gs = s->heads / s->kv_heads;
    float *kt = scratch, *rest = kt + d * F(padded)(n);
    for (long h = h0; h < h1; h++) {
        if (h == h0 || h % gs == 0) F(transpose)(kt, k + h / gs * d, s->kv_stride, d, n);
        F(forward_head)(s, n, h, q, kt, v, out, lse, rest);
    }
}

static TARGET void F(backward)(const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                               const float *v, const float *out, const float *dout, const float *lse,
                               float *dq, float *dk, float *dv, float *scratch) {
    const long d = s->head_dim, gs = s->heads / s->kv_heads, ld = F(padded)(n);
    float *kt = scratch, *vt = kt + d * ld, *rest = vt + d * ld;
    for (long h = h0; h < h1; h++) {
        if (h == h0 || h % gs == 0) {
            F(transpose)(kt, k + h / gs * d, s->kv_stride, d, n);
            F(transpose)(vt, v + h / gs * d, s->kv_stride, d, n);
        }
        F(backward_head)(s, n, h, q, k, kt, vt, out, dout, lse, dq, dk, dv, rest);
    }
}

/* y = e^x for n floats (n a multiple of VL): the kernel's exp, for its accuracy test. */
static TARGET void F(exp_array)(const float *x, float *y, long n) {
    for (long i = 0; i < n; i += VL) F(store)(y + i, F(exp)(F(load)(x + i)));
}

#undef INLINE
#undef V
#undef VI
#undef F
#undef CAT
#undef CAT2
