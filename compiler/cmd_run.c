/* shiftc run: build a compiled model's runner and run it on inputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "emit_c.h"
#include "process.h"
#include "tensorfile.h"
#include "util.h"

static CliOption run_options[] = {
    {"input", OPT_REPEAT, "X.npy", "inputs, float32, one file per model input in order (required)", 0, 0, {0}, 0},
    {"output", OPT_REPEAT, "Y.npy", "where to write each model output (raw integer codes, or float32 for --float builds)", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print a JSON summary (sample count, code and data size)", 0, 0, {0}, 0},
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand run_cmd = {
    "run", "DIR --input X.npy --output Y.npy [--json]",
    "Builds the runner in DIR (made by 'shiftc compile') with make and runs it on every\n"
    "input.  Integer builds write the raw output codes, the same dtype and layout as\n"
    "'shiftc eval --quant-output', so the two can be compared bit for bit.",
    "The C compiler is taken from CC (default cc), as make does.",
    1, run_options,
};

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static size_t dtype_size(const char *dtype)
{
    return strcmp(dtype, "f32") == 0 ? 4 : 1;
}

static TfType dtype_tf(const char *dtype)
{
    return strcmp(dtype, "f32") == 0 ? TF_F32 : strcmp(dtype, "u8") == 0 ? TF_U8 : TF_I8;
}

static int64_t io_numel(const EmitIO *io)
{
    int64_t n = 1;
    for (int i = 0; i < io->rank; i++)
        n *= io->dims[i];
    return n;
}

/* Text, data and bss bytes of the model's library, from `size -t`. */
static int library_size(const char *dir, const char *name, long long *text, long long *data, long long *bss)
{
    char lib[4096], out[16384];
    char *make_argv[] = {"make", "-s", "-C", (char *)dir, "lib", NULL};
    if (process_run(make_argv) != 0)
        return -1;
    snprintf(lib, sizeof lib, "%s/lib%s.a", dir, name);
    char *size_argv[] = {"size", "-t", lib, NULL};
    if (process_capture(size_argv, out, sizeof out) != 0)
        return -1;
    char *totals = strstr(out, "(TOTALS)");
    if (!totals)
        return -1;
    while (totals > out && totals[-1] != '\n')
        totals--;
    return sscanf(totals, "%lld %lld %lld", text, data, bss) == 3 ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
    const char *dir;
    int rc = cli_parse(&run_cmd, argc, argv, &dir);
    if (rc)
        return rc > 0 ? 0 : 2;
    CliOption *inputs = cli_opt(&run_cmd, "input"), *outputs = cli_opt(&run_cmd, "output");
    int json = cli_opt(&run_cmd, "json")->set;
    char err[1024];
    EmitMeta meta;
    if (emit_read_meta(dir, &meta, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc: %s\n", err);
        return 1;
    }
    if (inputs->nvalues != meta.ninputs) {
        fprintf(stderr, "shiftc run: %s/%s takes %d input(s); give one --input per input\n", dir, meta.name, meta.ninputs);
        return 2;
    }
    if (outputs->nvalues > meta.noutputs) {
        fprintf(stderr, "shiftc run: %s/%s has only %d output(s)\n", dir, meta.name, meta.noutputs);
        return 2;
    }

    int status = 1, n = -1;
    float *xs[IR_MAX_IO] = {0};
    unsigned char *outbuf = NULL;
    char tmpdir[4096] = "", in_path[4200] = "", out_path[4200] = "";
    for (int i = 0; i < meta.ninputs; i++) {
        TensorFile tf;
        if (tf_read(inputs->values[i], &tf, err, sizeof err) != 0) {
            fprintf(stderr, "shiftc: %s\n", err);
            goto done;
        }
        EmitIO *io = &meta.inputs[i];
        int ni = sample_count(tf.dims, tf.rank, io->dims, io->rank);
        if (ni <= 0 || tf.type != TF_F32 || (n >= 0 && ni != n)) {
            char got[256], want[256];
            dims_str(tf.dims, tf.rank, got, sizeof got);
            dims_str(io->dims, io->rank, want, sizeof want);
            fprintf(stderr, "shiftc: %s: %s %s does not fit input '%s' %s float32%s\n", inputs->values[i],
                    tf_type_name(tf.type), got, io->name, want, n >= 0 ? " with the same sample count as the first input" : "");
            tf_free(&tf);
            goto done;
        }
        n = ni;
        xs[i] = tf_to_float(&tf);
        tf_free(&tf);
    }

    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/shiftc-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "shiftc: cannot create a temporary directory in %s: %s\n", tmp && *tmp ? tmp : "/tmp", strerror(errno));
        tmpdir[0] = '\0';
        goto done;
    }
    snprintf(in_path, sizeof in_path, "%s/in.bin", tmpdir);
    snprintf(out_path, sizeof out_path, "%s/out.bin", tmpdir);
    FILE *f = fopen(in_path, "wb");
    if (!f) {
        fprintf(stderr, "shiftc: %s: %s\n", in_path, strerror(errno));
        goto done;
    }
    int werr = 0;
    for (int s = 0; s < n; s++)
        for (int i = 0; i < meta.ninputs; i++) {
            int64_t k = io_numel(&meta.inputs[i]);
            werr |= write_all(f, xs[i] + s * k, (size_t)k * sizeof(float));
        }
    if (fclose(f) != 0 || werr) {
        fprintf(stderr, "shiftc: %s: write failed\n", in_path);
        goto done;
    }

    char jobs[32];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(jobs, sizeof jobs, "-j%ld", cores > 0 ? cores : 1);
    char *make_argv[] = {"make", "-s", jobs, "-C", (char *)dir, "runner", NULL};
    if (process_run(make_argv) != 0) {
        fprintf(stderr, "shiftc: building %s failed\n", dir);
        goto done;
    }
    char runner[4200], count[32];
    snprintf(runner, sizeof runner, "%s/runner", dir);
    snprintf(count, sizeof count, "%d", n);
    char *run_argv[] = {runner, in_path, out_path, count, NULL};
    if (process_run(run_argv) != 0) {
        fprintf(stderr, "shiftc: %s failed\n", runner);
        goto done;
    }

    /* out.bin: per sample, every output in order */
    size_t per_sample = 0;
    for (int o = 0; o < meta.noutputs; o++)
        per_sample += (size_t)io_numel(&meta.outputs[o]) * dtype_size(meta.outputs[o].dtype);
    f = fopen(out_path, "rb");
    outbuf = xmalloc(per_sample * (size_t)n);
    size_t got = f ? fread(outbuf, 1, per_sample * (size_t)n, f) : 0;
    if (f)
        fclose(f);
    if (got != per_sample * (size_t)n) {
        fprintf(stderr, "shiftc: %s: expected %zu bytes of outputs, got %zu\n", runner, per_sample * (size_t)n, got);
        goto done;
    }
    size_t off = 0;
    for (int o = 0; o < meta.noutputs; o++) {
        EmitIO *io = &meta.outputs[o];
        size_t bytes = (size_t)io_numel(io) * dtype_size(io->dtype);
        if (o < outputs->nvalues) {
            unsigned char *arr = xmalloc(bytes * (size_t)n);
            for (int s = 0; s < n; s++)
                memcpy(arr + (size_t)s * bytes, outbuf + (size_t)s * per_sample + off, bytes);
            int64_t dims[IR_MAX_RANK + 1];
            int rank = sample_dims(io->dims, io->rank, n, dims);
            int e = tf_write_npy(outputs->values[o], dtype_tf(io->dtype), rank, dims, arr, err, sizeof err);
            free(arr);
            if (e != 0) {
                fprintf(stderr, "shiftc: %s\n", err);
                goto done;
            }
        }
        off += bytes;
    }
    long long text = -1, data = -1, bss = -1;
    if (json && library_size(dir, meta.name, &text, &data, &bss) != 0)
        fprintf(stderr, "shiftc: warning: could not measure the size of %s/lib%s.a\n", dir, meta.name);
    if (json) {
        printf("{\"dir\": ");
        json_string(stdout, dir);
        printf(", \"samples\": %d, \"target\": \"host\", \"text_bytes\": %lld, \"data_bytes\": %lld, \"bss_bytes\": %lld}\n",
               n, text, data, bss);
    } else {
        printf("shiftc: ran %s on %d sample(s)\n", meta.name, n);
    }
    status = 0;
done:
    for (int i = 0; i < IR_MAX_IO; i++)
        free(xs[i]);
    free(outbuf);
    if (*in_path)
        unlink(in_path);
    if (*out_path)
        unlink(out_path);
    if (*tmpdir)
        rmdir(tmpdir);
    emit_free_meta(&meta);
    return status;
}
