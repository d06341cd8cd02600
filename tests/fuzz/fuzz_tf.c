/* libFuzzer harness: "make fuzz" builds it (see the Makefile). */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include "tensorfile.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    TensorFile t;
    const char *name = size && (data[0] & 1) ? "f.pb" : "f.npy";
    if (tf_read_buffer(data, size, name, &t, err, sizeof err) == 0) {
        free(tf_to_float(&t)); free(tf_to_int64(&t)); tf_free(&t);
    }
    return 0;
}
