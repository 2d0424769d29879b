#include <cblas.h>
#include <stddef.h>

/* LAPACK's single-precision divide-and-conquer SVD, which OpenBLAS ships (Debian installs no
   LAPACK header beside cblas.h). Fortran calling convention: every argument by pointer, column-major
   matrices, and the hidden length of the character argument last. */
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s,
             float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork,
             int *iwork, int *info, size_t jobz_len);
