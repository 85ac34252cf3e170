/* deployrt C API: run a deploykit archive (.dkr) from C or any language with a C FFI.
 *
 *   deployrt_module* m = NULL;
 *   if (deployrt_module_load("model.dkr", NULL, &m) != DEPLOYRT_OK) {
 *     fprintf(stderr, "%s\n", deployrt_last_error());
 *     return 1;
 *   }
 *   deployrt_tensor x = {pixels, DEPLOYRT_F32, 4, {1, 3, 224, 224}};
 *   deployrt_tensor y = {logits, DEPLOYRT_F32, 2, {1, 1000}};
 *   deployrt_status s = deployrt_module_forward(m, &x, 1, &y, 1);
 *   deployrt_module_free(m);
 *
 * Conventions:
 * - Every fallible function returns a deployrt_status; DEPLOYRT_OK is 0. On failure
 *   deployrt_last_error() returns a message naming what is wrong (field, index,
 *   expected, actual). The message is thread-local: it belongs to the calling thread
 *   and stays valid until that thread's next failing call. Successful calls leave it
 *   unchanged.
 * - Handles are opaque. A deployrt_module is immutable once loaded: any number of
 *   threads may call deployrt_module_forward on it at once (the C++ Module's thread
 *   rules apply, see deployrt.h). deployrt_module_free must not race with other calls
 *   on the same handle.
 * - Tensors are caller-owned memory described by deployrt_tensor; the library never
 *   keeps a pointer to them after a call returns.
 * - No function throws, aborts or lets a C++ exception cross this boundary.
 */
#ifndef DEPLOYRT_DEPLOYRT_C_H_
#define DEPLOYRT_DEPLOYRT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum tensor rank. */
#define DEPLOYRT_MAX_RANK 8

/** Outcome of a call; the codes equal deployrt::ErrorCode. */
typedef enum deployrt_status {
  DEPLOYRT_OK = 0,
  DEPLOYRT_ERROR_IO = 1,          /**< file cannot be opened, read or mapped */
  DEPLOYRT_ERROR_ARCHIVE = 2,     /**< archive is malformed, corrupt or fails verification */
  DEPLOYRT_ERROR_UNSUPPORTED = 3, /**< valid archive using ops/versions this runtime lacks */
  DEPLOYRT_ERROR_INPUT = 4,       /**< wrong arguments: tensor count, dtype, shape, null pointer */
  DEPLOYRT_ERROR_LIMIT = 5,       /**< a documented limit is exceeded, or out of memory */
  DEPLOYRT_ERROR_INTERNAL = 6     /**< a bug in deployrt */
} deployrt_status;

/** Element types; the codes are the archive's (docs/archive-format.md). */
typedef enum deployrt_dtype {
  DEPLOYRT_INVALID = 0,
  DEPLOYRT_F32 = 1,
  DEPLOYRT_F16 = 2,
  DEPLOYRT_F64 = 3,
  DEPLOYRT_I8 = 4,
  DEPLOYRT_U8 = 5,
  DEPLOYRT_I16 = 6,
  DEPLOYRT_I32 = 7,
  DEPLOYRT_I64 = 8,
  DEPLOYRT_BOOL = 9
} deployrt_dtype;

/** Instruction-set ceiling (deployrt::Isa). */
typedef enum deployrt_isa {
  DEPLOYRT_ISA_BEST = 0,
  DEPLOYRT_ISA_SCALAR = 1,
  DEPLOYRT_ISA_AVX2 = 2,
  DEPLOYRT_ISA_AVX512 = 3
} deployrt_isa;

/** A loaded, verified archive (deployrt::Module). */
typedef struct deployrt_module deployrt_module;

/** A dense, C-contiguous tensor in caller memory. Only shape[0..rank) is read. */
typedef struct deployrt_tensor {
  void* data;                         /**< numel x element size bytes (may be NULL when numel is 0) */
  int32_t dtype;                      /**< a deployrt_dtype */
  int32_t rank;                       /**< 0 .. DEPLOYRT_MAX_RANK */
  int64_t shape[DEPLOYRT_MAX_RANK];
} deployrt_tensor;

