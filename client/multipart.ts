/**
 * The GraphQL multipart request spec, client side: files (a `Blob`/`File` in browsers, a `Buffer`/`Uint8Array`
 * in Node) found anywhere in the variables are replaced by `null`, listed in a `map`, and sent as form parts, so
 * images are uploaded as bytes rather than base64.
 */

export type Upload = Blob | Uint8Array;

function isUpload(value: unknown): value is Upload {
  return (typeof Blob !== "undefined" && value instanceof Blob) || value instanceof Uint8Array;
}

/** Copies `value` with uploads replaced by null; returns the uploads with their object paths. */
export function extractUploads(
  value: unknown,
  path = "variables",
): { clone: unknown; files: [string, Upload][] } {
  const files: [string, Upload][] = [];
  const walk = (node: unknown, at: string): unknown => {
    if (isUpload(node)) {
      files.push([at, node]);
      return null;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, `${at}.${i}`));
    if (node && typeof node === "object") {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, `${at}.${k}`)]));
    }
    return typeof node === "bigint" ? node.toString() : node;
  };
  return { clone: walk(value, path), files };
}

/** A multipart body for one operation whose variables hold uploads. */
export function multipartBody(query: string, variables: unknown): FormData | null {
  const { clone, files } = extractUploads(variables);
  if (files.length === 0) return null;
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: clone }));
  form.append("map", JSON.stringify(Object.fromEntries(files.map(([path], i) => [String(i), [path]]))));
  files.forEach(([, file], i) => {
    const blob = file instanceof Uint8Array ? new Blob([file as Uint8Array<ArrayBuffer>]) : file;
    form.append(String(i), blob, file instanceof File ? file.name : `upload-${i}`);
  });
  return form;
}
