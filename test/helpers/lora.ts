/** Test helpers for LoRA adapters: the fixture folder (adapters, reference cases, per-component outputs). */
import { fileURLToPath } from "node:url";

/** test/fixtures/diffusers-lora/ (its README describes adapters, cases and verify/). */
export const LORA_FIXTURES = fileURLToPath(new URL("../fixtures/diffusers-lora/", import.meta.url));
