/**
 * Random LoRA adapters for the benchmarks, in the diffusers/PEFT convention (`unet.<module>.lora_A.weight` /
 * `lora_B.weight`, alpha = rank in `lora_adapter_metadata`), for the layers a typical adapter patches: the UNet's
 * attention q/k/v/out, feed-forward and proj_in/proj_out, the text encoder's q/k/v/out and fc1/fc2. The layer list
 * and shapes come from the checkpoint's own layer table (server/models/build-component.ts `componentLoraLayers`).
 */
import path from "node:path";
import { componentLoraLayers } from "../server/models/build-component.ts";
import { modelModule } from "../server/models/registry.ts";
import { writeTensors } from "./safetensors-writer.ts";

const TARGETS =
  /(\.to_(q|k|v)|\.to_out\.0|\.ff\.net\.(0\.proj|2)|\.proj_(in|out)|\.(q|k|v|out)_proj|\.fc(1|2))$/;

/** Writes a rank-`rank` adapter for `checkpoint` (a diffusers-layout folder) to `file`; returns its size. */
export async function writeRandomLora(checkpoint: string, file: string, rank: number, seed: number) {
  const tensors = new Map<string, { shape: number[]; scale: number }>();
  for (const [component, stem] of [
    ["unet", "diffusion_pytorch_model"],
    ["text_encoder", "model"],
  ] as const) {
    const layers = await componentLoraLayers(
      {
        component,
        configFile: path.join(checkpoint, component, "config.json"),
        weightFiles: [path.join(checkpoint, component, `${stem}.safetensors`)],
      },
      modelModule(component).build,
    );
    for (const [module, layer] of layers) {
      if (!TARGETS.test(module)) continue;
      const [inF, outF] =
        layer.kind === "linear"
          ? [layer.inFeatures, layer.outFeatures]
          : [layer.inChannels, layer.outChannels];
      tensors.set(`${component}.${module}.lora_A.weight`, { shape: [rank, inF], scale: 1 / Math.sqrt(inF) });
      tensors.set(`${component}.${module}.lora_B.weight`, { shape: [outF, rank], scale: 0.01 });
    }
  }
  const metadata = {
    format: "pt",
    lora_adapter_metadata: JSON.stringify({
      "unet.r": rank,
      "unet.lora_alpha": rank,
      "text_encoder.r": rank,
      "text_encoder.lora_alpha": rank,
    }),
  };
  return writeTensors(file, tensors, metadata, seed);
}
