"""XLA settings for CPUs, applied by the entry points before JAX starts its backend.

`--xla_cpu_experimental_ynn_fusion_type=dot` lets XLA's CPU backend fuse dot-like operations through its YNNPACK
path. It only concerns the CPU backend (GPU runs ignore it). Whether it helps on a given CPU is measured by running a
benchmark both ways: `VOSJAX_XLA_DEFAULTS=0 python benchmarks/latency.py` against `python benchmarks/latency.py`
(or `benchmarks/depthwise.py`). A flag the user already set in XLA_FLAGS is left as it is; `VOSJAX_XLA_DEFAULTS=0`
turns the defaults off.
"""

from __future__ import annotations

import importlib.metadata
import os

CPU_FLAGS = ('--xla_cpu_experimental_ynn_fusion_type=dot',)
MEASURED_WITH_JAXLIB = (0, 10, 2)  # an XLA that does not know a flag refuses to start: older ones get none


def _jaxlib_version() -> tuple[int, ...]:
  try:
    return tuple(int(part) for part in importlib.metadata.version('jaxlib').split('.')[:3])
  except (importlib.metadata.PackageNotFoundError, ValueError):
    return ()


def apply_xla_defaults() -> None:
  """Adds CPU_FLAGS to XLA_FLAGS; XLA reads them when JAX starts its backend, so call this before any JAX work."""
  if os.environ.get('VOSJAX_XLA_DEFAULTS', '1') == '0' or _jaxlib_version() < MEASURED_WITH_JAXLIB:
    return
  flags = os.environ.get('XLA_FLAGS', '')
  for flag in CPU_FLAGS:
    name = flag.split('=')[0]
    if name not in flags:
      flags = f'{flags} {flag}'.strip()
  os.environ['XLA_FLAGS'] = flags
