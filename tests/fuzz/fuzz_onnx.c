/* libFuzzer harness for the ONNX importer (protobuf decoding, the graph
 * checks, constant folding, shape inference): "make fuzz" builds it,
 * tests/fuzz.sh runs it. */
#include <stddef.h>
#include <stdint.h>

#include "onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    Graph *g = onnx_load_buffer(data, size, "fuzz.onnx", NULL, 0, err, sizeof err);
    ir_graph_free(g);
    return 0;
}
