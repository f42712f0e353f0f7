"""LVOS reader (long videos; v1 and v2 releases; `docs/datasets.md` says what this relies on).

    <root>/<split>/JPEGImages/<video>/00000001.jpg ...   6 fps frames named by their 30 fps index (1, 6, 11, ...)
    <root>/<split>/Annotations/<video>/<frame>.png       palette PNGs; valid: every frame, every object;
                                                         test: each object's first-appearance mask only
    <root>/<split>/<split>_meta.json                     {"videos": {video: {"objects": {id: {"frame_range":
                                                         {"start": s, "end": e, "frame_nums": n}}}}}}

Objects join where they first appear (`start`) and may leave before the video ends (`end`); a video may begin with
frames that hold no object, which are not segmented (no scorer reads them). The tracker is given each object's mask in
its start frame only; an object is scored over its own span, first and last frames excluded, as LVOS's evaluation
does. `val` and `valid` name the same split (releases differ). A test split without its meta file is read from its
mask files alone (each is a first appearance).
"""

from __future__ import annotations

import glob
import json
import os

from vosjax.data.image_io import DatasetError
from vosjax.data.video import FileVideo, list_files

LVOS_URL = 'https://lingyihongfd.github.io/lvos.github.io/'


def _split_dir(root: str, split: str) -> str:
  names = ('valid', 'val') if split in ('val', 'valid') else (split,)
  for name in names:
    folder = os.path.join(root, name)
    if os.path.isdir(os.path.join(folder, 'JPEGImages')):
      return folder
  raise DatasetError(f'{root}: not an LVOS folder (no {names[0]}/JPEGImages). Expected <split>/JPEGImages/<video>/, '
                     f'<split>/Annotations/<video>/ and <split>/<split>_meta.json; LVOS is published at {LVOS_URL}')


def _meta(split_dir: str) -> tuple[str, dict]:
  name = os.path.basename(split_dir)
  candidates = [os.path.join(split_dir, f'{name}_meta.json')] + sorted(glob.glob(os.path.join(split_dir,
                                                                                             '*_meta.json')))
  path = next((p for p in candidates if os.path.isfile(p)), None)
  if path is None:
    raise DatasetError(f'{split_dir}: no {name}_meta.json (LVOS lists each object\'s frame range there)')
  try:
    with open(path) as f:
      videos = json.load(f)['videos']
    for video, entry in videos.items():
      for object_id, obj in entry['objects'].items():
        int(object_id), int(obj['frame_range']['start']), int(obj['frame_range']['end'])
  except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
    raise DatasetError(f'{path}: not an LVOS meta file ({error!r}); expected {{"videos": {{video: {{"objects": '
                       f'{{id: {{"frame_range": {{"start": s, "end": e}}}}}}}}}}}}') from None
  return path, videos


def lvos_videos(root: str, split: str = 'valid', *, source: str = 'lvos') -> list[FileVideo]:
  """Lists the videos of an LVOS split, sorted by name, each starting at its first annotated object's frame."""
  if not os.path.isdir(root):
    raise DatasetError(f'{root}: LVOS root folder not found; LVOS is published at {LVOS_URL}')
  split_dir = _split_dir(root, split)
  if split == 'test' and not glob.glob(os.path.join(split_dir, '*_meta.json')):
    return _first_appearance_videos(split_dir, source)
  meta_path, meta = _meta(split_dir)
  videos = []
  for name in sorted(meta):
    frame_dir = os.path.join(split_dir, 'JPEGImages', name)
    mask_dir = os.path.join(split_dir, 'Annotations', name)
    frames = list_files(frame_dir, ('.jpg', '.jpeg', '.png'))
    stems = [os.path.splitext(f)[0] for f in frames]
    index = {stem: i for i, stem in enumerate(stems)}
    masks = {os.path.splitext(m)[0] for m in list_files(mask_dir, ('.png',))} if os.path.isdir(mask_dir) else set()
    spans = []
    for object_id, obj in sorted(meta[name]['objects'].items(), key=lambda item: int(item[0])):
      start, end = (f'{int(obj["frame_range"][k]):08d}' for k in ('start', 'end'))
      for stem in (start, end):
        if stem not in index:
          raise DatasetError(f'{meta_path}: object {object_id} of {name} spans frame {stem}, which is not in '
                             f'{frame_dir}')
      if start not in masks:
        raise DatasetError(f'{os.path.join(mask_dir, start + ".png")}: missing: object {object_id} of {name} '
                           f'starts there ({meta_path})')
      spans.append((int(object_id), index[start], index[end]))
    if not spans:
      raise DatasetError(f'{meta_path}: video {name} has no object')
    first = min(span[1] for span in spans)
    kept = stems[first:]
    videos.append(FileVideo(
        name=name, source=source, frame_paths=tuple(os.path.join(frame_dir, f) for f in frames[first:]),
        mask_paths=tuple(os.path.join(mask_dir, f'{s}.png') if s in masks else None for s in kept),
        given_frames=tuple(sorted({stems[span[1]] for span in spans})),
        object_spans=tuple((k, a - first, b - first) for k, a, b in spans)))
  return videos


def _first_appearance_videos(split_dir: str, source: str) -> list[FileVideo]:
  """The test split without its meta file (kept by the server in some releases): every mask file present is a
  first-appearance mask; each video starts at its first one. Nothing is scored, so no frame ranges are needed."""
  frame_root = os.path.join(split_dir, 'JPEGImages')
  videos = []
  for name in sorted(n for n in os.listdir(frame_root) if os.path.isdir(os.path.join(frame_root, n))):
    frame_dir, mask_dir = os.path.join(frame_root, name), os.path.join(split_dir, 'Annotations', name)
    frames = list_files(frame_dir, ('.jpg', '.jpeg', '.png'))
    stems = [os.path.splitext(f)[0] for f in frames]
    masks = {os.path.splitext(m)[0] for m in list_files(mask_dir, ('.png',))} if os.path.isdir(mask_dir) else set()
    if not masks & set(stems):
      raise DatasetError(f'{mask_dir}: no mask for any frame of {name}')
    first = min(i for i, stem in enumerate(stems) if stem in masks)
    kept = stems[first:]
    videos.append(FileVideo(
        name=name, source=source, frame_paths=tuple(os.path.join(frame_dir, f) for f in frames[first:]),
        mask_paths=tuple(os.path.join(mask_dir, f'{s}.png') if s in masks else None for s in kept),
        given_frames=tuple(s for s in kept if s in masks)))
  return videos
