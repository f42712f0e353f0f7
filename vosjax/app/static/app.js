// The page: shows the frames and their masks, paints, asks the server to propagate, and follows its progress by
// polling /api/status (a few times a second while a job runs, once a second otherwise).

import { ApiError, frameUrl, getMask, json, request } from './api.js';
import { markSelected, renderObjects } from './objects.js';
import { renderOverlay } from './overlay.js';
import { Painter } from './painter.js';
import { describeJob } from './progress.js';
import { Timeline } from './timeline.js';

const $ = (id) => document.getElementById(id);
const IMAGE_CACHE = 120;
const UNDO_STEPS = 50;

const state = {
  video: null, generation: null, objects: [], selected: null, frame: 0, kinds: '', version: -1,
  masks: new Map(), images: new Map(), undo: [], busy: false, job: null, shownJobState: '',
  playing: false, maxUpload: 0, pendingSaves: 0,
};
const frameCanvas = $('frame-canvas'), maskCanvas = $('mask-canvas');
let overlayImage = null;  // ImageData the size of the frame
let shownIds = null;  // the current frame's ids (Uint8Array) or null

// -- messages

function say(text, kind = 'info') {
  const box = $('message');
  box.textContent = text;
  box.className = text ? kind : '';
}

function fail(error) {
  say(error instanceof ApiError ? error.message : `the page failed: ${error.message}`, 'error');
}

// -- the video and its frames

async function loadInfo() {
  const info = await json('GET', '/api/info');
  state.maxUpload = info.limits.max_upload_bytes;
  setObjects(info.objects);
  showModel(info.model);
  setVideo(info.video);
  if (info.video && !info.objects.length) await addObject();
  document.body.dataset.ready = '1';
}

function setVideo(video) {
  state.video = video;
  state.generation = video ? video.generation : null;
  state.masks.clear();
  state.images.clear();
  state.undo = [];
  shownIds = null;
  $('canvases').hidden = !video;
  $('empty-note').hidden = Boolean(video);
  if (!video) {
    $('video-info').textContent = 'no video open';
    updateControls();
    return;
  }
  frameCanvas.width = maskCanvas.width = video.width;
  frameCanvas.height = maskCanvas.height = video.height;
  overlayImage = new ImageData(video.width, video.height);
  layoutCanvases();
  $('slider').max = video.num_frames - 1;
  const size = `${video.width}×${video.height}`;
  const internal = video.internal;
  const scaled = internal.width !== video.width || internal.height !== video.height
    ? ` · segmented at ${internal.width}×${internal.height} (the model's internal resolution), masks at ${size}` : '';
  $('video-info').textContent = `${video.source}: ${video.num_frames} frames, ${size}${scaled}`;
  $('brush-size').value = Math.max(3, Math.round(Math.min(video.width, video.height) / 40));
  $('brush-size-value').textContent = $('brush-size').value;
  showFrame(Math.min(state.frame, video.num_frames - 1));
  updateControls();
}

// The frame fills the stage's width (up to 72% of the window's height), whatever its own size; the mask canvas lies
// on top of it at the same size.
function layoutCanvases() {
  if (!state.video) return;
  const { width, height } = state.video;
  const scale = Math.min($('stage').clientWidth / width, (window.innerHeight * 0.72) / height);
  frameCanvas.style.width = `${Math.max(1, Math.floor(width * scale))}px`;
  frameCanvas.style.height = `${Math.max(1, Math.floor(height * scale))}px`;
}

function loadImage(index) {
  if (!state.images.has(index)) {
    const promise = new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new ApiError(`frame ${index} could not be loaded`));
      image.src = frameUrl(index, state.generation);
    });
    state.images.set(index, promise);
    if (state.images.size > IMAGE_CACHE) state.images.delete(state.images.keys().next().value);
  }
  return state.images.get(index);
}

async function loadMask(index) {
  if (!state.masks.has(index)) state.masks.set(index, await getMask(index));
  return state.masks.get(index);
}

let showToken = 0;

