/* Fused, tiled causal attention (flash style) for one example: scores live one 32×32 tile at a
   time, the softmax is online, and the backward recomputes probabilities from the saved
   log-sum-exp. Keys outside an example are never touched; tiles above the diagonal or outside the
   sliding window are skipped. One kernel body, compiled per vector width (see flash_impl.h). */
#ifndef CFLASH_H
#define CFLASH_H

/* Instruction sets with a compiled kernel; cflash_isas() gives the mask this CPU can run. */
enum { CFLASH_GENERIC = 1, CFLASH_AVX2 = 2, CFLASH_AVX512 = 4 };

typedef struct {
    long heads, kv_heads, head_dim;
    long q_stride, kv_stride;   /* floats from one token's row to the next */
    long window;                /* a query sees keys within this many positions, itself included; 0: all */
    float scale;                /* score = q·k·scale */
    float softcap;              /* score → c·tanh(score/c); 0: none */
} cflash_shape;

int cflash_isas(void);
/* Tile edge (rows of queries, columns of keys). */
long cflash_tile(void);
/* Floats of scratch that one forward or backward call on an example of up to n tokens needs. */
long cflash_scratch_floats(const cflash_shape *s, long n);

/* One example of n tokens from token 0: q [n, q_stride], k and v [n, kv_stride]; heads h0..<h1.
   Writes their out [n, q_stride] and lse [n, heads] (the natural log of each softmax row's sum,
   with its max). */
void cflash_forward(int isa, const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                    const float *v, float *out, float *lse, float *scratch);

/* From dout (layout of out) and forward's out and lse, for heads h0..<h1: writes their dq, and adds
   into dk and dv (GQA heads of a group add into their KV head; the caller zeroes them once per
   step, and gives a group's heads to one call at a time). */
void cflash_backward(int isa, const cflash_shape *s, long n, long h0, long h1, const float *q, const float *k,
                     const float *v, const float *out, const float *dout, const float *lse,
                     float *dq, float *dk, float *dv, float *scratch);

/* The kernels' vector e^x on n floats (n a multiple of 16): for the accuracy test. */
void cflash_exp(int isa, const float *x, float *y, long n);

#endif
