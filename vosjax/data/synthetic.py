"""A built-in synthetic video dataset, written in the DAVIS 2017 layout so that the DAVIS reader serves it.

Each video has 1 to 4 annotated objects and sometimes unannotated distractors. Objects are blobs (a radius that
varies with the angle) with their own procedural texture; over time they move on Lissajous paths (so they can leave
the frame and come back), rotate, scale and deform (the radial harmonics drift). A distractor is an exact copy of a
target's shape and texture on its own path, so appearance alone cannot tell them apart. All objects (targets and
distractors) are drawn in a fixed depth order, so they occlude each other, and the masks show only visible parts.
The background is a larger texture panned under the camera, with a slow brightness flicker.

  python -m vosjax.data.synthetic --out DIR [--seed S]

writes DIR/JPEGImages/480p/<seq>/00000.jpg, DIR/Annotations/480p/<seq>/00000.png (indexed, DAVIS palette) and
DIR/ImageSets/2017/{train,val}.txt. (The folder is named 480p for the layout's sake; frames are `height x width`.)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import multiprocessing
import os
import shutil
import time

import numpy as np

from vosjax.cli.entry_point import ArgumentParser, run_command
from vosjax.data.image_io import DatasetError, write_indexed_png, write_jpeg

FORMAT_VERSION = 1  # bump when the generator's output changes, so that caches are regenerated


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
  """What to generate."""

  height: int = 128
  width: int = 224
  train_videos: int = 60
  val_videos: int = 20
  train_frames: tuple[int, int] = (30, 50)  # frames per video, min and max
  val_frames: tuple[int, int] = (40, 60)
  max_objects: int = 4
  distractor_probability: float = 0.6
  texture_size: int = 96


@dataclasses.dataclass
class _Blob:
  texture: np.ndarray  # [S, S, 3] float32
  radius: float
  harmonics: np.ndarray  # [M] amplitudes
  frequencies: np.ndarray  # [M] integer angular frequencies
  phases: np.ndarray  # [M] initial phases
  phase_speeds: np.ndarray  # [M] deformation speeds
  angle: float
  spin: float
  scale_amplitude: float
  scale_speed: float
  centre: np.ndarray  # [2] (y, x) of the Lissajous path
  amplitude: np.ndarray  # [2]
  speed: np.ndarray  # [2] radians per frame
  path_phase: np.ndarray  # [2]

  def position(self, t: float) -> np.ndarray:
    return self.centre + self.amplitude * np.sin(self.speed * t + self.path_phase)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
  """A colourful procedural texture: smooth multi-scale noise plus stripes, [size, size, 3] float32 in [0, 255]."""
  image = np.zeros((size, size, 3), np.float32)
  for cells, weight in ((3, 1.0), (6, 0.6), (12, 0.35)):
    grid = rng.standard_normal((cells + 1, cells + 1, 3), dtype=np.float32)
    coords = np.linspace(0, cells, size, endpoint=False, dtype=np.float32)
    i0 = np.floor(coords).astype(int)
    frac = (coords - i0)[:, None]
    rows = grid[i0] * (1 - frac[..., None]) + grid[i0 + 1] * frac[..., None]  # [size, cells+1, 3]
    cols = rows[:, i0] * (1 - frac.T[..., None]) + rows[:, i0 + 1] * frac.T[..., None]
    image += weight * cols
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  direction = rng.uniform(0, np.pi)
  stripes = np.sin((np.cos(direction) * xx + np.sin(direction) * yy) * rng.uniform(0.15, 0.6))
  image += rng.uniform(0.0, 0.8) * stripes[..., None] * rng.normal(size=3).astype(np.float32)
  base = rng.uniform(40, 215, size=3).astype(np.float32)
  contrast = rng.uniform(25, 60)
  return np.clip(base + contrast * image, 0, 255)


def _blob(rng: np.random.Generator, spec: SyntheticSpec, texture: np.ndarray | None = None,
          shape_of: _Blob | None = None) -> _Blob:
  short = min(spec.height, spec.width)
  harmonics = rng.uniform(0.0, 0.22, size=3)
  start = np.array([rng.uniform(0.2, 0.8) * spec.height, rng.uniform(0.15, 0.85) * spec.width])
  amplitude = np.array([rng.uniform(0.1, 0.45) * spec.height, rng.uniform(0.15, 0.7) * spec.width])
  speed = rng.uniform(0.04, 0.12, size=2) * rng.choice([-1, 1], size=2)
  path_phase = rng.uniform(0, 2 * np.pi, size=2)
  blob = _Blob(
      texture=texture if texture is not None else _texture(rng, spec.texture_size),
      radius=rng.uniform(0.12, 0.24) * short,
      harmonics=harmonics,
      frequencies=rng.integers(2, 6, size=3),
      phases=rng.uniform(0, 2 * np.pi, size=3),
      phase_speeds=rng.uniform(-0.08, 0.08, size=3),
      angle=rng.uniform(0, 2 * np.pi),
      spin=rng.uniform(-0.06, 0.06),
      scale_amplitude=rng.uniform(0.0, 0.25),
      scale_speed=rng.uniform(0.02, 0.08),
      centre=start - amplitude * np.sin(path_phase),  # the path passes through `start` at t = 0
      amplitude=amplitude,
      speed=speed,
      path_phase=path_phase,
  )
  if shape_of is not None:  # a distractor: same look, own motion
    blob = dataclasses.replace(blob, radius=shape_of.radius, harmonics=shape_of.harmonics,
                               frequencies=shape_of.frequencies, phases=shape_of.phases,
                               phase_speeds=shape_of.phase_speeds, scale_amplitude=shape_of.scale_amplitude,
                               scale_speed=shape_of.scale_speed)
  return blob


def _render_blob(blob: _Blob, t: int, yy: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The blob's coverage [H, W] bool and its texture colours [H, W, 3] (valid where covered) at frame t.

  Only the blob's bounding box is computed. sin(f * theta + p) is Im(z^f e^{ip}) with z the unit direction, which
  avoids arctan2 and per-harmonic sines.
  """
  height, width = yy.shape
  inside = np.zeros((height, width), bool)
  colours = np.zeros((height, width, 3), np.float32)
  y0, x0 = blob.position(t)
  scale = 1.0 + blob.scale_amplitude * np.sin(blob.scale_speed * t)
  reach = blob.radius * (1.0 + float(np.sum(blob.harmonics))) * scale + 1
  top, bottom = max(int(y0 - reach), 0), min(int(y0 + reach) + 2, height)
  left, right = max(int(x0 - reach), 0), min(int(x0 + reach) + 2, width)
  if top >= bottom or left >= right:
    return inside, colours
  angle = blob.angle + blob.spin * t
  dy, dx = yy[top:bottom, left:right] - y0, xx[top:bottom, left:right] - x0
  cos, sin = np.cos(angle), np.sin(angle)
  u = (cos * dx + sin * dy) / scale  # object-local coordinates
  v = (-sin * dx + cos * dy) / scale
  distance_sq = u**2 + v**2
  direction = (u + 1j * v) / np.maximum(np.sqrt(distance_sq), 1e-6)
  wobble = np.zeros(u.shape, np.float32)
  for amplitude, frequency, phase, phase_speed in zip(blob.harmonics, blob.frequencies, blob.phases,
                                                      blob.phase_speeds):
    wobble += amplitude * np.imag(direction**int(frequency) * np.exp(1j * (phase + phase_speed * t)))
  radius = blob.radius * (1.0 + wobble)
  window = distance_sq <= radius**2
  size = blob.texture.shape[0]
  ti = np.mod(np.round(v + size / 2).astype(int), size)
  tj = np.mod(np.round(u + size / 2).astype(int), size)
  inside[top:bottom, left:right] = window
  colours[top:bottom, left:right] = blob.texture[ti, tj]
  return inside, colours


