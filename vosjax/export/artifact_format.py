"""The on-disk layout of an exported tracker and the checks that a folder holds one, intact.

A folder holds `manifest.json`, `weights.npz` (the network's variables, flattened), `start.jaxexport` and
`step.jaxexport` (serialized `jax.export` modules). The manifest names the format and its version, the frame size
and object slots the modules were exported for, every weight and state array's shape and dtype, and the sha256 of
every other file. This module needs only the standard library: a runner imports it without any model code.
"""

from __future__ import annotations

import json
from pathlib import Path

from vosjax.files.digest import sha256_of  # noqa: F401 (re-exported: the writer and the runner use it from here)
from vosjax.errors import UserError

FORMAT_NAME = 'vosjax-tracker-export'
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)

MANIFEST_FILE = 'manifest.json'
WEIGHTS_FILE = 'weights.npz'
START_FILE = 'start.jaxexport'
STEP_FILE = 'step.jaxexport'
ARTIFACT_FILES = (WEIGHTS_FILE, START_FILE, STEP_FILE)


class ExportArtifactError(UserError, ValueError):
  """An exported tracker that cannot be written, read or run as asked (the message names the file or input)."""


def file_records(directory: Path) -> dict:
  """{file name: {'sha256', 'bytes'}} of ARTIFACT_FILES in `directory` (the manifest's `files` block)."""
  return {name: {'sha256': sha256_of(directory / name), 'bytes': (directory / name).stat().st_size}
          for name in ARTIFACT_FILES}


def read_manifest(directory: str | Path) -> dict:
  """The manifest of an artifact folder, after checking its format, its version and every file's sha256.

  Raises:
    ExportArtifactError: the folder or a file is missing, the manifest is not this format or of an unsupported
      version, or a file's sha256 differs from the manifest's (tampered or damaged).
  """
  directory = Path(directory)
  if not directory.is_dir():
    raise ExportArtifactError(f'{directory}: no such artifact folder (written by python -m vosjax.export)')
  path = directory / MANIFEST_FILE
  try:
    manifest = json.loads(path.read_text())
  except FileNotFoundError:
    raise ExportArtifactError(f'{path}: missing; {directory} is not a complete exported tracker') from None
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
    raise ExportArtifactError(f'{path}: not readable JSON ({error}); the artifact is damaged') from None
  if not isinstance(manifest, dict) or manifest.get('format') != FORMAT_NAME:
    found = manifest.get('format') if isinstance(manifest, dict) else None
    raise ExportArtifactError(f'{path}: format {found!r} is not {FORMAT_NAME!r}; not an exported vosjax tracker')
  version = manifest.get('format_version')
  if version not in SUPPORTED_VERSIONS:
    raise ExportArtifactError(f'{path}: format version {version!r} is not supported by this runner (it reads '
                              f'version {", ".join(map(str, SUPPORTED_VERSIONS))}); export the tracker again with '
                              'this vosjax, or run it with the vosjax that wrote it')
  records = manifest.get('files')
  if not isinstance(records, dict) or set(records) != set(ARTIFACT_FILES):
    raise ExportArtifactError(f'{path}: its "files" block must list {", ".join(ARTIFACT_FILES)}; the manifest is '
                              'damaged')
  for name in ARTIFACT_FILES:
    file_path = directory / name
    if not file_path.is_file():
      raise ExportArtifactError(f'{file_path}: missing; the artifact is incomplete (export it again)')
    if sha256_of(file_path) != records[name].get('sha256'):
      raise ExportArtifactError(f'{file_path}: sha256 differs from {MANIFEST_FILE}\'s; the file is tampered or '
                                'damaged (export the tracker again)')
  return manifest
