"""Opening a video in the app: what a person uploads (a video file, a zip of frames, or frame images) becomes a probed
`UserVideo`, whose frames are then copied into the workspace.

Uploaded names are only ever used as display names: files land under fixed names in the workspace's scratch folder,
a zip's member paths are reduced to their base names, and frame names are cleaned to letters, digits, '.', '_' and
'-' before they name exported files.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
import zipfile
from typing import Callable

from vosjax.app.workspace import VideoInfo, Workspace
from vosjax.data.image_io import DatasetError, write_jpeg
from vosjax.data.user_video import FRAME_EXTENSIONS, UserVideo, open_user_video
from vosjax.errors import UserError, one_line

JPEG_QUALITY = 95
_UNSAFE = re.compile(r'[^A-Za-z0-9._-]+')


class UploadError(UserError, ValueError):
  """An upload the app cannot open as a video (the message names the file and the problem)."""


def display_name(filename: str) -> str:
  """The base name of a client's file name (either slash), cleaned for paths and display ('upload' if nothing is
  left)."""
  base = filename.replace('\\', '/').rsplit('/', 1)[-1]
  return _UNSAFE.sub('_', base).lstrip('.') or 'upload'


def frame_names(paths: tuple[str, ...] | None, num_frames: int) -> tuple[str, ...]:
  """Each frame's name for exported files: a frame file's cleaned name without extension (made unique), or 00000,
  00001, ... for a video file (as `vosjax.segment` names them)."""
  if paths is None:
    digits = max(5, len(str(max(num_frames - 1, 0))))
    return tuple(f'{i:0{digits}d}' for i in range(num_frames))
  names, seen = [], set()
  for index, path in enumerate(paths):
    name = display_name(os.path.splitext(os.path.basename(path))[0])
    if name in seen:
      name = f'{name}_{index}'
    seen.add(name)
    names.append(name)
  return tuple(names)


def _is_frame_file(name: str) -> bool:
  return name.lower().endswith(FRAME_EXTENSIONS)


def open_upload(files: list[tuple[str, str]], scratch: str, max_unpacked_bytes: int) -> tuple[UserVideo, str]:
  """Probes uploaded files as one video.

  Args:
    files: (the client's file name, where its bytes are) for each uploaded file.
    scratch: an empty folder for unpacked frames.
    max_unpacked_bytes: the most a zip may unpack to.

  Returns:
    (the video, its display name).
  """
  if not files:
    raise UploadError('no file was uploaded; choose a video file, a zip of frames, or frame images')
  names = [display_name(name) for name, _ in files]
  if len(files) == 1 and names[0].lower().endswith('.zip'):
    return _open_zip(files[0][1], names[0], os.path.join(scratch, 'frames'), max_unpacked_bytes), names[0]
  if all(_is_frame_file(name) for name in names):
    folder = os.path.join(scratch, 'frames')
    os.makedirs(folder)
    for name, (_, path) in zip(names, files):
      if os.path.exists(os.path.join(folder, name)):
        raise UploadError(f'two uploaded frames are named {name}; keep one image per frame')
      shutil.move(path, os.path.join(folder, name))
    source = names[0] if len(names) == 1 else f'{len(names)} frames'
    return _probe(folder, source), source
  if len(files) > 1:
    raise UploadError(f'{len(files)} files, not all images ({next(n for n in names if not _is_frame_file(n))}); '
                      'upload one video file, one zip of frames, or frame images')
  try:
    return open_user_video(files[0][1]), names[0]
  except DatasetError:
    raise UploadError(f'{names[0]}: not a video or image the app can read; open a video file (.mp4, ...), a zip of '
                      f'frames, or {"/".join(FRAME_EXTENSIONS)} frames') from None


def _probe(path: str, name: str) -> UserVideo:
  try:
    return open_user_video(path)
  except DatasetError as error:
    detail = one_line(error).replace(path + os.sep, '').replace(path, '').lstrip(': ')
    raise UploadError(f'{name}: not a video or image the app can read ({detail})') from None


def _open_zip(path: str, name: str, folder: str, max_unpacked_bytes: int) -> UserVideo:
  try:
    with zipfile.ZipFile(path) as archive:
      members = [m for m in archive.infolist() if not m.is_dir() and _is_frame_file(m.filename)
                 and not display_name(m.filename).startswith('_') and '__MACOSX' not in m.filename]
      if not members:
        raise UploadError(f'{name}: the zip holds no frame images ({", ".join(FRAME_EXTENSIONS)})')
      unpacked = sum(m.file_size for m in members)
      if unpacked > max_unpacked_bytes:
        raise UploadError(f'{name}: the frames unpack to {unpacked / 2**20:.0f} MiB, more than the limit of '
                          f'{max_unpacked_bytes / 2**20:.0f} MiB')
      os.makedirs(folder)
      for member in members:
        target = os.path.join(folder, display_name(member.filename))
        if os.path.exists(target):
          raise UploadError(f'{name}: two frames are named {display_name(member.filename)}; keep one image per frame')
        with archive.open(member) as source, open(target, 'wb') as out:
          shutil.copyfileobj(source, out)
  except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError) as error:
    raise UploadError(f'{name}: not a zip the app can read ({one_line(error)})') from None
  return _probe(folder, name)


def import_frames(video: UserVideo, source: str, workspace: Workspace, progress: Callable[[int, int], None],
                  stop: threading.Event) -> bool:
  """Copies the video's frames into the workspace (frame files of one type as they are, anything else as JPEG) and
  makes it the workspace's video. Returns False if stopped first (the workspace keeps its old video)."""
  incoming = workspace.scratch_folder('incoming')
  extensions = {os.path.splitext(p)[1].lower() for p in video.frame_paths or ()}
  copy = video.is_folder and len(extensions) == 1 and extensions <= {'.jpg', '.jpeg', '.png'}
  extension = ('.png' if extensions == {'.png'} else '.jpg') if copy else '.jpg'
  digits = max(5, len(str(video.num_frames - 1)))
  count = 0
  if copy:
    for index, path in enumerate(video.frame_paths):
      if stop.is_set():
        return False
      shutil.copyfile(path, os.path.join(incoming, f'{index:0{digits}d}{extension}'))
      count = index + 1
      progress(count, video.num_frames)
  else:
    for index, (_, image) in enumerate(video.frames()):
      if stop.is_set():
        return False
      write_jpeg(os.path.join(incoming, f'{index:0{digits}d}.jpg'), image, quality=JPEG_QUALITY)
      count = index + 1
      progress(count, video.num_frames)
  if count == 0:
    raise UploadError(f'{source}: no frame could be decoded')
  final_digits = max(5, len(str(count - 1)))
  if final_digits != digits:  # a container's frame count was off by enough to change the width of the numbers
    for index in range(count):
      os.replace(os.path.join(incoming, f'{index:0{digits}d}{extension}'),
                 os.path.join(incoming, f'{index:0{final_digits}d}{extension}'))
  names = frame_names(video.frame_paths, count)  # a container's frame count can be off: keep what was decoded
  info = VideoInfo(source=source, names=names, height=video.height, width=video.width, fps=video.fps,
                   extension=extension, generation=uuid.uuid4().hex[:12])
  workspace.replace_video(info, incoming)
  return True
