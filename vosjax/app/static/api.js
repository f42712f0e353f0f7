// The app server's API (vosjax/app/server.py). Requests that change something carry the X-Vosjax header, which the
// server requires (vosjax/app/guard.py). A refused request throws an ApiError holding the server's one-line message.

export class ApiError extends Error {}

export async function request(method, url, body) {
  const options = { method, headers: {} };
  if (method !== 'GET') options.headers['X-Vosjax'] = '1';
  if (body instanceof FormData || body instanceof Uint8Array || body instanceof Blob) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError(`the app server cannot be reached (${error.message}); is it still running?`);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
    throw new ApiError(message);
  }
  return response;
}

export async function json(method, url, body) {
  const response = await request(method, url, body);
  return response.status === 204 ? null : response.json();
}

// A frame's object ids as a Uint8Array of height * width, or null where the frame has no mask.
export async function getMask(frame) {
  const response = await request('GET', `/api/frames/${frame}/mask`);
  if (response.status === 204) return null;
  return new Uint8Array(await response.arrayBuffer());
}

export function frameUrl(frame, generation) {
  return `/api/frames/${frame}/image?g=${encodeURIComponent(generation)}`;
}
