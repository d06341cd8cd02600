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
#include "target.h"
#include "tensorfile.h"
#include "toolchain.h"
#include "util.h"

static CliOption run_options[] = {
    {"input", OPT_REPEAT, "X.npy", "inputs, float32, one file per model input in order (required)", 0, 0, {0}, 0},
    {"output", OPT_REPEAT, "Y.npy", "where to write each model output (raw integer codes, or float32 for --float builds)", 0, 0, {0}, 0},
    {"target", OPT_VALUE, "T", "the target DIR was compiled for (checked against NAME.meta, which names it)", 0, 0, {0}, 0},
    {"timeout", OPT_VALUE, "SECONDS", "stop the program if it runs longer (default 600; 0: no limit)", 0, 0, {0}, 0},
    {"json", OPT_FLAG, NULL, "print a JSON summary: samples, target, instructions and seconds per inference, flash, RAM", 0, 0, {0}, 0},
    {NULL, 0, NULL, NULL, 0, 0, {0}, 0},
};

static CliCommand run_cmd = {
    "run", "DIR --input X.npy --output Y.npy [--target T] [--json]",
    "Builds the runner in DIR (made by 'shiftc compile') with make and runs it on every\n"
    "input, on the target DIR was compiled for: natively, under qemu-user (Linux\n"
    "targets) or under qemu-system with -icount and semihosting (bare metal).  Integer\n"
    "builds write the raw output codes, the same dtype and layout as\n"
    "'shiftc eval --quant-output', so the two can be compared bit for bit.",
    "For the host target the C compiler is taken from CC (default cc), as make does;\n"
    "other targets use the toolchain written into DIR/Makefile.\n"
    "With --json: instructions_per_inference counts the instructions executed inside\n"
    "NAME_run, averaged over the inputs -- exact on RISC-V bare metal (minstret), SysTick\n"
    "ticks x 40 on Cortex-M4 (QEMU -icount shift=0), callgrind on the host and x86_64;\n"
    "null under qemu-user.  flash_bytes = text + data and ram_bytes = data + bss of the\n"
    "model's own objects (as 'shiftc compile' reports them), plus stack_bytes, the\n"
    "deepest stack NAME_run used, measured on bare metal by painting the stack.\n"
    "seconds_per_inference (also printed without --json) is wall time where the runner\n"
    "runs natively (host, and x86_64/aarch64/riscv64 on a machine of that kind): a\n"
    "second run of the runner ('runner --time IN.bin N') times single calls of NAME_run\n"
    "after a warm-up, cycling over the inputs for about 0.3 s (20 to 10000 calls), and\n"
    "reports the median; timed_runs is the number of calls.  Both are null under an\n"
    "emulator, where wall time says nothing about the target.",
    1, run_options,
};

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -1;
}

static size_t dtype_size(const char *dtype)
{
    return strcmp(dtype, "f32") == 0 ? 4 : strcmp(dtype, "i16") == 0 || strcmp(dtype, "u16") == 0 ? 2 : 1;
}

static TfType dtype_tf(const char *dtype)
{
    return strcmp(dtype, "f32") == 0   ? TF_F32
           : strcmp(dtype, "u8") == 0  ? TF_U8
           : strcmp(dtype, "i16") == 0 ? TF_I16
           : strcmp(dtype, "u16") == 0 ? TF_U16
                                       : TF_I8;
}

static int64_t io_numel(const EmitIO *io)
{
    int64_t n = 1;
    for (int i = 0; i < io->rank; i++)
        n *= io->dims[i];
    return n;
}

/* What the runner reported on stdout: "shiftc-count TOTAL N",
 * "shiftc-stack BYTES" and, in its timing mode, "shiftc-time SECONDS RUNS";
 * every other line is the runner's own (a bare-metal runner's stderr
 * arrives here too) and goes to stderr. */
typedef struct RunReport {
    int counted;
    unsigned long long count;
    long count_n;
    int stacked;
    unsigned long long stack;
    int timed;
    double seconds; /* median wall time of one NAME_run call */
    long time_runs; /* calls timed */
} RunReport;

static void parse_report(char *out, RunReport *r)
{
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        if (sscanf(line, "shiftc-count %llu %ld", &r->count, &r->count_n) == 2)
            r->counted = 1;
        else if (sscanf(line, "shiftc-stack %llu", &r->stack) == 1)
            r->stacked = 1;
        else if (sscanf(line, "shiftc-time %lf %ld", &r->seconds, &r->time_runs) == 2)
            r->timed = r->seconds > 0 && r->time_runs > 0;
        else
            fprintf(stderr, "%s\n", line);
    }
}

