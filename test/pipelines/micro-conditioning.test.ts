/**
 * SDXL's time ids as diffusers' `_get_add_time_ids` builds them, for base checkpoints (sizes and crop) and
 * refiner-style ones (`requires_aesthetics_score`: aesthetic scores, negative crop (0, 0)); the notes for fields a
 * checkpoint ignores; and the typed errors for bad values.
 */
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../server/errors.ts";
import {
  addTimeIds,
  validateXlConditioning,
  xlConditioningNotes,
} from "../../server/pipelines/micro-conditioning.ts";

const BASE = { forceZerosForEmptyPrompt: true, requiresAestheticsScore: false };
const REFINER = { forceZerosForEmptyPrompt: false, requiresAestheticsScore: true };
const SIZE = { width: 96, height: 64 };

const rows = (t: { data: Float32Array; dims: readonly number[] }) => {
  const width = t.dims[1]!;
  return Array.from({ length: t.dims[0]! }, (_, i) => [...t.data.subarray(i * width, (i + 1) * width)]);
};

describe("addTimeIds", () => {
  it("defaults to [H, W, 0, 0, H, W], negative rows first, one per image", () => {
    const ids = addTimeIds("TEXT_TO_IMAGE", BASE, {}, SIZE, 2, true);
    expect(ids.dims).toEqual([4, 6]);
    expect(rows(ids)).toEqual(Array(4).fill([64, 96, 0, 0, 64, 96]));
  });

  it("maps SizeInput / PointInput onto diffusers' (height, width) and (top, left)", () => {
    const given = {
      originalSize: { width: 1024, height: 768 },
      cropsCoordsTopLeft: { x: 16, y: 8 },
      targetSize: { width: 512, height: 256 },
    };
    const ids = addTimeIds("IMAGE_TO_IMAGE", BASE, given, SIZE, 1, false);
    expect(rows(ids)).toEqual([[768, 1024, 8, 16, 256, 512]]);
  });

  it("refiners' image tasks end in the aesthetic score; the negative crop stays (0, 0)", () => {
    const given = { originalSize: { width: 1024, height: 768 }, cropsCoordsTopLeft: { x: 16, y: 8 } };
    expect(rows(addTimeIds("INPAINTING", REFINER, given, SIZE, 1, true))).toEqual([
      [768, 1024, 0, 0, 2.5],
      [768, 1024, 8, 16, 6],
    ]);
    const scored = { aestheticScore: 7.5, negativeAestheticScore: 1 };
    expect(rows(addTimeIds("IMAGE_TO_IMAGE", REFINER, scored, SIZE, 1, true))).toEqual([
      [64, 96, 0, 0, 1],
      [64, 96, 0, 0, 7.5],
    ]);
  });
});

describe("xlConditioningNotes", () => {
  const all = validateXlConditioning(
    {
      originalSize: { width: 64, height: 64 },
      targetSize: { width: 64, height: 64 },
      cropsCoordsTopLeft: { x: 0, y: 0 },
      aestheticScore: 6,
      negativeAestheticScore: 2.5,
    },
    "p",
  );
  const ignored = (notes: string[]) => notes.map((n) => n.split(" ")[0]);

  it("a non-SDXL checkpoint ignores every field", () => {
    expect(ignored(xlConditioningNotes("TEXT_TO_IMAGE", null, all))).toEqual(Object.keys(all));
  });
  it("SDXL text-to-image ignores the aesthetic scores", () => {
    expect(ignored(xlConditioningNotes("TEXT_TO_IMAGE", BASE, all))).toEqual([
      "aestheticScore",
      "negativeAestheticScore",
    ]);
    expect(ignored(xlConditioningNotes("IMAGE_TO_IMAGE", BASE, all))).toEqual([
      "aestheticScore",
      "negativeAestheticScore",
    ]);
  });
  it("a refiner's image tasks ignore targetSize", () => {
    expect(ignored(xlConditioningNotes("INPAINTING", REFINER, all))).toEqual(["targetSize"]);
  });
  it("nothing given, nothing noted", () => {
    expect(xlConditioningNotes("TEXT_TO_IMAGE", null, {})).toEqual([]);
  });
});

describe("validateXlConditioning", () => {
  it.each([
    [{ originalSize: { width: 0, height: 64 } }, "t.originalSize.width", "0"],
    [{ targetSize: { width: 64, height: 1e9 } }, "t.targetSize.height", "1000000000"],
    [{ cropsCoordsTopLeft: { x: -1, y: 0 } }, "t.cropsCoordsTopLeft.x", "-1"],
    [{ aestheticScore: Number.NaN }, "t.aestheticScore", "NaN"],
  ])("%o → InvalidInputError on %s", (input, field, value) => {
    let caught: unknown;
    try {
      validateXlConditioning(input, "t");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidInputError);
    expect(caught).toMatchObject({ field, value });
  });
});
