"""Masks coming into the app: a PNG file a person imports, or the raw id map the page paints.

A PNG is read as object ids and never turned into stray objects:
* an indexed ("P") PNG: its values are the ids (255, DAVIS's void, is background);
* a grayscale PNG of 0 and 255 only (or an RGB one in black and white): one object, the id the person chose;
* a grayscale PNG where 255 is more common than any other non-zero value (an anti-aliased 0/255 mask: white inside,
  grey levels along the edges): thresholded at 128 into one object, and the reply says so;
* any other grayscale PNG: its values are the ids;
* an RGB PNG: every colour must be a DAVIS palette colour (mapped to its id); an anti-aliased or otherwise coloured
  one is refused with a message naming the colours.
A mask of another size than the frame, or without any object, is refused (and one with more objects than the app
takes, when it is stored: `vosjax.app.objects`).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from vosjax.data.image_io import DatasetError, palette_colours_to_ids
from vosjax.errors import UserError

VOID_ID = 255


class MaskInputError(UserError, ValueError):
  """A mask the app cannot use; the message names it and the problem."""


def mask_from_png(data: bytes, name: str, frame_size: tuple[int, int], binary_id: int) -> tuple[np.ndarray, str]:
  """Decodes an imported PNG into object ids.

  Args:
    data: the file's bytes.
    name: its name, for messages.
    frame_size: (H, W) of the frame it is for.
    binary_id: the id a one-object (0/255) mask gets.

  Returns:
    ([H, W] uint8 ids, a note on how it was read).
  """
  try:
    with Image.open(io.BytesIO(data)) as image:
      image.load()
      mode, array = image.mode, _pixels(image)
  except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
    raise MaskInputError(f'{name}: not an image the app can read ({error})') from None
  if array.shape[:2] != tuple(frame_size):
    raise MaskInputError(f'{name}: the mask is {array.shape[1]}x{array.shape[0]} (WxH) but the frame is '
                         f'{frame_size[1]}x{frame_size[0]}; give a mask of the frame\'s size')
  if mode == 'P':
    ids, note = np.where(array == VOID_ID, 0, array), 'indexed PNG: values are object ids'
  elif array.ndim == 3 and not (np.all(array[..., 0] == array[..., 1]) and np.all(array[..., 1] == array[..., 2])):
    try:
      ids = palette_colours_to_ids(array, name)
    except DatasetError as error:
      raise MaskInputError(f'{error} (anti-aliased edges?)') from None
    ids, note = np.where(ids == VOID_ID, 0, ids), 'RGB PNG in DAVIS palette colours'
  else:
    ids, note = _grey_ids(array if array.ndim == 2 else array[..., 0], name, binary_id)
  ids = ids.astype(np.uint8)
  if not ids.any():
    raise MaskInputError(f'{name}: the mask holds no object (every pixel is background 0 or void 255)')
  return ids, note


def _pixels(image: Image.Image) -> np.ndarray:
  """[H, W] for indexed and grayscale images, [H, W, 3] for colour ones (alpha dropped)."""
  if image.mode in ('P', 'L'):
    return np.asarray(image)
  if image.mode == '1':
    return np.asarray(image.convert('L'))
  if image.mode == 'LA':
    return np.asarray(image.convert('L'))
  if image.mode in ('I', 'I;16', 'I;16B', 'I;16L'):
    values = np.asarray(image).astype(np.int64)
    if set(np.unique(values).tolist()) <= {0, 65535}:  # a 16-bit black-and-white mask
      return np.where(values > 0, 255, 0).astype(np.uint8)
    if values.max(initial=0) > 255 or values.min(initial=0) < 0:
      raise ValueError(f'16-bit values up to {values.max()} do not fit object ids 0..255')
    return values.astype(np.uint8)
  return np.asarray(image.convert('RGB'))


def _grey_ids(grey: np.ndarray, name: str, binary_id: int) -> tuple[np.ndarray, str]:
  values = set(np.unique(grey).tolist())
  if values <= {0, 255}:
    return np.where(grey == 255, binary_id, 0), f'black-and-white mask: one object (id {binary_id})'
  counts = np.bincount(grey.reshape(-1), minlength=256)
  if VOID_ID in values and counts[VOID_ID] > counts[1:VOID_ID].max():  # white inside, grey levels at the edges
    return (np.where(grey >= 128, binary_id, 0),
            f'grey edges thresholded at 128: one object (id {binary_id}); {len(values) - 2} grey levels dropped')
  return np.where(grey == VOID_ID, 0, grey), 'grayscale PNG: values are object ids'


def mask_from_raw(data: bytes, frame_size: tuple[int, int]) -> np.ndarray:
  """The page's painted mask: H * W bytes of object ids, row by row -> [H, W] uint8."""
  height, width = frame_size
  if len(data) != height * width:
    raise MaskInputError(f'a painted mask must be {height}x{width} = {height * width} bytes of ids, got {len(data)}')
  return np.frombuffer(data, np.uint8).reshape(height, width).copy()
