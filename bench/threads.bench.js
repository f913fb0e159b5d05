// Kernel threads: squeezenet1_1 and mobilenet_v2 at 1 and 2 threads against onnxruntime-web at numThreads = 2, in
// one child process (bench/threads.child.js). Issue 17's targets: 2T/1T ≥ 1.7× speedup, edgeq-2T/ORT-2T ≤ 1.0.
// "CPU/wall" is process CPU time over wall time during the timed runs: ≈ 2 means both threads worked (on a quiet
// machine; the 1T runs have the other core held by a spinning thread, see threads.child.js). On Linux the 1T session
// is also timed pinned to cpu0 and to cpu1 (interleaved with the other runs): "two-CPU bound" = 1 + t_fast/t_slow is
// the most two threads can gain over the faster CPU when the CPUs differ in speed (this VM's do, by up to 1.5×, for
// minutes), and "efficiency" = (1 / (1/t0 + 1/t1)) / t_2T is the share of both CPUs' capacity the 2T run used
// (1.0 = perfect split; on two equal CPUs the speedup is 2 × efficiency). "speedup" is median 1T / median 2T; "per
// round" the median (and 25th percentile) of each round's 1T run over the 2T run right after it. "new OS threads" counts /proc/self/task growth at session create: each worker thread adds one, so
// edgeq's kernel worker and ORT's pthread pool worker both show (on the first model; later ones reuse them).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dataFile, fmt, quick, table } from './common.js';

const MODELS = [
  { name: 'squeezenet1_1 (fp32)', file: 'bench/squeezenet1_1.onnx', input: 'input', dims: [1, 3, 224, 224] },
  { name: 'mobilenet_v2 (fp32)', file: 'bench/mobilenet_v2.onnx', input: 'input', dims: [1, 3, 224, 224] },
];

/**
 * Linux with sched_autogroup (Debian/Ubuntu kernels' default): CPU time is shared between sessions (autogroups)
 * first, so `nice` on this process only orders it within its own session — on a shared machine each busy session
 * gets an equal share whatever its processes' nice. The session's own nice (/proc/self/autogroup) is printed.
 */
function autogroup() {
  try {
    const [, nice] = /nice (-?\d+)/.exec(readFileSync('/proc/self/autogroup', 'utf8')) ?? [];
    return nice === undefined ? '' : `; session autogroup nice ${nice}`;
  } catch {
    return '';
  }
}

export async function run() {
  const spec = MODELS.map((m) => ({ ...m, path: dataFile(m.file) })).filter((m) => m.path);
  if (!spec.length) {
    table('Kernel threads', [{ model: 'skipped (no ../shared data)' }]);
    return {};
  }
  const child = fileURLToPath(new URL('./threads.child.js', import.meta.url));
  const load = loadavg()[0];
  const res = JSON.parse(execFileSync(process.execPath, [child, JSON.stringify(spec), ...(quick ? ['--quick'] : [])], { encoding: 'utf8' }).trim().split('\n').pop());
  const rows = res.rows.map((r) => ({
    model: r.model,
    'edgeq 1T ms': fmt(r.ms1),
    [`edgeq ${r.threads}T ms`]: fmt(r.ms2),
    'speedup': fmt(r.ms1 / r.ms2),
    'per round (median, p25)': `${fmt(r.speedupPerRound)}, ${fmt(r.speedupP25)}`,
    ...(r.ms1cpu0 === undefined ? {} : {
      '1T pinned cpu0, cpu1 ms': `${fmt(r.ms1cpu0)}, ${fmt(r.ms1cpu1)}`,
      'speedup vs faster CPU': fmt(Math.min(r.ms1cpu0, r.ms1cpu1) / r.ms2),
      'two-CPU bound': fmt(1 + Math.min(r.ms1cpu0, r.ms1cpu1) / Math.max(r.ms1cpu0, r.ms1cpu1)),
      'efficiency': fmt(1 / (1 / r.ms1cpu0 + 1 / r.ms1cpu1) / r.ms2),
    }),
    'ORT-web 2T ms': fmt(r.ort2),
    'edgeq-2T/ORT-2T': fmt(r.ms2 / r.ort2),
    'CPU/wall 2T, ORT': `${fmt(r.cpu2, 1)}, ${fmt(r.cpuOrt, 1)}`,
    'new OS threads edgeq, ORT': `${r.osThreadsEdgeq}, ${r.osThreadsOrt} (ORT numThreads ${r.ortNumThreads})`,
  }));
  table(`Kernel threads (numThreads 1 vs 2; onnxruntime-web numThreads = 2; load average ${fmt(load, 1)} at start${autogroup()})`, rows);
  return { threads: res.rows.map((r) => ({ ...r, speedup: r.ms1 / r.ms2, vsOrt: r.ms2 / r.ort2, efficiency: r.ms1cpu0 === undefined ? undefined : 1 / (1 / r.ms1cpu0 + 1 / r.ms1cpu1) / r.ms2, load })) };
}
