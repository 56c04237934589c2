/**
 * One LoRA adapter file read: its convention (diffusers / PEFT or kohya, ./lora-names.ts), the layers it patches
 * (down and up factors, rank, alpha), the components it touches, the family its shapes tell (SD 1.x, 2.x, XL) and
 * the keys it holds that are not LoRA factors (LyCORIS `hada_`/`lokr_`, DoRA `dora_scale`: reported, not applied).
 * `inspectLoraFile` reads the header only (the `loras` query); `loadLoraFile` also reads the factors, as float32.
 *
 * Alpha: kohya files carry an `.alpha` tensor per layer. diffusers / PEFT files carry none; diffusers ≥ 0.34 writes
 * the PEFT LoraConfig of each component into the header's `lora_adapter_metadata` (`unet.lora_alpha`,
 * `unet.alpha_pattern` {module: alpha} for the layers that differ, `unet.use_rslora`), which is read here:
 * alpha(module) = the alpha_pattern entry naming the module (exactly or as a '.'-separated suffix), else
 * lora_alpha. Without either, alpha = rank (factor 1, as diffusers applies such files). The factor a layer's
 * delta gets is scale × alpha / rank (alpha / √rank with `use_rslora`).
 */
import { open } from "node:fs/promises";
import { endianness } from "node:os";
import { SafetensorsError } from "../errors.ts";
import { SafetensorsFile, type TensorEntry, toFloat32 } from "../safetensors/safetensors-file.ts";
import {
  isKohyaKey,
  LORA_COMPONENTS,
  type LoraComponent,
  type LoraKey,
  parseDiffusersKey,
  parseKohyaKey,
} from "./lora-names.ts";

export type LoraFormat = "DIFFUSERS" | "KOHYA";
export type LoraFamily = "SD1" | "SD2" | "SDXL";

/** One patched layer, as the file names it. */
export interface LoraLayerEntry {
  readonly component: LoraComponent;
  /** diffusers: the module name; kohya: the underscored name after the prefix. */
  readonly module: string;
  /** The file's key of the down factor (messages). */
  readonly downKey: string;
  readonly down: TensorEntry;
  readonly up: TensorEntry;
  readonly rank: number;
  /** scale-independent factor: alpha / rank (or alpha / √rank with rsLoRA). */
  readonly factor: number;
}

export interface LoraFileInfo {
  readonly format: LoraFormat;
  readonly layers: readonly LoraLayerEntry[];
  readonly components: readonly LoraComponent[];
  /** The largest rank of its layers. */
  readonly rank: number;
  readonly family: LoraFamily | null;
  readonly bytes: number;
  /** Keys that are neither a factor nor an alpha of a layer (not applied; reported in notes). */
  readonly ignoredKeys: readonly string[];
}

/** The factors of a loaded adapter, by down key. */
export interface LoadedLora extends LoraFileInfo {
  readonly data: ReadonlyMap<string, { readonly down: Float32Array; readonly up: Float32Array }>;
}

/** Reads an adapter's header; throws `SafetensorsError` for a file that is not a LoRA adapter. */
export async function inspectLoraFile(file: string, name = file): Promise<LoraFileInfo> {
  const st = await SafetensorsFile.open(file);
  return parseLora(st, name, await alphaTensors(st));
}

/**
 * Reads an adapter with its factors (float32): each factor read straight into its own array (F32 on a
 * little-endian host) or widened from F16 / BF16, so no copy of the whole file is ever held.
 */
export async function loadLoraFile(file: string, name = file): Promise<LoadedLora> {
  const st = await SafetensorsFile.open(file);
  const info = parseLora(st, name, await alphaTensors(st));
  const handle = await open(st.realPath, "r");
  try {
    const read = async (e: TensorEntry): Promise<Float32Array> => {
      const bytes =
        e.dtype === "F32" && LITTLE_ENDIAN
          ? new Uint8Array(new Float32Array(e.byteLength / 4).buffer)
          : new Uint8Array(e.byteLength);
      const { bytesRead } = await handle.read(bytes, 0, e.byteLength, e.byteOffset);
      if (bytesRead !== e.byteLength)
        throw new SafetensorsError(name, `'${e.name}' is cut short (file changed?)`);
      return e.dtype === "F32" && LITTLE_ENDIAN ? new Float32Array(bytes.buffer) : toFloat32(bytes, e.dtype);
    };
    const data = new Map<string, { down: Float32Array; up: Float32Array }>();
    for (const layer of info.layers) {
      data.set(layer.downKey, { down: await read(layer.down), up: await read(layer.up) });
    }
    return { ...info, data };
  } finally {
    await handle.close();
  }
}

const LITTLE_ENDIAN = endianness() === "LE";

async function alphaTensors(st: SafetensorsFile): Promise<Map<string, number>> {
  const alphas = new Map<string, number>();
  for (const key of st.names()) {
    const e = st.tensor(key)!;
    if (key.endsWith(".alpha") && e.shape.reduce((a, b) => a * b, 1) === 1) {
      alphas.set(key, toFloat32(await st.readBytes(key), e.dtype)[0]!);
    }
  }
  return alphas;
}

