/* .npy and TensorProto tensor files.  See tensorfile.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.pb-c.h"
#include "tensorfile.h"
#include "util.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21 /* numpy leaves room to grow axis 0 in place */

static int tf_fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int tf_fail(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", where, msg);
    return -1;
}

size_t tf_type_size(TfType type)
{
    switch (type) {
    case TF_F32: return 4;
    case TF_F64: return 8;
    case TF_I64: return 8;
    case TF_I32: return 4;
    case TF_I8: return 1;
    case TF_U8: return 1;
    case TF_I16: return 2;
    case TF_U16: return 2;
    }
    unreachable();
}

const char *tf_type_name(TfType type)
{
    switch (type) {
    case TF_F32: return "<f4";
    case TF_F64: return "<f8";
    case TF_I64: return "<i8";
    case TF_I32: return "<i4";
    case TF_I8: return "|i1";
    case TF_U8: return "|u1";
    case TF_I16: return "<i2";
    case TF_U16: return "<u2";
    }
    unreachable();
}

void tf_free(TensorFile *t)
{
    if (!t)
        return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

/* ---- byte order: files are little-endian whatever the host is ---- */

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Copies count elements of size esize from little-endian src to host order. */
static void tf_from_le(void *dst, const void *src, int64_t count, size_t esize)
{
    size_t bytes = (size_t)count * esize;
    if (esize == 1 || host_is_little_endian()) {
        if (bytes)
            memcpy(dst, src, bytes);
        return;
    }
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < bytes; i += esize)
        for (size_t k = 0; k < esize; k++)
            d[i + k] = s[i + esize - 1 - k];
}

/* The byte swap is its own inverse. */
static void tf_to_le(void *dst, const void *src, int64_t count, size_t esize)
{
    tf_from_le(dst, src, count, esize);
}

/* ---- whole-file read ---- */

int tf_read_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tf_fail(err, errlen, path, "cannot open: %s", strerror(errno));
    /* a device (/dev/zero, a terminal) would be read forever; a pipe ends */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        fclose(f);
        return tf_fail(err, errlen, path, S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *p = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > ((size_t)-1) / 4) {
                free(p), fclose(f);
                return tf_fail(err, errlen, path, "file too large");
            }
            cap *= 2;
            p = xrealloc(p, cap);
        }
        size_t got = fread(p + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(p);
        return tf_fail(err, errlen, path, "read error");
    }
    *buf = p;
    *len = n;
    return 0;
}

/* count = product of dims, refusing negative dims and overflow. */
static int tf_count(const int64_t *dims, int rank, int64_t *count)
{
    int64_t c = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] && c > INT64_MAX / dims[i])
            return -1;
        c *= dims[i];
    }
    *count = c;
    return 0;
}

/* ---- .npy header: a Python dict literal ---- */

typedef struct NpyParser {
    const char *s;
    size_t n, pos;
} NpyParser;

static void npy_skip_space(NpyParser *p)
{
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'))
        p->pos++;
}

