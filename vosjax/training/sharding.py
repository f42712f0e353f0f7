"""Data parallelism with JAX's own sharding: one 'data' mesh axis over every device of every host.

The train state is replicated; a batch is split along its first axis. Each host feeds its own slice of the global
batch (`global_batch`), so the same code runs on one CPU, one GPU, 8 GPUs or several hosts started with
`jax.distributed.initialize()`.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def data_mesh(devices=None) -> Mesh:
  """A 1-D mesh named 'data' over all devices (Auto axis types, so a plain data-parallel jit needs no annotations)."""
  return Mesh(np.array(devices if devices is not None else jax.devices()), ('data',))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Arrays split along their first (batch) axis."""
  return NamedSharding(mesh, PartitionSpec('data'))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def global_batch(local_batch: dict, mesh: Mesh) -> dict:
  """Assembles each host's [B_local, ...] numpy arrays into global [B_local * hosts, ...] arrays on the mesh."""
  sharding = batch_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local_batch.items()}


def check_batch_size(global_batch_size: int, mesh: Mesh) -> int:
  """The per-host batch size; the global batch must split evenly over devices and hosts."""
  devices, hosts = mesh.devices.size, jax.process_count()
  if global_batch_size % devices:
    raise ValueError(f'the batch size {global_batch_size} does not split over {devices} devices')
  return global_batch_size // hosts
