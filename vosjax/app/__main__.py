"""Segments a video in the browser: paint the first mask, propagate, correct, export.

  python -m vosjax.app [--video V] [--workspace W] [--port P] [--host H] [--checkpoint C] [--max_upload_mb M]

Starts a local web app and prints the address to open. V (optional) is a video file or a folder of frames to open at
once; others can be uploaded from the page. W keeps everything (frames, masks, objects): a restart on the same W
resumes. C is a shipped model's name (default: vosjax.pretrained's default), a training workdir or
`<workdir>/checkpoints/<step>`. The app listens on 127.0.0.1 only, unless --host says otherwise.
"""

from __future__ import annotations

import dataclasses
import socket

from vosjax.app.objects import MAX_OBJECTS
from vosjax.cli.entry_point import ArgumentParser, run_entry_point
from vosjax.cli.xla_defaults import apply_xla_defaults
from vosjax.errors import UserError

PROGRAM = 'vosjax.app'
DEFAULT_PORT = 8765
DEFAULT_WORKSPACE = 'vosjax-workspace'
LOOPBACK = ('127.0.0.1', 'localhost', '::1')


def parse_args(argv: list[str] | None):
  parser = ArgumentParser(prog=f'python -m {PROGRAM}', description=__doc__.splitlines()[0])
  parser.add_argument('--video', default=None, help='a video file (.mp4, ...) or a folder of frame images to open')
  parser.add_argument('--workspace', default=DEFAULT_WORKSPACE,
                      help=f'the folder that keeps the work (default: ./{DEFAULT_WORKSPACE}); a restart resumes it')
  parser.add_argument('--port', type=int, default=DEFAULT_PORT, help=f'the port (default {DEFAULT_PORT}; 0: any free)')
  parser.add_argument('--host', default='127.0.0.1',
                      help='the address to listen on (default 127.0.0.1: this machine only)')
  parser.add_argument('--checkpoint', default=None,
                      help="a shipped model's name (default: vosjax.pretrained's default), a training workdir or "
                           '<workdir>/checkpoints/<step>')
  parser.add_argument('--short_side', type=int, default=None,
                      help="segment frames whose shorter side is longer at this size (0: native; default: the "
                           "model's own)")
  parser.add_argument('--max_upload_mb', type=float, default=2048, help='the largest upload accepted (MiB)')
  parser.add_argument('--max_objects', type=int, default=MAX_OBJECTS,
                      help=f'the most objects one video may have (default and most: {MAX_OBJECTS}, the engine\'s '
                           'limit)')
  parser.add_argument('--debug', action='store_true', help='show the traceback of input errors too')
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  apply_xla_defaults()
  run_entry_point(PROGRAM, lambda: serve(parse_args(argv)))


def serve(args) -> None:
  """Checks the arguments, opens the workspace and the video, loads the model, then serves until Ctrl+C."""
  if not 0 <= args.port <= 65535:
    raise UserError(f'--port {args.port}: expected 0 to 65535')
  if not args.max_upload_mb > 0:
    raise UserError(f'--max_upload_mb must be positive, got {args.max_upload_mb}')
  if not 1 <= args.max_objects <= MAX_OBJECTS:
    raise UserError(f'--max_objects must be 1 to {MAX_OBJECTS}, got {args.max_objects}')
  if args.short_side is not None and args.short_side < 0:
    raise UserError(f'--short_side must be 0 (native resolution) or positive, got {args.short_side}')
  from vosjax.app.launch import open_workspace
  workspace, video, source = open_workspace(args.workspace, args.video, args.max_objects)
  listener = _bind(args.host, args.port)
  import uvicorn
  from vosjax.app.server import create_app
  from vosjax.app.worker import Worker
  from vosjax.inference.model_source import load_model
  loaded = load_model(args.checkpoint)
  if args.short_side is not None:
    loaded = dataclasses.replace(loaded, short_side=args.short_side or None)
  worker = Worker(workspace, loaded)
  if video is not None:
    worker.submit_import(video, source)
  local = args.host in LOOPBACK
  port = listener.getsockname()[1]
  shown = f'[{args.host}]' if ':' in args.host else args.host
  print(f'vosjax app with {loaded.described}; workspace {workspace.folder}', flush=True)
  if not local:
    print(f'WARNING: listening on {args.host}: anyone who can reach port {port} of this machine can use the app, see '
          'the video and change or export the workspace (there is no login)', flush=True)

  def say_address() -> None:  # once the server runs (and Ctrl+C is handled by it)
    print(f'Open http://{"127.0.0.1" if args.host in ("0.0.0.0", "::") else shown}:{port}/ in a browser '
          '(Ctrl+C stops)', flush=True)

  app = create_app(workspace, worker, int(args.max_upload_mb * 2**20), allowed_hosts=None if local else ['*'],
                   on_start=say_address)
  config = uvicorn.Config(app, log_level='warning', lifespan='on', timeout_graceful_shutdown=5)
  try:
    uvicorn.Server(config).run(sockets=[listener])
  except KeyboardInterrupt:  # uvicorn raises the Ctrl+C it handled again once it has shut down
    pass
  print(f'Stopped; the work is kept in {workspace.folder}', flush=True)


def _bind(host: str, port: int) -> socket.socket:
  """A listening socket, or a UserError naming the address (in use, unknown host)."""
  try:
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(128)
  except (OSError, OverflowError) as error:
    detail = getattr(error, 'strerror', None) or str(error)
    raise UserError(f'cannot listen on {host}:{port} ({detail}); give another --port or --host') from None
  return listener


if __name__ == '__main__':
  main()
