#include <hdf5.h>
/* Swift 6 cannot import HDF5's global-backed macros (H5T_NATIVE_*, H5P_*, H5F_ACC_*): wrap them. */
static inline hid_t ldae_h5t_native_uint8(void)  { return H5T_NATIVE_UINT8; }
static inline hid_t ldae_h5t_native_int8(void)   { return H5T_NATIVE_INT8; }
static inline hid_t ldae_h5t_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t ldae_h5t_native_int32(void)  { return H5T_NATIVE_INT32; }
static inline hid_t ldae_h5t_native_int64(void)  { return H5T_NATIVE_INT64; }
static inline hid_t ldae_h5t_native_float(void)  { return H5T_NATIVE_FLOAT; }
static inline hid_t ldae_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t ldae_h5t_c_s1(void)          { return H5T_C_S1; }
static inline hid_t ldae_h5p_default(void)       { return H5P_DEFAULT; }
static inline hid_t ldae_h5p_file_access(void)   { return H5P_FILE_ACCESS; }
static inline hid_t ldae_h5p_file_create(void)   { return H5P_FILE_CREATE; }
static inline hid_t ldae_h5p_dataset_create(void){ return H5P_DATASET_CREATE; }
static inline hid_t ldae_h5s_all(void)           { return H5S_ALL; }
static inline unsigned ldae_h5f_acc_trunc(void)  { return H5F_ACC_TRUNC; }
static inline unsigned ldae_h5f_acc_excl(void)   { return H5F_ACC_EXCL; }
static inline unsigned ldae_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned ldae_h5f_acc_rdwr(void)   { return H5F_ACC_RDWR; }
static inline size_t ldae_h5t_variable(void)     { return H5T_VARIABLE; }
/* Once, before any other HDF5 call: no library teardown at exit. Every file ldae writes is closed (or
   discarded) explicitly first, while after a failed write (a full disk) HDF5 1.10's exit handler trips over
   what its error path left ("infinite loop closing library", or a segfault on a file whose H5Fclose failed). */
static inline void ldae_h5_init(void) { H5dont_atexit(); }
/* Silence HDF5's default error stack printing; errors are reported by our own messages. Debian's build is
   thread-safe, so error stacks and this setting are per thread: called on every entry (H5.sync). */
static inline hid_t ldae_h5e_default(void) { return H5E_DEFAULT; }
static inline void ldae_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
