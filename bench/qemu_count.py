#!/usr/bin/python3
"""Instructions per inference under qemu-user, where `shiftc run` has no counter (aarch64).

    /usr/bin/python3 bench/qemu_count.py DIR X.npy [--target aarch64]
    /usr/bin/python3 bench/qemu_count.py --validate [--shiftc build/shiftc]

DIR is a folder made by `shiftc compile --target T` whose runner is built
(`shiftc run` builds it).  The runner is run under

    qemu-T -singlestep -d nochain,exec ./runner IN.bin OUT.bin N

(-singlestep: one guest instruction per translation block; nochain: every
block goes back through the main loop, so `exec` logs one "Trace" line per
executed instruction, with its guest PC).  The call sites of NAME_run (or
NAME_run_float) in the runner come from the target's objdump; every line
from the PC of NAME_run's entry to the PC of the instruction after the call
is counted: the instructions executed inside NAME_run and everything it
calls, the same span the other targets count (callgrind inside NAME_run on
x86-64, minstret or SysTick around the call on bare metal), averaged over
the N inputs.  It is deterministic.

--validate checks the method twice: on an AArch64 loop of known length
(a hand-written kernel of 3n + 3 instructions, called 3 times), and on the
x86-64 builds of the bundled models, where the trace count must equal
callgrind's (`shiftc run --target x86_64 --json`) within 10 ppm: equal on
the MLP; on the unrolled CNN the trace counted 2 fewer of 2.1 M per
inference when this was written, as many as the `rep stos` instructions in
its layers: most likely the two emulators count the iterations of x86
string instructions differently (AArch64 has no such instruction).

Cost: QEMU writes every log line with its own write(2), and the Python side
parses it; about 0.2 M traced instructions per second here, so seconds per
inference of the CNN.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QEMU = {"aarch64": "qemu-aarch64", "x86_64": "qemu-x86_64", "riscv64": "qemu-riscv64"}
OBJDUMP = {"aarch64": "aarch64-linux-gnu-objdump", "x86_64": "objdump", "riscv64": "riscv64-linux-gnu-objdump"}
# the mnemonic of a call, as objdump prints it
CALL = {"aarch64": r"bl", "x86_64": r"call", "riscv64": r"(?:jal|call)"}


def call_sites(runner, name, target):
    """(entry PCs of NAME_run / NAME_run_float, PCs of the instructions after their call sites)"""
    dis = subprocess.run([OBJDUMP[target], "-d", runner], capture_output=True, text=True, check=True).stdout
    lines = dis.splitlines()
    call = re.compile(r"\s*[0-9a-f]+:\s.*\s%s\s+(?:\w+,\s*)?([0-9a-f]+) <%s_run(?:_float)?>$" % (CALL[target], re.escape(name)))
    addr = re.compile(r"\s*([0-9a-f]+):\s")
    entries, rets = set(), set()
    for i, line in enumerate(lines):
        m = call.match(line)
        if m:
            entries.add(int(m.group(1), 16))
            nxt = next(addr.match(lines[j]) for j in range(i + 1, len(lines)) if addr.match(lines[j]))
            rets.add(int(nxt.group(1), 16))
    if not entries:
        raise RuntimeError("%s: no call of %s_run found" % (runner, name))
    return entries, rets


def trace_count(d, argv, entries, rets, target):
    """(instructions inside the calls, number of calls) of `qemu-T -singlestep ... argv` in d"""
    p = subprocess.Popen([QEMU[target], "-singlestep", "-d", "nochain,exec"] + argv, cwd=d,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    count = calls = 0
    inside = False
    for line in p.stderr:
        if not line.startswith(b"Trace"):
            continue
        # Trace CPU: HOSTPTR [CS_BASE/PC/FLAGS/CFLAGS] SYMBOL
        pc = int(line.split(b"/", 2)[1], 16)
        if inside:
            if pc in rets:
                inside = False
                calls += 1
            else:
                count += 1
        elif pc in entries:
            inside = True
            count += 1
    if p.wait() != 0:
        raise RuntimeError("%s %s failed (exit %d)" % (QEMU[target], " ".join(argv), p.returncode))
    return count, calls


def model_name(d):
    return next(f[:-5] for f in os.listdir(d) if f.endswith(".meta"))


def count(d, x_npy, target="aarch64", name=None):
    """instructions per inference of the built runner in d on the inputs of x_npy"""
    name = name or model_name(d)
    x = np.ascontiguousarray(np.load(x_npy), dtype="<f4")
    with tempfile.TemporaryDirectory(prefix="shiftc-qcount-") as tmp:
        inp, out = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        x.tofile(inp)
        entries, rets = call_sites(os.path.join(d, "runner"), name, target)
        n, calls = trace_count(d, ["./runner", inp, out, str(len(x))], entries, rets, target)
    if calls != len(x):
        raise RuntimeError("%s: %d calls of %s_run traced for %d inputs" % (d, calls, name, len(x)))
    return n / calls


LOOP = r"""
/* kernel(n): mov, then n times (add, subs, b.ne), then mov, ret: 3n + 3 instructions */
long kernel(long n);
__asm__(".global kernel\n.type kernel, %function\nkernel:\n"
        "  mov x1, #0\n"
        "1: add x1, x1, x0\n"
        "  subs x0, x0, #1\n"
        "  b.ne 1b\n"
        "  mov x0, x1\n"
        "  ret\n.size kernel, .-kernel\n");
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    long s = 0;
    (void)argc;
    for (int r = 0; r < 3; r++)
        s += kernel(atol(argv[1]));
    printf("%ld\n", s);
    return 0;
}
"""


def validate(shiftc):
    ok = True
    with tempfile.TemporaryDirectory(prefix="shiftc-qcount-") as tmp:
        src, exe = os.path.join(tmp, "loop.c"), os.path.join(tmp, "loop")
        with open(src, "w") as f:
            f.write(LOOP)
        subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-static", "-o", exe, src], check=True)
        sym = subprocess.run(["aarch64-linux-gnu-nm", "-S", exe], capture_output=True, text=True, check=True).stdout
        lo, size = next((int(f[0], 16), int(f[1], 16)) for f in map(str.split, sym.splitlines())
                        if len(f) == 4 and f[3] == "kernel")
        for n in (1, 1000, 100000):
            # every line inside kernel's bytes: 3 calls of 3n + 3
            got = 0
            p = subprocess.Popen(["qemu-aarch64", "-singlestep", "-d", "nochain,exec", exe, str(n)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for line in p.stderr:
                if line.startswith(b"Trace") and lo <= int(line.split(b"/", 2)[1], 16) < lo + size:
                    got += 1
            p.wait()
            want = 3 * (3 * n + 3)
            print("aarch64 loop n=%d: traced %d, known %d: %s" % (n, got, want, "ok" if got == want else "DIFFERS"))
            ok &= got == want
        fix = os.path.join(ROOT, "tests", "fixtures")
        x = os.path.join(tmp, "x.npy")
        np.save(x, np.load(os.path.join(fix, "test_x.npy"))[:2])
        for model, flags in (("mlp", ["--kernel", "mac"]), ("mlp", ["--float"]), ("cnn", [])):
            d = os.path.join(tmp, model + "".join(flags))
            subprocess.run([shiftc, "compile", os.path.join(fix, model + ".onnx"), "--calib",
                            os.path.join(fix, "calib.npy"), "--target", "x86_64", "--no-verify", "-o", d] + flags,
                           check=True, stdout=subprocess.DEVNULL)
            r = subprocess.run([shiftc, "run", d, "--input", x, "--output", os.path.join(tmp, "y.npy"), "--target",
                                "x86_64", "--json"], capture_output=True, text=True, check=True).stdout
            cg = float(re.search(r'"instructions_per_inference": ([0-9.e+]+)', r).group(1))
            got = count(d, x, "x86_64")
            good = abs(got - cg) <= 1e-5 * cg
            print("x86_64 %s %s: traced %.1f, callgrind %.1f (%+.1f): %s" % (
                model, " ".join(flags) or "(unrolled)", got, cg, got - cg, "ok" if good else "DIFFERS"))
            ok &= good
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("x", nargs="?", help="inputs, float32 .npy")
    ap.add_argument("--target", default="aarch64", choices=sorted(QEMU))
    ap.add_argument("--validate", action="store_true")
    ap.add_argument("--shiftc", default=os.environ.get("SHIFTC", os.path.join(ROOT, "build", "shiftc")))
    a = ap.parse_args()
    if a.validate:
        return 0 if validate(a.shiftc) else 1
    if not a.dir or not a.x:
        ap.error("DIR and X.npy are needed (or --validate)")
    print("%.1f" % count(a.dir, a.x, a.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
