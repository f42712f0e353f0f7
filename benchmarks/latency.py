"""Per-frame latency and memory of the inference step: GAM against the memory bank, frames seen, resolution, the
fraction of the machine's measured conv/matmul peak the step uses, and the inference paths (fp32, bf16, the
`python -m vosjax.export` artifact, lower internal resolutions; each JSON row names its `path`).

  python benchmarks/latency.py [--quick] [--json PATH] [--model paper|tiny] [--tables frames,resolution,paths]

What is timed is the engine's own jitted per-frame step (`VideoSegmenter`: decode-free uint8 frame in, label map
out, everything on device), median over frames after compilation, blocking on the result each frame.
The memory bank's median frame is one it does not memorise (4 of every 5), timed as such.
The state "after N frames seen" is built directly rather than by running N frames: GAM's state has the same shapes
after any number of frames (its count is set to N), and the memory bank is given the capacity the engine would have
grown to (slots of frame 0 and every 5th frame, in doubling buckets) filled with copies of a real memorised frame.
Timing depends on shapes, not on values, so this is the cost of frame N+1 of a real video.
peak_bytes is XLA's memory analysis of the compiled step (arguments + outputs + temporaries, aliased buffers once):
the memory the step needs on the device, whatever the backend. --quick (under 3 minutes on 2 cores) measures every
row with the tiny network, 3 frames each after a warm-up (`--quick --model paper`: the paper's network, one frame
per row without warm-up, about 4 minutes here and noisy: the first call after compiling is slower); every path's
row is included either way, at 100 frames seen. The paths are timed round robin within their table; the tables run
paths, resolution, then frames seen, because the memory bank's 8 GiB step slowed every step this process ran after
it (by 35-45% here).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vosjax.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()  # before JAX starts its backend

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from vosjax.inference import VideoSegmenter  # noqa: E402
from vosjax.models import VOSNet, init_variables, paper_config, tiny_config  # noqa: E402
from vosjax.user_errors import UserError  # noqa: E402

RESOLUTIONS = {'480p': (480, 854), '1080p': (1080, 1920), '2K': (1080, 2048)}


def _machine() -> dict:
  return {'backend': jax.default_backend(), 'device': str(jax.devices()[0].device_kind), 'cpus': os.cpu_count(),
          'processor': platform.processor() or platform.machine(), 'xla_flags': os.environ.get('XLA_FLAGS', '')}


def _median_seconds(fn, repeats: int) -> float:
  jax.block_until_ready(fn())  # compile and warm up
  times = []
  for _ in range(repeats):
    began = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - began)
  return float(np.median(times))


def measure_peak_gflops(repeats: int) -> dict:
  """This machine's best fp32 throughput on what a ResNet is made of: 3x3 convs and matmuls of a few shapes (the
  best of each kind is the peak the inference step is compared with)."""
  key = jax.random.key(0)
  conv = jax.jit(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME',
                                                           dimension_numbers=('NHWC', 'HWIO', 'NHWC')))
  conv_rates = []
  for height, width, channels in ((120, 216, 256), (60, 108, 512)):
    x = jax.random.normal(key, (1, height, width, channels), jnp.float32)
    w = jax.random.normal(key, (3, 3, channels, channels), jnp.float32)
    flops = 2 * height * width * channels * channels * 9
    conv_rates.append(flops / _median_seconds(lambda: conv(x, w), repeats) / 1e9)
  matmul = jax.jit(lambda a: a @ a)
  matmul_rates = []
  for size in (1024, 2048):
    a = jax.random.normal(key, (size, size), jnp.float32)
    matmul_rates.append(2 * size ** 3 / _median_seconds(lambda: matmul(a), repeats) / 1e9)
  return {'conv3x3_gflops': max(conv_rates), 'matmul_gflops': max(matmul_rates)}


def _frames(height: int, width: int, count: int) -> list[np.ndarray]:
  rng = np.random.default_rng(0)
  base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
  return [np.roll(base, 8 * t, axis=1) for t in range(count)]


def _masks(height: int, width: int, objects: int) -> np.ndarray:
  masks = np.zeros((objects, height, width), np.float32)
  for k in range(objects):
    masks[k, height // 4:height // 2, (k + 1) * width // (objects + 2):(k + 2) * width // (objects + 2)] = 1
  return masks


def _state_after(segmenter: VideoSegmenter, state, frames_seen: int):
  """The state of frame `frames_seen` (see the module docstring)."""
  config = segmenter.model.config
  if config.matcher == 'global':
    matcher = state.matcher.replace(count=jnp.full_like(state.matcher.count, frames_seen))
  else:
    stored = 1 + frames_seen // config.memory_every
    capacity = config.memory_bucket
    while capacity < stored + 1:  # the engine doubles before a write that does not fit
      capacity *= 2
    bank = state.matcher
    tile = lambda x, axis: jnp.concatenate([jnp.repeat(jnp.take(x, jnp.array([0]), axis=axis), stored, axis=axis),
                                            jnp.zeros_like(jnp.repeat(jnp.take(x, jnp.array([0]), axis=axis),
                                                                      capacity - stored, axis=axis))], axis=axis)
    matcher = bank.replace(keys=tile(bank.keys, 1), values=tile(bank.values, 2),
                           valid=jnp.arange(capacity)[None] < stored,
                           count=jnp.full_like(bank.count, stored))
  return state.replace(matcher=matcher, frame_index=jnp.full_like(state.frame_index, frames_seen))


_SEGMENTERS: dict = {}  # one per network and resolution setting (each jits its own start)
_COMPILED: dict = {}  # one compilation per matcher, shapes and store flag (rows with equal shapes share it)


@dataclasses.dataclass
class Case:
  """One timed setting: `run(t)` segments timed frame t (1..timed) and blocks on its labels; `row` describes it."""

  run: Callable[[int], None]
  row: dict
  times: list = dataclasses.field(default_factory=list)


def prepare_step(model: VOSNet, variables, height: int, width: int, objects: int, seen: int, timed: int,
                 short_side: int | None = None, warmup: bool = True, path: str = 'xla-fp32') -> Case:
  """The engine's compiled step on the state of frame `seen` (see the module docstring)."""
  segmenter = _SEGMENTERS.setdefault((id(model), short_side), VideoSegmenter(model, variables, short_side=short_side))
  geometry = segmenter.geometry(height, width)
  frames = _frames(height, width, timed + 1)
  start = segmenter._start(variables, frames[0], _masks(height, width, objects), np.ones(objects, bool),
                           geometry=geometry)
  # GAM memorises every frame; the memory bank memorises every 5th, so its median frame is one it does not store
  # (the mask encoder is skipped). Each timed frame starts from the same state, so the cost is that of frame N+1.
  store = model.config.matcher == 'global'
  state = _state_after(segmenter, start, seen)
  key = (id(model), geometry, objects, store, tuple(x.shape for x in jax.tree.leaves(state)))
  compile_s = 0.0
  if key not in _COMPILED:
    began = time.perf_counter()
    _COMPILED[key] = segmenter._step.lower(variables, state, frames[1], None, None, geometry=geometry,
                                           store=store).compile()
    compile_s = time.perf_counter() - began
  step = _COMPILED[key]
  if warmup:
    jax.block_until_ready(step(variables, state, frames[0], None, None))
  memory = step.memory_analysis()
  peak = (memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
          - memory.alias_size_in_bytes)
  row = {'path': path, 'matcher': model.config.matcher, 'frames_seen': seen, 'height': height, 'width': width,
         'internal': list(geometry.internal), 'objects': objects, 'peak_bytes': int(peak),
         'state_bytes': int(sum(x.nbytes for x in jax.tree.leaves(state))),
         'gflop_per_frame': (step.cost_analysis() or {}).get('flops', 0.0) / 1e9, 'compile_s': round(compile_s, 1),
         'dtype': model.config.dtype}
  return Case(run=lambda t: step(variables, state, frames[t], None, None)[1].block_until_ready(), row=row)


