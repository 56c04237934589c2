/**
 * The only code that reads weight bytes: safetensors files, validated before anything in them is trusted.
 *
 * The format (the safetensors project's README and its `safetensors/src/tensor.rs`): an 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON, then the tensor data. The JSON maps each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the first byte after the header), plus an
 * optional `__metadata__` map of strings. Pickle (`.bin`, `.ckpt`, `.pt`) is never read: it runs code.
 *
 * Validation: the header length is bounded (100 MB, as the safetensors library bounds it) and inside the file; the
 * JSON parses to an object; every tensor has a known dtype (F32, F16, BF16 — others are refused by name), a shape
 * of non-negative integers, offsets inside the data section with `end − begin = dtype size × elements`, and no two
 * tensors overlap. Nothing is read past the header until a tensor is asked for. A caller may name tensors that are not
 * weights (`OpenOptions.nonWeights`: a single file's int64 `position_ids`): validated the same, any known dtype, and
 * set aside.
 *
 * @example
 * const file = await SafetensorsFile.open("unet/diffusion_pytorch_model.safetensors");
 * const w = file.tensor("conv_in.weight"); // { dtype: "F32", shape: [320, 4, 3, 3], byteOffset, byteLength }
 * const values = await file.readFloat32("conv_in.weight");
 */
import { open, realpath, stat } from "node:fs/promises";
import { SafetensorsError } from "../errors.ts";

export type WeightDtype = "F32" | "F16" | "BF16";

const DTYPE_BYTES: Readonly<Record<WeightDtype, number>> = { F32: 4, F16: 2, BF16: 2 };
/** dtypes the format knows but weights here never use (named in the refusal), with their sizes. */
const KNOWN_OTHER: ReadonlyMap<string, number> = new Map([
  ["F64", 8],
  ["I64", 8],
  ["I32", 4],
  ["I16", 2],
  ["I8", 1],
  ["U8", 1],
  ["U16", 2],
  ["U32", 4],
  ["U64", 8],
  ["BOOL", 1],
  ["F8_E4M3", 1],
  ["F8_E5M2", 1],
]);

export interface OpenOptions {
  /**
   * Tensors that are not weights and are never read (a single file's `position_ids`, int64): they may have any
   * dtype the format knows, are validated like the others (shape, offsets, size, no overlap) and are left out of
   * `names()` / `tensor()`, listed in `nonWeights` instead. Default: none — every tensor must be F32, F16 or BF16.
   */
  readonly nonWeights?: (name: string) => boolean;
}
/** The safetensors library refuses headers above 100,000,000 bytes; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
  /** Absolute position of the first byte in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export class SafetensorsFile {
  private constructor(
    /** The path as given (for messages). */
    readonly path: string,
    /** The file itself after following links (a Hugging Face snapshot links into `blobs/`). */
    readonly realPath: string,
    readonly size: number,
    readonly metadata: Readonly<Record<string, string>>,
    private readonly entries: ReadonlyMap<string, TensorEntry>,
    /** Names of the tensors `OpenOptions.nonWeights` set aside. */
    readonly nonWeights: readonly string[] = [],
  ) {}

  /** Opens and validates `file`'s header; throws `SafetensorsError` saying what is wrong. */
  static async open(file: string, options: OpenOptions = {}): Promise<SafetensorsFile> {
    const real = await realpath(file);
    const info = await stat(real);
    const name = file.split(/[\\/]/).pop() ?? file;
    if (info.size < 8)
      throw new SafetensorsError(name, `${info.size} bytes: too short for a safetensors header`);
    const handle = await open(real, "r");
    try {
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = lengthBytes.readBigUInt64LE(0);
      if (headerLength > BigInt(MAX_HEADER_BYTES)) {
        throw new SafetensorsError(
          name,
          `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`,
        );
      }
      const n = Number(headerLength);
      if (8 + n > info.size) {
        throw new SafetensorsError(
          name,
          `header length ${n} runs past the end of the ${info.size}-byte file (truncated?)`,
        );
      }
      const header = Buffer.alloc(n);
      await handle.read(header, 0, n, 8);
      const parsed = parseHeader(name, header.toString("utf8"), 8 + n, info.size, options.nonWeights);
      return new SafetensorsFile(file, real, info.size, parsed.metadata, parsed.entries, parsed.nonWeights);
    } finally {
      await handle.close();
    }
  }

  /** Tensor names in file order of their data. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  tensor(name: string): TensorEntry | undefined {
    return this.entries.get(name);
  }

  get tensorCount(): number {
    return this.entries.size;
  }

  /** Reads one tensor's raw bytes. */
  async readBytes(name: string): Promise<Buffer> {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(this.path, `no tensor named '${name}'`);
    const handle = await open(this.realPath, "r");
    try {
      const out = Buffer.alloc(entry.byteLength);
      const { bytesRead } = await handle.read(out, 0, entry.byteLength, entry.byteOffset);
      if (bytesRead !== entry.byteLength)
        throw new SafetensorsError(this.path, `'${name}' is cut short (file changed?)`);
      return out;
    } finally {
      await handle.close();
    }
  }

  /** Reads one tensor as float32 (F16 and BF16 widened exactly). */
  async readFloat32(name: string): Promise<Float32Array> {
    const entry = this.entries.get(name);
    const bytes = await this.readBytes(name);
    return toFloat32(bytes, entry!.dtype);
  }
}

