/**
 * Time budgeting, the way cost.ts budgets memory: before a generation takes a slot, estimate how long it will hold
 * it from the checkpoint's component configs and the request, and refuse what would run longer than this server
 * allows (`AUTOPIPE_MAX_REQUEST_SECONDS`; a synchronous `generate` also `AUTOPIPE_SYNC_MAX_SECONDS`) with a
 * ResourceLimitError naming `time`, the estimate, and the argument to reduce with its largest value that fits.
 *
 * The model counts multiply-adds, split into the two kinds whose speed differs: convolutions and projections
 * (linear in the pixels) and attention scores (quadratic in the tokens of a level: the term that makes a 1024²
 * image on a checkpoint made for 64² take half an hour). In the UNet, every level's ResNet blocks (two 3×3
 * convolutions each, `layers_per_block` down and one more up) and, at levels with attention, a transformer block
 * per ResNet (projections, feed-forward, self-attention over the level's cells, cross-attention over CLIP's 77
 * tokens); in the VAE decoder, its levels from the latent up to full resolution and its mid-block attention over
 * every latent cell. Seconds per multiply-add of each kind and the cost of one `session.run` were fitted to step
 * and decode times measured on the bundled tiny checkpoint and the SD 1.5-shaped mid-sd fixture on the 2-core
 * machine this project is developed on (`npm run bench -- time-estimate` prints estimate against measurement).
 * Another machine runs at another speed: every finished generation tells the server how its measured time
 * compared with the estimate, and later estimates for that checkpoint follow (`TimeCalibration`).
 */
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import type { Config } from "../config.ts";
import { ResourceLimitError } from "../errors.ts";
import {
  type AttentionKernels,
  type CostRequest,
  type CostSpec,
  type MemoryPlan,
  readCostSpec,
} from "./cost.ts";

/** Seconds per multiply-add of the UNet's convolutions, projections and feed-forward layers. */
const S_PER_UNET_MAC = 1 / 20e9;
/** Seconds per multiply-add of the VAE's convolutions (wide maps, few channels: bound by memory, not arithmetic). */
const S_PER_VAE_MAC = 1 / 10e9;
/** Seconds per multiply-add of attention scores and their weighted sum. */
const S_PER_ATTENTION_MAC = 1 / 43e9;
/** Seconds per attention score and head (the softmax's exponential, maximum and sum: more heads, more scores). */
const S_PER_SCORE = 1e-9;
/** Seconds per ResNet or transformer block and sample: the small operators around the big ones. */
const S_PER_BLOCK = 0.002;
/** Text encoder runs, PNG encoding and the like: small, and the same whatever the size. */
const S_FIXED = 0.05;
/** CLIP's sequence length: the cross-attention keys. */
const TEXT_TOKENS = 77;

/** What the time estimate needs beyond the memory estimate's request: the loop's length. */
export interface TimeRequest extends CostRequest {
  /** Denoising loop iterations (each runs the UNet once, or twice with split guidance). */
  readonly steps: number;
}

export interface TimeEstimate {
  /** The whole run, from the first graph run to PNG bytes (loading the graphs not included), seconds. */
  readonly seconds: number;
  /** One denoising step (the whole batch, both guidance halves), seconds. */
  readonly stepSeconds: number;
  /** Decoding every image (and encoding the input, for image tasks), seconds. */
  readonly vaeSeconds: number;
  /** The calibration factor applied (measured over estimated step times of the checkpoint here; 1 if none). */
  readonly factor: number;
}

/** Seconds of one UNet evaluation of one sample at an h × w latent. */
function unetSeconds(spec: CostSpec, h: number, w: number): number {
  const layers = spec.unet.layersPerBlock;
  const last = spec.unet.channels.length - 1;
  let total = 0;
  spec.unet.channels.forEach((ch, level) => {
    const cells = Math.ceil(h / 2 ** level) * Math.ceil(w / 2 ** level);
    // Down: `layers` ResNets; up: one more (with the skip connection's channels); the mid block: two more.
    const resnets = 2 * layers + 1 + (level === last ? 2 : 0);
    total += resnets * (18 * cells * ch * ch * S_PER_UNET_MAC + S_PER_BLOCK);
    const heads = spec.unet.heads[level] ?? 0;
    if (heads > 0) {
      // One attention block per ResNet (the mid block has one for two), each of `transformer_layers_per_block`
      // transformers: projections, feed-forward, cross-attention over the text tokens, and self-attention over
      // every cell of the level.
      const blocks = resnets - (level === last ? 1 : 0);
      const transformers = blocks * (spec.unet.transformerLayers?.[level] ?? 1);
      const linear = cells * ch * (20 * ch + 2 * TEXT_TOKENS) * S_PER_UNET_MAC;
      total += transformers * (linear + selfAttention(cells, ch, heads) + S_PER_BLOCK);
    }
  });
  return total;
}

