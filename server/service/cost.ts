/**
 * Cost-based admission: before a generation takes a slot, estimate its peak memory from the checkpoint's component
 * configs and the request, pick the cheapest way to run it that still matches diffusers' default where possible
 * (whole batch, whole-image VAE decode; then the two guidance halves one after the other; then the VAE decoded in
 * overlapping tiles, diffusers' `enable_vae_tiling`), and refuse what cannot fit the budget with a
 * ResourceLimitError naming the field to reduce and its largest value that fits.
 *
 * The model counts float32 activations the ONNX graphs hold at once, stage by stage: in the UNet, the feature maps
 * of every level (skip connections stay alive) and, where its attention runs as exported, the self-attention scores
 * (batch × heads × tokens², the term that explodes with size); in the VAE, the feature maps at full resolution and,
 * unfused, its mid-block attention scores (one head over every latent cell). Attention the runtime fused into one
 * flash-attention kernel (runtime/graph/fuse-attention.ts) holds no score matrix: its memory is linear in the
 * tokens and already counted with the feature maps. Constants are fitted to peak resident memory measured on the
 * bundled tiny checkpoint and the SD 1.5-shaped mid-sd fixture (bench/memory-peak.ts), rounded up so the estimate
 * stays above the measurement: with fused attention, measured peaks were 0.36–0.74 of the estimate from 512² to
 * 1024² (mid-sd 512²: 0.78 GB measured, 1.06 GB estimated; 1024²: 0.89 GB, 2.2 GB).
 * Budget: `AUTOPIPE_MEMORY_BUDGET_BYTES`, else 60 % of total memory less the weights the pipeline cache holds,
 * shared by `AUTOPIPE_MAX_CONCURRENT` generations.
 */
