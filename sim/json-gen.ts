import { type Language, prose } from "./generate";
import type { Rng } from "./hash";

/** Generates a deterministic value that satisfies common JSON-schema keywords (tool arguments). */

type Schema = Record<string, unknown>;

const CITIES = ["Paris", "Berlin", "Tokyo", "Lagos", "Lima", "Oslo", "Hangzhou", "Toronto"];

function isSchema(v: unknown): v is Schema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function schemaType(s: Schema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null") as string | undefined;
  if (typeof s.type === "string") return s.type;
  if (isSchema(s.properties)) return "object";
  if (s.items !== undefined) return "array";
  return undefined;
}

function num(v: unknown, fallback: number): number {
  return typeof v === "number" ? v : fallback;
}

function stringFor(rng: Rng, s: Schema, key: string): string {
  const k = key.toLowerCase();
  if (s.format === "date")
    return `2026-${String(rng.int(1, 12)).padStart(2, "0")}-${String(rng.int(1, 28)).padStart(2, "0")}`;
  if (s.format === "date-time") return `2026-0${rng.int(1, 9)}-1${rng.int(0, 9)}T1${rng.int(0, 9)}:00:00Z`;
  if (s.format === "email") return `user${rng.int(1, 99)}@example.com`;
  if (s.format === "uri" || k.includes("url")) return `https://example.com/${rng.int(1, 999)}`;
  if (k.includes("city") || k.includes("location") || k.includes("place")) return rng.pick(CITIES);
  if (k === "unit" || k.endsWith("_unit")) return rng.pick(["celsius", "fahrenheit"]);
  const text = prose(rng, rng.int(2, 5), "en").join("").replace(/[.,]/g, "");
  const max = typeof s.maxLength === "number" ? s.maxLength : Number.POSITIVE_INFINITY;
  return text.slice(0, max);
}

export function valueFromSchema(rng: Rng, schema: unknown, key = "", depth = 0): unknown {
  if (!isSchema(schema) || depth > 6) return {};
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return rng.pick(schema.enum);
  if ("default" in schema && rng.next() < 0.5) return schema.default;
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0)
    return valueFromSchema(rng, alternatives[0], key, depth + 1);
  switch (schemaType(schema)) {
    case "object": {
      const props = isSchema(schema.properties) ? schema.properties : {};
      const out: Record<string, unknown> = {};
      for (const [k, sub] of Object.entries(props)) out[k] = valueFromSchema(rng, sub, k, depth + 1);
      return out;
    }
    case "array": {
      const n = Math.max(num(schema.minItems, 1), Math.min(num(schema.maxItems, 2), 2));
      return Array.from({ length: n }, () => valueFromSchema(rng, schema.items, key, depth + 1));
    }
    case "integer":
      return rng.int(num(schema.minimum, 1), num(schema.maximum, Math.max(num(schema.minimum, 1), 100)));
    case "number": {
      const min = num(schema.minimum, 0);
      return Math.round((min + rng.next() * (num(schema.maximum, min + 100) - min)) * 100) / 100;
    }
    case "boolean":
      return rng.next() < 0.5;
    case "null":
      return null;
    default:
      return stringFor(rng, schema, key);
  }
}

/** A JSON object answer whose size grows with `tokens` (the natural answer length). */
export function jsonAnswer(rng: Rng, tokens: number, language: Language, extra: readonly string[]): string {
  const answer = prose(rng, Math.max(3, tokens - 24), language, extra).join("");
  return JSON.stringify({
    answer,
    confidence: Math.round(rng.next() * 100) / 100,
    tags: [rng.pick(extra.length ? extra : ["general"]), rng.pick(["info", "detail", "summary"])],
  });
}