/** Seconds of one VAE pass (the decoder; the encoder with `layers` ResNets a level) over an h × w latent. */
function vaeSeconds(spec: CostSpec, h: number, w: number, layers: number): number {
  const channels = [...spec.vae.channels].reverse();
  const latentCells = h * w;
  const deepest = channels[0] ?? 512;
  // Mid block: two ResNets and one single-head attention over every latent cell, at the deepest width.
  let total =
    2 * (18 * latentCells * deepest * deepest * S_PER_VAE_MAC + S_PER_BLOCK) +
    selfAttention(latentCells, deepest, 1) +
    4 * latentCells * deepest * deepest * S_PER_VAE_MAC;
  channels.forEach((ch, level) => {
    const cells = latentCells * 4 ** level;
    total += layers * (18 * cells * ch * ch * S_PER_VAE_MAC + S_PER_BLOCK);
  });
  return total;
}

/** Self-attention over `cells` tokens of `ch` channels in `heads` heads: QKᵀ and the weighted sum, and the softmax. */
function selfAttention(cells: number, ch: number, heads: number): number {
  return cells * cells * (2 * ch * S_PER_ATTENTION_MAC + heads * S_PER_SCORE);
}

/**
 * Estimated seconds of a run under a memory plan, times `factor` (the checkpoint's calibration). Example: tiny-sd,
 * 512², one image, 10 steps with guidance: about 4 s on the 2-core development machine.
 */
export function estimateRunSeconds(
  spec: CostSpec,
  req: TimeRequest,
  plan: Pick<MemoryPlan, "splitGuidance" | "vaeTiling">,
  factor = 1,
): TimeEstimate {
  const f = spec.vaeScaleFactor;
  const h = Math.ceil(req.height / f);
  const w = Math.ceil(req.width / f);
  const samples = req.images * (req.guidance ? 2 : 1);
  const stepSeconds = samples * unetSeconds(spec, h, w);
  // Tiles cover the latent with overlap (diffusers' 25 %): about 1.8× the work, in more runs.
  const tiled = plan.vaeTiling && Math.max(h, w) > spec.vae.tileLatent;
  const tile = Math.min(h, w, spec.vae.tileLatent);
  const decode = tiled
    ? 1.8 * ((h * w) / (tile * tile)) * vaeSeconds(spec, tile, tile, spec.vae.layersPerBlock + 1)
    : vaeSeconds(spec, h, w, spec.vae.layersPerBlock + 1);
  const encode = req.encodesImage ? vaeSeconds(spec, h, w, spec.vae.layersPerBlock) : 0;
  const vae = req.images * decode + encode;
  const total = S_FIXED + req.steps * stepSeconds + vae;
  return { seconds: factor * total, stepSeconds: factor * stepSeconds, vaeSeconds: factor * vae, factor };
}

/** How long one UNet run may be estimated to take before a step is split into shorter runs (see `unetChunk`). */
export const CANCEL_WITHIN_SECONDS = 2;

/**
 * Samples per UNet run such that one run is estimated within CANCEL_WITHIN_SECONDS (at least one sample);
 * undefined when the whole step already is. onnxruntime-node cannot stop a run it started (its RunOptions parse
 * `logSeverityLevel` and `tag` only: js/node/src/run_options_helper.cc), so a cancelled request stops between runs:
 * within about that long, or one sample's run where a single sample takes longer.
 */
export function unetChunk(estimate: TimeEstimate, samples: number): number | undefined {
  if (estimate.stepSeconds <= CANCEL_WITHIN_SECONDS || samples <= 1) return undefined;
  return Math.max(1, Math.floor((CANCEL_WITHIN_SECONDS * samples) / estimate.stepSeconds));
}

/**
 * The calibration factor's bounds. Above, a first run's warm-up (arena growth, first-run kernels) must not make
 * the server refuse everything after it; below, there is room for a GPU, hundreds of times faster than the CPU
 * the constants describe.
 */
const MAX_FACTOR = 8;
const MIN_FACTOR = 1 / 1000;

/**
 * How much slower (or faster) than estimated each checkpoint ran here: measured over estimated seconds, averaged
 * over its recent generations (geometrically, the last weighing half), within [1/1000, 8]. 1 until one finished.
 */
export class TimeCalibration {
  private readonly factors = new Map<string, number>();

  /** The factor for a checkpoint id (1 before any run finished). */
  factor(model: string): number {
    return this.factors.get(model) ?? 1;
  }

  /** Records a finished run: `estimatedSeconds` uncalibrated (factor 1), `measuredSeconds` as it ran. */
  observe(model: string, estimatedSeconds: number, measuredSeconds: number): void {
    if (!(estimatedSeconds > 0) || !(measuredSeconds > 0)) return;
    const ratio = Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, measuredSeconds / estimatedSeconds));
    const previous = this.factors.get(model);
    this.factors.set(model, previous === undefined ? ratio : Math.sqrt(previous * ratio));
  }
}

