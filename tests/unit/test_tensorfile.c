/* tensorfile.c: .npy round trips, numpy-identical headers, TensorProto
 * files, and malformed input that must fail cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "onnx.pb-c.h"
#include "tensorfile.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* A .npy file from a header dict and raw data bytes, as numpy lays it out. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t len)
{
    unsigned char buf[4096];
    size_t pre = major == 1 ? 10 : 12, hlen = strlen(dict);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)hlen;
    buf[9] = (unsigned char)(hlen >> 8);
    if (major != 1)
        buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, hlen);
    memcpy(buf + pre + hlen, data, len);
    write_bytes(path, buf, pre + hlen + len);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tensorfile.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- round trips ---- */

static void round_trip(TfType type, int rank, const int64_t *dims, const void *data)
{
    char err[512];
    const char *path = tmp_path("rt.npy");
    assert_int_equal(tf_write_npy(path, type, rank, dims, data, err, sizeof err), 0);
    TensorFile t;
    assert_int_equal(tf_read(path, &t, err, sizeof err), 0);
    assert_int_equal(t.type, type);
    assert_int_equal(t.rank, rank);
    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        assert_int_equal(t.dims[i], dims[i]);
        count *= dims[i];
    }
    assert_int_equal(t.count, count);
    assert_memory_equal(t.data, data, (size_t)count * tf_type_size(type));
    tf_free(&t);
}

static void test_round_trip_every_type(void **state)
{
    (void)state;
    const float f32[6] = {1.5f, -2.25f, 0.0f, 3e38f, -1e-30f, 42.0f};
    const double f64[3] = {1.0 / 3.0, -1e300, 5.0};
    const int64_t i64[4] = {INT64_MIN, -1, 0, INT64_MAX};
    const int32_t i32[4] = {INT32_MIN, -7, 9, INT32_MAX};
    const int8_t i8[5] = {-128, -1, 0, 1, 127};
    const uint8_t u8[4] = {0, 1, 200, 255};
    int64_t d23[2] = {2, 3}, d3[1] = {3}, d4[1] = {4}, d221[3] = {2, 2, 1}, d5[1] = {5},
            d1114[4] = {1, 1, 1, 4};
    round_trip(TF_F32, 2, d23, f32);
    round_trip(TF_F64, 1, d3, f64);
    round_trip(TF_I64, 1, d4, i64);
    round_trip(TF_I32, 3, d221, i32);
    round_trip(TF_I8, 1, d5, i8);
    round_trip(TF_U8, 4, d1114, u8);
    round_trip(TF_F64, 0, NULL, f64); /* scalar */
    int64_t d0[2] = {0, 3};
    round_trip(TF_F32, 2, d0, f32); /* empty */
}

static void test_round_trip_large(void **state)
{
    (void)state;
    int64_t dims[2] = {300, 257}; /* more than one write chunk */
    float *x = malloc(300 * 257 * sizeof *x);
    for (int i = 0; i < 300 * 257; i++)
        x[i] = (float)i * 0.5f - 7.0f;
    round_trip(TF_F32, 2, dims, x);
    free(x);
}

/* Headers exactly as numpy 1.24 writes them (np.save). */
static void check_header(TfType type, int rank, const int64_t *dims, const char *dict,
                         size_t total_header)
{
    char err[512];
    const char *path = tmp_path("hdr.npy");
    const double zeros[16] = {0};
    assert_int_equal(tf_write_npy(path, type, rank, dims, zeros, err, sizeof err), 0);
    size_t len;
    unsigned char *buf = read_bytes(path, &len);
    assert_true(len >= total_header);
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    size_t hlen = buf[8] | (size_t)buf[9] << 8;
    assert_int_equal(10 + hlen, total_header);
    assert_memory_equal(buf + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < total_header - 1; i++)
        assert_int_equal(buf[i], ' ');
    assert_int_equal(buf[total_header - 1], '\n');
    free(buf);
}

static void test_header_matches_numpy(void **state)
{
    (void)state;
    int64_t d34[2] = {3, 4}, d5[1] = {5}, d123[3] = {1, 2, 3};
    check_header(TF_F32, 2, d34, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 128);
    check_header(TF_I64, 1, d5, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 128);
    check_header(TF_F64, 0, NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 128);
    check_header(TF_U8, 3, d123, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 3), }",
                 128);
}

static void test_writer_is_deterministic(void **state)
{
    (void)state;
    char err[512];
    const int32_t data[6] = {1, 2, 3, 4, 5, 6};
    int64_t dims[2] = {2, 3};
    assert_int_equal(tf_write_npy(tmp_path("a.npy"), TF_I32, 2, dims, data, err, sizeof err), 0);
    assert_int_equal(tf_write_npy(tmp_path("b.npy"), TF_I32, 2, dims, data, err, sizeof err), 0);
    size_t la, lb;
    unsigned char *a = read_bytes(tmp_path("a.npy"), &la);
    unsigned char *b = read_bytes(tmp_path("b.npy"), &lb);
    assert_int_equal(la, lb);
    assert_int_equal(la, 128 + sizeof data);
    assert_memory_equal(a, b, la);
    free(a);
    free(b);
}

