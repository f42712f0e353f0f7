"""`python -m vosjax.demo` (the state's size over a video, per matcher) and `python -m vosjax.visualization` (one
overlay PNG, as docs/overlay.png is made)."""

import numpy as np
import pytest
from PIL import Image

from vosjax import demo
from vosjax.data.image_io import write_indexed_png
from vosjax.visualization import overlay_masks
from vosjax.visualization.__main__ import main as visualization_main


def test_demo_shows_the_fixed_size_states_staying_flat_and_the_growing_bank_growing(capsys):
  demo.main(['--frames', '11', '--height', '32', '--width', '48'])
  lines = capsys.readouterr().out.splitlines()
  rows = {}
  for line in lines[2:]:
    matcher, frame, _, kib = line.split()
    rows.setdefault(matcher, {})[int(frame)] = float(kib)
  assert sorted(rows) == ['fixed_bank', 'global', 'memory_bank']
  assert sorted(rows['global']) == [1, 2, 10]  # the frames printed
  for matcher in ('global', 'fixed_bank'):
    assert len(set(rows[matcher].values())) == 1, rows[matcher]  # the same size at frame 1 and frame 10
  assert rows['memory_bank'][10] > rows['memory_bank'][1]  # the growing bank holds 3 frames at 10, 1 at 1


def test_demo_refuses_a_video_too_short_in_one_line(capsys):
  with pytest.raises(SystemExit) as exit_:
    demo.main(['--frames', '1'])
  assert exit_.value.code == 2
  assert 'vosjax.demo: --frames must be at least 2' in capsys.readouterr().err


def test_visualization_writes_the_overlay_of_a_frame_and_its_mask(tmp_path, capsys):
  rng = np.random.default_rng(0)
  frame = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
  ids = np.zeros((40, 60), np.uint8)
  ids[10:30, 20:40] = 1
  ids[0, 0] = 255  # void is drawn as background
  Image.fromarray(frame).save(tmp_path / 'frame.png')
  write_indexed_png(str(tmp_path / 'mask.png'), ids)
  visualization_main(['--frame', str(tmp_path / 'frame.png'), '--mask', str(tmp_path / 'mask.png'), '--out',
                      str(tmp_path / 'overlay.png')])
  assert 'wrote' in capsys.readouterr().out
  written = np.asarray(Image.open(tmp_path / 'overlay.png').convert('RGB'))
  np.testing.assert_array_equal(written, overlay_masks(frame, np.where(ids == 255, 0, ids)))
  visualization_main(['--frame', str(tmp_path / 'frame.png'), '--mask', str(tmp_path / 'mask.png'), '--out',
                      str(tmp_path / 'small.png'), '--width', '30'])
  assert Image.open(tmp_path / 'small.png').size == (30, 20)
  with pytest.raises(SystemExit) as exit_:  # a mask of another size: one line naming it, nothing written
    write_indexed_png(str(tmp_path / 'wrong.png'), np.zeros((20, 20), np.uint8))
    visualization_main(['--frame', str(tmp_path / 'frame.png'), '--mask', str(tmp_path / 'wrong.png'), '--out',
                        str(tmp_path / 'bad.png')])
  assert exit_.value.code == 2 and 'wrong.png' in capsys.readouterr().err
  assert not (tmp_path / 'bad.png').exists()