/* The "summary:" (or "totals:") Ir of a callgrind output file. */
static int callgrind_total(const char *path, unsigned long long *total)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "summary: %llu", total) == 1 || (!found && sscanf(line, "totals: %llu", total) == 1))
            found = 1;
    fclose(f);
    return found ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
    const char *dir;
    int rc = cli_parse(&run_cmd, argc, argv, &dir);
    if (rc)
        return rc > 0 ? 0 : 2;
    CliOption *inputs = cli_opt(&run_cmd, "input"), *outputs = cli_opt(&run_cmd, "output");
    int json = cli_opt(&run_cmd, "json")->set;
    const char *timeout = cli_opt(&run_cmd, "timeout")->value;
    char *end = NULL;
    long seconds = timeout ? strtol(timeout, &end, 10) : 600;
    if (timeout && (*end || !*timeout || seconds < 0 || seconds > 86400)) {
        fprintf(stderr, "shiftc run: --timeout expects seconds (0 to 86400), got '%s'\n", timeout);
        return 2;
    }
    process_set_timeout((int)seconds);
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
        emit_free_meta(&meta);
        return 2;
    }
    const Target *target = target_find(meta.target);
    const char *want = cli_opt(&run_cmd, "target")->value;
    if (!target) {
        fprintf(stderr, "shiftc: %s was compiled for the target '%s', which this shiftc does not know\n", dir,
                meta.target);
        emit_free_meta(&meta);
        return 1;
    }
    if (want && toolchain_target("run", want) != target) {
        if (target_find(want))
            fprintf(stderr,
                    "shiftc run: %s was compiled for %s, not %s: compile it again with --target %s\n", dir,
                    target->name, want, want);
        emit_free_meta(&meta);
        return 2;
    }
    if (toolchain_check_build(target, err, sizeof err) != 0 || toolchain_check_run(target, err, sizeof err) != 0) {
        fprintf(stderr, "shiftc run: %s\n", err);
        emit_free_meta(&meta);
        return 1;
    }
    /* callgrind counts only where the runner runs natively, and only for --json */
    int native = toolchain_native(target);
    int callgrind = json && target->count == COUNT_CALLGRIND && native;
    if (callgrind && !process_have("valgrind")) {
        if (target->host_tools) {
            fprintf(stderr, "shiftc run: warning: valgrind is not installed (Debian package valgrind): "
                            "no instruction count\n");
            callgrind = 0;
        } else {
            fprintf(stderr, "shiftc run: target %s counts instructions with valgrind, which is not installed: "
                            "install the Debian package valgrind\n", target->name);
            emit_free_meta(&meta);
            return 1;
        }
    }

    int status = 1, n = -1;
    float *xs[IR_MAX_IO] = {0};
    unsigned char *outbuf = NULL;
    char tmpdir[4096] = "", in_path[4200] = "", out_path[4200] = "", cg_path[4200] = "";
    char *console = NULL;
    RunReport rep = {0};
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
    /* absolute: QEMU system runs in the temporary directory */
    char cwd_buf[4096] = "";
    if (dir[0] != '/' && !getcwd(cwd_buf, sizeof cwd_buf)) {
        fprintf(stderr, "shiftc: getcwd: %s\n", strerror(errno));
        goto done;
    }
    snprintf(runner, sizeof runner, "%s%s%s/runner", cwd_buf, *cwd_buf ? "/" : "", dir);
    snprintf(count, sizeof count, "%d", n);
    /* the command line: emulator or counter, runner, arguments */
    char *run_argv[64];
    int na = 0;
    char toggle[300], cg_out[4300], semi[256];
    const char *cwd = NULL;
    if (callgrind) {
        snprintf(cg_path, sizeof cg_path, "%s/callgrind.out", tmpdir);
        snprintf(toggle, sizeof toggle, "--toggle-collect=%s_run%s", meta.name, meta.float_mode ? "_float" : "");
        snprintf(cg_out, sizeof cg_out, "--callgrind-out-file=%s", cg_path);
        run_argv[na++] = "valgrind";
        run_argv[na++] = "-q";
        run_argv[na++] = "--tool=callgrind";
        run_argv[na++] = toggle;
        run_argv[na++] = cg_out;
    }
    if (!native)
        for (int i = 0; target->emulator[i] && na < 40; i++)
            run_argv[na++] = (char *)target->emulator[i];
    if (target->run == RUN_QEMU_SYSTEM) {
        /* semihosting: the runner's files, relative to the temporary
         * directory QEMU runs in; its console (stdout and stderr) on
         * QEMU's stdout */
        snprintf(semi, sizeof semi, "enable=on,target=native,chardev=con,arg=in.bin,arg=out.bin,arg=%d", n);
        char *sys[] = {"-display", "none", "-serial", "none", "-monitor", "none", "-chardev", "stdio,id=con",
                       "-semihosting-config", semi, "-kernel", runner, NULL};
        for (int i = 0; sys[i]; i++)
            run_argv[na++] = sys[i];
        cwd = tmpdir;
    } else {
        run_argv[na++] = runner;
        run_argv[na++] = in_path;
        run_argv[na++] = out_path;
        run_argv[na++] = count;
    }
    run_argv[na] = NULL;
    size_t console_len = 1 << 16;
    console = xmalloc(console_len);
    int run_rc = process_capture_in(cwd, run_argv, console, console_len);
    if (callgrind && run_rc != 0) {
        /* e.g. a runner built with -fsanitize=address, which valgrind cannot run */
        fprintf(stderr, "shiftc run: warning: the runner failed under valgrind; running it natively, "
                        "without an instruction count\n");
        callgrind = 0;
        run_rc = process_capture_in(cwd, run_argv + 5, console, console_len);
    }
    parse_report(console, &rep);
    if (run_rc != 0) {
        fprintf(stderr, "shiftc: %s failed on %s%s%s (exit status %d)\n", runner, target->name,
                native ? "" : " under ", native ? "" : target->emulator[0], run_rc);
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
    /* wall time per inference: the runner's timing mode, a run of its own
     * after the outputs are written, natively on an operating system only
     * (under an emulator wall time says nothing about the target) */
    RunReport trep = {0};
    if (native && !target->bare_metal) {
        char *time_argv[] = {runner, "--time", in_path, count, NULL};
        console[0] = '\0';
        int trc = process_capture_in(NULL, time_argv, console, console_len);
        parse_report(console, &trep);
        if (trc != 0 || !trep.timed) {
            fprintf(stderr, "shiftc run: warning: %s --time failed (a runner emitted by an older shiftc? "
                            "compile again): no seconds per inference\n", runner);
            trep.timed = 0;
        }
    }
    /* instructions inside NAME_run over the n inferences */
    unsigned long long total = 0;
    int counted = 0;
    if (callgrind) {
        if (callgrind_total(cg_path, &total) != 0)
            fprintf(stderr, "shiftc run: warning: no instruction total in %s\n", cg_path);
        else
            counted = 1;
    } else if (rep.counted) {
        if (rep.count_n != n)
            fprintf(stderr, "shiftc run: warning: the runner counted %ld inferences, not %d\n", rep.count_n, n);
        else
            counted = 1;
        total = rep.count;
    }
    ModelSize sz = {-1, -1, -1, -1, -1};
    if (json && toolchain_model_size(dir, meta.name, target, &sz, err, sizeof err) != 0)
        fprintf(stderr, "shiftc: warning: %s\n", err);
    if (json) {
        printf("{\"dir\": ");
        json_string(stdout, dir);
        printf(", \"samples\": %d, \"target\": ", n);
        json_string(stdout, target->name);
        if (counted)
            printf(", \"instructions_per_inference\": %.1f, \"instructions_total\": %llu",
                   n ? (double)total / n : 0.0, total);
        else
            printf(", \"instructions_per_inference\": null, \"instructions_total\": null");
        if (trep.timed)
            printf(", \"seconds_per_inference\": %.9g, \"timed_runs\": %ld", trep.seconds, trep.time_runs);
        else
            printf(", \"seconds_per_inference\": null, \"timed_runs\": null");
        printf(", \"counter\": ");
        static const char *const counters[] = {"none", "callgrind", "minstret", "systick"};
        if (counted)
            json_string(stdout, counters[target->count]);
        else
            printf("null");
        if (sz.flash >= 0)
            printf(", \"flash_bytes\": %lld, \"ram_bytes\": %lld", sz.flash,
                   sz.ram + (rep.stacked ? (long long)rep.stack : 0));
        else
            printf(", \"flash_bytes\": null, \"ram_bytes\": null");
        if (rep.stacked)
            printf(", \"stack_bytes\": %llu", rep.stack);
        else
            printf(", \"stack_bytes\": null");
        printf(", \"text_bytes\": %lld, \"data_bytes\": %lld, \"bss_bytes\": %lld}\n", sz.text, sz.data, sz.bss);
    } else {
        printf("shiftc: ran %s on %d sample(s) (target %s)\n", meta.name, n, target->name);
        if (counted)
            printf("  %.1f instructions per inference (%s)\n", n ? (double)total / n : 0.0,
                   target->count == COUNT_SYSTICK ? "SysTick x 40" : "exact");
        if (trep.timed)
            printf("  %.3g s per inference (median of %ld runs)\n", trep.seconds, trep.time_runs);
        if (rep.stacked)
            printf("  stack high-water of %s_run: %llu bytes\n", meta.name, rep.stack);
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
    if (*cg_path)
        unlink(cg_path);
    free(console);
    if (*tmpdir)
        rmdir(tmpdir);
    emit_free_meta(&meta);
    return status;
}
