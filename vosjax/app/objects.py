"""The objects a person segments: ids, names and colours, and how many the engine can track at once.

An object's id is its value in the masks (1..MAX_OBJECTS) and its colour is the DAVIS palette's colour for that id,
the colour the exported PNGs show it in. The engine labels pixels with uint8 slot numbers (0 background, one slot per
object) and DAVIS masks keep 255 for void, so at most 254 objects fit one video.
"""

from __future__ import annotations

from vosjax.data.image_io import davis_palette
from vosjax.errors import UserError

MAX_OBJECTS = 254  # the engine's limit; the app may be started with a lower one (--max_objects)
MAX_NAME_LENGTH = 60
_PALETTE = davis_palette()


class ObjectError(UserError, ValueError):
  """An object request that cannot be carried out (the message says why)."""


def colour(object_id: int) -> str:
  """'#rrggbb': the DAVIS palette colour of `object_id`."""
  red, green, blue = (int(c) for c in _PALETTE[object_id])
  return f'#{red:02x}{green:02x}{blue:02x}'


def clean_name(name: object, object_id: int) -> str:
  """A display name: printable, one line, at most MAX_NAME_LENGTH characters; empty means 'object <id>'."""
  if name is None:
    name = ''
  if not isinstance(name, str):
    raise ObjectError(f'an object name must be text, got {type(name).__name__}')
  name = ' '.join(''.join(c if c.isprintable() else ' ' for c in name).split())
  if len(name) > MAX_NAME_LENGTH:
    raise ObjectError(f'object names are at most {MAX_NAME_LENGTH} characters, got {len(name)}')
  return name or f'object {object_id}'


class ObjectList:
  """The objects in id order: {id: name}, at most `limit` of them (ids 1..MAX_OBJECTS)."""

  def __init__(self, names: dict[int, str] | None = None, limit: int = MAX_OBJECTS):
    if not 1 <= limit <= MAX_OBJECTS:
      raise ObjectError(f'the object limit must be 1 to {MAX_OBJECTS}, got {limit}')
    self.limit = limit
    self._names = dict(sorted((names or {}).items()))

  def __contains__(self, object_id: int) -> bool:
    return object_id in self._names

  def __len__(self) -> int:
    return len(self._names)

  def ids(self) -> list[int]:
    return list(self._names)

  def add(self, name: object = None, object_id: int | None = None) -> int:
    """Adds an object (the smallest free id unless `object_id` is given) and returns its id."""
    if object_id not in self._names and len(self._names) >= self.limit:
      raise ObjectError(f'there are already {len(self._names)} objects, the most this app takes (--max_objects '
                        f'{self.limit}); delete one first')
    if object_id is None:
      object_id = next(i for i in range(1, MAX_OBJECTS + 1) if i not in self._names)
    if not 1 <= object_id <= MAX_OBJECTS:
      raise ObjectError(f'object id {object_id} is out of range: ids are 1 to {MAX_OBJECTS}')
    self._names[object_id] = clean_name(name, object_id)
    self._names = dict(sorted(self._names.items()))
    return object_id

  def ensure(self, object_ids: list[int]) -> list[int]:
    """Adds the ids not in the list yet (named 'object <id>'); returns those added. Refuses more than the limit."""
    missing = [i for i in object_ids if i not in self._names]
    if len(self._names) + len(missing) > self.limit:
      raise ObjectError(f'{len(missing)} new objects would make {len(self._names) + len(missing)}, more than this app '
                        f'takes (--max_objects {self.limit})')
    for object_id in missing:
      self.add(None, object_id)
    return missing

  def rename(self, object_id: int, name: object) -> None:
    self._require(object_id)
    self._names[object_id] = clean_name(name, object_id)

  def remove(self, object_id: int) -> None:
    self._require(object_id)
    del self._names[object_id]

  def _require(self, object_id: int) -> None:
    if object_id not in self._names:
      raise ObjectError(f'there is no object {object_id} (objects: {self.ids() or "none"})')

  def to_json(self) -> list[dict]:
    """[{'id', 'name', 'colour'}] in id order."""
    return [{'id': i, 'name': name, 'colour': colour(i)} for i, name in self._names.items()]

  @classmethod
  def from_json(cls, data: list[dict], limit: int = MAX_OBJECTS) -> 'ObjectList':
    objects = cls(limit=max(limit, len(data)))  # a workspace made under a higher limit keeps its objects
    for entry in data:
      objects.add(entry['name'], int(entry['id']))
    objects.limit = limit
    return objects