async function showFrame(index) {
  if (!state.video) return;
  index = Math.max(0, Math.min(index, state.video.num_frames - 1));
  state.frame = index;
  $('slider').value = index;
  $('frame-label').textContent = `frame ${index} / ${state.video.num_frames - 1} (${state.video.names[index]})`;
  timeline.update(state.kinds, index);
  const token = ++showToken;
  try {
    const [image, ids] = await Promise.all([loadImage(index), loadMask(index)]);
    if (token !== showToken) return;
    frameCanvas.getContext('2d').drawImage(image, 0, 0);
    shownIds = ids;
    drawOverlay();
    for (let next = index + 1; next < Math.min(index + 4, state.video.num_frames); next++) {
      loadImage(next).catch(() => state.images.delete(next));
    }
  } catch (error) {
    if (token === showToken) fail(error);
  }
}

function drawOverlay(rect) {
  if (!state.video) return;
  const { width, height } = state.video;
  rect = rect || [0, 0, width, height];
  renderOverlay(overlayImage, shownIds, width, height, $('overlay-mode').value, $('opacity').value / 100, rect);
  maskCanvas.getContext('2d').putImageData(overlayImage, 0, 0, rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1]);
}

async function reloadMask(index) {
  state.masks.delete(index);
  const ids = await loadMask(index);
  if (index === state.frame && !painter.painting && !state.pendingSaves) {
    shownIds = ids;
    drawOverlay();
  }
}

// -- painting

let strokeFrame = null;
const painter = new Painter(maskCanvas, $('brush-cursor'), {
  start() {
    if (!state.video) return null;
    const eraser = tool() === 'eraser';
    if (!eraser && state.selected === null) {
      say('Add an object first (Objects, + Add object)', 'error');
      return null;
    }
    stopPlaying();
    state.undo.push({ frame: state.frame, before: shownIds ? shownIds.slice() : null });
    if (state.undo.length > UNDO_STEPS) state.undo.shift();
    if (!shownIds) shownIds = new Uint8Array(state.video.width * state.video.height);
    state.masks.set(state.frame, shownIds);
    strokeFrame = state.frame;
    return shownIds;
  },
  value: () => (tool() === 'eraser' ? 0 : state.selected),
  radius: () => Number($('brush-size').value),
  redraw: (rect) => drawOverlay(rect),
  end: () => saveMask(strokeFrame, shownIds),
});

function tool() {
  return document.querySelector('input[name=tool]:checked').value;
}

async function saveMask(frame, ids) {
  state.pendingSaves++;
  try {
    await request('PUT', `/api/frames/${frame}/mask`, ids.slice());
    markFrame(frame, 'P');
  } catch (error) {
    fail(error);
  } finally {
    state.pendingSaves--;
  }
}

function markFrame(frame, kind) {
  state.kinds = state.kinds.slice(0, frame) + kind + state.kinds.slice(frame + 1);
  timeline.update(state.kinds, state.frame);
}

async function undo() {
  const step = state.undo.pop();
  if (!step) {
    say('Nothing to undo');
    return;
  }
  if (step.frame !== state.frame) await showFrame(step.frame);
  try {
    if (step.before) {
      shownIds = step.before;
      state.masks.set(step.frame, shownIds);
      drawOverlay();
      await saveMask(step.frame, shownIds);
    } else {
      await clearFrame(step.frame);
    }
  } catch (error) {
    fail(error);
  }
}

async function clearFrame(frame) {
  await request('DELETE', `/api/frames/${frame}/mask`);
  state.masks.set(frame, null);
  if (frame === state.frame) {
    shownIds = null;
    drawOverlay();
  }
  markFrame(frame, '.');
}

async function importMask(file) {
  const form = new FormData();
  form.append('file', file, file.name);
  form.append('object', String(state.selected || 1));
  const frame = state.frame;
  const result = await json('POST', `/api/frames/${frame}/mask.png`, form);
  const added = result.added_objects.length ? `; objects added: ${result.added_objects.join(', ')}` : '';
  say(`${file.name} on frame ${frame}: ${result.note}${added}`);
  await reloadMask(frame);
  markFrame(frame, 'P');
}

// -- objects

function setObjects(objects) {
  state.objects = objects;
  if (!objects.some((o) => o.id === state.selected)) state.selected = objects.length ? objects[0].id : null;
  renderObjects($('objects'), objects, state.selected,
                { select: selectObject, rename: renameObject, remove: deleteObject });
}

