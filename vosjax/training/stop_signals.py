"""Ctrl-C and SIGTERM as a request to stop between steps.

A KeyboardInterrupt raised by Python's default handler can land anywhere, including inside a jitted step after its
input state was donated (the old state is then gone and the new one not yet bound), which makes the state impossible
to save. `StopRequest` instead records the signal, and the training loop checks it between steps, where the state is
whole. A second Ctrl-C while a stop is pending restores the default behaviour and interrupts at once.

With several hosts each process sees only its own signals, and a multi-host checkpoint needs every process to save
the same step: signal all processes together (schedulers preempting a job do, as does SLURM's `scancel --signal`).
Processes stopping at different steps would wait for each other in the save.
"""

from __future__ import annotations

import signal
import threading


class StopRequest:
  """Context manager: while active, SIGINT and SIGTERM set `requested` (the signal's name) instead of raising."""

  def __init__(self, signals=(signal.SIGINT, signal.SIGTERM)):
    self._signals = signals
    self._previous = {}
    self.requested: str | None = None

  def _handle(self, signum, frame):
    del frame
    if self.requested is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt  # a second Ctrl-C: stop now, without the checkpoint
    self.requested = signal.Signals(signum).name

  def __enter__(self) -> 'StopRequest':
    if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
      for signum in self._signals:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)
    self._previous = {}
