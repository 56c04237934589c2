/**
 * readImageInput: uploads (declared size checked first, streamed bytes counted), plain base64 and data URLs,
 * size limits computed before decoding, malformed base64, URLs that are never fetched, and neither/both set.
 */
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../server/errors.ts";
import { decodeBase64Input, readImageInput } from "../../server/image/read-input.ts";

const OPTS = { field: "input.inpainting.maskImage", maxBytes: 100 };
const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 53) % 256);
const b64 = Buffer.from(bytes).toString("base64");

async function refusal(promise: Promise<unknown>): Promise<InvalidInputError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as InvalidInputError).field).toBe(OPTS.field);
  return error as InvalidInputError;
}

describe("uploads", () => {
  it("reads a File up to maxBytes", async () => {
    const out = await readImageInput({ upload: new File([bytes], "a.png", { type: "image/png" }) }, OPTS);
    expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
  });

  it("reads a File delivered in several chunks", async () => {
    const file = new File([bytes.subarray(0, 10), bytes.subarray(10, 60), bytes.subarray(60)], "a.png");
    expect(Array.from(await readImageInput({ upload: file }, OPTS))).toEqual(Array.from(bytes));
  });

  it("refuses a File whose size is over maxBytes without reading it", async () => {
    let streamed = false;
    const big = new File([new Uint8Array(101)], "big.png");
    Object.defineProperty(big, "stream", {
      value: () => {
        streamed = true;
        return new Blob([]).stream();
      },
    });
    const error = await refusal(readImageInput({ upload: big }, OPTS));
    expect(error.value).toBe("an upload of 101 bytes");
    expect(error.allowed).toBe("at most 100 bytes");
    expect(streamed).toBe(false);
  });

  it("stops reading a stream that delivers more than its declared size", async () => {
    let pulls = 0;
    const liar = {
      size: 10,
      stream: () =>
        new ReadableStream<Uint8Array>({
          pull(controller) {
            pulls++;
            controller.enqueue(new Uint8Array(64));
          },
        }),
      arrayBuffer: () => Promise.reject(new Error("not used")),
    } as unknown as File;
    const error = await refusal(readImageInput({ upload: liar }, OPTS));
    expect(error.value).toBe("an upload of more than 100 bytes");
    expect(pulls).toBeLessThanOrEqual(3);
  });

  it("refuses a non-file where the upload should be", async () => {
    const error = await refusal(readImageInput({ upload: "nope" as unknown as File }, OPTS));
    expect(error.value).toMatch(/file upload was expected/);
  });
});

describe("base64", () => {
  it("accepts plain, wrapped, unpadded and URL-safe base64", async () => {
    const wrapped = b64.replace(/(.{20})/g, "$1\n");
    const unpadded = b64.replace(/=+$/, "");
    const urlSafe = Buffer.from(bytes).toString("base64url");
    for (const text of [b64, ` ${wrapped} `, unpadded, urlSafe]) {
      expect(Array.from(await readImageInput({ base64: text }, OPTS))).toEqual(Array.from(bytes));
    }
    expect(Array.from(decodeBase64Input("abc=", OPTS))).toEqual([0x69, 0xb7]);
  });

  it("accepts data:image/…;base64, URLs", async () => {
    for (const prefix of [
      "data:image/png;base64,",
      "DATA:image/jpeg;name=x.jpg;base64,",
      "data:image/webp;BASE64,",
    ]) {
      expect(Array.from(await readImageInput({ base64: prefix + b64 }, OPTS))).toEqual(Array.from(bytes));
    }
  });

  it("refuses data whose decoded size is over maxBytes, from the length alone", async () => {
    const big = "A".repeat(136); // 102 bytes
    for (const text of [big, `data:image/png;base64,${big}`, ` ${big.slice(0, 68)}\n${big.slice(68)}\n`]) {
      const error = await refusal(readImageInput({ base64: text }, OPTS));
      expect(error.value).toBe("base64 data of 102 bytes");
      expect(error.allowed).toBe("at most 100 bytes");
    }
    // The size check comes before any validation or decoding of the characters.
    const junk = await refusal(readImageInput({ base64: "$".repeat(200) }, OPTS));
    expect(junk.value).toBe("base64 data of 150 bytes");
    // Exactly maxBytes passes.
    expect(decodeBase64Input(b64, OPTS).length).toBe(100);
  });

  it("refuses invalid characters, bad lengths, mixed alphabets and empty strings", async () => {
    const cases: [string, RegExp][] = [
      ["abc$def", /invalid character "\$" at position 3/],
      ["abcde", /invalid length/],
      ["ab+c-d__", /mixing/],
      ["", /empty/],
      ["   ", /empty/],
      ["data:image/png;base64,", /empty/],
    ];
    for (const [text, value] of cases) {
      const error = await refusal(readImageInput({ base64: text }, OPTS));
      expect(error.value).toMatch(value);
    }
  });

  it("never fetches URLs", async () => {
    for (const url of [
      "http://169.254.169.254/latest/meta-data",
      "https://example.com/cat.png",
      " HTTPS://x/y ",
    ]) {
      const error = await refusal(readImageInput({ base64: url }, OPTS));
      expect(error.value).toMatch(/URLs are not fetched/);
    }
    const file = await refusal(readImageInput({ base64: "file:///etc/passwd" }, OPTS));
    expect(file.value).toMatch(/file: URL/);
  });

  it("refuses non-image and non-base64 data URLs", async () => {
    expect((await refusal(readImageInput({ base64: `data:text/html;base64,${b64}` }, OPTS))).value).toMatch(
      /type "text\/html"/,
    );
    expect((await refusal(readImageInput({ base64: "data:image/svg+xml,%3Csvg%3E" }, OPTS))).value).toMatch(
      /not base64-encoded/,
    );
    expect((await refusal(readImageInput({ base64: "data:image/png;base64" }, OPTS))).value).toMatch(
      /malformed/,
    );
  });
});

describe("oneOf", () => {
  it("refuses neither and both", async () => {
    expect((await refusal(readImageInput({}, OPTS))).value).toBe("no image");
    expect((await refusal(readImageInput({ upload: null, base64: null }, OPTS))).value).toBe("no image");
    const both = await refusal(readImageInput({ upload: new File([bytes], "a"), base64: b64 }, OPTS));
    expect(both.value).toBe("both an upload and base64 data");
  });
});