function selectObject(id) {
  state.selected = id;
  markSelected($('objects'), id);
}

async function addObject() {
  const result = await json('POST', '/api/objects', { name: '' });
  setObjects(result.objects);
  selectObject(result.id);
}

async function renameObject(id, name) {
  try {
    setObjects((await json('PATCH', `/api/objects/${id}`, { name })).objects);
  } catch (error) {
    fail(error);
  }
}

async function deleteObject(object) {
  if (!window.confirm(`Delete ${object.name} from every frame?`)) return;
  try {
    setObjects((await json('DELETE', `/api/objects/${object.id}`)).objects);
    state.masks.clear();
    await reloadMask(state.frame);
  } catch (error) {
    fail(error);
  }
}

// -- jobs: opening a video, propagating

async function openFiles(files) {
  files = Array.from(files);
  if (!files.length) return;
  const total = files.reduce((sum, file) => sum + file.size, 0);
  const label = files.length === 1 ? files[0].name : `${files.length} files`;
  if (total > state.maxUpload) {
    const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    say(`${label} is ${mib(total)}, over the upload limit of ${mib(state.maxUpload)} (start the app with a larger `
        + '--max_upload_mb)', 'error');
    return;
  }
  const hasMasks = state.kinds.replaceAll('.', '').length > 0;
  if (hasMasks && !window.confirm('Opening another video replaces this one and its masks. Continue?')) return;
  const form = new FormData();
  for (const file of files) form.append('files', file, file.name);
  say(`Uploading ${label} (${(total / 2 ** 20).toFixed(1)} MiB)…`);
  try {
    say((await json('POST', '/api/video', form)).message);
    state.busy = true;
    updateControls();
  } catch (error) {
    fail(error);
  }
}

async function propagate(direction) {
  try {
    await json('POST', '/api/propagate', { frame: state.frame, direction });
    state.busy = true;
    say('');
    updateControls();
  } catch (error) {
    fail(error);
  }
}

function showJob(job) {
  const { fraction, failed, text } = describeJob(job);
  $('progress-bar').style.width = `${(100 * fraction).toFixed(1)}%`;
  $('progress-bar').className = failed ? 'failed' : '';
  $('progress-text').textContent = text;
  if (!job) return;
  const key = `${job.id}:${job.state}`;
  if (key !== state.shownJobState && !['running', 'queued'].includes(job.state)) {
    state.shownJobState = key;
    if (job.state === 'failed') say(`${job.message}: ${job.error}`, 'error');
    else if (job.kind === 'import' && job.state === 'done') say(job.message);
  }
}

function showModel(model) {
  $('model-info').textContent = `model: ${model.description}${model.ready ? '' : ' (compiling…)'}`;
}

function updateControls() {
  const hasVideo = Boolean(state.video);
  $('propagate-forward').disabled = $('propagate-backward').disabled = state.busy || !hasVideo;
  $('stop').disabled = !state.busy;
  for (const id of ['undo', 'clear-frame', 'add-object', 'prev', 'play', 'next']) $(id).disabled = !hasVideo;
  $('export').classList.toggle('disabled', !hasVideo);
  $('import-mask').parentElement.classList.toggle('disabled', !hasVideo);
}

async function poll() {
  try {
    const status = await json('GET', `/api/status?since=${state.version}`);
    await applyStatus(status);
  } catch (error) {
    fail(error);
  }
  setTimeout(poll, state.busy ? 250 : 1000);
}

async function applyStatus(status) {
  if (status.generation !== state.generation) {  // another video was opened
    state.version = status.version;
    await loadInfo();
  }
  const busy = status.busy;
  state.busy = busy;
  state.version = status.version;
  for (const frame of status.changed) {
    if (frame !== state.frame) state.masks.delete(frame);
  }
  state.kinds = status.kinds;
  if (JSON.stringify(status.objects) !== JSON.stringify(state.objects)) setObjects(status.objects);
  showModel(status.model);
  showJob(status.job);
  updateControls();
  const job = status.job;
  if (job && job.kind === 'propagate' && job.state === 'running' && $('follow').checked && job.last_frame >= 0
      && job.last_frame !== state.frame && !painter.painting) {
    state.masks.delete(job.last_frame);
    await showFrame(job.last_frame);
  } else {
    timeline.update(state.kinds, state.frame);
    if (status.changed.includes(state.frame) && !painter.painting && !state.pendingSaves) await reloadMask(state.frame);
  }
}