import { readdir, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { readConfigFile } from "../checkpoints/config-file.ts";
import type { LocatedCheckpoint } from "../checkpoints/locate.ts";
import { checkpointFile } from "../checkpoints/paths.ts";
import type { Config } from "../config.ts";
import { ResourceLimitError } from "../errors.ts";

const F32 = 4;
/** Copies of the largest attention score matrix alive at once (scores, scaled scores, softmax, arena slack). */
const K_ATTENTION = 6;
/** Feature-map bytes alive per level, in multiples of one (batch × channels × cells) map. */
const K_UNET_LEVEL = 8;
/** Full-resolution VAE feature maps alive at once (conv input, output, normalisation, upsampling). */
const K_VAE_FULL_RES = 6;
/**
 * Runtime scratch beyond the model above (text encoder, scheduler state, convolution buffers) and the C heap's
 * slack: the VAE's maps near the allocator's mmap threshold stay on the heap, and the mid-sd fixture's 512² decode
 * peaked 0.3–0.45 GB above its larger sizes' trend (bench/memory-peak.ts).
 */
const OVERHEAD_BYTES = 640 * 2 ** 20;
/** CLIP's sequence length: the cross-attention keys. */
const TEXT_TOKENS = 77;

/** What the estimate needs from a checkpoint, read from its component configs (SD 1.5's when absent). */
export interface CostSpec {
  readonly vaeScaleFactor: number;
  /** Width and height must be multiples of this. */
  readonly sizeMultiple: number;
  /** Default width/height in pixels (UNet sample_size × VAE factor). */
  readonly defaultSize: number;
  readonly unet: {
    readonly channels: readonly number[];
    /** Attention heads per level, 0 where the level has no attention. */
    readonly heads: readonly number[];
    readonly layersPerBlock: number;
    /** Transformer layers in each attention block, per level (SDXL: 1, 2, 10); absent: 1 everywhere. */
    readonly transformerLayers?: readonly number[];
  };
  readonly vae: {
    readonly channels: readonly number[];
    /** diffusers' tile_latent_min_size: the VAE's sample_size / factor. */
    readonly tileLatent: number;
    /** ResNets per encoder level (the decoder has one more). */
    readonly layersPerBlock: number;
  };
  /** Weight bytes of the graphs on disk (held once loaded). */
  readonly weightBytes: number;
  /** Which stages run their attention fused (see `AttentionKernels`). */
  readonly fused: AttentionKernels;
}

/** Whether each stage's attention runs fused (flash attention, linear memory) or as exported (quadratic). */
export interface AttentionKernels {
  readonly unet: boolean;
  readonly vaeDecoder: boolean;
  readonly vaeEncoder: boolean;
}

export interface CostRequest {
  readonly width: number;
  readonly height: number;
  readonly images: number;
  readonly guidance: boolean;
  /** Image tasks run the VAE encoder on the input at full size. */
  readonly encodesImage: boolean;
}

export interface MemoryPlan {
  /** Run the UNet on the unconditional and conditional halves one after the other. */
  readonly splitGuidance: boolean;
  /** Decode the VAE in overlapping tiles, blended (diffusers' enable_vae_tiling). */
  readonly vaeTiling: boolean;
  /** Estimated peak bytes of the run (weights not yet loaded included). */
  readonly bytes: number;
  /** diffusers' tile_latent_min_size for this checkpoint's VAE. */
  readonly vaeTileLatent?: number;
  /** The attention kernels the estimate assumed (a load that finds otherwise re-plans). */
  readonly fused?: AttentionKernels;
}

/** Estimated peak bytes of one run under a plan, weights excluded. */
export function estimateRunBytes(spec: CostSpec, req: CostRequest, plan: Omit<MemoryPlan, "bytes">): number {
  const f = spec.vaeScaleFactor;
  const h = Math.ceil(req.height / f);
  const w = Math.ceil(req.width / f);
  const batch = req.images * (req.guidance && !plan.splitGuidance ? 2 : 1);
  // UNet: the largest attention (scores per head over the level's cells), plus every level's feature maps.
  let attention = 0;
  let maps = 0;
  spec.unet.channels.forEach((channels, level) => {
    const cells = Math.ceil(h / 2 ** level) * Math.ceil(w / 2 ** level);
    const heads = spec.unet.heads[level] ?? 0;
    if (heads > 0 && !spec.fused.unet)
      attention = Math.max(attention, batch * heads * cells * (cells + TEXT_TOKENS) * F32);
    maps += batch * channels * cells * F32 * (spec.unet.layersPerBlock + 1);
  });
  const unet = K_ATTENTION * attention + K_UNET_LEVEL * maps;
  const vaeDecode = vaeBytes(
    spec,
    plan.vaeTiling ? Math.min(h, spec.vae.tileLatent) : h,
    plan.vaeTiling ? Math.min(w, spec.vae.tileLatent) : w,
    spec.fused.vaeDecoder,
  );
  const vaeEncode = req.encodesImage ? vaeBytes(spec, h, w, spec.fused.vaeEncoder) : 0;
  // Decoded images (NCHW, then NHWC) and the latents stay alive through the decode.
  const outputs = 2 * req.images * 3 * req.width * req.height * F32;
  return OVERHEAD_BYTES + Math.max(unet, vaeDecode + outputs, vaeEncode);
}

/** One VAE pass (decoder or encoder) over an h × w latent: full-resolution maps and, unfused, the attention scores. */
function vaeBytes(spec: CostSpec, h: number, w: number, fused: boolean): number {
  const cells = h * w;
  const f = spec.vaeScaleFactor;
  const fullResChannels = spec.vae.channels[Math.min(1, spec.vae.channels.length - 1)] ?? 128;
  const attention = fused ? 0 : K_ATTENTION * cells * cells * F32;
  return attention + K_VAE_FULL_RES * fullResChannels * cells * f * f * F32;
}

/** The plans tried, cheapest-to-parity first: diffusers' default, then split guidance, then tiling too. */
const PLANS: readonly Omit<MemoryPlan, "bytes">[] = [
  { splitGuidance: false, vaeTiling: false },
  { splitGuidance: true, vaeTiling: false },
  { splitGuidance: false, vaeTiling: true },
  { splitGuidance: true, vaeTiling: true },
];

/** The first plan that fits `budget`, or null. */
export function choosePlan(
  spec: CostSpec,
  req: CostRequest,
  budget: number,
  loadedWeights: number,
): MemoryPlan | null {
  for (const plan of PLANS) {
    const bytes = estimateRunBytes(spec, req, plan) + loadedWeights;
    if (bytes <= budget) return { ...plan, bytes, vaeTileLatent: spec.vae.tileLatent, fused: spec.fused };
  }
  return null;
}

/** The per-generation budget: configured, or 60 % of memory less the cache's weights, shared by the slots. */
export function generationBudget(
  config: Pick<Config, "memoryBudgetBytes" | "maxConcurrent">,
  cachedBytes: number,
): number {
  if (config.memoryBudgetBytes !== undefined)
    return Math.floor(config.memoryBudgetBytes / config.maxConcurrent);
  return Math.floor(Math.max(0, 0.6 * os.totalmem() - cachedBytes) / config.maxConcurrent);
}

/**
 * Picks the plan for a request or throws ResourceLimitError naming the field to reduce: `numImagesPerPrompt`
 * when fewer images would fit, else the larger of width and height with its largest fitting multiple.
 */
export function admitByCost(
  spec: CostSpec,
  req: CostRequest,
  budget: number,
  unloadedWeights: number,
  prefix: string,
): MemoryPlan {
  const plan = choosePlan(spec, req, budget, unloadedWeights);
  if (plan) return plan;
  const needed = estimateRunBytes(spec, req, { splitGuidance: true, vaeTiling: true }) + unloadedWeights;
  const fits = (r: CostRequest) => choosePlan(spec, r, budget, unloadedWeights) !== null;
  if (req.images > 1) {
    let n = req.images - 1;
    while (n >= 1 && !fits({ ...req, images: n })) n--;
    if (n >= 1) throw new ResourceLimitError(`${prefix}.numImagesPerPrompt`, n, needed, budget);
  }
  const one = { ...req, images: 1 };
  const field = req.height > req.width ? "height" : "width";
  const m = spec.sizeMultiple;
  // Binary search over multiples of m up to the requested value (fitting is monotone in each dimension).
  let lo = 0;
  let hi = Math.floor(req[field] / m);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits({ ...one, [field]: mid * m })) lo = mid;
    else hi = mid - 1;
  }
  throw new ResourceLimitError(`${prefix}.${field}`, lo * m, needed, budget);
}