@dataclasses.dataclass(frozen=True)
class SceneInfo:
  """Facts about a generated video that its masks alone do not show."""

  num_targets: int
  num_distractors: int


def render_video(rng: np.random.Generator, spec: SyntheticSpec,
                 num_frames: int) -> tuple[np.ndarray, np.ndarray, SceneInfo]:
  """One video: ([T, H, W, 3] uint8 frames, [T, H, W] uint8 object ids, SceneInfo)."""
  yy, xx = np.mgrid[0:spec.height, 0:spec.width].astype(np.float32)
  for _ in range(100):  # until every target is well visible in the first frame
    num_targets = int(rng.integers(1, spec.max_objects + 1))
    targets = [_blob(rng, spec) for _ in range(num_targets)]
    distractors = []
    if rng.random() < spec.distractor_probability:
      for _ in range(int(rng.integers(1, 3))):
        original = targets[int(rng.integers(num_targets))]
        distractors.append(_blob(rng, spec, texture=original.texture, shape_of=original))
    objects = [(k + 1, b) for k, b in enumerate(targets)] + [(0, b) for b in distractors]
    order = rng.permutation(len(objects))
    objects = [objects[i] for i in order]
    first_ids = _draw(objects, 0, yy, xx, None)[1]
    areas = [np.sum(first_ids == k + 1) for k in range(num_targets)]
    full = [np.sum(_render_blob(b, 0, yy, xx)[0]) for b in targets]
    if all(a >= max(0.5 * f, 30) for a, f in zip(areas, full)):
      break
  background = _texture(rng, 2 * max(spec.height, spec.width))
  pan_amplitude = np.array([rng.uniform(0, 0.4), rng.uniform(0, 0.4)]) * np.array([spec.height, spec.width])
  pan_speed, pan_phase = rng.uniform(0.01, 0.05, size=2), rng.uniform(0, 2 * np.pi, size=2)
  flicker_speed, flicker_amount = rng.uniform(0.05, 0.2), rng.uniform(0.0, 0.12)
  frames = np.empty((num_frames, spec.height, spec.width, 3), np.uint8)
  ids = np.empty((num_frames, spec.height, spec.width), np.uint8)
  offset0 = (np.array(background.shape[:2]) - [spec.height, spec.width]) / 2
  for t in range(num_frames):
    oy, ox = (offset0 + pan_amplitude * np.sin(pan_speed * t + pan_phase)).astype(int)
    canvas = background[oy:oy + spec.height, ox:ox + spec.width].copy()
    canvas, ids[t] = _draw(objects, t, yy, xx, canvas)
    canvas *= np.float32(1.0 + flicker_amount * np.sin(flicker_speed * t))
    canvas += 3.0 * rng.standard_normal(canvas.shape, dtype=np.float32)
    frames[t] = np.clip(canvas, 0, 255).astype(np.uint8)
  return frames, ids, SceneInfo(num_targets=num_targets, num_distractors=len(distractors))


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
  """The generator of one video: videos are independent of each other and of how many are generated."""
  return np.random.default_rng([seed, {'train': 0, 'val': 1}[split], index])