def time_round_robin(cases: list[Case], timed: int) -> list[dict]:
  """Times frame 1, 2, ... of every case in turn, so that drifts of the machine's speed during the run affect every
  case alike; one row per case with the median."""
  for t in range(1, timed + 1):
    for case in cases:
      began = time.perf_counter()
      case.run(t)
      case.times.append(time.perf_counter() - began)
  return [dict(case.row, ms_per_frame=1e3 * float(np.median(case.times)),
               process_peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) for case in cases]


def measure(model: VOSNet, variables, height: int, width: int, objects: int, frames_seen: tuple[int, ...],
            timed: int, short_side: int | None = None, warmup: bool = True) -> list[dict]:
  """One row per number of frames seen, timed round robin."""
  cases = [prepare_step(model, variables, height, width, objects, seen, timed, short_side, warmup)
           for seen in frames_seen]
  return time_round_robin(cases, timed)


# The inference paths compared at 480p, 1 object, 100 frames seen (the `path` field of each JSON row). Each is the
# engine's step, the exported artifact's step, or the engine at a lower internal resolution (which changes the
# result: its accuracy cost is in the README).
PATHS = {
    'xla-fp32': dict(dtype='float32', short_side=None),
    'xla-bf16': dict(dtype='bfloat16', short_side=None),
    'jax-export-fp32': dict(dtype='float32', short_side=None),
    'xla-fp32-internal360': dict(dtype='float32', short_side=360),
    'xla-fp32-internal240': dict(dtype='float32', short_side=240),
}
NOT_MEASURED = {
    'onnx': 'no maintained JAX-to-ONNX converter handles this network here: jax2onnx 0.17.1 returns wrong values '
            'and shapes for the frame encoder (and pins orbax-checkpoint < 0.11.37); OpenVINO 2026.4\'s JAX frontend '
            '(experimental) fails on this jax\'s jaxprs',
}


