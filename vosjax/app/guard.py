"""What every request passes before the app sees it: a size limit on request bodies and a check that a request which
changes something comes from the app's own page.

* A body larger than the limit is refused with 413 and a message: at once when its Content-Length says so, else
  as soon as more bytes than the limit have arrived.
* POST, PUT, PATCH and DELETE must carry the header `X-Vosjax: 1`, which the page's scripts send. A browser does not
  let another web site's page send it (that needs a CORS preflight, which the app never grants), so a page elsewhere
  cannot make the app propagate, paint or delete.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from vosjax.errors import UserError

HEADER = 'x-vosjax'
CHANGING_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})


class UploadTooLarge(UserError, ValueError):
  """A request body over the limit."""


def _size(count: int) -> str:
  return f'{count / 2**20:.1f} MiB' if count >= 2**20 // 10 else f'{count} bytes'


def too_large_message(size: int | None, limit: int) -> str:
  what = _size(size) if size is not None else 'larger'
  return (f'the upload is {what}, over the limit of {_size(limit)} (start the app with a larger --max_upload_mb to '
          'allow it)')


class RequestGuard:
  """ASGI middleware applying the body-size limit and the header check.

  Args:
    app: the ASGI app.
    max_body_bytes: the largest request body accepted.
  """

  def __init__(self, app, max_body_bytes: int):
    self.app = app
    self.max_body_bytes = max_body_bytes

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      await self.app(scope, receive, send)
      return
    headers = {key.decode('latin-1').lower(): value.decode('latin-1') for key, value in scope['headers']}
    if scope['method'] in CHANGING_METHODS and headers.get(HEADER) != '1':
      await JSONResponse({'error': f'requests that change the workspace need the header {HEADER.title()}: 1 (sent '
                                   'by the app\'s page)'}, status_code=403)(scope, receive, send)
      return
    length = headers.get('content-length', '')
    if length.isdigit() and int(length) > self.max_body_bytes:
      await JSONResponse({'error': too_large_message(int(length), self.max_body_bytes)},
                         status_code=413)(scope, receive, send)
      return
    received = 0

    async def limited_receive():
      nonlocal received
      message = await receive()
      if message['type'] == 'http.request':
        received += len(message.get('body', b''))
        if received > self.max_body_bytes:
          raise UploadTooLarge(too_large_message(None, self.max_body_bytes))
      return message

    await self.app(scope, limited_receive, send)