def _write_video(out: str, seed: int, spec: SyntheticSpec, split: str, index: int) -> str:
  rng = video_rng(seed, split, index)
  frame_range = spec.train_frames if split == 'train' else spec.val_frames
  name = f'{split}{index:03d}'
  frames, ids, _ = render_video(rng, spec, int(rng.integers(frame_range[0], frame_range[1] + 1)))
  for t in range(len(frames)):
    write_jpeg(os.path.join(out, 'JPEGImages', '480p', name, f'{t:05d}.jpg'), frames[t])
    write_indexed_png(os.path.join(out, 'Annotations', '480p', name, f'{t:05d}.png'), ids[t])
  return name


def _draw(objects, t, yy, xx, canvas):
  ids = np.zeros(yy.shape, np.uint8)
  for object_id, blob in objects:
    inside, colours = _render_blob(blob, t, yy, xx)
    ids[inside] = object_id
    if canvas is not None:
      canvas[inside] = colours[inside]
  return canvas, ids


def write_dataset(out: str, seed: int = 0, spec: SyntheticSpec = SyntheticSpec(), verbose: bool = False,
                  processes: int | None = None) -> str:
  """Generates the dataset into `out` (DAVIS 2017 layout), in `processes` processes (default: one per core)."""
  jobs = [('train', i) for i in range(spec.train_videos)] + [('val', i) for i in range(spec.val_videos)]
  processes = processes or min(os.cpu_count() or 1, 8)
  if processes > 1:
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context('spawn')) as pool:
      names = list(pool.map(functools.partial(_write_video, out, seed, spec), *zip(*jobs)))
  else:
    names = [_write_video(out, seed, spec, split, index) for split, index in jobs]
  os.makedirs(os.path.join(out, 'ImageSets', '2017'), exist_ok=True)
  for split in ('train', 'val'):
    with open(os.path.join(out, 'ImageSets', '2017', f'{split}.txt'), 'w') as f:
      f.write('\n'.join(n for n in names if n.startswith(split)) + '\n')
  if verbose:
    print(f'{len(names)} videos')
  return out


