#!/usr/bin/python3
"""ONNX conformance tests for shiftc's float path.

    /usr/bin/python3 tests/conformance.py [--filter SUBSTR] [--keep] [-v] [-j N] [--suite S]...
                                          [--timeout S] [--shiftc BIN] [--probe-shiftc BIN] [--all-ops]

Suites (case names are "SUITE/test_..."):
  node               the official ONNX backend node tests, generated at test time
                     from python3-onnx's generators (onnx 1.12's generate-data
                     needs a numpy shim: np.float etc. were removed in numpy 1.24)
  simple             the generator's "simple" model tests (same generation run)
  pytorch-converted  ../shared/data/onnx-pytorch-converted beside the checkout
                     (skipped with a message when absent)

For every case (model.onnx + test_data_set_0/input_K.pb, output_K.pb):
  * a case using an op outside shiftc's documented op list is SKIPPED, after
    one `shiftc compile --float` of it (with the sanitizer build
    build-san/shiftc when present) that must not crash: a crash, a sanitizer
    report or an exit status other than 0/1 there is a FAIL (--all-ops: when
    shiftc compiles such a model anyway, run and compare it like the others);
  * otherwise the first graph input stays a run-time input and every other
    graph input is frozen with --bind NAME=input_K.pb, then
        shiftc compile model.onnx --float -o DIR --bind ...
        shiftc run DIR --input x.npy --output y0.npy [--output y1.npy ...]
    and every declared output is compared with output_K.pb
    (numpy.allclose, rtol 1e-4, atol 1e-5);
  * compile exiting 1 with "not supported"/"unsupported" in its message is a
    SKIP (shiftc's message is the reason); a crash, any other compile or run
    failure, a timeout (60 s per case) or a mismatch is a FAIL.
Prints "PASS/FAIL/SKIP name (reason)" per case, then "N passed, N failed,
N skipped"; exits 1 if any case failed.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

sys.dont_write_bytecode = True

import numpy as np  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for _a, _b in [("float", float), ("int", int), ("bool", bool), ("object", object), ("complex", complex)]:
        if not hasattr(np, _a):  # onnx 1.12's test generators still use np.float & co.
            setattr(np, _a, _b)

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORTED = {
    "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh",
    "MaxPool", "AveragePool", "GlobalAveragePool", "Add", "Concat", "Flatten", "Reshape", "Transpose",
    "Softmax", "Identity", "Dropout", "Constant", "LSTM", "GRU", "Slice",
}
RTOL, ATOL = 1e-4, 1e-5
CASE_TIMEOUT = 60.0
CRASH_RE = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")
UNSUPPORTED_RE = re.compile(r"not supported|unsupported", re.I)


class Result:
    def __init__(self, name, status, reason="", details=None, seconds=0.0):
        self.name, self.status, self.reason = name, status, reason
        self.details = details or []
        self.seconds = seconds


class Timeout(Exception):
    pass


def run_cmd(argv, deadline, env, log):
    """Runs argv in its own process group; returns (rc, output).  Kills the
    whole group (make, the runner, ...) when the case deadline passes."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Timeout(" ".join(argv[:2]))
    log.append("$ " + " ".join(argv))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=left)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        raise Timeout(" ".join(argv[:2]))
    text = out.decode("utf-8", "replace")
    log.append(text.rstrip())
    return p.returncode, text


def crashed(rc, text):
    return rc < 0 or rc >= 128 or bool(CRASH_RE.search(text))


def describe_rc(rc):
    if rc < 0:
        try:
            return "killed by %s" % signal.Signals(-rc).name
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit %d" % rc


