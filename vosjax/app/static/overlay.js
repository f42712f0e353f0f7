// Drawing masks over the frame: the DAVIS palette (object id k has colour PALETTE[k], as in the exported PNGs) and
// three overlay modes: 'fill' (objects tinted), 'outline' (object borders only), 'cutout' (the background darkened).

function davisPalette() {
  const palette = new Uint8Array(256 * 3);
  for (let index = 0; index < 256; index++) {
    let value = index, red = 0, green = 0, blue = 0;
    for (let shift = 7; shift >= 0; shift--) {
      red |= (value & 1) << shift;
      green |= ((value >> 1) & 1) << shift;
      blue |= ((value >> 2) & 1) << shift;
      value >>= 3;
    }
    palette.set([red, green, blue], index * 3);
  }
  return palette;
}

export const PALETTE = davisPalette();

// Writes the overlay of `ids` (Uint8Array, width * height) into `image` (an ImageData of the same size) inside
// rect = [x0, y0, x1, y1) (default: everything). opacity is 0..1.
export function renderOverlay(image, ids, width, height, mode, opacity, rect) {
  const [x0, y0, x1, y1] = rect || [0, 0, width, height];
  const out = image.data;
  const alpha = Math.round(255 * opacity);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = y * width + x, o = 4 * i;
      const id = ids ? ids[i] : 0;
      if (mode === 'cutout') {
        out[o] = out[o + 1] = out[o + 2] = 0;
        out[o + 3] = id ? 0 : alpha;
        continue;
      }
      if (!id) { out[o + 3] = 0; continue; }
      const edge = (x > 0 && ids[i - 1] !== id) || (x < width - 1 && ids[i + 1] !== id) ||
                   (y > 0 && ids[i - width] !== id) || (y < height - 1 && ids[i + width] !== id);
      out[o] = PALETTE[3 * id]; out[o + 1] = PALETTE[3 * id + 1]; out[o + 2] = PALETTE[3 * id + 2];
      out[o + 3] = edge ? 255 : (mode === 'outline' ? 0 : alpha);
    }
  }
}
