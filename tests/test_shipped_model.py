"""The shipped model's masks on a small generated clip equal the stored golden masks (not only that it loads).

tests/data/shipped_model_golden.npz holds the default shipped model's name and weights' sha256, and the label maps it
gave on the clip below when the file was written. When the shipped model is replaced, this test fails naming the
new sha256; after checking the new model, refresh the file with one command:

    python tests/test_shipped_model.py
"""

import os
import sys

import cv2
import numpy as np
import pytest

from vosjax import pretrained
from vosjax.data.eval_stream import EvalFrame
from vosjax.inference import VideoSegmenter
from vosjax.inference.model_source import load_model

GOLDEN = os.path.join(os.path.dirname(__file__), 'data', 'shipped_model_golden.npz')
HEIGHT, WIDTH, FRAMES = 144, 192, 8
# XLA may sum in another order on another machine or version: a pixel whose two best labels are that close can flip.
MAX_FLIPPED_FRACTION = 1e-3


def clip() -> tuple[list[EvalFrame], np.ndarray]:
  """(frames, [T, H, W] uint8 true ids): a red and a blue ellipse moving over a smooth background that pans."""
  rng = np.random.default_rng(7)
  smooth = lambda h, w, cells, low, high: cv2.resize(rng.uniform(low, high, (cells, cells, 3)).astype(np.float32),
                                                    (w, h), interpolation=cv2.INTER_CUBIC)
  background = np.clip(smooth(HEIGHT + 64, WIDTH + 64, 6, 30, 200), 0, 255).astype(np.uint8)
  textures = [np.clip(np.array(colour, np.float32) + smooth(HEIGHT, WIDTH, 4, -30, 30), 0, 255).astype(np.uint8)
              for colour in ((220, 40, 40), (40, 70, 220))]
  yy, xx = np.mgrid[:HEIGHT, :WIDTH]
  frames, truth = [], []
  for t in range(FRAMES):
    image = background[4 * t:4 * t + HEIGHT, 3 * t:3 * t + WIDTH].copy()
    ids = np.zeros((HEIGHT, WIDTH), np.uint8)
    for k, (cy, cx, vy, vx, ry, rx) in enumerate(((50, 50, 2, 4, 26, 34), (100, 140, -1, -4, 22, 30))):
      inside = ((yy - cy - vy * t) / ry) ** 2 + ((xx - cx - vx * t) / rx) ** 2 < 1.0
      image[inside] = textures[k][inside]
      ids[inside] = k + 1
    frames.append(EvalFrame(index=t, name=f'{t:05d}', image=image, given_ids=ids if t == 0 else None,
                            new_object_ids=(1, 2) if t == 0 else ()))
    truth.append(ids)
  return frames, np.stack(truth)


def shipped_masks() -> tuple[np.ndarray, dict]:
  """([T, H, W] uint8 labels of the default shipped model on the clip, at its own resolution; its manifest)."""
  loaded = load_model(None)
  segmenter = VideoSegmenter(loaded.model, loaded.variables, short_side=loaded.short_side)
  frames, _ = clip()
  return np.stack([ids for _, ids in segmenter.segment(iter(frames))]), pretrained.manifest()


@pytest.mark.skipif(pretrained.DEFAULT not in pretrained.names(), reason='no shipped model in this checkout')
def test_the_shipped_model_gives_the_golden_masks():
  golden = np.load(GOLDEN)
  labels, manifest = shipped_masks()
  assert str(golden['sha256']) == manifest['sha256'], (
      f'the shipped model changed ({manifest["name"]}, sha256 {manifest["sha256"]}; the golden masks are of '
      f'{golden["name"]}, {golden["sha256"]}): check the new model, then run python tests/test_shipped_model.py')
  assert labels.shape == golden['labels'].shape == (FRAMES, HEIGHT, WIDTH)
  np.testing.assert_array_equal(labels[0], clip()[1][0])  # the given first frame comes back as given
  flipped = float(np.mean(labels != golden['labels']))
  assert flipped <= MAX_FLIPPED_FRACTION, flipped


def write_golden() -> None:
  labels, manifest = shipped_masks()
  _, truth = clip()
  os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
  np.savez_compressed(GOLDEN, name=manifest['name'], sha256=manifest['sha256'], labels=labels)
  ious = [float(np.sum((labels[1:] == k) & (truth[1:] == k)) / np.sum((labels[1:] == k) | (truth[1:] == k)))
          for k in (1, 2)]
  print(f'wrote {GOLDEN}: {manifest["name"]} ({manifest["sha256"][:12]}...), IoU with the true ids over frames '
        f'1-{FRAMES - 1}: object 1 {ious[0]:.3f}, object 2 {ious[1]:.3f}')


if __name__ == '__main__':
  sys.exit(write_golden())