function parseHeader(
  file: string,
  text: string,
  dataStart: number,
  fileSize: number,
  nonWeight: (name: string) => boolean = () => false,
): { metadata: Record<string, string>; entries: Map<string, TensorEntry>; nonWeights: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SafetensorsError(file, "the header is not valid JSON (not a safetensors file?)");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError(file, "the header is not a JSON object");
  }
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  // Validated with the weights (bounds, overlap), then set aside.
  const set = new Set<string>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) if (typeof v === "string") metadata[k] = v;
      }
      continue;
    }
    const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof v !== "object" || v === null)
      throw new SafetensorsError(file, `tensor '${name}' is not an object`);
    const dtype = v.dtype;
    if (nonWeight(name)) set.add(name);
    const other = set.has(name) && typeof dtype === "string" ? KNOWN_OTHER.get(dtype) : undefined;
    if (typeof dtype !== "string" || (!(dtype in DTYPE_BYTES) && other === undefined)) {
      const what =
        typeof dtype === "string" && KNOWN_OTHER.has(dtype)
          ? `dtype ${dtype}`
          : `unknown dtype ${JSON.stringify(dtype)}`;
      throw new SafetensorsError(file, `tensor '${name}' has ${what}; weights must be F32, F16 or BF16`);
    }
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(file, `tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = v.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' ends at byte ${end} of a ${dataSize}-byte data section (truncated or lying header)`,
      );
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * (other ?? DTYPE_BYTES[dtype as WeightDtype]);
    if (end - begin !== expected) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' is ${dtype} ${JSON.stringify(shape)} (${expected} bytes) but its offsets span ${end - begin} bytes`,
      );
    }
    entries.push({
      name,
      dtype: dtype as WeightDtype,
      shape: shape as number[],
      byteOffset: dataStart + begin,
      byteLength: end - begin,
    });
  }
  entries.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1]!;
    const cur = entries[i]!;
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new SafetensorsError(file, `tensors '${prev.name}' and '${cur.name}' overlap`);
    }
  }
  const weights = entries.filter((e) => !set.has(e.name));
  return { metadata, entries: new Map(weights.map((e) => [e.name, e])), nonWeights: [...set] };
}

/** Widens F16/BF16 little-endian bytes to float32 exactly; F32 is copied. */
export function toFloat32(bytes: Uint8Array, dtype: WeightDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  if (dtype === "F32") {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  } else if (dtype === "BF16") {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = view.getUint16(2 * i, true) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
