import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4WorkerOptions } from "miniflare";
import { LOCAL_ROUTER_KEY } from "../../scripts/local-config";
import { localRouterWorker } from "../../scripts/stack";
import { startSimServer } from "../../sim/node";
import type { LedgerEntry } from "../../src/ledger/entry";
import type { RequestRecord } from "../../src/trace";
import { measureRequests } from "../lib/measure";
import { formatRatio, median, ratio } from "../lib/stats";
import { formatNumber } from "../lib/table";
import type { BenchScenario, BenchSection } from "../lib/types";
import { workerdCpuMs, workerdPids } from "../lib/workerd-cpu";

/** Rows per call, as a busy isolate's 250 ms flush carries them. */
const BATCH = 200;
const BODY = {
  model: "deepseek-v4-flash",
  messages: [{ role: "user", content: "Ledger writes: a short question." }],
  thinking: { type: "disabled" },
};

/**
 * A driver Worker calling the router's TenantLedger over RPC as a flush does, with copies of a real
 * request's record and ledger row (fresh ids, so every row is new). Each call of a round makes the same
 * rows; `kind` says what is sent: the records, the usage rows, or nothing (one empty call), whose CPU is
 * the baseline the writes are measured against.
 */
const DRIVER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const kind = url.searchParams.get("kind");
    const batches = Number(url.searchParams.get("batches"));
    const size = Number(url.searchParams.get("size"));
    const { record, entry } = await request.json();
    const ledger = env.TENANT_LEDGER.getByName(url.searchParams.get("tenant"));
    let written = 0;
    for (let b = 0; b < batches; b++) {
      const at = Date.now();
      const records = [];
      const entries = [];
      for (let i = 0; i < size; i++) {
        const random = crypto.randomUUID().replaceAll("-", "");
        const id = "req_" + (at + i).toString(16).padStart(12, "0") + random.slice(0, 12);
        records.push(JSON.stringify({ ...record, id, requestId: random, at: at + i }));
        entries.push({ ...entry, entryId: crypto.randomUUID(), requestId: random, at: at + i });
      }
      if (kind === "record") written += await ledger.recordRequests(records);
      else if (kind === "usage") written += await ledger.recordMany(entries);
      else await ledger.recordRequests([]);
    }
    return Response.json({ written });
  },
};`;

const KINDS = ["none", "record", "usage"] as const;
type Kind = (typeof KINDS)[number];

/**
 * What each request's accounting writes into its tenant's ledger costs in SQLite: a request record and a
 * usage row, each measured as workerd CPU per row over real RPC calls to the router's TenantLedger, and
 * set against the router's CPU per small answer measured in the same workerd.
 */
export const ledgerWrites: BenchScenario = {
  name: "ledger-writes",
  title: "Ledger writes: what a request's record and usage row cost in the tenant's ledger",
  async run(ctx): Promise<BenchSection> {
    const rounds = ctx.quick ? 2 : 6;
    const batches = ctx.quick ? 5 : 25;
    const sim = await startSimServer({ port: 0, ttftMs: 0, tokensPerS: 0 });
    const mf = new Miniflare(
      convertV4MiniflareOptions({
        workers: [driverWorker(), localRouterWorker(sim.url)],
        log: new Log(LogLevel.WARN),
        cf: false,
        handleStructuredLogs: () => {},
      }),
    );
    try {
      await mf.ready;
      const routerUrl = (await mf.unsafeGetDirectURL("router")).toString().replace(/\/$/, "");
      const pids = workerdPids();
      const cpuMs = () => workerdCpuMs(pids);

      ctx.log("router: 1000 small answers, 8 in flight, for its CPU per request");
      await measureRequests({ baseUrl: routerUrl, body: BODY, n: 300, concurrency: 8 });
      const before = cpuMs();
      const served = await measureRequests({ baseUrl: routerUrl, body: BODY, n: 1_000, concurrency: 8 });
      const routerUs = ((cpuMs() - before) * 1000) / served.n;
      const templates = await templatesFrom(routerUrl);

      const driver = await mf.getWorker("driver");
      const perRow: Record<Kind, number[]> = { none: [], record: [], usage: [] };
      for (let round = 0; round < rounds; round++) {
        ctx.log(`round ${round + 1}/${rounds}: ${batches} calls of ${BATCH} rows per kind`);
        for (const kind of round % 2 ? [...KINDS].reverse() : KINDS) {
          const start = cpuMs();
          const response = await driver.fetch(
            `http://driver/?kind=${kind}&batches=${batches}&size=${BATCH}&tenant=bench-${kind}-${round}`,
            { method: "POST", body: JSON.stringify(templates) },
          );
          const { written } = (await response.json()) as { written: number };
          if (kind !== "none" && written !== batches * BATCH)
            throw new Error(`${kind}: ${written} of ${batches * BATCH} rows written`);
          perRow[kind].push(((cpuMs() - start) * 1000) / (batches * BATCH));
        }
      }
      const recordUs = median(perRow.record) - median(perRow.none);
      const usageUs = median(perRow.usage) - median(perRow.none);
      return section({
        routerUs,
        recordUs,
        usageUs,
        recordBytes: JSON.stringify(templates.record).length,
        rows: rounds * batches * BATCH,
      });
    } finally {
      await mf.dispose();
      await sim.close();
    }
  },
};