def default_cache_root() -> str:
  """Where `ensure_dataset` keeps generated data: $VOSJAX_CACHE, else ~/.cache/vosjax."""
  return os.environ.get('VOSJAX_CACHE', os.path.join(os.path.expanduser('~'), '.cache', 'vosjax'))


def ensure_dataset(root: str | None = None, seed: int = 0, spec: SyntheticSpec = SyntheticSpec()) -> str:
  """Returns a folder holding the synthetic dataset, generating it first if needed.

  With `root=None` the folder is `<cache>/synthetic-v<version>-seed<seed>-<H>x<W>`. Generation writes into a
  temporary sibling folder that is renamed when complete, so an interrupted run never leaves a half dataset.
  """
  if root is None:
    root = os.path.join(default_cache_root(), f'synthetic-v{FORMAT_VERSION}-seed{seed}-{spec.height}x{spec.width}')
  marker = os.path.join(root, 'ImageSets', '2017', 'val.txt')
  if os.path.isfile(marker):
    return root
  if os.path.isdir(root):  # without the marker it is replaced, but only if it holds nothing but the dataset's folders
    foreign = sorted(set(os.listdir(root)) - {'JPEGImages', 'Annotations', 'ImageSets'})
    if foreign:
      raise DatasetError(f'{root}: exists without the synthetic dataset\'s marker and holds other files '
                         f'({", ".join(foreign[:5])}); choose another folder or remove it')
  temporary = f'{root}.partial{os.getpid()}'
  shutil.rmtree(temporary, ignore_errors=True)
  began = time.time()
  print(f'Generating the synthetic dataset (seed {seed}) into {root} ...', flush=True)
  write_dataset(temporary, seed, spec)
  if os.path.isdir(root):  # a folder without the marker: an incomplete earlier attempt
    shutil.rmtree(root)
  os.makedirs(os.path.dirname(root) or '.', exist_ok=True)
  os.replace(temporary, root)
  print(f'... done in {time.time() - began:.1f} s', flush=True)
  return root


def parse_args(argv: list[str]) -> argparse.Namespace:
  parser = ArgumentParser(prog='python -m vosjax.data.synthetic',
                          description='Write the synthetic VOS dataset in the DAVIS 2017 layout.')
  parser.add_argument('--out', required=True, help='output folder')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--height', type=int, default=SyntheticSpec.height)
  parser.add_argument('--width', type=int, default=SyntheticSpec.width)
  parser.add_argument('--train_videos', type=int, default=SyntheticSpec.train_videos)
  parser.add_argument('--val_videos', type=int, default=SyntheticSpec.val_videos)
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  run_command('vosjax.data.synthetic', parse_args, _write, argv)


def _write(args: argparse.Namespace) -> None:
  spec = SyntheticSpec(height=args.height, width=args.width, train_videos=args.train_videos,
                       val_videos=args.val_videos)
  began = time.time()
  write_dataset(args.out, args.seed, spec, verbose=True)
  print(f'wrote {args.out} in {time.time() - began:.1f} s')


if __name__ == '__main__':
  main()