static void test_reads_v2_header_and_fixture(void **state)
{
    (void)state;
    char err[512];
    const float v[2] = {1.0f, 2.0f};
    write_npy_raw(tmp_path("v2.npy"), 2, "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}\n",
                  v, sizeof v);
    TensorFile t;
    assert_int_equal(tf_read(tmp_path("v2.npy"), &t, err, sizeof err), 0);
    assert_int_equal(t.count, 2);
    assert_true(((float *)t.data)[1] == 2.0f);
    tf_free(&t);

    if (access("tests/fixtures/test_y.npy", R_OK) != 0) {
        print_message("skipped: tests/fixtures/test_y.npy not found\n");
        return;
    }
    assert_int_equal(tf_read("tests/fixtures/test_y.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.type, TF_I64);
    assert_int_equal(t.rank, 1);
    assert_true(t.dims[0] > 0);
    assert_int_equal(t.count, t.dims[0]);
    int64_t *labels = tf_to_int64(&t);
    for (int64_t i = 0; i < t.count; i++)
        assert_true(labels[i] >= 0 && labels[i] < 10);
    free(labels);
    tf_free(&t);
}

static void test_conversions(void **state)
{
    (void)state;
    float f[5] = {1.9f, -1.9f, 1e30f, -1e30f, 0.0f};
    f[4] = f[4] / f[4]; /* NaN */
    TensorFile t = {.type = TF_F32, .rank = 1, .dims = {5}, .data = f, .count = 5};
    int64_t *i = tf_to_int64(&t);
    assert_int_equal(i[0], 1);
    assert_int_equal(i[1], -1);
    assert_true(i[2] == INT64_MAX);
    assert_true(i[3] == INT64_MIN);
    assert_int_equal(i[4], 0);
    free(i);
    int8_t b[3] = {-128, 0, 127};
    TensorFile u = {.type = TF_I8, .rank = 1, .dims = {3}, .data = b, .count = 3};
    float *x = tf_to_float(&u);
    assert_true(x[0] == -128.0f && x[2] == 127.0f);
    free(x);
}

/* ---- TensorProto files ---- */

static void write_proto(const char *path, Onnx__TensorProto *tp)
{
    size_t len = onnx__tensor_proto__get_packed_size(tp);
    unsigned char *buf = malloc(len + 1);
    onnx__tensor_proto__pack(tp, buf);
    write_bytes(path, buf, len);
    free(buf);
}

static void test_tensor_proto(void **state)
{
    (void)state;
    char err[512];
    int64_t dims[2] = {2, 2};
    float fdata[4] = {1, 2, 3, 4};
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tp.n_float_data = 4;
    tp.float_data = fdata;
    write_proto(tmp_path("t.pb"), &tp);
    TensorFile t;
    assert_int_equal(tf_read(tmp_path("t.pb"), &t, err, sizeof err), 0);
    assert_int_equal(t.type, TF_F32);
    assert_memory_equal(t.data, fdata, sizeof fdata);
    tf_free(&t);

    /* raw little-endian int64 */
    unsigned char raw[16] = {5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    Onnx__TensorProto ti = ONNX__TENSOR_PROTO__INIT;
    int64_t d2[1] = {2};
    ti.n_dims = 1;
    ti.dims = d2;
    ti.has_data_type = 1;
    ti.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    ti.has_raw_data = 1;
    ti.raw_data.data = raw;
    ti.raw_data.len = sizeof raw;
    write_proto(tmp_path("i.pb"), &ti);
    assert_int_equal(tf_read(tmp_path("i.pb"), &t, err, sizeof err), 0);
    assert_int_equal(t.type, TF_I64);
    assert_int_equal(((int64_t *)t.data)[0], 5);
    assert_int_equal(((int64_t *)t.data)[1], -1);
    tf_free(&t);

    /* raw_data of the wrong size */
    ti.raw_data.len = 12;
    write_proto(tmp_path("bad.pb"), &ti);
    assert_int_equal(tf_read(tmp_path("bad.pb"), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad.pb: raw_data has 12 bytes"));

    /* typed field count mismatch */
    tp.n_float_data = 3;
    write_proto(tmp_path("short.pb"), &tp);
    assert_int_equal(tf_read(tmp_path("short.pb"), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "short.pb: has 3 values, dims say 4"));

    /* unsupported type */
    Onnx__TensorProto th = ONNX__TENSOR_PROTO__INIT;
    th.has_data_type = 1;
    th.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    write_proto(tmp_path("h.pb"), &th);
    assert_int_equal(tf_read(tmp_path("h.pb"), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "data type FLOAT16 is not supported"));

    write_bytes(tmp_path("junk.pb"), "\xff\xff\xff\xff", 4);
    assert_int_equal(tf_read(tmp_path("junk.pb"), &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "junk.pb: not a TensorProto"));
}

/* ---- malformed .npy ---- */

static void expect_error(const char *name, const char *contains)
{
    char err[512] = "";
    TensorFile t;
    memset(&t, 0x5a, sizeof t);
    assert_int_equal(tf_read(tmp_path(name), &t, err, sizeof err), -1);
    if (!strstr(err, contains))
        fail_msg("error '%s' does not contain '%s'", err, contains);
    assert_null(t.data);
    assert_non_null(strstr(err, name)); /* names the file */
}

static void test_errors(void **state)
{
    (void)state;
    char err[512];
    float data[784] = {0};
    int64_t dims[2] = {28, 28};
    assert_int_equal(tf_write_npy(tmp_path("full.npy"), TF_F32, 2, dims, data, err, sizeof err), 0);
    size_t len;
    unsigned char *buf = read_bytes(tmp_path("full.npy"), &len);
    write_bytes(tmp_path("trunc.npy"), buf, 128 + 48);
    expect_error("trunc.npy", "truncated data (expected 784 values, found 12)");
    write_bytes(tmp_path("trunc_hdr.npy"), buf, 60);
    expect_error("trunc_hdr.npy", "truncated header");
    write_bytes(tmp_path("tiny.npy"), buf, 5);
    expect_error("tiny.npy", "bad magic");
    buf[1] = 'X';
    write_bytes(tmp_path("magic.npy"), buf, len);
    expect_error("magic.npy", "bad magic");
    free(buf);
    write_bytes(tmp_path("empty.npy"), "", 0);
    expect_error("empty.npy", "bad magic");
    expect_error("missing.npy", "cannot open");

    const float two[2] = {1, 2};
    write_npy_raw(tmp_path("fortran.npy"), 1,
                  "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }\n", two, sizeof two);
    expect_error("fortran.npy", "fortran_order");
    write_npy_raw(tmp_path("c8.npy"), 1,
                  "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n", two, sizeof two);
    expect_error("c8.npy", "unsupported dtype '<c8'");
    write_npy_raw(tmp_path("be.npy"), 1,
                  "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", two, sizeof two);
    expect_error("be.npy", "unsupported dtype '>f4'");
    write_npy_raw(tmp_path("v9.npy"), 9, "{}", two, 0);
    expect_error("v9.npy", "format version 9");
    write_npy_raw(tmp_path("extra.npy"), 1,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", two, sizeof two);
    expect_error("extra.npy", "unexpected data");

    static const char *const bad_headers[] = {
        "",
        "{",
        "{'descr': '<f4', 'fortran_order': False}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }\n",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk\n",
        "{'descr': '<f4\\'', 'fortran_order': False, 'shape': (2,), }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }\n",
        "{'descr': 5, 'fortran_order': False, 'shape': (2,), }\n",
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        write_npy_raw(tmp_path("hdr.npy"), 1, bad_headers[i], two, sizeof two);
        TensorFile t;
        err[0] = 0;
        if (tf_read(tmp_path("hdr.npy"), &t, err, sizeof err) != -1)
            fail_msg("header %zu was accepted: %s", i, bad_headers[i]);
        assert_non_null(strstr(err, "hdr.npy: "));
    }

    /* header length pointing past the end of the file */
    unsigned char lie[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0xff, 0xff, '{', '}'};
    write_bytes(tmp_path("lie.npy"), lie, sizeof lie);
    expect_error("lie.npy", "truncated header");

    /* writer errors */
    assert_int_equal(tf_write_npy("/nonexistent-dir/x.npy", TF_F32, 1, dims, data, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-dir/x.npy: cannot create"));
    int64_t neg[1] = {-1};
    assert_int_equal(tf_write_npy(tmp_path("neg.npy"), TF_F32, 1, neg, data, err, sizeof err), -1);
}

/* Every prefix of a valid file, and every single-byte corruption of its
 * header, must be rejected or read without touching memory it should not. */
static void test_prefixes_and_corruptions(void **state)
{
    (void)state;
    char err[512];
    const int16_t data[3] = {1, 2, 3};
    int64_t dims[1] = {6};
    assert_int_equal(tf_write_npy(tmp_path("p.npy"), TF_U8, 1, dims, data, err, sizeof err), 0);
    size_t len;
    unsigned char *buf = read_bytes(tmp_path("p.npy"), &len);
    TensorFile t;
    for (size_t n = 0; n < len; n++)
        assert_int_equal(tf_read_buffer(buf, n, "p.npy", &t, err, sizeof err), -1);
    for (size_t i = 0; i < 128; i++) {
        for (int v = 0; v < 256; v += 17) {
            unsigned char *copy = malloc(len);
            memcpy(copy, buf, len);
            copy[i] = (unsigned char)v;
            if (tf_read_buffer(copy, len, "p.npy", &t, err, sizeof err) == 0)
                tf_free(&t);
            free(copy);
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_round_trip_large),
        cmocka_unit_test(test_header_matches_numpy),
        cmocka_unit_test(test_writer_is_deterministic),
        cmocka_unit_test(test_reads_v2_header_and_fixture),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_tensor_proto),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_prefixes_and_corruptions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
