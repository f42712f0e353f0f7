"""Reading frames and masks with errors that name the file and the problem, and writing indexed PNGs.

Masks are object-id maps: 0 = background, 1..N = objects, 255 = void (DAVIS). Accepted files:
* indexed ("P") PNGs, the DAVIS and YouTube-VOS format: the pixel values are the ids;
* grayscale ("L") PNGs: the values are the ids, except with `binary=True` (DAVIS 2016: 0/255 means background/object);
* RGB(A) PNGs written by other tools: every colour must be a DAVIS palette colour and is mapped back to its index;
  any other colour is refused (naming the file and the colours).
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from vosjax.files.atomic_write import atomic_path
from vosjax.errors import UserError


class DatasetError(UserError, ValueError):
  """Bad or missing input data. The message names the file or folder and says what is wrong."""


def davis_palette() -> np.ndarray:
  """The DAVIS (PASCAL VOC) colour map: [256, 3] uint8; index i's colour spreads i's bits over R, G and B."""
  palette = np.zeros((256, 3), np.uint8)
  for index in range(256):
    value, red, green, blue = index, 0, 0, 0
    for shift in range(7, -1, -1):
      red |= (value & 1) << shift
      green |= ((value >> 1) & 1) << shift
      blue |= ((value >> 2) & 1) << shift
      value >>= 3
    palette[index] = (red, green, blue)
  return palette


_PALETTE = davis_palette()
_COLOUR_TO_INDEX = {tuple(int(c) for c in colour): index for index, colour in enumerate(_PALETTE)}


def read_frame(path: str) -> np.ndarray:
  """Reads an image as [H, W, 3] uint8 RGB; a missing, truncated or undecodable file raises DatasetError."""
  try:
    with Image.open(path) as image:
      image.load()
      return np.asarray(image.convert('RGB'))
  except FileNotFoundError:
    raise DatasetError(f'{path}: frame file not found') from None
  except (UnidentifiedImageError, OSError, SyntaxError) as error:
    raise DatasetError(f'{path}: corrupt or unreadable image ({error})') from None


def image_size(path: str) -> tuple[int, int]:
  """(height, width) from the file header, without decoding the pixels."""
  try:
    with Image.open(path) as image:
      return image.height, image.width
  except FileNotFoundError:
    raise DatasetError(f'{path}: file not found') from None
  except (UnidentifiedImageError, OSError, SyntaxError) as error:
    raise DatasetError(f'{path}: corrupt or unreadable image ({error})') from None


def read_mask(path: str, *, binary: bool = False, expected_size: tuple[int, int] | None = None) -> np.ndarray:
  """Reads an object-id mask as [H, W] uint8.

  Args:
    path: a PNG file.
    binary: DAVIS 2016 masks, 0 = background and any non-zero value = object 1.
    expected_size: (H, W) of the matching frame; a mask of another size raises DatasetError.
  """
  try:
    with Image.open(path) as image:
      image.load()
      mode = image.mode
      if mode == 'P':
        ids = np.asarray(image)
      elif mode in ('L', 'I', 'I;16', '1'):
        ids = np.asarray(image.convert('L') if mode == '1' else image)
      elif mode in ('RGB', 'RGBA'):
        ids = palette_colours_to_ids(np.asarray(image.convert('RGB')), path)
      else:
        raise DatasetError(f'{path}: unsupported mask mode {mode!r} (expected an indexed "P" PNG)')
  except FileNotFoundError:
    raise DatasetError(f'{path}: mask file not found') from None
  except (UnidentifiedImageError, OSError, SyntaxError) as error:
    raise DatasetError(f'{path}: corrupt or unreadable mask ({error})') from None
  if ids.max(initial=0) > 255:
    raise DatasetError(f'{path}: mask values up to {ids.max()} do not fit object ids 0..255')
  ids = ids.astype(np.uint8)
  if binary:
    ids = (ids > 0).astype(np.uint8)
  if expected_size is not None and ids.shape != tuple(expected_size):
    raise DatasetError(f'{path}: mask is {ids.shape[1]}x{ids.shape[0]} (WxH) but its frame is '
                       f'{expected_size[1]}x{expected_size[0]}')
  return ids


def palette_colours_to_ids(rgb: np.ndarray, path: str) -> np.ndarray:
  """[H, W, 3] uint8 DAVIS palette colours -> [H, W] uint8 ids; any other colour raises DatasetError naming `path`."""
  colours, inverse = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
  lookup = np.empty(len(colours), np.uint8)
  unknown = []
  for i, colour in enumerate(colours):
    index = _COLOUR_TO_INDEX.get(tuple(int(c) for c in colour))
    if index is None:
      unknown.append(tuple(int(c) for c in colour))
    else:
      lookup[i] = index
  if unknown:
    raise DatasetError(f'{path}: an RGB mask whose colours {unknown[:5]} are not DAVIS palette colours; save masks '
                       'as indexed ("P") PNGs with object ids as pixel values')
  return lookup[inverse.reshape(rgb.shape[:2])]


def write_indexed_png(path: str, ids: np.ndarray) -> None:
  """Writes [H, W] object ids as an indexed PNG with the DAVIS palette, atomically (temp file + rename)."""
  image = Image.fromarray(np.asarray(ids, np.uint8), mode='P')
  image.putpalette(_PALETTE.reshape(-1).tolist())
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  with atomic_path(path) as temporary:
    image.save(temporary, format='PNG')


def write_jpeg(path: str, rgb: np.ndarray, quality: int = 90) -> None:
  """Writes [H, W, 3] uint8 as a JPEG, atomically."""
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  with atomic_path(path) as temporary:
    Image.fromarray(np.asarray(rgb, np.uint8)).save(temporary, format='JPEG', quality=quality)
