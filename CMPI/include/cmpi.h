#ifndef CMPI_H
#define CMPI_H
/* Tinh's MPI shim. It deliberately does not include <mpi.h>: Swift cannot import Open MPI's
   predefined handles (MPI_COMM_WORLD, MPI_FLOAT, ...), so Swift sees plain C types only.
   Every function returns an MPI error code (0 = MPI_SUCCESS) unless documented otherwise.
   All collectives run on MPI_COMM_WORLD; the node-local communicator comes from
   MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) and is created by cmpi_init. */
#include <stdint.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif

enum { CMPI_FLOAT32 = 0, CMPI_FLOAT64 = 1, CMPI_INT64 = 2 };

int    cmpi_init(int *provided_thread_level);  /* MPI_Init_thread(FUNNELED); no-op if initialized; sets MPI_ERRORS_RETURN */
int    cmpi_initialized(void);                 /* 1 after MPI_Init, 0 before; not an error code */
int    cmpi_finalized(void);                   /* 1 after MPI_Finalize */
int    cmpi_finalize(void);
int    cmpi_world_rank(int *rank);
int    cmpi_world_size(int *size);
int    cmpi_node_rank(int *rank);
int    cmpi_node_size(int *size);
int    cmpi_processor_name(char *buf, int capacity);
int    cmpi_library_version(char *buf, int capacity);
void   cmpi_error_string(int code, char *buf, int capacity);  /* always NUL-terminates */

/* In-place sum over all ranks; count must fit in an int (the Swift side chunks). */
int    cmpi_allreduce_sum(void *buf, int count, int dtype);
/* Non-blocking in-place sum. *request receives an opaque handle owned by the shim until
   cmpi_test reports completion or cmpi_wait returns. */
int    cmpi_iallreduce_sum(void *buf, int count, int dtype, void **request);
int    cmpi_test(void *request, int *done);    /* frees the handle when *done == 1 */
int    cmpi_wait(void *request);               /* frees the handle */
int    cmpi_bcast_bytes(void *buf, int count, int root);
/* Non-blocking broadcast and barrier; the handle is completed with cmpi_test / cmpi_wait. */
int    cmpi_ibcast_bytes(void *buf, int count, int root, void **request);
int    cmpi_ibarrier(void **request);
int    cmpi_barrier(void);
int    cmpi_abort(int code);                   /* does not return on success */
double cmpi_wtime(void);

#ifdef __cplusplus
}
#endif
#endif
