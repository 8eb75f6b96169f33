/** OpenTelemetry's standard exporter variables (issue 25); all optional, secrets where they hold keys. */
export interface OtelVars {
  /** "off" keeps no request records and exports no traces (the benchmark's baseline). Default on. */
  REQUEST_RECORDS?: string;
  /** The collector's OTLP/HTTP base URL; traces go to `<endpoint>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  /** The full traces URL, used as is; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  /** `key=value,key2=value2`, values percent-encoded (W3C Baggage style), as the spec defines it. */
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_EXPORTER_OTLP_TRACES_HEADERS?: string;
  /** `service.name` of the exported resource (default `deepseek-edge-router`). */
  OTEL_SERVICE_NAME?: string;
}

/** Request records (and so traces and payloads) are kept unless `REQUEST_RECORDS` is "off". */
export function recordsKept(env: object): boolean {
  return (env as OtelVars).REQUEST_RECORDS !== "off";
}

/** A tenant's own collector, from its ROUTER_TENANTS entry. */
export interface TenantOtel {
  endpoint: string;
  headers?: Record<string, string>;
}

export interface OtelDestination {
  url: string;
  headers: Record<string, string>;
}

/** Where a tenant's traces go: its own collector, else the global one, else nowhere. */
export function otelDestination(env: OtelVars, tenant: TenantOtel | undefined): OtelDestination | undefined {
  if (tenant) return { url: tracesUrl(tenant.endpoint), headers: tenant.headers ?? {} };
  const headers = parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS);
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return { url: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, headers };
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return { url: tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT), headers };
  return undefined;
}

/** The signal path appended to a base endpoint, as the OTLP exporter spec says. */
function tracesUrl(base: string): string {
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

/** `api-key=abc%20d,x-tenant=1` → headers; a malformed pair is skipped. */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (raw ?? "").split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) continue;
    const name = pair.slice(0, at).trim().toLowerCase();
    try {
      headers[name] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // Not percent-encoded properly: skipped, like the SDKs do.
    }
  }
  return headers;
}