static int npy_accept(NpyParser *p, char c)
{
    npy_skip_space(p);
    if (p->pos < p->n && p->s[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into out (at most outlen-1 chars). */
static int npy_string(NpyParser *p, char *out, size_t outlen)
{
    npy_skip_space(p);
    if (p->pos >= p->n || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return -1;
    char quote = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != quote) {
        char c = p->s[p->pos++];
        if (c == '\\' || k + 1 >= outlen)
            return -1;
        out[k++] = c;
    }
    if (p->pos >= p->n)
        return -1;
    p->pos++;
    out[k] = 0;
    return 0;
}

static int npy_word(NpyParser *p, const char *w)
{
    npy_skip_space(p);
    size_t len = strlen(w);
    if (p->n - p->pos >= len && memcmp(p->s + p->pos, w, len) == 0) {
        p->pos += len;
        return 1;
    }
    return 0;
}

static int npy_int(NpyParser *p, int64_t *v)
{
    npy_skip_space(p);
    int64_t x = 0;
    size_t start = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        int d = p->s[p->pos++] - '0';
        if (x > (INT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    if (p->pos == start)
        return -1;
    if (p->pos < p->n && p->s[p->pos] == 'L') /* Python 2 long */
        p->pos++;
    *v = x;
    return 0;
}

/* "(3, 4)", "(5,)" or "()". */
static int npy_shape(NpyParser *p, int64_t *dims, int *rank)
{
    *rank = 0;
    if (!npy_accept(p, '('))
        return -1;
    if (npy_accept(p, ')'))
        return 0;
    for (;;) {
        if (*rank >= TF_MAX_RANK)
            return -1;
        if (npy_int(p, &dims[*rank]) < 0)
            return -1;
        (*rank)++;
        if (npy_accept(p, ')'))
            return 0;
        if (!npy_accept(p, ','))
            return -1;
        if (npy_accept(p, ')'))
            return 0;
    }
}

static int npy_descr_type(const char *descr, TfType *type)
{
    static const struct {
        const char *code;
        TfType type;
    } codes[] = {{"f4", TF_F32}, {"f8", TF_F64}, {"i8", TF_I64},
                 {"i4", TF_I32}, {"i1", TF_I8},  {"u1", TF_U8},
                 {"i2", TF_I16}, {"u2", TF_U16}};
    char order = descr[0];
    if (order != '<' && order != '|' && order != '=')
        return -1;
    if (order == '=' && !host_is_little_endian())
        return -1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(descr + 1, codes[i].code) == 0) {
            /* '|' means "no byte order", only right for single bytes */
            if (order == '|' && tf_type_size(codes[i].type) != 1)
                return -1;
            *type = codes[i].type;
            return 0;
        }
    return -1;
}

static int npy_parse_header(const char *path, const char *s, size_t n, TensorFile *t, char *err,
                            size_t errlen)
{
    NpyParser p = {s, n, 0};
    char key[32], descr[32];
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
    if (!npy_accept(&p, '{'))
        return tf_fail(err, errlen, path, "malformed header (expected '{')");
    while (!npy_accept(&p, '}')) {
        if (npy_string(&p, key, sizeof key) < 0 || !npy_accept(&p, ':'))
            return tf_fail(err, errlen, path, "malformed header (expected 'key': value)");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (npy_string(&p, descr, sizeof descr) < 0)
                return tf_fail(err, errlen, path, "malformed header (bad descr)");
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (npy_word(&p, "True"))
                fortran = 1;
            else if (!npy_word(&p, "False"))
                return tf_fail(err, errlen, path, "malformed header (bad fortran_order)");
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (npy_shape(&p, t->dims, &t->rank) < 0)
                return tf_fail(err, errlen, path, "malformed header (bad shape, or rank above %d)",
                               TF_MAX_RANK);
            have_shape = 1;
        } else {
            return tf_fail(err, errlen, path, "malformed header (unexpected or repeated key '%s')",
                           key);
        }
        if (!npy_accept(&p, ',')) {
            if (!npy_accept(&p, '}'))
                return tf_fail(err, errlen, path, "malformed header (expected ',' or '}')");
            break;
        }
    }
    npy_skip_space(&p);
    if (p.pos != p.n)
        return tf_fail(err, errlen, path, "malformed header (text after the dict)");
    if (!have_descr || !have_order || !have_shape)
        return tf_fail(err, errlen, path, "malformed header (missing %s)",
                       !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (npy_descr_type(descr, &t->type) < 0)
        return tf_fail(err, errlen, path, "unsupported dtype '%s'", descr);
    if (fortran)
        return tf_fail(err, errlen, path, "fortran_order arrays are not supported (save in C order)");
    if (tf_count(t->dims, t->rank, &t->count) < 0)
        return tf_fail(err, errlen, path, "shape too large");
    return 0;
}

static int tf_read_npy(const char *path, const unsigned char *buf, size_t len, TensorFile *t,
                       char *err, size_t errlen)
{
    if (len < 10 || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return tf_fail(err, errlen, path, "not a .npy file (bad magic)");
    int major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return tf_fail(err, errlen, path, "truncated header");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return tf_fail(err, errlen, path, "unsupported .npy format version %d.%d", major, buf[7]);
    }
    if (hlen > len - hstart)
        return tf_fail(err, errlen, path, "truncated header");
    if (npy_parse_header(path, (const char *)buf + hstart, hlen, t, err, errlen) < 0)
        return -1;
    size_t esize = tf_type_size(t->type);
    size_t avail = len - hstart - hlen;
    if ((uint64_t)t->count > avail / esize)
        return tf_fail(err, errlen, path, "truncated data (expected %lld values, found %zu)",
                       (long long)t->count, avail / esize);
    if (avail != (size_t)t->count * esize)
        return tf_fail(err, errlen, path, "%zu bytes of unexpected data after the array",
                       avail - (size_t)t->count * esize);
    t->data = xmalloc((size_t)t->count * esize);
    tf_from_le(t->data, buf + hstart + hlen, t->count, esize);
    return 0;
}

/* ---- TensorProto ---- */

int tf_from_tensor_proto(const Onnx__TensorProto *tp, TensorFile *t, const char *what, char *err,
                         size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (tp->n_dims > TF_MAX_RANK)
        return tf_fail(err, errlen, what, "rank %zu is not supported (at most %d)", tp->n_dims,
                       TF_MAX_RANK);
    t->rank = (int)tp->n_dims;
    for (int i = 0; i < t->rank; i++)
        t->dims[i] = tp->dims[i];
    if (tf_count(t->dims, t->rank, &t->count) < 0) {
        for (int i = 0; i < t->rank; i++)
            if (t->dims[i] < 0)
                return tf_fail(err, errlen, what, "dimension %d is %lld (negative)", i,
                               (long long)t->dims[i]);
        return tf_fail(err, errlen, what, "dims whose product overflows int64");
    }
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return tf_fail(err, errlen, what, "external data is not supported");
    if (tp->segment)
        return tf_fail(err, errlen, what, "segmented tensors are not supported");

    int dt = tp->has_data_type ? tp->data_type : 0;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: t->type = TF_F32; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: t->type = TF_F64; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: t->type = TF_I64; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: t->type = TF_I32; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: t->type = TF_I8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: t->type = TF_U8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: t->type = TF_I16; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: t->type = TF_U16; break;
    default: {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&onnx__tensor_proto__data_type__descriptor, dt);
        return tf_fail(err, errlen, what, "data type %s is not supported", v ? v->name : "(unknown)");
    }
    }
    size_t esize = tf_type_size(t->type);

    if (tp->has_raw_data) {
        if ((uint64_t)t->count > tp->raw_data.len / esize ||
            tp->raw_data.len != (size_t)t->count * esize)
            return tf_fail(err, errlen, what, "raw_data has %zu bytes, dims need %lld values of %zu",
                           tp->raw_data.len, (long long)t->count, esize);
        t->data = xmalloc((size_t)t->count * esize);
        tf_from_le(t->data, tp->raw_data.data, t->count, esize);
        return 0;
    }

    /* typed fields: protobuf already decoded them to host order */
    size_t have;
    const void *src;
    switch (t->type) {
    case TF_F32: have = tp->n_float_data, src = tp->float_data; break;
    case TF_F64: have = tp->n_double_data, src = tp->double_data; break;
    case TF_I64: have = tp->n_int64_data, src = tp->int64_data; break;
    default: have = tp->n_int32_data, src = tp->int32_data; break; /* I32, I8, U8, I16, U16 */
    }
    if (have != (uint64_t)t->count)
        return tf_fail(err, errlen, what, "has %zu values, dims say %lld", have,
                       (long long)t->count);
    t->data = xmalloc((size_t)t->count * esize);
    if (t->type == TF_I8 || t->type == TF_U8 || t->type == TF_I16 || t->type == TF_U16) {
        for (int64_t i = 0; i < t->count; i++) {
            int32_t v = tp->int32_data[i];
            if (t->type == TF_I8)
                ((int8_t *)t->data)[i] = (int8_t)v;
            else if (t->type == TF_U8)
                ((uint8_t *)t->data)[i] = (uint8_t)v;
            else if (t->type == TF_I16)
                ((int16_t *)t->data)[i] = (int16_t)v;
            else
                ((uint16_t *)t->data)[i] = (uint16_t)v;
        }
    } else if (t->count) {
        memcpy(t->data, src, (size_t)t->count * esize);
    }
    return 0;
}

static int tf_read_pb(const char *path, const unsigned char *buf, size_t len, TensorFile *t,
                      char *err, size_t errlen)
{
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp)
        return tf_fail(err, errlen, path, "not a TensorProto (protobuf parse failed)");
    int rc = tf_from_tensor_proto(tp, t, path, err, errlen);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int tf_read_buffer(const void *buf, size_t len, const char *path, TensorFile *t, char *err,
                   size_t errlen)
{
    memset(t, 0, sizeof *t);
    int rc = ends_with(path, ".pb") ? tf_read_pb(path, buf, len, t, err, errlen)
                                    : tf_read_npy(path, buf, len, t, err, errlen);
    if (rc < 0)
        tf_free(t);
    return rc;
}

int tf_read(const char *path, TensorFile *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    unsigned char *buf;
    size_t len;
    if (tf_read_file(path, &buf, &len, err, errlen) < 0)
        return -1;
    int rc = tf_read_buffer(buf, len, path, t, err, errlen);
    free(buf);
    return rc;
}

/* ---- conversions ---- */

float *tf_to_float(const TensorFile *t)
{
    float *out = xmalloc((size_t)t->count * sizeof *out);
    for (int64_t i = 0; i < t->count; i++) {
        switch (t->type) {
        case TF_F32: out[i] = ((const float *)t->data)[i]; break;
        case TF_F64: out[i] = (float)((const double *)t->data)[i]; break;
        case TF_I64: out[i] = (float)((const int64_t *)t->data)[i]; break;
        case TF_I32: out[i] = (float)((const int32_t *)t->data)[i]; break;
        case TF_I8: out[i] = ((const int8_t *)t->data)[i]; break;
        case TF_U8: out[i] = ((const uint8_t *)t->data)[i]; break;
        case TF_I16: out[i] = ((const int16_t *)t->data)[i]; break;
        case TF_U16: out[i] = ((const uint16_t *)t->data)[i]; break;
        }
    }
    return out;
}

static int64_t saturate_to_int64(double v)
{
    if (isnan(v))
        return 0;
    if (v >= 9223372036854775807.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

int64_t *tf_to_int64(const TensorFile *t)
{
    int64_t *out = xmalloc((size_t)t->count * sizeof *out);
    for (int64_t i = 0; i < t->count; i++) {
        switch (t->type) {
        case TF_F32: out[i] = saturate_to_int64(((const float *)t->data)[i]); break;
        case TF_F64: out[i] = saturate_to_int64(((const double *)t->data)[i]); break;
        case TF_I64: out[i] = ((const int64_t *)t->data)[i]; break;
        case TF_I32: out[i] = ((const int32_t *)t->data)[i]; break;
        case TF_I8: out[i] = ((const int8_t *)t->data)[i]; break;
        case TF_U8: out[i] = ((const uint8_t *)t->data)[i]; break;
        case TF_I16: out[i] = ((const int16_t *)t->data)[i]; break;
        case TF_U16: out[i] = ((const uint16_t *)t->data)[i]; break;
        }
    }
    return out;
}

/* ---- writer ---- */

/* numpy's header: the dict with sorted keys and a trailing ", ", spaces to
 * let axis 0 grow, then spaces and '\n' to a multiple of 64 bytes. */
static size_t npy_header(char *h, size_t cap, TfType type, int rank, const int64_t *dims)
{
    size_t k = (size_t)snprintf(h, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                tf_type_name(type));
    for (int i = 0; i < rank; i++)
        k += (size_t)snprintf(h + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    k += (size_t)snprintf(h + k, cap - k, "%s), }", rank == 1 ? "," : "");
    if (rank > 0) {
        int digits = snprintf(NULL, 0, "%lld", (long long)dims[0]);
        for (int i = digits; i < NPY_GROWTH_DIGITS; i++)
            h[k++] = ' ';
    }
    return k;
}

int tf_write_npy(const char *path, TfType type, int rank, const int64_t *dims, const void *data,
                 char *err, size_t errlen)
{
    if ((unsigned)type > TF_U16)
        return tf_fail(err, errlen, path, "invalid tensor type");
    if (rank < 0 || rank > TF_MAX_RANK)
        return tf_fail(err, errlen, path, "rank %d is not supported (at most %d)", rank, TF_MAX_RANK);
    int64_t count;
    if (tf_count(dims, rank, &count) < 0)
        return tf_fail(err, errlen, path, "invalid dims");
    size_t esize = tf_type_size(type);

    char text[512];
    size_t hlen = npy_header(text, sizeof text - NPY_ALIGN - 1, type, rank, dims) + 1; /* '\n' */
    size_t pad = NPY_ALIGN - (NPY_MAGIC_LEN + 4 + hlen) % NPY_ALIGN;
    memset(text + hlen - 1, ' ', pad);
    text[hlen - 1 + pad] = '\n';
    hlen += pad;
    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                                (unsigned char)(hlen >> 8)};

    FILE *f = fopen(path, "wb");
    if (!f)
        return tf_fail(err, errlen, path, "cannot create: %s", strerror(errno));
    int ok = fwrite(prefix, 1, sizeof prefix, f) == sizeof prefix &&
             fwrite(text, 1, hlen, f) == hlen;
    /* convert in chunks so big arrays need no second full copy */
    unsigned char chunk[1 << 14];
    size_t per = sizeof chunk / esize;
    for (int64_t i = 0; ok && i < count; i += (int64_t)per) {
        size_t m = (size_t)(count - i) < per ? (size_t)(count - i) : per;
        tf_to_le(chunk, (const unsigned char *)data + (size_t)i * esize, (int64_t)m, esize);
        ok = fwrite(chunk, esize, m, f) == m;
    }
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        remove(path);
        return tf_fail(err, errlen, path, "write error");
    }
    return 0;
}
