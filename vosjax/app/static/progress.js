// How a job (opening a video, propagating) reads on the page: the progress bar's fill and one line of text.

function seconds(value) {
  if (value === null || value === undefined) return '?';
  return value >= 90 ? `${Math.floor(value / 60)} min ${Math.round(value % 60)} s` : `${Math.round(value)} s`;
}

// job: the server's job object (vosjax/app/worker.py) or null -> {fraction 0..1, failed, text}.
export function describeJob(job) {
  if (!job) return { fraction: 0, failed: false, text: '\u00a0' };
  const fraction = job.total ? job.done / job.total : 0;
  let text = job.message;
  if (job.state === 'queued') {
    text = 'Waiting for the model to finish compiling…';
  } else if (job.state === 'running') {
    const what = job.kind === 'import' ? 'Opening the video' : `Propagating ${job.direction} from frame ${job.start}`;
    const rate = job.fps > 0 ? ` · ${job.fps.toFixed(1)} frames/s · ${seconds(job.eta_s)} left`
      : (job.kind === 'propagate' ? ' · starting…' : '');
    text = `${what}: ${job.done} / ${job.total} frames${rate}`;
  }
  return { fraction, failed: job.state === 'failed', text };
}