/**
 * Reads a checkpoint's cost spec from its configs (UNet, VAE) and the sizes of its graphs; `fused` says which
 * stages will run fused attention (SdComponents.attentionFused).
 */
export async function readCostSpec(
  checkpoint: LocatedCheckpoint,
  fused: AttentionKernels,
): Promise<CostSpec> {
  const unet = (await readConfigFile(checkpoint, "unet/config.json")) ?? {};
  const vae =
    (await readConfigFile(checkpoint, "vae_decoder/config.json")) ??
    (await readConfigFile(checkpoint, "vae/config.json")) ??
    {};
  const numbers = (v: unknown, fallback: number[]) =>
    Array.isArray(v) && v.every((x) => typeof x === "number") ? (v as number[]) : fallback;
  const unetChannels = numbers(unet.block_out_channels, [320, 640, 1280, 1280]);
  const vaeChannels = numbers(vae.block_out_channels, [128, 256, 512, 512]);
  const downTypes = Array.isArray(unet.down_block_types)
    ? (unet.down_block_types as unknown[]).map(String)
    : ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
  // diffusers' legacy naming: attention_head_dim is the head count when num_attention_heads is unset.
  const headsConfig = unet.num_attention_heads ?? unet.attention_head_dim ?? 8;
  const headsAt = (level: number) =>
    Array.isArray(headsConfig) ? Number(headsConfig[level] ?? 8) : Number(headsConfig) || 8;
  const last = unetChannels.length - 1;
  const heads = unetChannels.map((_, level) => {
    const attention =
      downTypes[level]?.includes("CrossAttn") ||
      (level === last && String(unet.mid_block_type ?? "UNetMidBlock2DCrossAttn").includes("Attn"));
    return attention ? headsAt(level) : 0;
  });
  const vaeScaleFactor = 2 ** (vaeChannels.length - 1);
  const sampleSize =
    typeof unet.sample_size === "number" ? unet.sample_size : Math.round(512 / vaeScaleFactor);
  const vaeSample = typeof vae.sample_size === "number" ? vae.sample_size : 512;
  return {
    vaeScaleFactor,
    sizeMultiple: vaeScaleFactor * 2 ** last,
    defaultSize: sampleSize * vaeScaleFactor,
    unet: {
      channels: unetChannels,
      heads,
      layersPerBlock: typeof unet.layers_per_block === "number" ? unet.layers_per_block : 2,
      transformerLayers: unetChannels.map((_, level) => {
        const layers = unet.transformer_layers_per_block;
        const value = Array.isArray(layers) ? layers[level] : layers;
        return typeof value === "number" && value > 0 ? value : 1;
      }),
    },
    vae: {
      channels: vaeChannels,
      tileLatent: Math.max(1, Math.floor(vaeSample / vaeScaleFactor)),
      layersPerBlock: typeof vae.layers_per_block === "number" ? vae.layers_per_block : 2,
    },
    weightBytes: await weightBytes(checkpoint),
    fused,
  };
}