interface Group {
  down?: [string, TensorEntry];
  up?: [string, TensorEntry];
  alpha?: number;
}

function parseLora(st: SafetensorsFile, name: string, alphas: ReadonlyMap<string, number>): LoraFileInfo {
  const keys = st.names();
  const format: LoraFormat = keys.some(isKohyaKey) ? "KOHYA" : "DIFFUSERS";
  const parse = format === "KOHYA" ? parseKohyaKey : parseDiffusersKey;
  const groups = new Map<string, Group & { key: LoraKey }>();
  const ignoredKeys: string[] = [];
  for (const key of keys) {
    const parsed = parse(key);
    if (!parsed) {
      ignoredKeys.push(key);
      continue;
    }
    const id = `${parsed.component}.${parsed.module}`;
    const group = groups.get(id) ?? { key: parsed };
    groups.set(id, group);
    const entry = st.tensor(key)!;
    if (parsed.part === "alpha") group.alpha = alphas.get(key);
    else group[parsed.part] = [key, entry];
  }
  const config = peftConfig(st.metadata);
  const layers: LoraLayerEntry[] = [];
  for (const group of groups.values()) {
    if (!group.down || !group.up) {
      throw new SafetensorsError(
        name,
        `LoRA layer '${group.key.module}' (${group.key.component}) has ${group.down ? "no up" : "no down"} factor`,
      );
    }
    const [downKey, down] = group.down;
    const up = group.up[1];
    const rank = down.shape[0] ?? 0;
    if (rank < 1 || down.shape.length < 2 || up.shape.length < 2 || up.shape[1] !== rank) {
      throw new SafetensorsError(
        name,
        `LoRA layer '${group.key.module}': down [${down.shape.join(", ")}] and up [${up.shape.join(", ")}] do not share a rank`,
      );
    }
    const peft = config.get(group.key.component);
    const alpha = group.alpha ?? peft?.alpha(group.key.module) ?? rank;
    const factor = peft?.rsLora ? alpha / Math.sqrt(rank) : alpha / rank;
    layers.push({
      component: group.key.component,
      module: group.key.module,
      downKey,
      down,
      up,
      rank,
      factor,
    });
  }
  if (layers.length === 0)
    throw new SafetensorsError(name, "holds no LoRA layer (lora_A/lora_B or lora_down/lora_up)");
  const components = LORA_COMPONENTS.filter((c) => layers.some((l) => l.component === c));
  return {
    format,
    layers,
    components,
    rank: Math.max(...layers.map((l) => l.rank)),
    family: familyOf(layers, st.metadata),
    bytes: st.size,
    ignoredKeys,
  };
}

interface PeftComponentConfig {
  alpha(module: string): number | undefined;
  readonly rsLora: boolean;
}

/** `lora_adapter_metadata` (diffusers ≥ 0.34): the PEFT LoraConfig fields of each component, prefixed. */
function peftConfig(metadata: Readonly<Record<string, string>>): Map<LoraComponent, PeftComponentConfig> {
  const out = new Map<LoraComponent, PeftComponentConfig>();
  const raw = metadata.lora_adapter_metadata;
  if (!raw) return out;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return out;
  }
  for (const component of LORA_COMPONENTS) {
    const field = (k: string) => json[`${component}.${k}`];
    const alpha = field("lora_alpha");
    const pattern = field("alpha_pattern");
    if (typeof alpha !== "number" && !pattern) continue;
    const entries =
      pattern && typeof pattern === "object" ? Object.entries(pattern as Record<string, unknown>) : [];
    out.set(component, {
      alpha(module) {
        const hit = entries.find(([k]) => module === k || module.endsWith(`.${k}`));
        if (hit && typeof hit[1] === "number") return hit[1];
        return typeof alpha === "number" ? alpha : undefined;
      },
      rsLora: field("use_rslora") === true,
    });
  }
  return out;
}

/**
 * The family the shapes tell: a second text encoder or SGM-named UNet blocks → SDXL; else the width the
 * cross-attention keys / text encoder take (768: SD 1.x, 1024: SD 2.x, 2048: SDXL). Null when nothing decides.
 */
function familyOf(
  layers: readonly LoraLayerEntry[],
  metadata: Readonly<Record<string, string>>,
): LoraFamily | null {
  if (layers.some((l) => l.component === "text_encoder_2")) return "SDXL";
  if (/sdxl/i.test(metadata.ss_base_model_version ?? "")) return "SDXL";
  const width = (test: (l: LoraLayerEntry) => boolean) => layers.find(test)?.down.shape[1];
  const cross = width((l) => l.component === "unet" && /attn2[._]to_k$/.test(l.module));
  const text = width((l) => l.component === "text_encoder" && /self_attn[._]q_proj$/.test(l.module));
  const byWidth: Record<number, LoraFamily> = { 768: "SD1", 1024: "SD2", 2048: "SDXL" };
  return (
    (cross !== undefined ? byWidth[cross] : undefined) ??
    (text !== undefined ? byWidth[text] : undefined) ??
    null
  );
}
