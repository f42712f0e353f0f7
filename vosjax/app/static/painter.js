// Painting a mask with the mouse or a pen: a round brush that writes the selected object's id and an eraser that
// writes background (0), in the frame's own pixels whatever the canvas' size on screen.
//
// hooks: start() -> the Uint8Array (width * height) to paint into, or null to refuse the stroke (it also records
// the undo step); value() -> the id a stroke writes; radius() -> the brush radius in frame pixels; redraw(rect) after
// each stamp; end() when the stroke is over.

export class Painter {
  constructor(canvas, cursor, hooks) {
    this.canvas = canvas;
    this.cursor = cursor;
    this.hooks = hooks;
    this.ids = null;
    this.last = null;
    canvas.addEventListener('pointerdown', (event) => this.down(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    canvas.addEventListener('pointerup', (event) => this.up(event));
    canvas.addEventListener('pointercancel', (event) => this.up(event));
    canvas.addEventListener('pointerleave', () => { this.cursor.hidden = true; });
  }

  get painting() { return this.ids !== null; }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * this.canvas.width / box.width,
            (event.clientY - box.top) * this.canvas.height / box.height];
  }

  showCursor(event) {
    const box = this.canvas.getBoundingClientRect();
    const parent = this.canvas.parentElement.getBoundingClientRect();
    const diameter = 2 * this.hooks.radius() * box.width / this.canvas.width;
    Object.assign(this.cursor.style, {
      width: `${diameter}px`, height: `${diameter}px`,
      left: `${event.clientX - parent.left - diameter / 2}px`, top: `${event.clientY - parent.top - diameter / 2}px`,
    });
    this.cursor.hidden = false;
  }

  down(event) {
    if (event.button !== 0) return;
    const ids = this.hooks.start();
    if (!ids) return;
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.ids = ids;
    this.last = this.point(event);
    this.stamp(this.last);
  }

  move(event) {
    this.showCursor(event);
    if (!this.painting) return;
    const next = this.point(event);
    const [x0, y0] = this.last, [x1, y1] = next;
    const steps = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / Math.max(1, this.hooks.radius() / 2)));
    for (let s = 1; s <= steps; s++) this.stamp([x0 + (x1 - x0) * s / steps, y0 + (y1 - y0) * s / steps]);
    this.last = next;
  }

  up(event) {
    if (!this.painting) return;
    if (this.canvas.hasPointerCapture(event.pointerId)) this.canvas.releasePointerCapture(event.pointerId);
    this.ids = null;
    this.last = null;
    this.hooks.end();
  }

  stamp([cx, cy]) {
    const width = this.canvas.width, height = this.canvas.height;
    const radius = this.hooks.radius(), value = this.hooks.value();
    const x0 = Math.max(0, Math.floor(cx - radius)), x1 = Math.min(width, Math.ceil(cx + radius) + 1);
    const y0 = Math.max(0, Math.floor(cy - radius)), y1 = Math.min(height, Math.ceil(cy + radius) + 1);
    const r2 = radius * radius;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r2) this.ids[y * width + x] = value;
      }
    }
    if (x1 > x0 && y1 > y0) this.hooks.redraw([Math.max(0, x0 - 1), Math.max(0, y0 - 1), Math.min(width, x1 + 1),
                                               Math.min(height, y1 + 1)]);
  }
}