def prepare_exported(model: VOSNet, variables, height: int, width: int, objects: int, timed: int, warmup: bool,
                     directory: str) -> Case:
  """The step of the `python -m vosjax.export` artifact (`vosjax.export.ExportedTracker`), written into `directory`.

  Its state is the one `start` returns: a GAM state has the same shapes after any number of frames, and the time
  depends on shapes, not values."""
  from vosjax.export import ExportedTracker, export_tracker  # pylint: disable=import-outside-toplevel
  frames = _frames(height, width, timed + 1)
  began = time.perf_counter()
  export_tracker(model, variables, directory, height, width, objects)
  tracker = ExportedTracker(directory)
  state = tracker.start(frames[0], _masks(height, width, objects), np.ones(objects, bool))
  if warmup:
    jax.block_until_ready(tracker.step(state, frames[0]))
  compile_s = time.perf_counter() - began
  row = {'path': 'jax-export-fp32', 'matcher': 'global', 'frames_seen': 0, 'height': height, 'width': width,
         'internal': [height, width], 'objects': objects, 'compile_s': round(compile_s, 1), 'dtype': 'float32'}
  return Case(run=lambda t: tracker.step(state, frames[t])[2].block_until_ready(), row=row)


def measure_paths(base, variables, objects: int, timed: int, warmup: bool) -> list[dict]:
  """One row per entry of PATHS (480p, `objects` objects, GAM, 100 frames seen), timed round robin."""
  import tempfile  # pylint: disable=import-outside-toplevel
  height, width = RESOLUTIONS['480p']
  cases = []
  with tempfile.TemporaryDirectory() as directory:
    for path, setting in PATHS.items():
      model = VOSNet(dataclasses.replace(base, dtype=setting['dtype'], matcher='global'))
      if path.startswith('jax-export'):
        case = prepare_exported(model, variables, height, width, objects, timed, warmup, directory)
      else:
        case = prepare_step(model, variables, height, width, objects, 100, timed, setting['short_side'], warmup,
                            path)
      case.row.update(table='paths', short_side=setting['short_side'])
      cases.append(case)
    rows = time_round_robin(cases, timed)
  for row in rows:
    print(f'.. path {row["path"]}: {row["ms_per_frame"]:.0f} ms', file=sys.stderr, flush=True)
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help='every row, reduced: the tiny network (3 frames per row), or with --model paper one frame '
                           'per row without warm-up')
  parser.add_argument('--json', help='write the rows (and the machine) here')
  parser.add_argument('--model', choices=('paper', 'tiny'), help='default: paper (tiny with --quick)')
  parser.add_argument('--tables', default='frames,resolution,paths',
                      help='comma-separated subset of frames,resolution,paths to measure (default: all)')
  parser.add_argument('--dtype', choices=('float32', 'bfloat16'), default='float32',
                      help='of tables 1 and 2 (table 3 compares the paths, bfloat16 included)')
  args = parser.parse_args()
  # Full run: 10 timed frames per frames-seen row (the 5% comparison), 5 per resolution row (seconds each on a CPU).
  model_name = args.model or ('tiny' if args.quick else 'paper')
  if not args.quick:
    timed, timed_resolution, warmup = 10, 5, True
  elif model_name == 'tiny':
    timed, timed_resolution, warmup = 3, 3, True
  else:
    timed, timed_resolution, warmup = 1, 1, False
  print(f'.. the {model_name} network; {timed} timed frames per frames-seen row, {timed_resolution} per resolution '
        f'row{", after a warm-up frame" if warmup else ", no warm-up"}', file=sys.stderr, flush=True)
  base = (paper_config if model_name == 'paper' else tiny_config)(dtype=args.dtype)
  models = {m: VOSNet(dataclasses.replace(base, matcher=m)) for m in ('global', 'memory_bank')}
  variables = init_variables(models['global'])  # both matchers have the same parameters
  tables = set(args.tables.split(','))
  if not tables <= {'frames', 'resolution', 'paths'}:
    raise UserError(f'--tables {args.tables}: choose among frames, resolution, paths')
  began = time.perf_counter()
  rows = []
  # The memory bank's rows come last: after its 8 GiB step at 1000 frames seen, this process ran GAM's 480p step
  # 35-45% slower (1312 -> 1771-1881 ms; the allocator's pages are returned and faulted in again).
  if 'paths' in tables:
    rows.extend(measure_paths(base, variables, 1, timed, warmup))
  if 'resolution' in tables:
    for name, (h, w) in RESOLUTIONS.items():
      for objects in (1, 3):
        row = measure(models['global'], variables, h, w, objects, (100,), timed_resolution, warmup=warmup)[0]
        rows.append(dict(row, table='resolution', resolution=name))
        print(f'.. {name} {objects} objects: {rows[-1]["ms_per_frame"]:.0f} ms', file=sys.stderr, flush=True)
    h, w = RESOLUTIONS['2K']
    row = measure(models['global'], variables, h, w, 3, (100,), timed_resolution, short_side=480, warmup=warmup)[0]
    rows.append(dict(row, table='resolution', resolution='2K at 480p internal'))
  if 'frames' in tables:
    h, w = RESOLUTIONS['480p']
    for matcher in ('global', 'memory_bank'):
      for row in measure(models[matcher], variables, h, w, 1, (10, 100, 1000), timed, warmup=warmup):
        rows.append(dict(row, table='frames seen'))
        print(f'.. {matcher} {row["frames_seen"]} frames seen: {row["ms_per_frame"]:.0f} ms', file=sys.stderr,
              flush=True)
  peak = measure_peak_gflops(5 if args.quick else 20)
  machine = dict(_machine(), **peak)
  print(f'network: {model_name} ({args.dtype}){"; --quick: a reduced run, not the README figures" if args.quick else ""}')
  report(rows, machine)
  print(f'({time.perf_counter() - began:.0f} s)', file=sys.stderr)
  if args.json:
    with open(args.json, 'w') as f:
      json.dump([dict(r, machine=machine) for r in rows], f, indent=1)