def first_line(text, limit=300):
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("make"):
            return line[:limit]
    return text.strip()[:limit]


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run_case(case, args, workroot):
    name, cdir = case
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    log = []
    wd = os.path.join(workroot, name.replace("/", "__"))
    os.makedirs(wd, exist_ok=True)
    env = dict(os.environ, TMPDIR=wd)
    try:
        model_path = os.path.join(cdir, "model.onnx")
        try:
            model = onnx.load(model_path)
        except Exception as e:  # noqa: BLE001
            return Result(name, "FAIL", "harness: cannot load model.onnx: %s" % e)
        g = model.graph
        ops = {(n.domain or "", n.op_type) for n in g.node}
        bad = sorted(op if not dom or dom == "ai.onnx" else dom + "::" + op
                     for dom, op in ops if (dom not in ("", "ai.onnx")) or op not in SUPPORTED)
        if bad:
            reason = "unsupported op %s" % ", ".join(bad)
            # Out of scope, but shiftc must still reject (or accept) it cleanly:
            # a crash or sanitizer report on any real model is a failure.
            rc, text = run_cmd([args.probe_shiftc, "compile", model_path, "--float", "-o",
                                os.path.join(wd, "probe")], deadline, env, log)
            if crashed(rc, text) or rc not in (0, 1):
                return Result(name, "FAIL", "compile %s on a model with %s: %s" % (
                    "crashed (%s)" % describe_rc(rc) if crashed(rc, text) else "exit %d" % rc, reason,
                    first_line(text)), log)
            if rc != 0 or not args.all_ops:
                return Result(name, "SKIP", reason, log)
            log.append("# --all-ops: shiftc compiled a model outside the op list; testing it")
        inits = {i.name for i in g.initializer}
        inputs = [i.name for i in g.input if i.name not in inits]
        data = os.path.join(cdir, "test_data_set_0")
        in_pb = [os.path.join(data, "input_%d.pb" % k) for k in range(len(inputs))]
        out_pb = [os.path.join(data, "output_%d.pb" % k) for k in range(len(g.output))]
        if not inputs:
            return Result(name, "SKIP", "no graph input ('shiftc run' needs at least one)")
        missing = [p for p in in_pb + out_pb if not os.path.exists(p)]
        if missing:
            return Result(name, "FAIL", "harness: missing test data %s" % os.path.basename(missing[0]))

        out_dir = os.path.join(wd, "out")
        compile_argv = [args.shiftc, "compile", model_path, "--float", "-o", out_dir]
        for k in range(1, len(inputs)):
            compile_argv += ["--bind", "%s=%s" % (inputs[k], in_pb[k])]
        rc, text = run_cmd(compile_argv, deadline, env, log)
        if crashed(rc, text):
            return Result(name, "FAIL", "compile crashed (%s): %s" % (describe_rc(rc), first_line(text)), log)
        if rc == 1 and UNSUPPORTED_RE.search(text):
            return Result(name, "SKIP", first_line(text), log)
        if rc != 0:
            return Result(name, "FAIL", "compile failed (%s): %s" % (describe_rc(rc), first_line(text)), log)

        try:
            x = load_tensor(in_pb[0])
        except Exception as e:  # noqa: BLE001
            return Result(name, "FAIL", "harness: cannot read input_0.pb as a tensor: %s" % e, log)
        x_path = os.path.join(wd, "x.npy")
        np.save(x_path, np.ascontiguousarray(x.astype(np.float32))[None])
        y_paths = [os.path.join(wd, "y%d.npy" % k) for k in range(len(g.output))]
        run_argv = [args.shiftc, "run", out_dir, "--input", x_path]
        for p in y_paths:
            run_argv += ["--output", p]
        rc, text = run_cmd(run_argv, deadline, env, log)
        if crashed(rc, text):
            return Result(name, "FAIL", "run crashed (%s): %s" % (describe_rc(rc), first_line(text)), log)
        if rc != 0:
            return Result(name, "FAIL", "run failed (%s): %s" % (describe_rc(rc), first_line(text)), log)

        problems = []
        for k, (yp, op) in enumerate(zip(y_paths, out_pb)):
            oname = g.output[k].name
            try:
                want = load_tensor(op)
                got = np.load(yp)
            except Exception as e:  # noqa: BLE001
                problems.append("output %d '%s': cannot read: %s" % (k, oname, e))
                continue
            shapes = [(1,) + want.shape]
            if want.ndim and want.shape[0] == 1:
                shapes.append((1,) + want.shape[1:])
            if got.shape not in shapes:
                problems.append("output %d '%s': shape %s, expected %s" % (k, oname, got.shape,
                                                                            " or ".join(map(str, shapes))))
                continue
            got = got.reshape(want.shape).astype(np.float64)
            wantf = want.astype(np.float64)
            if not np.allclose(got, wantf, rtol=RTOL, atol=ATOL):
                d = np.abs(got - wantf)
                nbad = int((~np.isclose(got, wantf, rtol=RTOL, atol=ATOL)).sum())
                i = np.unravel_index(np.nanargmax(np.where(np.isnan(d), np.inf, d)), d.shape) if d.size else ()
                problems.append("output %d '%s': %d of %d values differ, max |diff| %.3g (at %s: got %.7g, expected %.7g)"
                                % (k, oname, nbad, d.size, np.nanmax(d) if d.size else 0, tuple(int(v) for v in i),
                                   got[i], wantf[i]))
        if problems:
            return Result(name, "FAIL", "mismatch: " + "; ".join(problems), log)
        return Result(name, "PASS", "", log)
    except Timeout as e:
        return Result(name, "FAIL", "timeout after %.0f s (in %s)" % (args.timeout, e), log)
    except Exception:  # noqa: BLE001
        return Result(name, "FAIL", "harness error: " + traceback.format_exc().strip().splitlines()[-1],
                      log + [traceback.format_exc()])
    finally:
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)


