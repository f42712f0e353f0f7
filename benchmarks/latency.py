"""Per-frame latency and memory of the inference step: GAM against the memory bank, frames seen, resolution, the
fraction of the machine's measured conv/matmul peak the step uses, and the inference paths (fp32, bf16, the
`python -m vosjax.export` artifact, lower internal resolutions; each JSON row names its `path`).

  python benchmarks/latency.py [--quick] [--json PATH] [--model paper|tiny|recipe]
      [--tables frames,resolution,paths,parts,shipped] [--checkpoints WORKDIR,...]

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

from vosjax.cli.xla_defaults import apply_xla_defaults  # noqa: E402

apply_xla_defaults()  # before JAX starts its backend

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from vosjax.inference import VideoSegmenter  # noqa: E402
from vosjax.inference.memory_policy import MemoryPolicy  # noqa: E402
from vosjax.models import VOSNet, init_variables, paper_config, tiny_config  # noqa: E402
from vosjax.errors import UserError  # noqa: E402

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


def _state_after(segmenter: VideoSegmenter, state, frames_seen: int, unpadded: bool = False):
  """The state of frame `frames_seen` (see the module docstring); `unpadded`: the memory bank's capacity is exactly
  the frames it stores, instead of the doubling bucket the engine grows to."""
  config = segmenter.model.config
  if config.matcher == 'global':
    matcher = state.matcher.replace(count=jnp.full_like(state.matcher.count, frames_seen))
  else:
    stored = 1 + frames_seen // config.memory_every
    capacity = config.memory_bucket
    while capacity < stored + 1:  # the engine doubles before a write that does not fit
      capacity *= 2
    if unpadded:
      capacity = stored
    if MemoryPolicy.of(config).fixed_size:  # the first and the most recent frames, whatever the length
      capacity = stored = min(stored, 1 + config.memory_recent + config.memory_long)
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
                 short_side: int | None = None, warmup: bool = True, path: str = 'xla-fp32',
                 unpadded: bool = False) -> Case:
  """The engine's compiled step on the state of frame `seen` (see the module docstring)."""
  segmenter = _SEGMENTERS.setdefault((id(model), short_side), VideoSegmenter(model, variables, short_side=short_side))
  geometry = segmenter.geometry(height, width)
  frames = _frames(height, width, timed + 1)
  start = segmenter._start(variables, frames[0], _masks(height, width, objects), np.ones(objects, bool),
                           geometry=geometry)
  # GAM memorises every frame; the memory bank memorises every 5th, so its median frame is one it does not store
  # (the mask encoder is skipped). Each timed frame starts from the same state, so the cost is that of frame N+1.
  store = MemoryPolicy.of(model.config).stores_every_frame
  state = _state_after(segmenter, start, seen, unpadded)
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
  capacity = state.matcher.capacity if model.config.matcher == 'memory_bank' else None
  row = {'path': path, 'matcher': model.config.matcher, 'frames_seen': seen, 'bank_capacity': capacity,
         'height': height, 'width': width,
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
  """One row per number of frames seen, timed round robin; the memory bank's rows come at its padded capacity and
  at a capacity equal to the frames it stores."""
  cases = [prepare_step(model, variables, height, width, objects, seen, timed, short_side, warmup)
           for seen in frames_seen]
  if MemoryPolicy.of(model.config).grows:
    cases += [prepare_step(model, variables, height, width, objects, seen, timed, short_side, warmup,
                           unpadded=True) for seen in frames_seen]
  return time_round_robin(cases, timed)


_LONG4 = dict(memory_long=4, memory_long_every=5)

# The inference paths compared at 480p, 1 object, 100 frames seen (the `path` field of each JSON row). Each is the
# engine's step, the exported artifact's step, or the engine at a lower internal resolution (which changes the
# result: its accuracy cost is in the README).
PATHS = {
    'xla-fp32': dict(dtype='float32', short_side=None),
    'xla-bf16': dict(dtype='bfloat16', short_side=None),
    'jax-export-fp32': dict(dtype='float32', short_side=None),
    'xla-fp32-internal420': dict(dtype='float32', short_side=420),
    'xla-fp32-internal400': dict(dtype='float32', short_side=400),
    'xla-fp32-internal360': dict(dtype='float32', short_side=360),
    'xla-fp32-internal240': dict(dtype='float32', short_side=240),
    # A fixed-size memory bank with 4 long-term frames beside the first and the recent ones (memory banks only).
    'xla-fp32-long4': dict(dtype='float32', short_side=None, network=_LONG4, needs_bank=True),
    'xla-fp32-internal360-long4': dict(dtype='float32', short_side=360, network=_LONG4, needs_bank=True),
    # GAM beside a read of the first frame, or of the fixed-size bank with long-term frames (networks with a
    # fixed-size bank only; their own random variables: the time does not depend on the values).
    'xla-fp32-internal360-gam-first': dict(dtype='float32', short_side=360, needs_bank=True,
                                           network=dict(matcher='global', gam_first_frame=True)),
    'xla-fp32-internal360-gam-long4': dict(dtype='float32', short_side=360, needs_bank=True,
                                           network=dict(_LONG4, matcher='global', gam_memory=True)),
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
  row = {'path': 'jax-export-fp32', 'matcher': model.config.matcher, 'frames_seen': 0, 'height': height, 'width': width,
         'internal': [height, width], 'objects': objects, 'compile_s': round(compile_s, 1), 'dtype': 'float32'}
  return Case(run=lambda t: tracker.step(state, frames[t])[2].block_until_ready(), row=row)


def measure_paths(base, variables, objects: int, timed: int, warmup: bool) -> list[dict]:
  """One row per entry of PATHS (480p, `objects` objects, GAM, 100 frames seen), timed round robin."""
  import tempfile  # pylint: disable=import-outside-toplevel
  height, width = RESOLUTIONS['480p']
  cases = []
  with tempfile.TemporaryDirectory() as directory:
    for path, setting in PATHS.items():
      # GAM, or the network's own matcher where its state has a fixed size (the real-video recipe's)
      matcher = base.matcher if MemoryPolicy.of(base).fixed_size else 'global'
      if setting.get('needs_bank') and not (matcher == 'memory_bank' and base.memory_recent):
        continue
      network = {'matcher': matcher, **setting.get('network', {})}
      model = VOSNet(dataclasses.replace(base, dtype=setting['dtype'], **network))
      own_variables = variables
      if model.config.matcher != base.matcher:  # other parameters (GAM's temperature, a wider read)
        own_variables = init_variables(model)
      if path.startswith('jax-export'):
        case = prepare_exported(model, own_variables, height, width, objects, timed, warmup, directory)
      else:
        case = prepare_step(model, own_variables, height, width, objects, 100, timed, setting['short_side'], warmup,
                            path)
      case.row.update(table='paths', short_side=setting['short_side'], memory_long=model.config.memory_long,
                      matcher=model.config.matcher)
      cases.append(case)
    rows = time_round_robin(cases, timed)
  for row in rows:
    print(f'.. path {row["path"]}: {row["ms_per_frame"]:.0f} ms', file=sys.stderr, flush=True)
  return rows


def measure_shipped(objects: int, timed: int, warmup: bool, checkpoints: tuple[str, ...] = ()) -> list[dict]:
  """One row per shipped model (`vosjax.pretrained.names()`), then per trained checkpoint in `checkpoints` (a workdir
  or a step folder, as `--checkpoint` reads them): its own network, variables and internal resolution (a manifest's,
  or a workdir config's `eval.short_side`), 480p, `objects` objects, 100 frames seen, timed round robin."""
  from vosjax import pretrained  # pylint: disable=import-outside-toplevel
  from vosjax.inference.model_source import load_model  # pylint: disable=import-outside-toplevel
  height, width = RESOLUTIONS['480p']
  cases = []
  for name in (*pretrained.names(), *checkpoints):
    loaded = load_model(name)
    case = prepare_step(loaded.model, loaded.variables, height, width, objects, 100, timed, loaded.short_side, warmup,
                        name)
    case.row.update(table='shipped', short_side=loaded.short_side)
    cases.append(case)
  rows = time_round_robin(cases, timed)
  for row in rows:
    print(f'.. shipped {row["path"]}: {row["ms_per_frame"]:.0f} ms', file=sys.stderr, flush=True)
  return rows


def _recipe_network(dtype: str):
  """configs/davis2016_cpu.py's network: the shipped model's variables if one is installed, else its ImageNet Lite0
  frame encoder and random heads (the cost does not depend on the values)."""
  from vosjax.configs.davis2016_cpu import pretrained_network  # pylint: disable=import-outside-toplevel
  from vosjax import pretrained  # pylint: disable=import-outside-toplevel
  from vosjax.weights import load_imagenet_encoders  # pylint: disable=import-outside-toplevel
  config = dataclasses.replace(pretrained_network(), dtype=dtype)
  if pretrained.is_shipped(pretrained.DEFAULT):
    model, variables = pretrained.load(pretrained.DEFAULT)
    return dataclasses.replace(model.config, dtype=dtype), variables
  return config, load_imagenet_encoders(init_variables(VOSNet(config)), 'lite0')


def measure_parts(model: VOSNet, variables, timed: int, warmup: bool) -> list[dict]:
  """The 480p, 1-object step split into its parts, each jitted and timed alone (round robin with the whole step).

  Parts: the input (uint8 frame to the normalised, padded network frame), the frame encoder, the key / value / skip
  projections, the matcher's read, the rest of `segment` (CAM, MEM, the decoder, soft aggregation), the mask encoder,
  the matcher's write, and the output (softmax, upsampling to the frame's size, argmax). Their sum differs from the
  whole step by what XLA fuses or overlaps across parts.
  """
  from vosjax.inference.resolution import network_frame, original_probabilities  # pylint: disable=C0415
  from vosjax.models import global_context as gc, memory_bank as mb  # pylint: disable=import-outside-toplevel
  from vosjax.models.encoders import encoder_input  # pylint: disable=import-outside-toplevel
  height, width = RESOLUTIONS['480p']
  config = model.config
  whole = prepare_step(model, variables, height, width, 1, 100, timed, None, warmup, path='whole step')
  segmenter = _SEGMENTERS[(id(model), None)]
  geometry = segmenter.geometry(height, width)
  frames = _frames(height, width, timed + 1)
  state = _state_after(segmenter, segmenter._start(variables, frames[0], _masks(height, width, 1), np.ones(1, bool),
                                                   geometry=geometry), 100)
  prepare = jax.jit(lambda f: network_frame(f, geometry)[None])
  x = prepare(frames[1])
  apply = lambda method: jax.jit(lambda v, *a: model.apply(v, *a, method=method))
  encoder = apply(lambda m, x: m.frame_encoder(encoder_input(x, config.frame_encoder)))
  encode = apply(VOSNet.encode_frame)
  segment_all = apply(VOSNet.segment)
  mask_encoder = apply(lambda m, x, p, f: m.mask_encoder(x, p, f))
  output = jax.jit(lambda l: jnp.argmax(original_probabilities(l[0], geometry), axis=0))
  features = encode(variables, x)
  probs = jnp.full((1, 1) + x.shape[1:3], 0.5, jnp.float32)
  logits = segment_all(variables, state, features)
  query = features.key.reshape(1, -1, config.key_dim)
  values = mask_encoder(variables, x, probs, features.stride16).reshape(1, 1, -1, config.value_dim)
  if config.matcher == 'global':
    read = jax.jit(lambda s, q: gc.read_global_context(s, q, config.key_normalization))
    write = jax.jit(lambda s, k, v: gc.update_global_context(s, gc.frame_context(k, v, config.key_normalization),
                                                             jnp.ones((1, 1), bool)))
  else:
    read = jax.jit(mb.read_memory_bank)
    write = jax.jit(lambda s, k, v: mb.write_memory_bank(s, k, v, jnp.ones((1,), bool), config.memory_recent))
  parts = {
      'input (normalise, pad)': lambda t: prepare(frames[t]),
      'frame encoder': lambda t: encoder(variables, x),
      'encode_frame (encoder + projections)': lambda t: encode(variables, x),
      'matcher read': lambda t: read(state.matcher, query),
      'segment (read, CAM, MEM, decoder, aggregation)': lambda t: segment_all(variables, state, features),
      'mask encoder': lambda t: mask_encoder(variables, x, probs, features.stride16),
      'matcher write': lambda t: write(state.matcher, query, values),
      'output (softmax, upsample, argmax)': lambda t: output(logits),
  }
  cases = [whole] + [Case(run=lambda t, f=fn: jax.block_until_ready(f(t)),
                          row={'path': name, 'matcher': config.matcher, 'height': height, 'width': width,
                               'objects': 1}) for name, fn in parts.items()]
  for case in cases[1:]:
    jax.block_until_ready(case.run(1))  # compile
  rows = time_round_robin(cases, timed)
  for row in rows:
    row['table'] = 'parts'
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--quick', action='store_true',
                      help='every row, reduced: the tiny network (3 frames per row), or with --model paper one frame '
                           'per row without warm-up')
  parser.add_argument('--json', help='write the rows (and the machine) here')
  parser.add_argument('--model', choices=('paper', 'tiny', 'recipe'),
                      help='default: paper (tiny with --quick); recipe: configs/davis2016_cpu.py\'s network with its '
                           'ImageNet Lite0 weights (the shipped model\'s, if one is installed)')
  parser.add_argument('--tables', default='frames,resolution,paths',
                      help='comma-separated subset of frames,resolution,paths,parts,shipped to measure (default: the '
                           'first three; parts: the per-part breakdown of one 480p step; shipped: every shipped '
                           'model at its own internal resolution, whatever --model)')
  parser.add_argument('--checkpoints', default='',
                      help='comma-separated training workdirs (or step folders) timed beside the shipped models in '
                           'the shipped table, each at its config\'s internal resolution')
  parser.add_argument('--frames_seen', default='10,100,1000',
                      help='comma-separated frames-seen rows of table 1 (default 10,100,1000)')
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
  if model_name == 'recipe':
    base, variables = _recipe_network(args.dtype)
  else:
    base = (paper_config if model_name == 'paper' else tiny_config)(dtype=args.dtype)
    variables = None
  # The bank reads no first frame beside it (that is GAM's option); the recipe's GAM keeps its own.
  models = {'global': VOSNet(dataclasses.replace(base, matcher='global')),
            'memory_bank': VOSNet(dataclasses.replace(base, matcher='memory_bank', gam_first_frame=False,
                                                      gam_memory=False))}
  if variables is None:
    variables = init_variables(models['global'])
  # Each matcher's own variables: GAM beside the first frame reads more channels than the bank (a wider decoder
  # input), so the bank gets variables of its own shapes (the cost does not depend on the values).
  matcher_variables = {'global': variables,
                       'memory_bank': (variables if not base.gam_first_frame and not base.gam_memory
                                       else init_variables(models['memory_bank']))}
  tables = set(args.tables.split(','))
  if not tables <= {'frames', 'resolution', 'paths', 'parts', 'shipped'}:
    raise UserError(f'--tables {args.tables}: choose among frames, resolution, paths, parts, shipped')
  began = time.perf_counter()
  rows = []
  # The memory bank's rows come last: after its 8 GiB step at 1000 frames seen, this process ran GAM's 480p step
  # 35-45% slower (1312 -> 1771-1881 ms; the allocator's pages are returned and faulted in again).
  if 'shipped' in tables:
    rows.extend(measure_shipped(1, timed, warmup, tuple(c for c in args.checkpoints.split(',') if c)))
  if 'paths' in tables:
    rows.extend(measure_paths(base, variables, 1, timed, warmup))
  if 'parts' in tables:
    rows.extend(measure_parts(VOSNet(base), variables, timed, warmup))
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
      seen = tuple(int(n) for n in args.frames_seen.split(','))
      for row in measure(models[matcher], matcher_variables[matcher], h, w, 1, seen, timed, warmup=warmup):
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
  if any(r['table'] == 'parts' for r in rows):
    _report_parts(rows)
  if any(r['table'] == 'shipped' for r in rows):
    _report_shipped(rows)


def _report_frames_seen(rows: list[dict]) -> None:
  mib = lambda n: f'{n / 2**20:.0f}'
  print('\n1. frames seen (480p, 1 object)')
  print(f'{"matcher":<12} {"frames seen":>11} {"bank slots":>10} {"ms/frame":>9} {"peak MiB":>9} {"state MiB":>9}')
  by = {}
  for r in (r for r in rows if r['table'] == 'frames seen'):
    slots = r.get('bank_capacity')
    padded = slots is not None and slots != 1 + r['frames_seen'] // 5
    by[(r['matcher'], r['frames_seen'], padded)] = r['ms_per_frame']
    print(f'{r["matcher"]:<12} {r["frames_seen"]:>11} {slots or "":>10} {r["ms_per_frame"]:>9.0f} '
          f'{mib(r["peak_bytes"]):>9} {r["state_bytes"] / 2**20:>9.2f}')
  # GAM's rows at different frames seen run one compiled program with one counter changed: they differ only by the
  # machine's noise (benchmarks/long_video.py runs a real long video for the flat-cost claim).
  for padded, label in ((True, 'padded to its growth bucket'), (False, 'capacity = frames stored')):
    for seen in sorted({k[1] for k in by if k[0] == 'memory_bank'}):
      if ('memory_bank', seen, padded) in by and ('global', seen, False) in by:
        ratio = by[('memory_bank', seen, padded)] / by[('global', seen, False)]
        print(f'memory bank ({label}) / GAM at {seen} frames seen: {ratio:.2f}x')


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
  print(f'\n3. inference paths (480p, 1 object, matcher {paths[0]["matcher"]}, 100 frames seen)')
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


def _report_shipped(rows: list[dict]) -> None:
  """Each shipped model's time per 480p frame, and its ratio to every other's (the same run)."""
  shipped = [r for r in rows if r['table'] == 'shipped']
  print('\n5. shipped models (480p, 1 object, 100 frames seen, each at its own internal resolution)')
  print(f'{"model":<24} {"matcher":<12} {"internal":>9} {"ms/frame":>9}  ' + ' '.join(f'{"vs " + r["path"]:>24}'
                                                                                  for r in shipped))
  for r in shipped:
    internal = 'x'.join(str(n) for n in r['internal'])
    ratios = ' '.join(f'{r["ms_per_frame"] / other["ms_per_frame"]:>23.2f}x' for other in shipped)
    print(f'{r["path"]:<24} {r["matcher"]:<12} {internal:>9} {r["ms_per_frame"]:>9.0f}  {ratios}')


def _report_parts(rows: list[dict]) -> None:
  parts = [r for r in rows if r['table'] == 'parts']
  print('\n4. parts of one step (480p, 1 object, each part jitted and timed alone)')
  print(f'{"part":<48} {"ms":>8}')
  for r in parts:
    print(f'{r["path"]:<48} {r["ms_per_frame"]:>8.1f}')


if __name__ == '__main__':
  from vosjax.cli.entry_point import run_entry_point
  run_entry_point('latency.py', main)
