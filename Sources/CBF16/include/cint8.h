#ifndef CINT8_H
#define CINT8_H
/* The passes around an int8 GEMM (cbf16_s8gemm): dynamic per-row quantization of its f32 input
   and the f32 epilogue of its int32 result. Plain C with an AVX2 path chosen at run time; both
   paths do the same float operations in the same order, so their results are identical. */
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* For each of `rows` rows of x (row stride ldx, `cols` values): v_j = x_j·col_scale_j (col_scale
   may be NULL: v = x), s = max_j |v_j| / qmax, q_j = round(v_j / s) to nearest even, clamped to
   ±qmax, written to q (packed, `cols` per row), and s to row_scale. A row of zeros gets s = 0 and
   q = 0; a row holding Inf or NaN gets s = NaN, so the product's row is NaN too. */
void cint8_quantize_rows(const float *x, long rows, long cols, long ldx, const float *col_scale,
                         int qmax, int8_t *q, float *row_scale);

/* y[i][j] = row_scale_i · col_scale_j · c[i][j] (+ y[i][j] when accumulate); col_scale may be NULL
   (1). c is packed [rows, cols]; y has row stride ldy. */
void cint8_dequantize(const int32_t *c, long rows, long cols, const float *row_scale,
                      const float *col_scale, float *y, long ldy, int accumulate);

#ifdef __cplusplus
}
#endif
#endif
