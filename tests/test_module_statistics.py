"""What CAM and the read-out do on frames (`vosjax.evaluation.module_statistics`), on a fixed untrained network."""

import numpy as np
import pytest

from data_layouts import write_davis2017
from vosjax.data import davis_videos
from vosjax.evaluation.module_statistics import module_statistics
from vosjax.models import VOSNet, init_variables, tiny_config

# The statistics of the tiny network initialised with seed 0 on two generated videos (3 frames each), as measured.
# They are deterministic; the tolerance allows another XLA build to sum in another order.
EXPECTED = {
    'cam_diagonal_weight': 0.019131233915686607, 'cam_entropy_ratio': 0.9969936313556529,
    'cam_max_weight': 0.021255869418382645, 'cam_residual_ratio': 0.020060577429831028,
    'read_spatial_share': 0.00017169585771625862, 'value_spatial_share': 0.36930470168590546,
}


def test_module_statistics_of_a_fixed_network(tmp_path):
  root = write_davis2017(str(tmp_path / 'davis'), {'one': ('train', 4, 1), 'two': ('train', 4, 1)}, height=40,
                         width=64)
  model = VOSNet(tiny_config())
  stats = module_statistics(model, init_variables(model, seed=0), davis_videos(root, 'train'), max_frames=3)
  assert stats['uniform_weight'] == 1 / 64  # CAM weighs value_dim + query_value_dim = 64 channels
  assert stats['alpha'] == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-6)  # MEM's mixing weight at init
  for name, value in EXPECTED.items():
    assert stats[name] == pytest.approx(value, rel=1e-3, abs=1e-7), name
  # An untrained CAM is nearly uniform: its largest weight is within 40% of 1/64 and its entropy within 1% of the
  # maximum.
  assert stats['cam_max_weight'] < 1.4 * stats['uniform_weight'] and stats['cam_entropy_ratio'] > 0.99
