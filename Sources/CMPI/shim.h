#include <mpi.h>
/* Open MPI's predefined handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE, ...) are macros over the
   addresses of globals, which Swift cannot import: wrap them. Called only from Sources/Ldae/System/MPI.swift. */
static inline MPI_Comm ldae_mpi_comm_world(void)         { return MPI_COMM_WORLD; }
static inline MPI_Datatype ldae_mpi_float(void)           { return MPI_FLOAT; }
static inline MPI_Datatype ldae_mpi_double(void)          { return MPI_DOUBLE; }
static inline MPI_Datatype ldae_mpi_byte(void)            { return MPI_BYTE; }
static inline MPI_Datatype ldae_mpi_int(void)             { return MPI_INT; }
static inline MPI_Op ldae_mpi_sum(void)                   { return MPI_SUM; }
static inline MPI_Op ldae_mpi_max(void)                   { return MPI_MAX; }
static inline void *ldae_mpi_in_place(void)               { return MPI_IN_PLACE; }
static inline MPI_Errhandler ldae_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int ldae_mpi_thread_funneled(void)          { return MPI_THREAD_FUNNELED; }
static inline int ldae_mpi_success(void)                  { return MPI_SUCCESS; }
static inline int ldae_mpi_max_error_string(void)         { return MPI_MAX_ERROR_STRING; }
static inline int ldae_mpi_max_processor_name(void)       { return MPI_MAX_PROCESSOR_NAME; }