def report(rows: list[dict], machine: dict) -> None:
  print(f'machine: {machine["processor"]}, {machine["cpus"]} cores, backend {machine["backend"]}; measured peak '
        f'fp32 3x3 conv {machine["conv3x3_gflops"]:.0f} GFLOP/s, matmul {machine["matmul_gflops"]:.0f} GFLOP/s')
  if any(r['table'] == 'frames seen' for r in rows):
    _report_frames_seen(rows)
  if any(r['table'] == 'resolution' for r in rows):
    _report_resolution(rows, machine)
  if any(r['table'] == 'paths' for r in rows):
    _report_paths(rows)


def _report_frames_seen(rows: list[dict]) -> None:
  mib = lambda n: f'{n / 2**20:.0f}'
  print('\n1. frames seen (480p, 1 object)')
  print(f'{"matcher":<12} {"frames seen":>11} {"ms/frame":>9} {"peak MiB":>9} {"state MiB":>9}')
  by = {}
  for r in (r for r in rows if r['table'] == 'frames seen'):
    by[(r['matcher'], r['frames_seen'])] = r['ms_per_frame']
    print(f'{r["matcher"]:<12} {r["frames_seen"]:>11} {r["ms_per_frame"]:>9.0f} {mib(r["peak_bytes"]):>9} '
          f'{r["state_bytes"] / 2**20:>9.2f}')
  flat = by[('global', 1000)] / by[('global', 10)] - 1
  speedup = by[('memory_bank', 100)] / by[('global', 100)]
  print(f'GAM at 1000 vs 10 frames seen: {100 * flat:+.1f}% (target within 5%: '
        f'{"met" if abs(flat) <= 0.05 else "MISSED"})')
  print(f'memory bank / GAM at 100 frames seen: {speedup:.2f}x (target >= 2x: {"met" if speedup >= 2 else "MISSED"})')


