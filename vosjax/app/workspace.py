"""The app's workspace: one video's frames, its masks, what the person painted, and the objects, in one folder.

Layout (everything the app keeps; a restart on the same folder resumes from it):

  workspace.json    the state, written atomically: the video (frame names, size, frame rate, where it came from),
                    the objects (id, name), and per frame whether its mask was painted by the person or propagated
                    (from which frame, at which moment of the workspace's clock)
  frames/00000.jpg  the frames, numbered from 0 (a frame folder's own files, or a video file's frames as JPEG)
  masks/00000.png   the current mask of every frame that has one: a DAVIS-palette indexed PNG of object ids
  export/           the latest export zip
  upload/, incoming/  scratch folders while a video is uploaded and opened

Requests address frames by index only (checked against the frame count); no name from a request reaches a path.

A propagated frame is *stale* when the mask it was propagated from changed afterwards, or when the person painted a
frame between its source and it afterwards: re-propagating from the painted frame replaces it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time

import numpy as np

from vosjax.app.objects import MAX_OBJECTS, ObjectList
from vosjax.data.image_io import DatasetError, read_mask, write_indexed_png
from vosjax.errors import UserError
from vosjax.files.atomic_write import write_text

STATE_FILE = 'workspace.json'
FORMAT = 1
OWN_ENTRIES = frozenset({STATE_FILE, 'frames', 'masks', 'export', 'incoming', 'upload'})
NONE, PAINTED, PROPAGATED = 0, 1, 2
KIND_CHARS = {NONE: '.', PAINTED: 'P', PROPAGATED: 'p'}
STALE_CHAR = 's'
SAVE_INTERVAL_S = 1.0


class WorkspaceError(UserError, ValueError):
  """A request the workspace refuses (the message says why)."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """The workspace's video.

  Attributes:
    source: the file or folder name it was opened from (for display and the export's name).
    names: each frame's name (a frame file's name without extension, or 00000, 00001, ... for a video file).
    height, width: the frame size.
    fps: the video file's frame rate, or None (a frame folder).
    extension: the frame files' extension in frames/ ('.jpg' or '.png').
    generation: changes whenever another video is opened (the page's image cache key).
  """

  source: str
  names: tuple[str, ...]
  height: int
  width: int
  fps: float | None
  extension: str
  generation: str

  @property
  def num_frames(self) -> int:
    return len(self.names)

  def to_json(self) -> dict:
    return {**dataclasses.asdict(self), 'names': list(self.names)}

  @classmethod
  def from_json(cls, data: dict) -> 'VideoInfo':
    return cls(**{**data, 'names': tuple(data['names'])})


class Workspace:
  """The folder's state in memory, guarded by one lock (the server's requests and the propagation thread share it).

  Use `Workspace.open(folder)`.
  """

  def __init__(self, folder: str, max_objects: int = MAX_OBJECTS):
    self.folder = os.path.abspath(folder)
    self.lock = threading.RLock()
    self.video: VideoInfo | None = None
    self.max_objects = max_objects
    self.objects = ObjectList(limit=max_objects)
    self.clock = 0
    self.kind = np.zeros(0, np.int8)  # [N] NONE / PAINTED / PROPAGATED
    self.source = np.zeros(0, np.int64)  # [N] the frame a propagated mask came from (-1: unknown)
    self.made = np.zeros(0, np.int64)  # [N] the clock when the mask was painted or propagated
    self.version = 0  # bumped at every mask change (not saved: the page's cache key)
    self.changed = np.zeros(0, np.int64)  # [N] the version of each frame's latest change
    self._saved_at = 0.0

  # -- opening and saving

  @classmethod
  def open(cls, folder: str, max_objects: int = MAX_OBJECTS) -> 'Workspace':
    """Opens (or creates) a workspace folder; a non-empty folder that is not a workspace is refused."""
    workspace = cls(folder, max_objects)
    path = os.path.join(workspace.folder, STATE_FILE)
    if os.path.isfile(path):
      workspace._load(path)
    elif os.path.isdir(workspace.folder):
      others = sorted(set(os.listdir(workspace.folder)) - OWN_ENTRIES)
      if others:
        raise WorkspaceError(f'{workspace.folder}: not an app workspace (it holds {others[0]!r} and no {STATE_FILE}); '
                             'give an empty or new folder with --workspace')
    else:
      try:
        os.makedirs(workspace.folder)
      except OSError as error:
        raise WorkspaceError(f'{workspace.folder}: cannot create the workspace folder ({error.strerror})') from None
    return workspace

  def _load(self, path: str) -> None:
    try:
      with open(path) as f:
        data = json.load(f)
      if data.get('format') != FORMAT:
        raise ValueError(f'format {data.get("format")!r}, expected {FORMAT}')
      self.video = VideoInfo.from_json(data['video']) if data['video'] else None
      self.objects = ObjectList.from_json(data['objects'], self.max_objects)
      self.clock = int(data['clock'])
      frames = self.video.num_frames if self.video else 0
      self.kind = np.asarray(data['kind'], np.int8).reshape(frames)
      self.source = np.asarray(data['source'], np.int64).reshape(frames)
      self.made = np.asarray(data['made'], np.int64).reshape(frames)
    except (OSError, ValueError, KeyError, TypeError) as error:
      raise WorkspaceError(f'{path}: the workspace state is damaged ({error}); move the folder away to start anew'
                           ) from None
    self.changed = np.zeros(len(self.kind), np.int64)
    self._reconcile()

  def _reconcile(self) -> None:
    """Makes the records agree with the mask files (a kill between writing a mask and saving the state): a mask
    without a record becomes a propagated mask of unknown source (shown stale), a record without a mask is dropped."""
    for index in range(len(self.kind)):
      exists = os.path.isfile(self.mask_path(index))
      if exists and self.kind[index] == NONE:
        self.kind[index], self.source[index], self.made[index] = PROPAGATED, -1, self.clock
      elif not exists and self.kind[index] != NONE:
        self.kind[index], self.source[index] = NONE, -1

  def save(self) -> None:
    """Writes workspace.json atomically."""
    with self.lock:
      data = {'format': FORMAT, 'video': self.video.to_json() if self.video else None,
              'objects': self.objects.to_json(), 'clock': self.clock, 'kind': self.kind.tolist(),
              'source': self.source.tolist(), 'made': self.made.tolist()}
      write_text(os.path.join(self.folder, STATE_FILE), json.dumps(data))
      self._saved_at = time.monotonic()

  def save_soon(self) -> None:
    """Saves if the last save is older than SAVE_INTERVAL_S (during a propagation: a few writes a second at most)."""
    if time.monotonic() - self._saved_at > SAVE_INTERVAL_S:
      self.save()

  # -- paths

  def frame_index(self, index: int) -> int:
    """`index` if it names a frame of the video, else a WorkspaceError."""
    if self.video is None:
      raise WorkspaceError('no video is open; open one first')
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < self.video.num_frames:
      raise WorkspaceError(f'frame {index!r} does not exist (the video has frames 0 to {self.video.num_frames - 1})')
    return index

  def _digits(self) -> int:
    return max(5, len(str(self.video.num_frames - 1))) if self.video else 5

  def frame_path(self, index: int) -> str:
    index = self.frame_index(index)
    return os.path.join(self.folder, 'frames', f'{index:0{self._digits()}d}{self.video.extension}')

  def mask_path(self, index: int) -> str:
    return os.path.join(self.folder, 'masks', f'{self.frame_index(index):0{self._digits()}d}.png')

  # -- masks

  def read_mask(self, index: int) -> np.ndarray | None:
    """[H, W] uint8 object ids of frame `index`, or None where it has no mask."""
    path = self.mask_path(index)
    with self.lock:
      if self.kind[index] == NONE:
        return None
      try:
        return read_mask(path, expected_size=(self.video.height, self.video.width))
      except DatasetError:  # removed or damaged behind the app's back
        return None

  def check_mask(self, ids: np.ndarray, what: str) -> np.ndarray:
    """`ids` as [H, W] uint8 if it fits the video and names only existing objects, else a WorkspaceError."""
    expected = (self.video.height, self.video.width)
    if ids.shape != expected:
      raise WorkspaceError(f'{what}: the mask is {ids.shape[-1]}x{ids.shape[0]} (WxH) but the frames are '
                           f'{expected[1]}x{expected[0]}')
    present = [int(i) for i in np.unique(ids) if i != 0]
    unknown = [i for i in present if i not in self.objects]
    if unknown:
      raise WorkspaceError(f'{what}: the mask holds object ids {unknown[:5]} that are not in the object list '
                           f'(objects: {self.objects.ids() or "none"})')
    return ids.astype(np.uint8)

  def paint(self, index: int, ids: np.ndarray, add_objects: bool = False) -> list[int]:
    """Stores the person's mask for frame `index` (it becomes a painted frame).

    Args:
      index: the frame.
      ids: [H, W] uint8 object ids.
      add_objects: add ids not in the object list yet (an imported mask) instead of refusing them.

    Returns:
      The ids added to the object list.
    """
    with self.lock:
      index = self.frame_index(index)
      added = self.objects.ensure([int(i) for i in np.unique(ids) if i]) if add_objects else []
      try:
        ids = self.check_mask(ids, f'frame {index}')
        write_indexed_png(self.mask_path(index), ids)
      except BaseException:
        for object_id in added:
          self.objects.remove(object_id)
        raise
      self.clock += 1
      self._record(index, PAINTED, -1, self.clock)
      self.save()
      return added

  def clear(self, index: int) -> None:
    """Removes frame `index`'s mask, painted or propagated."""
    with self.lock:
      path = self.mask_path(index)
      if os.path.exists(path):
        os.remove(path)
      self.clock += 1
      self._record(index, NONE, -1, self.clock)
      self.save()

  def tick(self) -> int:
    """Advances the clock: the moment of a propagation run, which all its frames share."""
    with self.lock:
      self.clock += 1
      return self.clock

  def write_propagated(self, index: int, ids: np.ndarray, source: int, made: int) -> bool:
    """Stores a propagated mask unless the person painted frame `index` meanwhile (then returns False)."""
    with self.lock:
      if self.kind[index] == PAINTED:
        return False
      write_indexed_png(self.mask_path(index), ids)
      self._record(index, PROPAGATED, source, made)
      self.save_soon()
      return True

  def _record(self, index: int, kind: int, source: int, made: int) -> None:
    self.kind[index], self.source[index], self.made[index] = kind, source, made
    self.version += 1
    self.changed[index] = self.version

  def add_object(self, name: object) -> int:
    """Adds an object to the list (the smallest free id) and returns its id."""
    with self.lock:
      object_id = self.objects.add(name)
      self.save()
      return object_id

  def rename_object(self, object_id: int, name: object) -> None:
    with self.lock:
      self.objects.rename(object_id, name)
      self.save()

  def remove_object_pixels(self, object_id: int) -> None:
    """Sets the object's pixels to background in every mask (the object is then deleted from the list)."""
    with self.lock:
      for index in np.flatnonzero(self.kind != NONE):
        ids = self.read_mask(int(index))
        if ids is not None and (ids == object_id).any():
          write_indexed_png(self.mask_path(int(index)), np.where(ids == object_id, 0, ids).astype(np.uint8))
          self.version += 1
          self.changed[index] = self.version
      self.objects.remove(object_id)
      self.save()

  # -- what the page shows

  def painted_frames(self) -> np.ndarray:
    return np.flatnonzero(self.kind == PAINTED)

  def stale(self) -> np.ndarray:
    """[N] bool: propagated frames whose source changed, or with a frame painted between the source and them, after
    they were made (or whose source is unknown)."""
    with self.lock:
      propagated = self.kind == PROPAGATED
      stale = propagated & (self.source < 0)
      known = propagated & (self.source >= 0)
      source = np.where(known, self.source, 0)
      stale |= known & ((self.kind[source] == NONE) | (self.made[source] > self.made))
      positions = np.arange(len(self.kind))
      for painted in self.painted_frames():
        between = np.where(source < positions, (source <= painted) & (painted < positions),
                           (positions < painted) & (painted <= source))
        stale |= known & between & (self.made[painted] > self.made)
      return stale

  def kinds(self) -> str:
    """One character per frame: 'P' painted, 'p' propagated, 's' stale, '.' no mask."""
    with self.lock:
      chars = np.array([KIND_CHARS[k] for k in range(3)])[self.kind]
      chars[self.stale()] = STALE_CHAR
      return ''.join(chars.tolist())

  def changed_since(self, version: int) -> list[int]:
    """The frames whose mask changed after `version`."""
    with self.lock:
      return np.flatnonzero(self.changed > version).tolist()

  def propagation_range(self, start: int, direction: str) -> list[int]:
    """The frames a propagation from `start` replaces, in the order it makes them: forward t+1, t+2, ... up to the
    next painted frame (excluded), backward t-1, t-2, ... down to the previous painted frame (excluded)."""
    with self.lock:
      start = self.frame_index(start)
      step = {'forward': 1, 'backward': -1}.get(direction)
      if step is None:
        raise WorkspaceError(f'direction {direction!r}: expected forward or backward')
      frames, index = [], start + step
      while 0 <= index < len(self.kind) and self.kind[index] != PAINTED:
        frames.append(index)
        index += step
      return frames

  # -- replacing the video

  def replace_video(self, info: VideoInfo, incoming: str) -> None:
    """Makes `incoming` (a folder of numbered frame files) the workspace's frames, dropping the old video's masks."""
    with self.lock:
      for entry in ('frames', 'masks', 'export'):
        shutil.rmtree(os.path.join(self.folder, entry), ignore_errors=True)
      os.replace(incoming, os.path.join(self.folder, 'frames'))
      shutil.rmtree(os.path.join(self.folder, 'upload'), ignore_errors=True)
      os.makedirs(os.path.join(self.folder, 'masks'))
      self.video = info
      frames = info.num_frames
      self.kind = np.zeros(frames, np.int8)
      self.source = np.full(frames, -1, np.int64)
      self.made = np.zeros(frames, np.int64)
      self.version += 1
      self.changed = np.full(frames, self.version, np.int64)
      self.save()

  def scratch_folder(self, name: str) -> str:
    """An empty scratch folder inside the workspace: 'upload' (the files a person uploads) or 'incoming' (the
    frames of a video being opened)."""
    if name not in ('upload', 'incoming'):
      raise ValueError(f'no scratch folder {name!r}')
    path = os.path.join(self.folder, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


__all__ = ['MAX_OBJECTS', 'NONE', 'PAINTED', 'PROPAGATED', 'VideoInfo', 'Workspace', 'WorkspaceError']