def generate_node_tests(outdir):
    """The official generators, in a subprocess (they print a lot)."""
    code = (
        "import numpy as np, sys\n"
        "for a, b in [('float', float), ('int', int), ('bool', bool), ('object', object), ('complex', complex)]:\n"
        "    if not hasattr(np, a): setattr(np, a, b)\n"
        "from onnx.backend.test import cmd_tools\n"
        "sys.argv = ['x', 'generate-data', '-o', sys.argv[1]]\n"
        "cmd_tools.main()\n"
    )
    p = subprocess.run([sys.executable, "-W", "ignore", "-c", code, outdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def collect(suite_dir, prefix):
    cases = []
    for d in sorted(os.listdir(suite_dir)):
        full = os.path.join(suite_dir, d)
        if d.startswith("test_") and os.path.isdir(full):
            cases.append((prefix + "/" + d, full))
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filter", default="", help="only cases whose name contains SUBSTR")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("-v", "--verbose", action="store_true", help="print commands and shiftc output for every case")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="parallel cases (default 2)")
    ap.add_argument("--suite", action="append", choices=["node", "simple", "pytorch-converted"],
                    help="run only this suite (repeatable; default: all)")
    ap.add_argument("--timeout", type=float, default=CASE_TIMEOUT, help="seconds per case (default 60)")
    ap.add_argument("--shiftc", default=os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc")),
                    help="binary under test (default $SHIFTC or build/shiftc)")
    san = os.environ.get("SHIFTC_SAN", os.path.join(ROOT, "build-san", "shiftc"))
    ap.add_argument("--probe-shiftc", default=None,
                    help="binary that compiles the out-of-scope models to check they are rejected without "
                         "crashing (default $SHIFTC_SAN or build-san/shiftc if built, else --shiftc)")
    ap.add_argument("--all-ops", action="store_true",
                    help="also run and compare out-of-scope cases that shiftc compiles anyway")
    args = ap.parse_args()
    suites = args.suite or ["node", "simple", "pytorch-converted"]
    t_start = time.monotonic()

    failed_setup = []
    if not os.access(args.shiftc, os.X_OK):
        print("FAIL setup (shiftc binary %s not found; build it first)" % args.shiftc)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    args.shiftc = os.path.abspath(args.shiftc)
    if args.probe_shiftc is None:
        args.probe_shiftc = san if os.access(san, os.X_OK) else args.shiftc
    args.probe_shiftc = os.path.abspath(args.probe_shiftc)

    tmp = tempfile.mkdtemp(prefix="shiftc-conformance-")
    cases = []
    try:
        if "node" in suites or "simple" in suites:
            t = time.monotonic()
            gen = os.path.join(tmp, "onnx-data")
            try:
                rc, out = generate_node_tests(gen)
            except subprocess.TimeoutExpired:
                rc, out = -1, "timed out"
            if rc != 0 or not os.path.isdir(os.path.join(gen, "node")):
                print("FAIL setup/generate-node-tests (%s)" % first_line(out[-2000:]))
                print("\n".join("    " + l for l in out.splitlines()[-15:]))
                failed_setup.append("generate-node-tests")
            else:
                for s in ("node", "simple"):
                    if s in suites and os.path.isdir(os.path.join(gen, s)):
                        cases += collect(os.path.join(gen, s), s)
                print("# generated the ONNX %s backend tests in %.1f s" % (onnx.__version__, time.monotonic() - t))
        if "pytorch-converted" in suites:
            pc = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "onnx-pytorch-converted"))
            if os.path.isdir(pc):
                cases += collect(pc, "pytorch-converted")
            else:
                print("# pytorch-converted suite not found at %s: skipped" % pc)
        if args.filter:
            cases = [c for c in cases if args.filter in c[0]]
        print("# %d cases, %d workers, shiftc %s (out-of-scope models probed with %s)%s"
              % (len(cases), args.jobs, args.shiftc, args.probe_shiftc, ", keeping " + tmp if args.keep else ""))
        sys.stdout.flush()

        results = []
        lock = threading.Lock()
        work = os.path.join(tmp, "work")
        os.makedirs(work, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
            futs = [ex.submit(run_case, c, args, work) for c in cases]
            for f in concurrent.futures.as_completed(futs):
                r = f.result()
                with lock:
                    results.append(r)
                    line = "%s %s" % (r.status, r.name)
                    if r.reason:
                        line += " (%s)" % r.reason
                    print(line)
                    if args.verbose or r.status == "FAIL":
                        for entry in r.details:
                            for l in entry.splitlines()[:(None if args.verbose else 12)]:
                                print("    " + l)
                    sys.stdout.flush()
    finally:
        if args.keep:
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    npass = sum(r.status == "PASS" for r in results)
    nfail = sum(r.status == "FAIL" for r in results) + len(failed_setup)
    nskip = sum(r.status == "SKIP" for r in results)

    # failures grouped by cause, skips by reason: what to fix first
    def group(status):
        groups = {}
        for r in sorted(results, key=lambda r: r.name):
            if r.status != status or r.reason.startswith("unsupported op "):
                continue
            key = re.sub(r"\S*/\S*", "<path>", r.reason)
            key = re.sub(r"'[^']*'", "'…'", key)
            key = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", key)[:120]
            groups.setdefault(key, []).append(r.name)
        return sorted(groups.items(), key=lambda kv: -len(kv[1]))

    if nskip:
        print("# skipped, by reason:")
        by_op = {}
        n_op = 0
        for r in results:
            if r.status == "SKIP" and r.reason.startswith("unsupported op "):
                n_op += 1
                for op in r.reason[len("unsupported op "):].split(", "):
                    by_op[op] = by_op.get(op, 0) + 1
        if n_op:
            text = ", ".join("%s %d" % kv for kv in sorted(by_op.items()))
            print("#   %3d  unsupported op (not in shiftc's op list), by op:" % n_op)
            line = "#        "
            for word in text.split(" "):
                if len(line) + len(word) > 100:
                    print(line.rstrip())
                    line = "#        "
                line += word + " "
            print(line.rstrip())
        for key, names in group("SKIP"):
            print("#   %3d  %s" % (len(names), key))
            print("#        e.g. %s" % ", ".join(names[:6]) + (" ..." if len(names) > 6 else ""))
    if nfail:
        print("# failed, by cause:")
        for key, names in group("FAIL"):
            print("#   %3d  %s" % (len(names), key))
            print("#        e.g. %s" % ", ".join(names[:6]) + (" ..." if len(names) > 6 else ""))
    print("# conformance took %.1f s" % (time.monotonic() - t_start))
    print("%d passed, %d failed, %d skipped" % (npass, nfail, nskip))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
