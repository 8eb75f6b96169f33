import type { RequestSample } from "./sample";

/** The shape of Analytics Engine's data point and dataset, declared here so Node tools can use them too. */
export interface DataPoint {
  indexes: string[];
  blobs: string[];
  doubles: number[];
}

export interface Dataset {
  writeDataPoint(point: DataPoint): void;
}

/**
 * One Workers Analytics Engine data point per finished request. The column order is a contract with
 * the SQL in docs/OPERATIONS.md: append new columns, never reorder.
 *
 * blob1 tenant · blob2 pool · blob3 model · blob4 type · blob5 outcome · blob6 cache · blob7 status
 * · blob8 stream|json · blob9 request id
 * double1 status · double2 TTFT ms (-1: none) · double3 total ms · double4 upstream ms · double5 prompt
 * tokens · double6 output tokens · double7 cache-hit tokens · double8 cost USD · double9 saved USD
 * index1 tenant (Analytics Engine samples per index value, so one busy tenant cannot crowd out others)
 */
export function dataPoint(s: RequestSample): DataPoint {
  return {
    indexes: [s.tenant],
    blobs: [
      s.tenant,
      s.pool ?? "",
      s.model,
      s.type,
      s.outcome,
      s.cache ?? "",
      String(s.status),
      s.stream ? "stream" : "json",
      s.requestId,
    ],
    doubles: [
      s.status,
      s.firstTokenMs ?? -1,
      s.totalMs,
      s.upstreamMs,
      s.promptTokens,
      s.completionTokens,
      s.cacheHitTokens,
      s.costUsd,
      s.savedUsd,
    ],
  };
}

/** Production's limits (workerd `analytics-engine-impl.h`); the local simulator checks none of them. */
const LIMITS = { blobs: 20, doubles: 20, indexes: 1, indexBytes: 96, blobBytes: 16_000 } as const;

/** Why production would refuse this point, or undefined when it is within the limits. */
export function dataPointProblem({ blobs, doubles, indexes }: DataPoint): string | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes, so strings short enough are never encoded (the usual case).
  const size = (value: string) => (value.length * 3 <= LIMITS.indexBytes ? value.length : utf8Bytes(value));
  if (blobs.length > LIMITS.blobs) return `more than ${LIMITS.blobs} blobs`;
  if (doubles.length > LIMITS.doubles) return `more than ${LIMITS.doubles} doubles`;
  if (indexes.length > LIMITS.indexes) return `more than ${LIMITS.indexes} index`;
  if (indexes.some((i) => size(i) > LIMITS.indexBytes)) return `an index over ${LIMITS.indexBytes} bytes`;
  const chars = blobs.reduce((n, b) => n + b.length, 0);
  if (chars * 3 > LIMITS.blobBytes && blobs.reduce((n, b) => n + utf8Bytes(b), 0) > LIMITS.blobBytes)
    return `blobs over ${LIMITS.blobBytes} bytes`;
  return undefined;
}

function utf8Bytes(value: string): number {
  return new TextEncoder().encode(value).byteLength;
}

/** Writes the point when the binding exists and the point is valid; never throws on the request path. */
export function writeRequestPoint(dataset: Dataset | undefined, sample: RequestSample): void {
  if (!dataset) return;
  const point = dataPoint(sample);
  const problem = dataPointProblem(point);
  if (problem) {
    console.error(JSON.stringify({ event: "analytics_point_invalid", requestId: sample.requestId, problem }));
    return;
  }
  try {
    dataset.writeDataPoint(point);
  } catch (error) {
    console.error(
      JSON.stringify({ event: "analytics_write_failed", requestId: sample.requestId, error: String(error) }),
    );
  }
}