// -- playback

function stopPlaying() {
  state.playing = false;
  $('play').textContent = 'Play';
}

async function playStep() {
  if (!state.playing || !state.video) return;
  if (state.frame >= state.video.num_frames - 1) {
    stopPlaying();
    return;
  }
  const began = performance.now();
  await showFrame(state.frame + 1);
  const fps = Math.min(state.video.fps || 12, 30);
  setTimeout(playStep, Math.max(0, 1000 / fps - (performance.now() - began)));
}

function togglePlay() {
  if (state.playing) {
    stopPlaying();
    return;
  }
  if (state.video && state.frame >= state.video.num_frames - 1) showFrame(0);
  state.playing = true;
  $('play').textContent = 'Pause';
  playStep();
}

// -- wiring

const timeline = new Timeline($('timeline'), (frame) => { stopPlaying(); showFrame(frame); });
window.addEventListener('resize', layoutCanvases);

$('open-file').addEventListener('change', (event) => { openFiles(event.target.files); event.target.value = ''; });
$('open-folder').addEventListener('change', (event) => {
  openFiles(Array.from(event.target.files).filter((file) => /\.(jpe?g|png)$/i.test(file.name)));
  event.target.value = '';
});
$('import-mask').addEventListener('change', (event) => {
  const file = event.target.files[0];
  event.target.value = '';
  if (file) importMask(file).catch(fail);
});
$('add-object').addEventListener('click', () => addObject().catch(fail));
$('undo').addEventListener('click', undo);
$('clear-frame').addEventListener('click', () => clearFrame(state.frame).catch(fail));
$('propagate-forward').addEventListener('click', () => propagate('forward'));
$('propagate-backward').addEventListener('click', () => propagate('backward'));
$('stop').addEventListener('click', () => request('POST', '/api/stop').catch(fail));
$('prev').addEventListener('click', () => { stopPlaying(); showFrame(state.frame - 1); });
$('next').addEventListener('click', () => { stopPlaying(); showFrame(state.frame + 1); });
$('play').addEventListener('click', togglePlay);
$('slider').addEventListener('input', (event) => { stopPlaying(); showFrame(Number(event.target.value)); });
$('overlay-mode').addEventListener('change', () => drawOverlay());
$('opacity').addEventListener('input', (event) => {
  $('opacity-value').textContent = `${event.target.value}%`;
  drawOverlay();
});
$('brush-size').addEventListener('input', (event) => { $('brush-size-value').textContent = event.target.value; });
$('export').addEventListener('click', (event) => {
  if (!state.video) {
    event.preventDefault();
    return;
  }
  say('Preparing the export zip (masks, per-object masks, overlay video); the download starts when it is ready.');
});

document.addEventListener('keydown', (event) => {
  if (event.target.matches('input[type=text], select') || event.altKey || event.metaKey) return;
  const key = event.key;
  if ((event.ctrlKey && key.toLowerCase() === 'z')) { event.preventDefault(); undo(); return; }
  if (event.ctrlKey) return;
  const size = $('brush-size');
  const actions = {
    ArrowLeft: () => { stopPlaying(); showFrame(state.frame - 1); },
    ArrowRight: () => { stopPlaying(); showFrame(state.frame + 1); },
    Home: () => { stopPlaying(); showFrame(0); },
    End: () => { stopPlaying(); showFrame(Infinity); },
    ' ': togglePlay,
    b: () => { document.querySelector('input[name=tool][value=brush]').checked = true; },
    e: () => { document.querySelector('input[name=tool][value=eraser]').checked = true; },
    '[': () => { size.value = Math.max(1, Number(size.value) - 2); size.dispatchEvent(new Event('input')); },
    ']': () => { size.value = Number(size.value) + 2; size.dispatchEvent(new Event('input')); },
  };
  if (actions[key]) {
    event.preventDefault();
    actions[key]();
  } else if (/^[1-9]$/.test(key) && state.objects[Number(key) - 1]) {
    selectObject(state.objects[Number(key) - 1].id);
  }
});

loadInfo().catch(fail).finally(() => { updateControls(); poll(); });
