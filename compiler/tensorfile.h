/*
 * Tensor files: NumPy .npy arrays and serialized ONNX TensorProto (.pb).
 *
 * Used for calibration and test data, for freezing graph inputs (--bind) and
 * for ONNX initializers.  Every reader treats its input as hostile: all
 * sizes are bounds-checked and every failure is reported as
 * "<file>: <what is wrong>", never by crashing.
 *
 * Data is held in host order as the element type says (float, double,
 * int64_t, int32_t, int8_t, uint8_t); the files themselves are little-endian.
 */
#ifndef SHIFTC_TENSORFILE_H
#define SHIFTC_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

#define TF_MAX_RANK 8

typedef enum { TF_F32, TF_F64, TF_I64, TF_I32, TF_I8, TF_U8, TF_I16, TF_U16 } TfType;

typedef struct TensorFile {
    TfType type;
    int rank;                   /* 0 for a scalar */
    int64_t dims[TF_MAX_RANK];
    void *data;                 /* count elements of type (owned) */
    int64_t count;              /* product of dims */
} TensorFile;

/* Reads a .npy file (format v1, v2 or v3, little-endian, C order), or a
 * serialized onnx.TensorProto when the name ends in ".pb".  Returns 0, or -1
 * with err set and t left empty. */
int tf_read(const char *path, TensorFile *t, char *err, size_t errlen);

/* The same from file contents in memory; path only names it (and picks the
 * format by its extension).  For tests and fuzzing. */
int tf_read_buffer(const void *buf, size_t len, const char *path, TensorFile *t, char *err,
                   size_t errlen);

/* Converts an in-memory TensorProto (FLOAT, DOUBLE, INT64, INT32, INT8,
 * UINT8; BOOL is read as UINT8).  what prefixes error messages, e.g.
 * "model.onnx: initializer 'w'". */
struct Onnx__TensorProto;
int tf_from_tensor_proto(const struct Onnx__TensorProto *tp, TensorFile *t, const char *what,
                         char *err, size_t errlen);

/* Converted copies (caller frees).  Integers from floating-point data are
 * truncated toward zero and saturated; NaN becomes 0. */
float *tf_to_float(const TensorFile *t);
int64_t *tf_to_int64(const TensorFile *t);

/* Writes a .npy v1.0 file exactly as numpy.save would (same header bytes),
 * so equal data gives byte-identical files. */
int tf_write_npy(const char *path, TfType type, int rank, const int64_t *dims, const void *data,
                 char *err, size_t errlen);

/* The whole file in a malloc'ed buffer (caller frees); errors name path. */
int tf_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen);

size_t tf_type_size(TfType type);
const char *tf_type_name(TfType type); /* numpy descr, e.g. "<f4" */

void tf_free(TensorFile *t);

#endif
