// The timeline: one column per frame, coloured by its state (painted, propagated, stale, no mask), the current frame
// marked; clicking or dragging on it picks a frame.

const COLOURS = { P: '#2563eb', p: '#16a34a', s: '#f59e0b', '.': '#d9dde3' };

export class Timeline {
  constructor(canvas, onSeek) {
    this.canvas = canvas;
    this.kinds = '';
    this.current = 0;
    let dragging = false;
    const seek = (event) => {
      if (!this.kinds.length) return;
      const box = canvas.getBoundingClientRect();
      const fraction = Math.min(Math.max((event.clientX - box.left) / box.width, 0), 0.99999);
      onSeek(Math.floor(fraction * this.kinds.length));
    };
    canvas.addEventListener('pointerdown', (event) => {
      dragging = true;
      canvas.setPointerCapture(event.pointerId);
      seek(event);
    });
    canvas.addEventListener('pointermove', (event) => { if (dragging) seek(event); });
    canvas.addEventListener('pointerup', () => { dragging = false; });
    window.addEventListener('resize', () => this.draw());
  }

  update(kinds, current) {
    this.kinds = kinds;
    this.current = current;
    this.draw();
  }

  draw() {
    const canvas = this.canvas, count = this.kinds.length;
    const width = Math.max(1, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1)));
    if (canvas.width !== width) canvas.width = width;
    const context = canvas.getContext('2d');
    context.clearRect(0, 0, width, canvas.height);
    if (!count) return;
    const step = width / count;
    let start = 0;
    for (let i = 1; i <= count; i++) {  // runs of one state as one rectangle
      if (i === count || this.kinds[i] !== this.kinds[start]) {
        context.fillStyle = COLOURS[this.kinds[start]] || COLOURS['.'];
        context.fillRect(Math.floor(start * step), 0, Math.ceil((i - start) * step), canvas.height);
        start = i;
      }
    }
    const x = Math.floor(this.current * step), w = Math.max(3, Math.ceil(step));  // the current frame: framed
    context.lineWidth = 2;
    context.strokeStyle = '#111';
    context.strokeRect(x + 1, 1, w - 2, canvas.height - 2);
  }
}
