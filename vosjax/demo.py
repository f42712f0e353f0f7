"""A demonstration of the network while training does not exist yet: streaming inference with a constant state.

Runs an untrained network (tiny by default) frame by frame over a generated video with two moving squares, with the
`global` matcher (GAM) and with the `memory_bank` matcher, and prints the per-frame time and the size of the state
as the number of frames seen grows. GAM's state stays the same size; the memory bank's grows with the video.

  python -m vosjax.demo [--frames 60] [--height 240 --width 432] [--paper]
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from vosjax.models import VOSNet, ensure_capacity, init_variables, paper_config, stores_frame, tiny_config


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


def run(matcher: str, video: np.ndarray, masks: np.ndarray, paper: bool) -> list[tuple[int, float, int]]:
  config = (paper_config if paper else tiny_config)(matcher=matcher)
  model = VOSNet(config)
  variables = init_variables(model)
  start = jax.jit(functools.partial(model.apply, method=VOSNet.start))
  step = jax.jit(functools.partial(model.apply, method=VOSNet.step), static_argnames='store')
  state = start(variables, jnp.asarray(video[None, 0]), jnp.asarray(masks[None]), jnp.ones((1, 2), bool))
  rows, stored = [], 1
  for t in range(1, len(video)):
    store = matcher == 'global' or stores_frame(t, config.memory_every)
    if matcher == 'memory_bank' and store:  # grow on the host before the write (no device sync)
      state = state.replace(matcher=ensure_capacity(state.matcher, stored))
      stored += 1
    began = time.perf_counter()
    state, logits = step(variables, state, jnp.asarray(video[None, t]), store=store)
    logits.block_until_ready()
    state_bytes = sum(x.nbytes for x in jax.tree.leaves(state))
    rows.append((t, (time.perf_counter() - began) * 1e3, state_bytes))
  return rows


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--frames', type=int, default=60)
  parser.add_argument('--height', type=int, default=240)
  parser.add_argument('--width', type=int, default=432)
  parser.add_argument('--paper', action='store_true', help='the paper-size network (ResNet-50/18) instead of tiny')
  args = parser.parse_args()
  video, masks = moving_squares(args.frames, args.height, args.width)
  print(f'{args.frames} frames at {args.height}x{args.width}, 2 objects, '
        f'{"paper" if args.paper else "tiny"} network (untrained), {jax.devices()[0].platform}')
  print(f'{"matcher":<12} {"frame":>6} {"ms/frame":>9} {"state KiB":>10}  (ms includes a compile where the state grew)')
  for matcher in ('global', 'memory_bank'):
    rows = run(matcher, video, masks, args.paper)
    for t, ms, state_bytes in rows:
      if t in (1, 2, 10, 20, 40) or t == len(rows):
        print(f'{matcher:<12} {t:>6} {ms:>9.1f} {state_bytes / 1024:>10.1f}')


if __name__ == '__main__':
  main()