def _report_resolution(rows: list[dict], machine: dict) -> None:
  mib = lambda n: f'{n / 2**20:.0f}'
  print('\n2. resolution (GAM, 100 frames seen)')
  print(f'{"resolution":<20} {"objects":>7} {"ms/frame":>9} {"peak MiB":>9} {"GFLOP":>7} {"GFLOP/s":>8} {"of peak":>7}')
  best = max(machine['conv3x3_gflops'], machine['matmul_gflops'])
  for r in (r for r in rows if r['table'] == 'resolution'):
    rate = r['gflop_per_frame'] / (r['ms_per_frame'] / 1e3)
    r['gflops'] = rate
    r['fraction_of_peak'] = rate / best
    print(f'{r["resolution"]:<20} {r["objects"]:>7} {r["ms_per_frame"]:>9.0f} {mib(r["peak_bytes"]):>9} '
          f'{r["gflop_per_frame"]:>7.1f} {rate:>8.0f} {100 * rate / best:>6.0f}%')
  at_480 = next(r for r in rows if r.get('resolution') == '480p' and r['objects'] == 1)
  two_k = [r for r in rows if r.get('resolution') == '2K']
  print(f'480p step uses {100 * at_480["fraction_of_peak"]:.0f}% of the measured peak (target >= 70%: '
        f'{"met" if at_480["fraction_of_peak"] >= 0.7 else "MISSED"})')
  worst = max(r['peak_bytes'] for r in two_k)
  print(f'2K native, up to 3 objects: {worst / 2**30:.2f} GiB (target within 4 GB: '
        f'{"met" if worst <= 4e9 else "MISSED"})')


def _report_paths(rows: list[dict]) -> None:
  paths = [r for r in rows if r['table'] == 'paths']
  print('\n3. inference paths (480p, 1 object, GAM, 100 frames seen)')
  print(f'{"path":<22} {"internal":>9} {"ms/frame":>9} {"vs xla-fp32":>11}')
  reference = next(r['ms_per_frame'] for r in paths if r['path'] == 'xla-fp32')
  for r in paths:
    internal = 'x'.join(str(n) for n in r['internal']) if 'internal' in r else 'native'
    print(f'{r["path"]:<22} {internal:>9} {r["ms_per_frame"]:>9.0f} {reference / r["ms_per_frame"]:>10.2f}x')
  for name, reason in NOT_MEASURED.items():
    print(f'{name}: not measured: {reason}')
  fastest = min(r['ms_per_frame'] for r in paths)
  print(f'fastest path: {fastest:.0f} ms/frame (target <= 500 ms: {"met" if fastest <= 500 else "MISSED"}; '
        'a lower internal resolution changes the result, see the README for its J&F)')


if __name__ == '__main__':
  from vosjax.user_errors import run_entry_point
  run_entry_point('latency.py', main)
