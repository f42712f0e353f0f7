"""The app's export: one zip of everything a segmentation is used for.

  masks/<frame>.png              every frame's object ids, DAVIS-palette indexed PNGs (the files `vosjax.segment`
                                 writes; a frame without a mask is all background)
  objects/<id>_<name>/<frame>.png  per object, a 0/255 grayscale mask of each frame
  overlay.mp4                    the masks blended over the frames (as `vosjax.segment`'s overlay.mp4)
  objects.json                   the objects' ids, names and colours, and each frame's state (painted, propagated,
                                 stale or none)
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
from PIL import Image

from vosjax.app.video_import import display_name
from vosjax.app.workspace import Workspace
from vosjax.data.image_io import read_frame, write_indexed_png
from vosjax.files.atomic_write import atomic_path
from vosjax.visualization.overlay import OverlayVideoWriter

DEFAULT_FPS = 24.0  # a frame folder's overlay video, as `vosjax.segment`


def _binary_png(mask: np.ndarray) -> bytes:
  """[H, W] bool -> the bytes of a 0/255 grayscale PNG."""
  buffer = io.BytesIO()
  Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(buffer, format='PNG')
  return buffer.getvalue()


def export_zip(workspace: Workspace) -> str:
  """Writes the export zip into the workspace's export/ folder (atomically) and returns its path."""
  with workspace.lock:  # a consistent snapshot of the state; the masks are read after (their files are atomic)
    video = workspace.video
    objects = workspace.objects.to_json()
    kinds = workspace.kinds()
  folder = os.path.join(workspace.folder, 'export')
  os.makedirs(folder, exist_ok=True)
  stem = display_name(os.path.splitext(video.source)[0])
  path = os.path.join(folder, f'{stem}-vosjax.zip')
  scratch = os.path.join(folder, 'scratch')
  os.makedirs(scratch, exist_ok=True)
  overlay_path = os.path.join(scratch, 'overlay.mp4')
  object_folders = {o['id']: f'objects/{o["id"]}_{display_name(o["name"])}' for o in objects}
  empty = np.zeros((video.height, video.width), np.uint8)
  with atomic_path(path) as temporary, zipfile.ZipFile(temporary, 'w', zipfile.ZIP_STORED) as archive:
    with OverlayVideoWriter(overlay_path, video.fps or DEFAULT_FPS, (video.height, video.width)) as overlay:
      for index, name in enumerate(video.names):
        ids = workspace.read_mask(index)
        ids = empty if ids is None else ids
        mask_file = os.path.join(scratch, 'mask.png')
        write_indexed_png(mask_file, ids)
        archive.write(mask_file, f'masks/{name}.png')
        for object_id, object_folder in object_folders.items():
          archive.writestr(f'{object_folder}/{name}.png', _binary_png(ids == object_id))
        overlay.write(read_frame(workspace.frame_path(index)), ids)
    archive.write(overlay_path, 'overlay.mp4')
    states = {'P': 'painted', 'p': 'propagated', 's': 'stale', '.': 'none'}
    archive.writestr('objects.json', json.dumps({
        'video': video.source, 'objects': objects,
        'frames': [{'name': n, 'state': states[k]} for n, k in zip(video.names, kinds)]}, indent=1))
  os.remove(overlay_path)
  return path