/** The limits a request is checked against, seconds. */
export interface TimeLimits {
  /** Any generation (`AUTOPIPE_MAX_REQUEST_SECONDS`). */
  readonly maxSeconds: number;
  /** A synchronous `generate` (`AUTOPIPE_SYNC_MAX_SECONDS`); undefined for jobs. */
  readonly syncSeconds?: number;
}

/** The request's fields the refusal can name, as the caller gave them. */
export interface TimeFields {
  readonly numInferenceSteps: number;
}

/**
 * Throws ResourceLimitError (`resource: time`) when the estimate is over a limit, naming the argument to reduce
 * and its largest value that fits: `numInferenceSteps` while one step fits, else `numImagesPerPrompt` while one
 * image fits, else the larger of width and height. Over the per-request limit the refusal is final; over only
 * the synchronous limit it says to submit a job instead.
 */
export function admitByTime(
  spec: CostSpec,
  req: TimeRequest,
  fields: TimeFields,
  plan: Pick<MemoryPlan, "splitGuidance" | "vaeTiling">,
  factor: number,
  limits: TimeLimits,
  prefix: string,
): TimeEstimate {
  const estimate = estimateRunSeconds(spec, req, plan, factor);
  const over = (limit: number) => {
    const fits = (r: TimeRequest) => estimateRunSeconds(spec, r, plan, factor).seconds <= limit;
    const refuse = (field: string, value: number) =>
      new ResourceLimitError(`${prefix}.${field}`, value, 0, 0, {
        estimatedSeconds: estimate.seconds,
        limitSeconds: limit,
        synchronous: limit !== limits.maxSeconds,
      });
    // Steps: the loop runs `req.steps` of the `numInferenceSteps` asked (fewer with img2img strength).
    let steps = req.steps - 1;
    while (steps >= 1 && !fits({ ...req, steps })) steps--;
    if (steps >= 1) {
      const asked = Math.max(1, Math.floor((fields.numInferenceSteps * steps) / req.steps));
      return refuse("numInferenceSteps", asked);
    }
    const one = { ...req, steps: 1 };
    if (req.images > 1) {
      let n = req.images - 1;
      while (n >= 1 && !fits({ ...one, images: n })) n--;
      if (n >= 1) return refuse("numImagesPerPrompt", n);
    }
    const field = req.height > req.width ? "height" : "width";
    const m = spec.sizeMultiple;
    let lo = 0;
    let hi = Math.floor(req[field] / m);
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits({ ...one, images: 1, [field]: mid * m })) lo = mid;
      else hi = mid - 1;
    }
    return refuse(field, lo * m);
  };
  if (estimate.seconds > limits.maxSeconds) throw over(limits.maxSeconds);
  if (limits.syncSeconds !== undefined && estimate.seconds > limits.syncSeconds)
    throw over(limits.syncSeconds);
  return estimate;
}

/** One calibration per pipeline cache (per server): what its checkpoints' runs measured. */
const calibrations = new WeakMap<object, TimeCalibration>();

/** The calibration of the server whose pipeline cache is `pipelines`. */
export function calibrationFor(pipelines: object): TimeCalibration {
  let calibration = calibrations.get(pipelines);
  if (!calibration) {
    calibration = new TimeCalibration();
    calibrations.set(pipelines, calibration);
  }
  return calibration;
}

/** What `planTime` reads from the service layer. */
export interface TimeServices {
  readonly config: Pick<Config, "maxRequestSeconds" | "syncMaxSeconds" | "maxPixels">;
  readonly pipelines: object;
}

/**
 * The time estimate of a validated request under its memory plan, or a ResourceLimitError (`resource: time`).
 * `synchronous`: a `generate` that holds its HTTP response open, also held to `AUTOPIPE_SYNC_MAX_SECONDS`.
 */
export async function planTime(
  services: TimeServices,
  checkpoint: LocatedCheckpoint,
  request: {
    width: number;
    height: number;
    numImagesPerPrompt: number;
    numInferenceSteps: number;
    guidanceScale: number;
  },
  run: { steps: number; encodesImage: boolean; memory: MemoryPlan; synchronous: boolean },
  prefix: string,
  fused: AttentionKernels,
): Promise<TimeEstimate> {
  const spec = await readCostSpec(checkpoint, fused);
  const req: TimeRequest = {
    width: request.width,
    height: request.height,
    images: request.numImagesPerPrompt,
    guidance: request.guidanceScale > 1,
    encodesImage: run.encodesImage,
    steps: run.steps,
  };
  const limits: TimeLimits = {
    maxSeconds: services.config.maxRequestSeconds,
    syncSeconds: run.synchronous ? services.config.syncMaxSeconds : undefined,
  };
  const factor = calibrationFor(services.pipelines).factor(checkpoint.id);
  return admitByTime(spec, req, request, run.memory, factor, limits, prefix);
}
