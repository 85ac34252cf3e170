/* The C API from C: load, describe, run into caller buffers, selftest, and the error
 * codes and messages for a missing file, a corrupt file, a wrong input shape and
 * misuse. Archives come from c_api_fixture (see there). Exit code 0 = all passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deployrt/deployrt_c.h"

static int failures = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)

#define CHECK_ERROR_MENTIONS(text)                                                        \
  do {                                                                                    \
    if (strstr(deployrt_last_error(), (text)) == NULL) {                                  \
      fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__, \
              deployrt_last_error(), (text));                                             \
      ++failures;                                                                         \
    }                                                                                     \
  } while (0)

static deployrt_tensor tensor_2x3(float* data) {
  deployrt_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = DEPLOYRT_F32;
  t.rank = 2;
  t.shape[0] = 2;
  t.shape[1] = 3;
  return t;
}

static char* path_in(const char* dir, const char* name) {
  char* p = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static void test_load_and_run(const char* dir) {
  char* path = path_in(dir, "model.dkr");
  deployrt_load_options options;
  deployrt_module* m = NULL;
  deployrt_tensor_info info;
  float x[6] = {-1, 2, -3, 4, -5, 6}, w[6] = {2, 2, 2, 2, 2, 2};
  float z[6], r[6];
  const float z_expected[6] = {2, 5, 4, 9, 6, 13}, r_expected[6] = {0, 2, 0, 4, 0, 6};
  deployrt_tensor ins[2], outs[2];
  int i;

  deployrt_load_options_init(&options);
  options.num_threads = 1;
  CHECK(deployrt_module_load(path, &options, &m) == DEPLOYRT_OK);
  free(path);
  if (m == NULL) return;
  CHECK(deployrt_module_num_inputs(m) == 2);
  CHECK(deployrt_module_num_outputs(m) == 2);
  CHECK(deployrt_module_input_info(m, 1, &info) == DEPLOYRT_OK);
  CHECK(strcmp(info.name, "w") == 0 && info.dtype == DEPLOYRT_F32 && info.rank == 2 && info.shape[0] == 2 &&
        info.shape[1] == 3);
  CHECK(deployrt_module_find_input(m, "x") == 0);
  CHECK(deployrt_module_find_input(m, "missing") == -1);
  CHECK(deployrt_module_output_info(m, 0, &info) == DEPLOYRT_OK);
  CHECK(deployrt_module_find_output(m, info.name) == 0);
  CHECK(deployrt_module_output_info(m, 2, &info) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("output index 2 >= count 2");

  ins[0] = tensor_2x3(x);
  ins[1] = tensor_2x3(w);
  outs[0] = tensor_2x3(z);
  outs[1] = tensor_2x3(r);
  CHECK(deployrt_module_forward(m, ins, 2, outs, 2) == DEPLOYRT_OK);
  for (i = 0; i < 6; ++i) {
    CHECK(z[i] == z_expected[i]);
    CHECK(r[i] == r_expected[i]);
  }

  /* Wrong input shape: an input error naming the input, expected and actual shapes. */
  ins[1].shape[0] = 3;
  ins[1].shape[1] = 2;
  CHECK(deployrt_module_forward(m, ins, 2, outs, 2) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("input 1 'w': expected f32[2,3], got f32[3,2]");
  ins[1] = tensor_2x3(w);
  /* Wrong count, bad rank, bad dtype code, wrong output shape. */
  CHECK(deployrt_module_forward(m, ins, 1, outs, 2) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("expected 2 inputs, got 1");
  ins[0].rank = 9;
  CHECK(deployrt_module_forward(m, ins, 2, outs, 2) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("input 0: rank 9");
  ins[0] = tensor_2x3(x);
  ins[0].dtype = 42;
  CHECK(deployrt_module_forward(m, ins, 2, outs, 2) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("invalid dtype code 42");
  ins[0] = tensor_2x3(x);
  outs[0].rank = 1;
  outs[0].shape[0] = 6;
  CHECK(deployrt_module_forward(m, ins, 2, outs, 2) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("output 0");
  CHECK(deployrt_module_forward(NULL, ins, 2, outs, 2) == DEPLOYRT_ERROR_INPUT);

  CHECK(deployrt_module_num_test_vectors(m) == 1);
  CHECK(deployrt_module_selftest(m) == DEPLOYRT_OK);
  deployrt_module_free(m);
}

static void test_errors(const char* dir) {
  deployrt_module* m = (deployrt_module*)&failures; /* must be reset to NULL on failure */
  char* path = path_in(dir, "does-not-exist.dkr");
  CHECK(deployrt_module_load(path, NULL, &m) == DEPLOYRT_ERROR_IO);
  CHECK(m == NULL);
  CHECK_ERROR_MENTIONS("does-not-exist.dkr");
  free(path);

  path = path_in(dir, "corrupt.dkr");
  CHECK(deployrt_module_load(path, NULL, &m) == DEPLOYRT_ERROR_ARCHIVE);
  CHECK(m == NULL);
  CHECK_ERROR_MENTIONS("crc");
  free(path);

  CHECK(deployrt_module_load_from_memory("not an archive", 14, NULL, &m) == DEPLOYRT_ERROR_ARCHIVE);
  CHECK(deployrt_module_load(NULL, NULL, &m) == DEPLOYRT_ERROR_INPUT);
  CHECK(deployrt_module_load("x", NULL, NULL) == DEPLOYRT_ERROR_INPUT);
  CHECK(strcmp(deployrt_status_name(DEPLOYRT_ERROR_ARCHIVE), "archive error") == 0);
  CHECK(strcmp(deployrt_status_name(DEPLOYRT_OK), "ok") == 0);
  CHECK(deployrt_dtype_size(DEPLOYRT_F64) == 8 && deployrt_dtype_size(0) == 0);
  CHECK(strlen(deployrt_version()) > 0);
  deployrt_module_free(NULL);
}

static void test_selftest_failure(const char* dir) {
  char* path = path_in(dir, "wrong.dkr");
  deployrt_module* m = NULL;
  CHECK(deployrt_module_load(path, NULL, &m) == DEPLOYRT_OK);
  free(path);
  if (m == NULL) return;
  CHECK(deployrt_module_selftest(m) == DEPLOYRT_ERROR_INPUT);
  CHECK_ERROR_MENTIONS("vector 0 output 0");
  CHECK_ERROR_MENTIONS("max abs error 0.5");
  deployrt_module_free(m);
}

static void test_load_from_memory(const char* dir) {
  char* path = path_in(dir, "model.dkr");
  FILE* f = fopen(path, "rb");
  long size;
  unsigned char* bytes;
  deployrt_module* m = NULL;
  free(path);
  CHECK(f != NULL);
  if (f == NULL) return;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  /* +1 byte and an odd start: the library must not need an aligned buffer. */
  bytes = malloc((size_t)size + 1);
  CHECK(fread(bytes + 1, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  CHECK(deployrt_module_load_from_memory(bytes + 1, (size_t)size, NULL, &m) == DEPLOYRT_OK);
  memset(bytes, 0, (size_t)size + 1); /* the module holds its own copy */
  free(bytes);
  CHECK(m != NULL && deployrt_module_selftest(m) == DEPLOYRT_OK);
  deployrt_module_free(m);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_api_test ARCHIVE_DIR\n");
    return 2;
  }
  test_load_and_run(argv[1]);
  test_errors(argv[1]);
  test_selftest_failure(argv[1]);
  test_load_from_memory(argv[1]);
  if (failures) fprintf(stderr, "c_api_test: %d check(s) failed\n", failures);
  else printf("c_api_test: all checks passed\n");
  return failures ? 1 : 0;
}
