"""A one-line progress display with rate and ETA for long loops (evaluation, segmentation)."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
  """'1h02m03s', '4m05s' or '?' for an unknown duration."""
  if not math.isfinite(seconds):
    return '?'
  minutes, secs = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}h{minutes:02d}m{secs:02d}s' if hours else f'{minutes}m{secs:02d}s'


class Progress:
  """Prints `label done/total unit  rate unit/s  eta` at most every `min_interval_s` (on a terminal, in place).

  Args:
    total: the number of units of the whole job (0 if unknown).
    label: what is being done.
    unit: the counted unit's name.
  """

  def __init__(self, total: int, label: str, unit: str = 'frames', stream: TextIO | None = None,
               min_interval_s: float = 1.0):
    self.total, self.label, self.unit = total, label, unit
    self.stream = stream or sys.stderr
    self.min_interval_s = min_interval_s
    self.began = time.perf_counter()
    self.done = 0
    self._last_print = -math.inf
    self._in_place = getattr(self.stream, 'isatty', lambda: False)()

  def update(self, done: int, note: str = '') -> None:
    """Records that `done` units are finished; prints if the interval has passed."""
    self.done = done
    now = time.perf_counter()
    if now - self._last_print >= self.min_interval_s:
      self._last_print = now
      self._print(note)

  def close(self, note: str = '') -> None:
    """Prints the final line."""
    self._print(note)
    if self._in_place:
      self.stream.write('\n')
    self.stream.flush()

  def _print(self, note: str) -> None:
    elapsed = time.perf_counter() - self.began
    rate = self.done / elapsed if elapsed > 0 else 0.0
    remaining = max(self.total - self.done, 0) / rate if rate > 0 and self.total else float("inf")
    of_total = f'/{self.total}' if self.total else ''
    line = (f'{self.label} {self.done}{of_total} {self.unit}  {rate:.1f} {self.unit}/s  '
            f'elapsed {format_duration(elapsed)}  eta {format_duration(remaining)}')
    if note:
      line += f'  {note}'
    self.stream.write(('\r' + line + '\x1b[K') if self._in_place else line + '\n')
    self.stream.flush()
