import type { JsonPath } from "./json-pos";

/**
 * Tiny decoders that reject what DeepSeek's serde-based server rejects, with serde's wording
 * (`invalid type: string "x", expected u32`, `missing field \`content\``, `unknown variant ...`).
 * Unknown fields are ignored, as serde does without deny_unknown_fields.
 */
export class DecodeFailure extends Error {
  constructor(
    /** Where serde_path_to_error says the error is. */
    readonly path: JsonPath,
    /** The value whose last character is the reported position. */
    readonly at: JsonPath,
    message: string,
  ) {
    super(message);
  }
}

export interface Decoder<T> {
  (value: unknown, path: JsonPath): T;
  optional?: true;
}

type Shape = Record<string, Decoder<unknown>>;
type Decoded<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** serde's description of an unexpected JSON value. */
function unexpected(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "boolean") return `boolean \`${v}\``;
  if (typeof v === "number") return Number.isInteger(v) ? `integer \`${v}\`` : `floating point \`${v}\``;
  return Array.isArray(v) ? "sequence" : "map";
}

function fail(path: JsonPath, message: string): never {
  throw new DecodeFailure(path, path, message);
}

const invalidType = (v: unknown, path: JsonPath, expected: string): never =>
  fail(path, `invalid type: ${unexpected(v)}, expected ${expected}`);

function expectedVariants(variants: readonly string[]): string {
  const quoted = variants.map((v) => `\`${v}\``);
  if (quoted.length === 1) return quoted[0] ?? "";
  if (quoted.length === 2) return `${quoted[0]} or ${quoted[1]}`;
  return `one of ${quoted.join(", ")}`;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const str: Decoder<string> = (v, path) =>
  typeof v === "string" ? v : invalidType(v, path, "a string");

export const bool: Decoder<boolean> = (v, path) =>
  typeof v === "boolean" ? v : invalidType(v, path, "a boolean");

export const f32: Decoder<number> = (v, path) => (typeof v === "number" ? v : invalidType(v, path, "f32"));

export const u32: Decoder<number> = (v, path) => {
  if (typeof v !== "number" || !Number.isInteger(v)) return invalidType(v, path, "u32");
  if (v < 0 || v > 0xffffffff) fail(path, `invalid value: integer \`${v}\`, expected u32`);
  return v;
};

/** Any JSON value (e.g. a JSON-schema object) taken as is. */
export const json: Decoder<unknown> = (v) => v;

/** `Option<T>`: absent or null decode to undefined. */
export function opt<T>(inner: Decoder<T>): Decoder<T | undefined> {
  const d: Decoder<T | undefined> = (v, path) => (v === undefined || v === null ? undefined : inner(v, path));
  d.optional = true;
  return d;
}

export function seq<T>(inner: Decoder<T>): Decoder<T[]> {
  return (v, path) =>
    Array.isArray(v) ? v.map((x, i) => inner(x, [...path, i])) : invalidType(v, path, "a sequence");
}

export function struct<S extends Shape>(name: string, shape: S): Decoder<Decoded<S>> {
  return (v, path) => {
    if (!isMap(v)) return invalidType(v, path, `struct ${name}`);
    const out: Record<string, unknown> = {};
    for (const [key, decode] of Object.entries(shape)) {
      if (v[key] === undefined && !decode.optional) fail(path, `missing field \`${key}\``);
      out[key] = decode(v[key], [...path, key]);
    }
    return out as Decoded<S>;
  };
}

/** A unit-variant enum carried as a string. */
export function variant<const V extends string>(name: string, variants: readonly V[]): Decoder<V> {
  return (v, path) => {
    if (typeof v !== "string") return invalidType(v, path, `enum ${name}`);
    if (!(variants as readonly string[]).includes(v)) {
      fail(path, `unknown variant \`${v}\`, expected ${expectedVariants(variants)}`);
    }
    return v as V;
  };
}

/** `#[serde(untagged)]`: the first decoder that accepts the value wins. */
export function untagged<T>(name: string, options: readonly Decoder<T>[]): Decoder<T> {
  return (v, path) => {
    for (const decode of options) {
      try {
        return decode(v, path);
      } catch (e) {
        if (!(e instanceof DecodeFailure)) throw e;
      }
    }
    return fail(path, `data did not match any variant of untagged enum ${name}`);
  };
}

/**
 * `#[serde(tag = "...")]`. serde buffers the object before picking the variant, so every error inside it is
 * reported at the enum itself (path and position), which is what DeepSeek's messages[i] errors show.
 */
export function tagged<T>(name: string, tag: string, variants: Record<string, Decoder<T>>): Decoder<T> {
  const names = Object.keys(variants);
  return (v, path) => {
    if (!isMap(v)) return invalidType(v, path, `internally tagged enum ${name}`);
    const key = v[tag];
    if (key === undefined) fail(path, `missing field \`${tag}\``);
    if (typeof key !== "string") return invalidType(key, path, "variant identifier");
    const decode = variants[key];
    if (!decode) return fail(path, `unknown variant \`${key}\`, expected ${expectedVariants(names)}`);
    try {
      return decode(v, path);
    } catch (e) {
      if (e instanceof DecodeFailure) throw new DecodeFailure(path, path, e.message);
      throw e;
    }
  };
}

/** serde_path_to_error's rendering: `messages[1]`, `tools[0].function.name`, `.` for the root. */
export function formatPath(path: JsonPath): string {
  let out = "";
  for (const seg of path) out += typeof seg === "number" ? `[${seg}]` : out ? `.${seg}` : seg;
  return out || ".";
}
