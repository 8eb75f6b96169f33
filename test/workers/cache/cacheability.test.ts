import { describe, expect, it } from "vitest";
import {
  type CacheabilityInput,
  clampTtl,
  decideCaching,
  parseCacheControl,
} from "../../../src/cache/cacheability";
import { RouterError } from "../../../src/errors";

const settings = { enabled: true, ttlSeconds: 3600, maxTtlSeconds: 86_400 };

function decide(patch: Partial<CacheabilityInput> = {}) {
  return decideCaching({
    temperature: 0,
    cacheControl: undefined,
    routerCache: undefined,
    settings,
    tenantMode: undefined,
    routeMode: undefined,
    ...patch,
  });
}

describe("cacheability", () => {
  it("caches deterministic requests by default and nothing else", () => {
    expect(decide()).toMatchObject({
      cacheable: true,
      mode: "use",
      ttlSeconds: 3600,
      reason: "temperature 0",
    });
    expect(decide({ temperature: undefined })).toMatchObject({ cacheable: false, mode: "bypass" });
    expect(decide({ temperature: 0.2 }).cacheable).toBe(false);
  });

  it("lets the caller opt in or out, and the tenant or route opt in", () => {
    expect(decide({ temperature: 1, routerCache: "on" })).toMatchObject({
      cacheable: true,
      reason: "x-router-cache: on",
    });
    expect(decide({ routerCache: "OFF" })).toMatchObject({ cacheable: false, reason: "x-router-cache: off" });
    expect(decide({ temperature: 1, tenantMode: "on" }).cacheable).toBe(true);
    expect(decide({ temperature: 1, routeMode: "on" }).cacheable).toBe(true);
    expect(decide({ temperature: 1, routeMode: "on", tenantMode: "deterministic" }).cacheable).toBe(false);
    expect(() => decide({ routerCache: "yes" })).toThrow(RouterError);
  });

  it("lets an operator's off win over everything", () => {
    expect(decide({ settings: { ...settings, enabled: false }, routerCache: "on" }).cacheable).toBe(false);
    expect(decide({ tenantMode: "off", routerCache: "on" }).cacheable).toBe(false);
    expect(decide({ routeMode: "off", tenantMode: "on" }).cacheable).toBe(false);
  });

  it("bypasses on no-store and refreshes on no-cache", () => {
    expect(decide({ cacheControl: "no-store", routerCache: "on" })).toMatchObject({
      cacheable: false,
      mode: "bypass",
      reason: "Cache-Control: no-store",
    });
    expect(decide({ cacheControl: "No-Cache" })).toMatchObject({ cacheable: true, mode: "refresh" });
  });

  it("takes the TTL from max-age, clamped to KV's 60 s minimum and the policy's maximum", () => {
    expect(decide({ cacheControl: "max-age=600" })).toMatchObject({ ttlSeconds: 600, maxAgeSeconds: 600 });
    expect(decide({ cacheControl: "max-age=5" })).toMatchObject({ ttlSeconds: 60, maxAgeSeconds: 5 });
    expect(decide({ cacheControl: "max-age=999999" }).ttlSeconds).toBe(86_400);
    expect(decide({ cacheControl: "max-age=abc" })).toMatchObject({ ttlSeconds: 3600 });
    expect(decide().maxAgeSeconds).toBeUndefined();
    expect(clampTtl(10, 30)).toBe(60);
  });

  it("parses the request directives it honours", () => {
    expect(parseCacheControl('private, max-age="120", no-cache')).toEqual({
      noStore: false,
      noCache: true,
      maxAge: 120,
    });
    expect(parseCacheControl(undefined)).toEqual({ noStore: false, noCache: false });
  });
});
