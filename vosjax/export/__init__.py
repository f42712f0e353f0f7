"""Exporting the tracker as `jax.export` artifacts, and running them without vosjax's model code.

`ExportedTracker` and `ExportArtifactError` import only numpy and jax; `export_tracker` (which needs the network) is
imported on first use, so `from vosjax.export import ExportedTracker` pulls in no model code and no Flax.
"""

from vosjax.export.artifact_format import ExportArtifactError
from vosjax.export.runner import ExportedTracker

__all__ = ['ExportArtifactError', 'ExportedTracker', 'export_tracker']


def __getattr__(name):
  if name == 'export_tracker':
    from vosjax.export.writer import export_tracker
    return export_tracker
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
