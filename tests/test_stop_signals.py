"""Ctrl-C and SIGTERM become a stop request checked between steps (vosjax/training/stop_signals.py)."""

import os
import signal

import pytest

from vosjax.training.stop_signals import StopRequest


def test_sigterm_and_sigint_are_recorded_and_handlers_restored():
  before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  with StopRequest() as stop:
    assert stop.requested is None
    os.kill(os.getpid(), signal.SIGTERM)  # delivered to the main thread before the next bytecode completes
    assert stop.requested == 'SIGTERM'
  assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
  with StopRequest() as stop:
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.requested == 'SIGINT'


def test_a_second_ctrl_c_interrupts_at_once():
  before = signal.getsignal(signal.SIGINT)
  with pytest.raises(KeyboardInterrupt):
    with StopRequest() as stop:
      os.kill(os.getpid(), signal.SIGINT)
      assert stop.requested == 'SIGINT'
      os.kill(os.getpid(), signal.SIGINT)
      for _ in range(1000):  # the handler runs between bytecodes; it raises before this loop ends
        pass
  assert signal.getsignal(signal.SIGINT) == before