async function weightBytes(checkpoint: LocatedCheckpoint): Promise<number> {
  let total = 0;
  for (const component of ["text_encoder", "unet", "vae_decoder", "vae_encoder"]) {
    let names: string[];
    try {
      names = await readdir(path.join(checkpoint.dir, component));
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith(".json")) continue;
      try {
        total += (await stat(await checkpointFile(checkpoint, `${component}/${name}`))).size;
      } catch {
        // Not inside the checkpoint, or gone: the load will say so.
      }
    }
  }
  return total;
}

/** What `planMemory` reads from the service layer. */
export interface CostServices {
  readonly config: Pick<Config, "memoryBudgetBytes" | "maxConcurrent" | "maxPixels">;
  readonly pipelines: { has(checkpoint: LocatedCheckpoint): boolean; totalBytes(): number };
}

/**
 * The memory plan for a validated request, or a ResourceLimitError. Width and height default as the pipeline
 * will default them (the input image's size, else the UNet's sample size); the pipeline checks them again.
 */
export async function planMemory(
  services: CostServices,
  checkpoint: LocatedCheckpoint,
  request: {
    width?: number | null;
    height?: number | null;
    numImagesPerPrompt: number;
    guidanceScale: number;
  },
  images: { defaultSize(facts: { sizeMultiple: number }): { width: number; height: number } } | undefined,
  prefix: string,
  fused: AttentionKernels,
  /** Bytes the request's LoRA adapters add while it runs (their factors, combined; see loras/lora-request.ts). */
  adapterBytes = 0,
): Promise<MemoryPlan> {
  const spec = await readCostSpec(checkpoint, fused);
  const fallback = images?.defaultSize(spec);
  const req: CostRequest = {
    width: request.width ?? fallback?.width ?? spec.defaultSize,
    height: request.height ?? fallback?.height ?? spec.defaultSize,
    images: request.numImagesPerPrompt,
    guidance: request.guidanceScale > 1,
    encodesImage: images !== undefined,
  };
  // A size the pipeline will refuse anyway (not a positive multiple, over AUTOPIPE_MAX_PIXELS) gets that
  // InvalidInputError from validation rather than a memory refusal.
  const valid = (v: number) => Number.isInteger(v) && v > 0 && v % spec.sizeMultiple === 0;
  if (!valid(req.width) || !valid(req.height) || req.width * req.height > services.config.maxPixels) {
    return { splitGuidance: false, vaeTiling: false, bytes: 0, fused };
  }
  const budget = generationBudget(services.config, services.pipelines.totalBytes());
  const unloaded = (services.pipelines.has(checkpoint) ? 0 : spec.weightBytes) + adapterBytes;
  return admitByCost(spec, req, budget, unloaded, prefix);
}
