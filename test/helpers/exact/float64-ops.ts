/**
 * Layers in float64 over plain arrays, for evaluating a network's exact-arithmetic value (to within 1e-13 or so)
 * where float32 results cannot be compared with each other: the layers of PyTorch's `nn` that Stable Diffusion's
 * UNet uses, written for clarity and checked against diffusers' float32 outputs where those are well conditioned.
 * Tensors are `{ data, shape }` in PyTorch's C order.
 */

export interface F64 {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

export const f64 = (data: Float64Array, shape: readonly number[]): F64 => ({ data, shape });

/** nn.Conv2d with square kernel `k`, `stride`, zero `padding`; weight [O, C, k, k], bias [O]. */
export function conv2d(x: F64, w: F64, b: F64, stride: number, padding: number): F64 {
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, , k] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + 2 * padding - k) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - k) / stride) + 1;
  const out = new Float64Array(n * o * oh * ow);
  const xd = x.data;
  for (let bi = 0; bi < n; bi++) {
    for (let oc = 0; oc < o; oc++) {
      const plane = (bi * o + oc) * oh * ow;
      out.fill(b.data[oc]!, plane, plane + oh * ow);
      for (let ic = 0; ic < c; ic++) {
        const src = (bi * c + ic) * h * wd;
        for (let ki = 0; ki < k; ki++) {
          for (let kj = 0; kj < k; kj++) {
            const wv = w.data[((oc * c + ic) * k + ki) * k + kj]!;
            // Output columns whose input column lies inside the image.
            const ox0 = Math.max(0, Math.ceil((padding - kj) / stride));
            const ox1 = Math.min(ow, Math.floor((wd - 1 + padding - kj) / stride) + 1);
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * stride - padding + ki;
              if (iy < 0 || iy >= h) continue;
              const row = src + iy * wd - padding + kj;
              const dst = plane + oy * ow;
              for (let ox = ox0; ox < ox1; ox++) out[dst + ox]! += wv * xd[row + ox * stride]!;
            }
          }
        }
      }
    }
  }
  return f64(out, [n, o, oh, ow]);
}

/** nn.Linear over the last axis: x [..., in], weight [out, in], optional bias [out]. */
export function linear(x: F64, w: F64, b?: F64): F64 {
  const [outF, inF] = w.shape as [number, number];
  const rows = x.data.length / inF;
  const out = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b.data[o]! : 0;
      for (let i = 0; i < inF; i++) acc += x.data[r * inF + i]! * w.data[o * inF + i]!;
      out[r * outF + o] = acc;
    }
  }
  return f64(out, [...x.shape.slice(0, -1), outF]);
}

/** nn.GroupNorm on [N, C, ...] with affine weight and bias (two-pass mean and variance). */
export function groupNorm(x: F64, groups: number, w: F64, b: F64, eps: number): F64 {
  const [n, c] = x.shape as [number, number];
  const spatial = x.data.length / (n * c);
  const per = (c / groups) * spatial;
  const out = new Float64Array(x.data.length);
  for (let g = 0; g < n * groups; g++) {
    const start = g * per;
    let mean = 0;
    for (let i = 0; i < per; i++) mean += x.data[start + i]!;
    mean /= per;
    let variance = 0;
    for (let i = 0; i < per; i++) variance += (x.data[start + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / per + eps);
    for (let i = 0; i < per; i++) {
      const channel = Math.floor((start + i) / spatial) % c;
      out[start + i] = (x.data[start + i]! - mean) * inv * w.data[channel]! + b.data[channel]!;
    }
  }
  return f64(out, x.shape);
}

/** nn.LayerNorm over the last axis. */
export function layerNorm(x: F64, w: F64, b: F64, eps: number): F64 {
  const d = w.data.length;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / d; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x.data[r * d + i]!;
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x.data[r * d + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = (x.data[r * d + i]! - mean) * inv * w.data[i]! + b.data[i]!;
  }
  return f64(out, x.shape);
}

export const map = (x: F64, fn: (v: number) => number): F64 => f64(x.data.map(fn), x.shape);
export const silu = (x: F64): F64 => map(x, (v) => v / (1 + Math.exp(-v)));

/**
 * erf to double precision: 2/√π · e^(−x²) · Σ 2ⁿx^(2n+1) / (1·3·…·(2n+1)), a series of positive terms (no
 * cancellation); |erf| is 1 to double precision beyond 6.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/** GELU with erf (PyTorch's default). */
export const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));

export function add(a: F64, b: F64): F64 {
  return f64(
    a.data.map((v, i) => v + b.data[i]!),
    a.shape,
  );
}

/** [N, C, H, W] ⇄ [N, H·W, C]. */
export function toTokens(x: F64): F64 {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + ch] = x.data[(b * c + ch) * h * w + p]!;
  return f64(out, [n, h * w, c]);
}

export function fromTokens(x: F64, h: number, w: number): F64 {
  const [n, , c] = x.shape as [number, number, number];
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let p = 0; p < h * w; p++) out[(b * c + ch) * h * w + p] = x.data[(b * h * w + p) * c + ch]!;
  return f64(out, [n, c, h, w]);
}

/** softmax(q·kᵀ/√d)·v per head over q [N, S, heads·d] and k, v [N, L, heads·d]. */
export function attention(q: F64, k: F64, v: F64, heads: number): F64 {
  const [n, s, c] = q.shape as [number, number, number];
  const l = k.shape[1]!;
  const d = c / heads;
  const scale = 1 / Math.sqrt(d);
  const out = new Float64Array(n * s * c);
  const scores = new Float64Array(l);
  for (let b = 0; b < n; b++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < s; i++) {
        const qo = (b * s + i) * c + hd * d;
        let max = Number.NEGATIVE_INFINITY;
        for (let j = 0; j < l; j++) {
          const ko = (b * l + j) * c + hd * d;
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q.data[qo + e]! * k.data[ko + e]!;
          scores[j] = dot * scale;
          max = Math.max(max, scores[j]!);
        }
        let total = 0;
        for (let j = 0; j < l; j++) {
          scores[j] = Math.exp(scores[j]! - max);
          total += scores[j]!;
        }
        for (let j = 0; j < l; j++) {
          const p = scores[j]! / total;
          const vo = (b * l + j) * c + hd * d;
          for (let e = 0; e < d; e++) out[qo + e]! += p * v.data[vo + e]!;
        }
      }
    }
  }
  return f64(out, [n, s, c]);
}

/** Concatenation along channels of two [N, C, H, W] tensors. */
export function concatChannels(a: F64, b: F64): F64 {
  const [n, ca, h, w] = a.shape as [number, number, number, number];
  const cb = b.shape[1]!;
  const hw = h * w;
  const out = new Float64Array(n * (ca + cb) * hw);
  for (let i = 0; i < n; i++) {
    out.set(a.data.subarray(i * ca * hw, (i + 1) * ca * hw), i * (ca + cb) * hw);
    out.set(b.data.subarray(i * cb * hw, (i + 1) * cb * hw), (i * (ca + cb) + ca) * hw);
  }
  return f64(out, [n, ca + cb, h, w]);
}

/** F.interpolate(scale_factor=2, mode="nearest"). */
export function upsampleNearest2x(x: F64): F64 {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const out = new Float64Array(n * c * 4 * h * w);
  for (let p = 0; p < n * c; p++)
    for (let y = 0; y < 2 * h; y++)
      for (let xx = 0; xx < 2 * w; xx++)
        out[(p * 2 * h + y) * 2 * w + xx] = x.data[(p * h + (y >> 1)) * w + (xx >> 1)]!;
  return f64(out, [n, c, 2 * h, 2 * w]);
}
