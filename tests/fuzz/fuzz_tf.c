/* libFuzzer harness for the tensor-file reader (.npy and TensorProto .pb):
 * "make fuzz" builds it, tests/fuzz.sh runs it.  The reader picks the format
 * by the file name, so an input with the .npy magic is read as .npy and
 * anything else as .pb (the .npy parser's first check is that magic). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tensorfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    TensorFile t;
    const char *name = size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0 ? "f.npy" : "f.pb";
    if (tf_read_buffer(data, size, name, &t, err, sizeof err) == 0) {
        free(tf_to_float(&t));
        free(tf_to_int64(&t));
        tf_free(&t);
    }
    return 0;
}
