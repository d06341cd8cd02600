#!/usr/bin/env node
// ort_time.js: batch-1 latency of ONNX Runtime (onnxruntime-node), for bench/latency.py.
//
//   node bench/ort/ort_time.js JOBS.json
//
// JOBS.json is a list of jobs, run one after the other in this process:
//   {"model": "m.onnx", "input": "x.f32", "shape": [1, 1, 28, 28], "samples": 20,
//    "threads": 1 | "default", "budget": 0.3, "min_runs": 20, "warmup": 0.05}
// "input" holds "samples" images as raw float32 (little-endian), each of
// "shape" (batch 1).  Each job creates an InferenceSession (CPU, graph
// optimisations at their default, "all"; threads 1: intraOpNumThreads and
// interOpNumThreads 1, sequential execution; "default": ONNX Runtime's own
// choice), wraps every image in an ort.Tensor once, warms up for "warmup"
// seconds, then times single `await session.run({input: tensor})` calls with
// process.hrtime.bigint(), cycling over the images, until "budget" seconds
// have passed and at least "min_runs" calls were timed (at most 10000), as
// shiftc's runner --time does.  The timed call is what an application pays
// per inference: the JS binding (argument checks, the N-API call, the output
// tensor made back into JS objects) and ONNX Runtime's own work.
//
// Prints one JSON line per job: {"model", "threads", "seconds" (median),
// "runs", "min", "ort_version", "first_output" (the first image's output,
// for a sanity check against the float model)}.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

const MAX_RUNS = 10000;

function median(xs) {
    const s = Float64Array.from(xs).sort();
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

async function timeJob(job) {
    const opts = {executionProviders: ['cpu']};
    if (job.threads !== 'default') {
        opts.intraOpNumThreads = job.threads;
        opts.interOpNumThreads = job.threads;
        opts.executionMode = 'sequential';
    }
    const session = await ort.InferenceSession.create(job.model, opts);
    const inName = session.inputNames[0];
    const outName = session.outputNames[0];
    const per = job.shape.reduce((a, b) => a * b, 1);
    const buf = fs.readFileSync(job.input);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    const tensors = [];
    for (let s = 0; s < job.samples; s++)
        tensors.push(new ort.Tensor('float32', all.slice(s * per, (s + 1) * per), job.shape));
    const first = await session.run({[inName]: tensors[0]});
    const firstOutput = Array.from(first[outName].data).slice(0, 16);

    const budget = BigInt(Math.round((job.budget ?? 0.3) * 1e9));
    const warmup = BigInt(Math.round((job.warmup ?? 0.05) * 1e9));
    const minRuns = job.min_runs ?? 20;
    const times = [];
    let start = process.hrtime.bigint();
    let warm = true;
    for (let k = 0; ; k++) {
        const feeds = {[inName]: tensors[k % tensors.length]};
        const t0 = process.hrtime.bigint();
        await session.run(feeds);
        const t1 = process.hrtime.bigint();
        if (warm) {
            if (t1 - start >= warmup) {
                warm = false;
                start = t1;
            }
            continue;
        }
        times.push(Number(t1 - t0) * 1e-9);
        if (times.length >= MAX_RUNS || (times.length >= minRuns && t1 - start >= budget))
            break;
    }
    if (typeof session.release === 'function')
        await session.release();
    return {
        model: job.model, threads: job.threads, seconds: median(times), runs: times.length,
        min: Math.min(...times), ort_version: ort.env.versions ? ort.env.versions.common : null,
        first_output: firstOutput,
    };
}

async function main() {
    if (process.argv.length !== 3) {
        process.stderr.write('usage: node ort_time.js JOBS.json\n');
        process.exit(2);
    }
    const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
    for (const job of jobs)
        process.stdout.write(JSON.stringify(await timeJob(job)) + '\n');
}

main().catch((e) => {
    process.stderr.write('ort_time.js: ' + (e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
});