/** Name, dtype and shape of a model input or output. */
typedef struct deployrt_tensor_info {
  const char* name; /**< NUL-terminated, owned by the module, valid until deployrt_module_free */
  int32_t dtype;
  int32_t rank;
  int64_t shape[DEPLOYRT_MAX_RANK];
} deployrt_tensor_info;

/** Load options (deployrt::LoadOptions). Initialize with deployrt_load_options_init. */
typedef struct deployrt_load_options {
  int32_t num_threads;          /**< intra-op threads; 0 = all hardware threads */
  int32_t max_concurrent_calls; /**< forward calls running at once; 0 = hardware threads */
  uint64_t max_arena_bytes;     /**< refuse larger activation arenas; 0 = built-in limit */
  int32_t copy_file;            /**< nonzero: read the file into memory instead of mapping it */
  int32_t max_isa;              /**< a deployrt_isa */
  int32_t compact_weights;      /**< nonzero: weights near their archive size, a little slower */
} deployrt_load_options;

/** Fills *options with the defaults (all zero: best settings for this machine). */
void deployrt_load_options_init(deployrt_load_options* options);

/** Message of the last failed call on this thread ("" if none). Never NULL. */
const char* deployrt_last_error(void);

/** Short name of a status ("ok", "archive error", ...). Never NULL. */
const char* deployrt_status_name(deployrt_status status);

/** Runtime version ("0.1.0"). */
const char* deployrt_version(void);

/** Size in bytes of one element of a deployrt_dtype, 0 if invalid. */
size_t deployrt_dtype_size(int32_t dtype);

/** Memory-maps and verifies the archive at `path`. options may be NULL (defaults).
 *  On success *out is a new handle to free with deployrt_module_free; on failure *out is NULL. */
deployrt_status deployrt_module_load(const char* path, const deployrt_load_options* options, deployrt_module** out);

/** Verifies and loads `size` bytes at `data` (any alignment). The bytes are copied:
 *  `data` may be freed once this returns. */
deployrt_status deployrt_module_load_from_memory(const void* data, size_t size, const deployrt_load_options* options,
                                                 deployrt_module** out);

/** Frees a module; NULL is accepted and ignored. */
void deployrt_module_free(deployrt_module* module);

/** Number of model inputs / outputs (0 for NULL). */
size_t deployrt_module_num_inputs(const deployrt_module* module);
size_t deployrt_module_num_outputs(const deployrt_module* module);

/** Describes input / output `index`; DEPLOYRT_ERROR_INPUT if it is out of range. */
deployrt_status deployrt_module_input_info(const deployrt_module* module, size_t index, deployrt_tensor_info* out);
deployrt_status deployrt_module_output_info(const deployrt_module* module, size_t index, deployrt_tensor_info* out);

/** Position of the input / output named `name`, or -1. */
int32_t deployrt_module_find_input(const deployrt_module* module, const char* name);
int32_t deployrt_module_find_output(const deployrt_module* module, const char* name);

/** Runs the model: inputs[i] must match input i in dtype and shape, and outputs[i] must
 *  describe a caller buffer with output i's dtype and shape; the results are written
 *  there (no allocation of output memory). Thread-safe on a shared module. */
deployrt_status deployrt_module_forward(const deployrt_module* module, const deployrt_tensor* inputs,
                                        size_t num_inputs, deployrt_tensor* outputs, size_t num_outputs);

/** Number of test vectors embedded in the archive (deploykit export --embed-test-vectors). */
size_t deployrt_module_num_test_vectors(const deployrt_module* module);

/** Runs every embedded test vector and compares with the stored outputs. DEPLOYRT_OK when
 *  all pass; otherwise DEPLOYRT_ERROR_INPUT with deployrt_last_error() naming the vector,
 *  the output, the max abs/rel error and the tolerance (or another code if running failed).
 *  An archive without test vectors gives DEPLOYRT_ERROR_INPUT ("no test vectors"). */
deployrt_status deployrt_module_selftest(const deployrt_module* module);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* DEPLOYRT_DEPLOYRT_C_H_ */
