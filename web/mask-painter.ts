/**
 * The inpainting mask, painted with the mouse (or a pen or finger) over the source image. The visible canvas holds
 * the strokes in one colour at the image's own pixel size, shown half transparent over the image; `toBlob()` turns
 * their coverage into the black-and-white PNG the API expects (white = repaint). An uploaded mask is drawn into the
 * same canvas (its brightness becomes coverage), so it can be touched up by hand before it is sent.
 */

const STROKE = "#ff3b5c";

export class MaskPainter {
  private readonly ctx: CanvasRenderingContext2D;
  private drawing = false;
  private last: { x: number; y: number } | null = null;
  private painted = false;
  /** Brush diameter in screen pixels (the slider). */
  brush = 24;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("This browser cannot draw on a canvas");
    this.ctx = ctx;
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"] as const)
      canvas.addEventListener(type, () => this.stop());
  }

  /** Sizes the canvas to the image (clearing it). */
  reset(width: number, height: number): void {
    this.canvas.width = width;
    this.canvas.height = height;
    this.clear();
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.painted = false;
  }

  /** Whether anything is painted. */
  get isEmpty(): boolean {
    return !this.painted;
  }

  /** Draws an uploaded mask: its brightness becomes coverage, scaled to the canvas. */
  async load(file: Blob): Promise<void> {
    const bitmap = await createImageBitmap(file);
    const { width, height } = this.canvas;
    this.ctx.clearRect(0, 0, width, height);
    this.ctx.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const pixels = this.ctx.getImageData(0, 0, width, height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      // ITU-R 601 luma, as PIL's convert("L") computes it.
      const luma = (d[i]! * 299 + d[i + 1]! * 587 + d[i + 2]! * 114) / 1000;
      d[i] = 0xff;
      d[i + 1] = 0x3b;
      d[i + 2] = 0x5c;
      d[i + 3] = Math.round((luma * d[i + 3]!) / 255);
    }
    this.ctx.putImageData(pixels, 0, 0);
    this.painted = true;
  }

  /** The mask as a PNG: white where painted, black elsewhere, at the canvas (image) size. */
  async toBlob(): Promise<Blob> {
    const out = document.createElement("canvas");
    out.width = this.canvas.width;
    out.height = this.canvas.height;
    const ctx = out.getContext("2d");
    if (!ctx) throw new Error("This browser cannot draw on a canvas");
    ctx.drawImage(this.canvas, 0, 0);
    // Keep the strokes' coverage, recoloured white, over a black background.
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, out.width, out.height);
    return new Promise((resolve, reject) =>
      out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("Cannot encode the mask"))), "image/png"),
    );
  }

  /** The pointer's position in the canvas's own pixels (it is shown scaled). */
  private point(e: PointerEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - box.left) / box.width) * this.canvas.width,
      y: ((e.clientY - box.top) / box.height) * this.canvas.height,
    };
  }

  private scale(): number {
    const box = this.canvas.getBoundingClientRect();
    return box.width > 0 ? this.canvas.width / box.width : 1;
  }

  private start(e: PointerEvent): void {
    if (e.button !== 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.last = this.point(e);
    this.stroke(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.drawing || !this.last) return;
    const p = this.point(e);
    this.stroke(this.last, p);
    this.last = p;
  }

  private stop(): void {
    this.drawing = false;
    this.last = null;
  }

  private stroke(from: { x: number; y: number }, to: { x: number; y: number }): void {
    // The brush size is in screen pixels, so it feels the same whatever the image's resolution.
    const ctx = this.ctx;
    ctx.strokeStyle = STROKE;
    ctx.lineWidth = Math.max(1, this.brush * this.scale());
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    this.painted = true;
  }
}
