#include "cmpi.h"
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

static MPI_Comm node_comm = MPI_COMM_NULL;

static MPI_Datatype datatype(int dtype) {
    switch (dtype) {
    case CMPI_FLOAT32: return MPI_FLOAT;
    case CMPI_FLOAT64: return MPI_DOUBLE;
    case CMPI_INT64: return MPI_INT64_T;
    default: return MPI_DATATYPE_NULL;
    }
}

int cmpi_initialized(void) { int flag = 0; MPI_Initialized(&flag); return flag; }
int cmpi_finalized(void) { int flag = 0; MPI_Finalized(&flag); return flag; }

int cmpi_init(int *provided) {
    int rc = MPI_SUCCESS;
    if (!cmpi_initialized()) {
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
        if (rc != MPI_SUCCESS) return rc;
    } else {
        MPI_Query_thread(provided);
    }
    /* Errors come back as codes; Tinh decides when to abort, so no rank waits forever. */
    rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) return rc;
    if (node_comm == MPI_COMM_NULL) {
        rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node_comm);
        if (rc != MPI_SUCCESS) return rc;
        rc = MPI_Comm_set_errhandler(node_comm, MPI_ERRORS_RETURN);
    }
    return rc;
}

int cmpi_finalize(void) {
    if (!cmpi_initialized() || cmpi_finalized()) return MPI_SUCCESS;
    if (node_comm != MPI_COMM_NULL) MPI_Comm_free(&node_comm);
    return MPI_Finalize();
}

int cmpi_world_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int cmpi_world_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }
int cmpi_node_rank(int *rank) { return MPI_Comm_rank(node_comm, rank); }
int cmpi_node_size(int *size) { return MPI_Comm_size(node_comm, size); }

int cmpi_processor_name(char *buf, int capacity) {
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    int rc = MPI_Get_processor_name(name, &len);
    if (rc != MPI_SUCCESS || capacity <= 0) return rc;
    if (len >= capacity) len = capacity - 1;
    memcpy(buf, name, (size_t)len);
    buf[len] = 0;
    return rc;
}

int cmpi_library_version(char *buf, int capacity) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    int rc = MPI_Get_library_version(version, &len);
    if (rc != MPI_SUCCESS || capacity <= 0) return rc;
    if (len >= capacity) len = capacity - 1;
    memcpy(buf, version, (size_t)len);
    buf[len] = 0;
    return rc;
}

void cmpi_error_string(int code, char *buf, int capacity) {
    if (capacity <= 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
    if (len >= capacity) len = capacity - 1;
    memcpy(buf, text, (size_t)len);
    buf[len] = 0;
}

int cmpi_allreduce_sum(void *buf, int count, int dtype) {
    MPI_Datatype t = datatype(dtype);
    if (t == MPI_DATATYPE_NULL) return MPI_ERR_TYPE;
    if (count == 0) return MPI_SUCCESS;
    return MPI_Allreduce(MPI_IN_PLACE, buf, count, t, MPI_SUM, MPI_COMM_WORLD);
}

int cmpi_iallreduce_sum(void *buf, int count, int dtype, void **request) {
    MPI_Datatype t = datatype(dtype);
    if (t == MPI_DATATYPE_NULL) return MPI_ERR_TYPE;
    MPI_Request *req = malloc(sizeof(MPI_Request));
    if (!req) return MPI_ERR_NO_MEM;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, count, t, MPI_SUM, MPI_COMM_WORLD, req);
    if (rc != MPI_SUCCESS) { free(req); *request = NULL; return rc; }
    *request = req;
    return rc;
}

int cmpi_test(void *request, int *done) {
    MPI_Request *req = request;
    int rc = MPI_Test(req, done, MPI_STATUS_IGNORE);
    if (rc == MPI_SUCCESS && *done) free(req);
    return rc;
}

int cmpi_wait(void *request) {
    MPI_Request *req = request;
    int rc = MPI_Wait(req, MPI_STATUS_IGNORE);
    free(req);
    return rc;
}

int cmpi_bcast_bytes(void *buf, int count, int root) {
    if (count == 0) return MPI_SUCCESS;
    return MPI_Bcast(buf, count, MPI_BYTE, root, MPI_COMM_WORLD);
}

int cmpi_ibcast_bytes(void *buf, int count, int root, void **request) {
    MPI_Request *req = malloc(sizeof(MPI_Request));
    if (!req) return MPI_ERR_NO_MEM;
    int rc = MPI_Ibcast(buf, count, MPI_BYTE, root, MPI_COMM_WORLD, req);
    if (rc != MPI_SUCCESS) { free(req); *request = NULL; return rc; }
    *request = req;
    return rc;
}

int cmpi_ibarrier(void **request) {
    MPI_Request *req = malloc(sizeof(MPI_Request));
    if (!req) return MPI_ERR_NO_MEM;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, req);
    if (rc != MPI_SUCCESS) { free(req); *request = NULL; return rc; }
    *request = req;
    return rc;
}

int cmpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
int cmpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
double cmpi_wtime(void) { return MPI_Wtime(); }