function driverWorker(): V4WorkerOptions {
  return {
    name: "driver",
    modules: true,
    script: DRIVER,
    compatibilityDate: "2026-11-01",
    durableObjects: { TENANT_LEDGER: { className: "TenantLedger", scriptName: "router" } },
  };
}

/** A real request's record, read back through the tenant's own records API, and its usage row. */
async function templatesFrom(routerUrl: string): Promise<{ record: RequestRecord; entry: LedgerEntry }> {
  const headers = { authorization: `Bearer ${LOCAL_ROUTER_KEY}` };
  for (let attempt = 0; attempt < 50; attempt++) {
    const page = (await (await fetch(`${routerUrl}/v1/requests?limit=1`, { headers })).json()) as {
      data: RequestRecord[];
    };
    const record = page.data[0];
    if (record) return { record, entry: entryOf(record) };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("no request record appeared");
}

function entryOf(record: RequestRecord): LedgerEntry {
  return {
    entryId: "",
    kind: "request",
    requestId: record.requestId,
    at: record.at,
    model: record.model,
    pool: record.pool ?? null,
    status: record.status,
    outcome: record.outcome,
    cache: record.cache ?? null,
    usage: record.usage,
    estimated: record.estimated,
    costUsd: record.costUsd,
    savedUsd: record.savedUsd,
    keyId: record.keyId ?? null,
    endUser: record.endUser ?? null,
  };
}

function section(m: {
  routerUs: number;
  recordUs: number;
  usageUs: number;
  recordBytes: number;
  rows: number;
}): BenchSection {
  const row = (write: string, us: number) => ({
    write,
    "workerd CPU per row": `${formatNumber(us)} µs`,
    "÷ router CPU per small answer": formatRatio(ratio(us, m.routerUs)),
  });
  return {
    title: ledgerWrites.title,
    notes: [
      `A driver Worker calls the router's TenantLedger over RPC, ${BATCH} rows a call as a busy isolate's 250 ms flush sends them; ${formatNumber(m.rows)} rows of each kind over alternating rounds, each kind in its own ledger. A row's CPU is the workerd process's utime+stime per row, less that of the same calls sent empty (the driver makes the same rows either way).`,
      `The rows are copies of a real request's: its record (${m.recordBytes} bytes of JSON, read back from /v1/requests) and its usage row, each with fresh ids, so every row is new.`,
      `The router's CPU per small answer (${formatNumber(m.routerUs)} µs) is measured in the same workerd: 1,000 non-streamed requests, 8 in flight, simulator answering at once. It includes these two writes, since the ledger runs in the same process here; on Cloudflare the tenant's ledger is a Durable Object of its own, and its SQLite work is not the Worker's.`,
    ],
    columns: ["write", "workerd CPU per row", "÷ router CPU per small answer"],
    rows: [
      row("a request record (issue 25): its JSON, parsed and stored with its filter columns", m.recordUs),
      row("a usage row: the request's ledger entry", m.usageUs),
      row("both: what every request's accounting writes", m.recordUs + m.usageUs),
    ],
  };
}
