"""How the tracker's state behaves over a video: time per frame and state size, GAM against the memory bank.

Runs an untrained network (tiny by default; the cost does not depend on the weights) frame by frame over a
generated video with two moving squares, with the `global` matcher (GAM), the `memory_bank` matcher that grows with
the video, and a fixed-size memory bank (the first frame and the 2 latest, as the first shipped model's), and prints the
per-frame time and the size of the state as the number of frames seen grows. GAM's and the fixed-size bank's states
stay the same size; the growing bank's grows with the video. To segment a video with a trained model, see
`python -m vosjax.segment`.

  python -m vosjax.demo [--frames 60] [--height 240 --width 432] [--paper]
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.cli.entry_point import ArgumentParser, run_entry_point
from vosjax.errors import UserError
from vosjax.inference.memory_policy import MemoryPolicy
from vosjax.models import VOSNet, init_variables, paper_config, tiny_config

PROGRAM = 'vosjax.demo'
# (the name printed, the network's matcher settings)
MATCHERS = (('global', {'matcher': 'global'}),
            ('memory_bank', {'matcher': 'memory_bank'}),
            ('fixed_bank', {'matcher': 'memory_bank', 'memory_every': 1, 'memory_recent': 2}))


def moving_squares(frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
  """A [T, H, W, 3] video of two squares crossing a noisy background and their [2, H, W] first-frame masks."""
  rng = np.random.RandomState(0)
  video = rng.normal(0.0, 0.3, (frames, height, width, 3)).astype(np.float32)
  masks = np.zeros((2, height, width), np.float32)
  size = max(4, height // 6)
  for t in range(frames):
    for k, (colour, speed) in enumerate((((1.5, -1, -1), 1), ((-1, -1, 1.5), -1))):
      top = height // 4 + k * height // 3
      left = int((width - size) * ((0.2 + 0.6 * k + 0.01 * speed * t) % 1.0))
      video[t, top:top + size, left:left + size] = colour
      if t == 0:
        masks[k, top:top + size, left:left + size] = 1.0
  return video, masks


def run(settings: dict, video: np.ndarray, masks: np.ndarray, paper: bool) -> list[tuple[int, float, int]]:
  """(frame, ms, state bytes) per frame after the first, for a network with the matcher `settings`."""
  config = (paper_config if paper else tiny_config)(**settings)
  model = VOSNet(config)
  policy = MemoryPolicy.of(config)
  variables = init_variables(model)
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step), static_argnames='store')
  state = start(variables, jnp.asarray(video[None, 0]), jnp.asarray(masks[None]), jnp.ones((1, 2), bool))
  rows, stored = [], 1
  for t in range(1, len(video)):
    store = policy.stores(t)
    if store:  # a growing memory makes room on the host before the write (no device sync)
      state = policy.make_room(state, stored)
      stored += 1
    began = time.perf_counter()
    state, logits = step(variables, state, jnp.asarray(video[None, t]), store=store)
    logits.block_until_ready()
    state_bytes = sum(x.nbytes for x in jax.tree.leaves(state))
    rows.append((t, (time.perf_counter() - began) * 1e3, state_bytes))
  return rows


def parse_args(argv: list[str] | None):
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--frames', type=int, default=60, help='frames of the generated video (at least 2)')
  parser.add_argument('--height', type=int, default=240, help='frame height')
  parser.add_argument('--width', type=int, default=432, help='frame width')
  parser.add_argument('--paper', action='store_true', help='the paper-size network (ResNet-50/18) instead of tiny')
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  run_entry_point(PROGRAM, demo, argv)


def demo(argv: list[str] | None) -> None:
  """Prints the table (see the module docstring)."""
  args = parse_args(argv)
  if args.frames < 2 or args.height < 16 or args.width < 16:
    raise UserError(f'--frames must be at least 2 and --height, --width at least 16, got {args.frames}, '
                    f'{args.height}, {args.width}')
  video, masks = moving_squares(args.frames, args.height, args.width)
  print(f'{args.frames} frames at {args.height}x{args.width}, 2 objects, '
        f'{"paper" if args.paper else "tiny"} network (untrained), {jax.devices()[0].platform}')
  print(f'{"matcher":<12} {"frame":>6} {"ms/frame":>9} {"state KiB":>10}  (ms includes a compile where the state grew)')
  for matcher, settings in MATCHERS:
    rows = run(settings, video, masks, args.paper)
    for t, ms, state_bytes in rows:
      if t in (1, 2, 10, 20, 40) or t == len(rows):
        print(f'{matcher:<12} {t:>6} {ms:>9.1f} {state_bytes / 1024:>10.1f}')


if __name__ == '__main__':
  main()
