/* The subcommands of shiftc; main.c dispatches to them.  Each returns the
 * process exit status: 0 success, 1 bad input or failed job, 2 usage error. */
#ifndef SHIFTC_COMMANDS_H
#define SHIFTC_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

int cmd_compile(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_sensitivity(int argc, char **argv);

/* json.c */
void json_string(FILE *out, const char *s);

/* How many samples an array of dims fdims holds for a tensor of dims
 * `dims`: (N, dims...), or (N, dims without a leading 1), or dims itself
 * (one sample); -1 when it fits none of these. */
/* samples.c */
int sample_count(const int64_t *fdims, int frank, const int64_t *dims, int rank);

/* samples.c: output shape of samples: the tensor's dims without a leading batch of 1,
 * behind a new leading dimension of n.  Returns the rank. */
int sample_dims(const int64_t *dims, int rank, int64_t n, int64_t *out);

/* samples.c: "(1,28,28)" */
void dims_str(const int64_t *d, int rank, char *buf, size_t len);

#endif
