/* deployrt_c_example: run a deploykit archive from C through <deployrt/deployrt_c.h>.
 *
 *   deployrt_c_example model.dkr input.bin output.bin   raw little-endian f32, C order
 *   deployrt_c_example model.dkr --selftest             run the embedded test vectors
 *
 * Prints each input's and output's name, dtype code and shape. Exit 0 on success,
 * 1 with deployrt_last_error() on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deployrt/deployrt_c.h>

static int fail(const char* what, deployrt_status status) {
  fprintf(stderr, "deployrt_c_example: %s: %s: %s\n", what, deployrt_status_name(status), deployrt_last_error());
  return 1;
}

static size_t numel(const deployrt_tensor_info* info) {
  size_t n = 1;
  int d;
  for (d = 0; d < info->rank; ++d) n *= (size_t)info->shape[d];
  return n;
}

static void print_info(const char* kind, const deployrt_tensor_info* info) {
  int d;
  printf("%s %s: dtype %d [", kind, info->name, (int)info->dtype);
  for (d = 0; d < info->rank; ++d) printf("%s%lld", d ? ", " : "", (long long)info->shape[d]);
  printf("]\n");
}

int main(int argc, char** argv) {
  deployrt_module* module = NULL;
  deployrt_tensor_info in_info, out_info;
  deployrt_tensor x, y;
  deployrt_status status;
  FILE* f;
  float *in_data, *out_data;
  size_t in_n, out_n;

  if (argc != 4 && !(argc == 3 && strcmp(argv[2], "--selftest") == 0)) {
    fprintf(stderr, "usage: %s model.dkr (input.bin output.bin | --selftest)\n", argv[0]);
    return 2;
  }
  status = deployrt_module_load(argv[1], NULL, &module);
  if (status != DEPLOYRT_OK) return fail("load", status);
  if (argc == 3) {
    status = deployrt_module_selftest(module);
    if (status != DEPLOYRT_OK) {
      deployrt_module_free(module);
      return fail("selftest", status);
    }
    printf("selftest passed (%zu test vector(s))\n", deployrt_module_num_test_vectors(module));
    deployrt_module_free(module);
    return 0;
  }
  if (deployrt_module_num_inputs(module) != 1 || deployrt_module_num_outputs(module) < 1) {
    fprintf(stderr, "deployrt_c_example: expected a model with one input\n");
    deployrt_module_free(module);
    return 1;
  }
  deployrt_module_input_info(module, 0, &in_info);
  deployrt_module_output_info(module, 0, &out_info);
  print_info("input", &in_info);
  print_info("output", &out_info);
  in_n = numel(&in_info);
  out_n = numel(&out_info);
  in_data = malloc(in_n * sizeof(float) + 1);
  out_data = malloc(out_n * sizeof(float) + 1);
  f = fopen(argv[2], "rb");
  if (f == NULL || fread(in_data, sizeof(float), in_n, f) != in_n) {
    fprintf(stderr, "deployrt_c_example: cannot read %zu floats from %s\n", in_n, argv[2]);
    if (f) fclose(f);
    free(in_data);
    free(out_data);
    deployrt_module_free(module);
    return 1;
  }
  fclose(f);

  memset(&x, 0, sizeof x);
  x.data = in_data;
  x.dtype = in_info.dtype;
  x.rank = in_info.rank;
  memcpy(x.shape, in_info.shape, sizeof x.shape);
  memset(&y, 0, sizeof y);
  y.data = out_data;
  y.dtype = out_info.dtype;
  y.rank = out_info.rank;
  memcpy(y.shape, out_info.shape, sizeof y.shape);
  /* Only the first output is written by this example; a multi-output model needs one
   * deployrt_tensor per output. */
  status = deployrt_module_num_outputs(module) == 1 ? deployrt_module_forward(module, &x, 1, &y, 1)
                                                    : DEPLOYRT_ERROR_INPUT;
  if (status != DEPLOYRT_OK) {
    free(in_data);
    free(out_data);
    deployrt_module_free(module);
    return fail("forward", status);
  }
  f = fopen(argv[3], "wb");
  if (f == NULL || fwrite(out_data, sizeof(float), out_n, f) != out_n) {
    fprintf(stderr, "deployrt_c_example: cannot write %s\n", argv[3]);
    if (f) fclose(f);
    return 1;
  }
  fclose(f);
  free(in_data);
  free(out_data);
  deployrt_module_free(module);
  return 0;
}
