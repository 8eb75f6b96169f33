import { DurableObject } from "cloudflare:workers";
import { readFile } from "./files";
import { type CreateBatch, newBatchRecord } from "./record";
import { type ResultRow, writeResultFiles } from "./results";
import type { BatchRecord, Claim, LineMessage, LineOutcome, LineTotals } from "./types";
import { parseBatchInput } from "./validate";
import { type BatchObject, batchObject } from "./wire";

/** How long a claimed line is someone's: a background request's whole deadline (15 min), plus margin. */
export const LEASE_MS = 16 * 60_000;
/** A line still pending this long after its message was sent is sent again (its message may be lost). */
const REDISPATCH_MS = 15 * 60_000;
/** How often the alarm checks a running batch for lost lines. */
const SWEEP_MS = 5 * 60_000;
const SEND_CHUNK = 100;
/** Results longer than this go to R2 (a SQLite value holds at most 2 MB); the line row keeps the key. */
const SPILL_CHARS = 512 * 1024;

type LineRow = {
  idx: number;
  custom_id: string;
  state: string;
  token: string | null;
  lease_until: number | null;
  attempts: number;
};

/**
 * One per tenant: its batches and every line in them. A line is pending, leased to one consumer run
 * (a token and a lease end), or finished (done, cancelled, expired) with exactly one result row, so
 * redelivered and duplicate messages can never run a line twice or record it twice, and the counts
 * are sums over the line table. One alarm serves every batch: starts at the scheduled time, expiry,
 * re-sending lines whose message was lost, and writing the output files.
 */
export class TenantBatches extends DurableObject<Env> {
  /** Tests replace the clock (through `runInDurableObject`) instead of waiting for off-peak hours. */
  clock: () => number = () => Date.now();
  /** Where line messages go; tests replace it to drive the consumer themselves. */
  send: (messages: LineMessage[]) => Promise<void> = async (messages) => {
    for (let i = 0; i < messages.length; i += SEND_CHUNK) {
      await this.env.BATCH_LINES.sendBatch(messages.slice(i, i + SEND_CHUNK).map((body) => ({ body })));
    }
  };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, record TEXT NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS lines (
      batch_id TEXT NOT NULL, idx INTEGER NOT NULL, custom_id TEXT NOT NULL, body TEXT,
      state TEXT NOT NULL, token TEXT, lease_until INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
      releases INTEGER NOT NULL DEFAULT 0,
      dispatched_at INTEGER, result TEXT, spilled_key TEXT, ok INTEGER,
      input_tokens INTEGER NOT NULL DEFAULT 0, cached_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0, reasoning_tokens INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL NOT NULL DEFAULT 0, peak_cost_usd REAL NOT NULL DEFAULT 0,
      PRIMARY KEY (batch_id, idx))`);
    sql.exec("CREATE INDEX IF NOT EXISTS lines_state ON lines (batch_id, state)");
  }

  /** Reads and checks the input file, stores its lines and schedules the start. */
  async create(input: CreateBatch): Promise<BatchObject | null> {
    const file = await readFile(this.env.FILES, input.tenant, input.inputFileId);
    if (!file) return null;
    const { lines, errors } = parseBatchInput(await file.text(), new Set(input.servedModels));
    const record = newBatchRecord({ input, lines, errors, now: this.clock() });
    this.ctx.storage.transactionSync(() => {
      this.save(record);
      if (record.status === "failed") return;
      for (const line of lines) {
        this.ctx.storage.sql.exec(
          "INSERT INTO lines (batch_id, idx, custom_id, body, state) VALUES (?, ?, ?, ?, 'pending')",
          record.id,
          line.index,
          line.customId,
          line.body,
        );
      }
    });
    if (record.status === "validating") await this.armAlarm();
    return this.wire(record);
  }

  get(id: string): BatchObject | null {
    const record = this.load(id);
    return record ? this.wire(record) : null;
  }

  /** Newest first, as OpenAI lists batches; `after` is the last id of the previous page. */
  list(page: { after?: string; limit: number }): { data: BatchObject[]; hasMore: boolean } {
    const rows = this.ctx.storage.sql
      .exec<{ record: string }>(
        "SELECT record FROM batches WHERE (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?",
        page.after ?? null,
        page.after ?? null,
        page.limit + 1,
      )
      .toArray();
    const data = rows.slice(0, page.limit).map((row) => this.wire(JSON.parse(row.record) as BatchRecord));
    return { data, hasMore: rows.length > page.limit };
  }

  /** Lines not yet running are cancelled now; lines in flight finish and keep their results. */
  async cancel(id: string): Promise<BatchObject | null> {
    const record = this.load(id);
    if (!record) return null;
    if (record.status === "validating" || record.status === "in_progress") {
      record.status = "cancelling";
      record.cancellingAt = this.clock();
      this.ctx.storage.transactionSync(() => {
        this.save(record);
        this.ctx.storage.sql.exec(
          "UPDATE lines SET state = 'cancelled' WHERE batch_id = ? AND state = 'pending'",
          id,
        );
      });
      await this.settleIfIdle(record);
    }
    return this.wire(this.load(id) ?? record);
  }

  /** Takes a line to run. Only one run holds a line at a time; a finished line is never handed out. */
  async claim(batchId: string, index: number): Promise<Claim> {
    const record = this.load(batchId);
    const line = this.line(batchId, index);
    if (!record || !line) return { kind: "skip" };
    const now = this.clock();
    if (record.status === "validating")
      return { kind: "wait", retryInS: retryIn(record.start.startAt - now) };
    if (line.state === "leased" && (line.lease_until ?? 0) > now) {
      return { kind: "wait", retryInS: retryIn((line.lease_until ?? now) - now) };
    }
    if (line.state !== "pending" && line.state !== "leased") return { kind: "skip" };
    if (record.status !== "in_progress") {
      // Cancelling or expiring: a line that has not run will not run.
      this.ctx.storage.sql.exec(
        "UPDATE lines SET state = ? WHERE batch_id = ? AND idx = ?",
        endingState(record),
        batchId,
        index,
      );
      await this.settleIfIdle(record);
      return { kind: "skip" };
    }
    const token = crypto.randomUUID();
    const row = this.ctx.storage.sql
      .exec<{ body: string; attempts: number; releases: number }>(
        "UPDATE lines SET state = 'leased', token = ?, lease_until = ?, attempts = attempts + 1 WHERE batch_id = ? AND idx = ? RETURNING body, attempts, releases",
        token,
        now + LEASE_MS,
        batchId,
        index,
      )
      .one();
    return {
      kind: "run",
      token,
      attempt: row.attempts,
      generation: row.releases,
      customId: line.custom_id,
      url: record.endpoint,
      body: row.body,
      keyId: record.keyId ?? null,
    };
  }

  /**
   * Records a line's one result. Only the current holder's token is accepted, including after its
   * lease ran out if nobody claimed the line since; anything else is a duplicate and is dropped.
   */
  async complete(batchId: string, index: number, token: string, outcome: LineOutcome): Promise<boolean> {
    const record = this.load(batchId);
    const line = this.line(batchId, index);
    if (!record || line?.token !== token || (line.state !== "leased" && line.state !== "pending"))
      return false;
    let result: string | null = outcome.result;
    let spilled: string | null = null;
    if (result.length > SPILL_CHARS) {
      // Keyed by the claim, so a duplicate run can never overwrite the result that was recorded.
      spilled = `results/${record.tenant}/${batchId}/${index}-${token}`;
      await this.env.FILES.put(spilled, result);
      result = null;
    }
    const written = this.ctx.storage.sql.exec(
      `UPDATE lines SET state = 'done', token = NULL, lease_until = NULL, body = NULL, result = ?, spilled_key = ?, ok = ?,
        input_tokens = ?, cached_tokens = ?, output_tokens = ?, reasoning_tokens = ?, cost_usd = ?, peak_cost_usd = ?
       WHERE batch_id = ? AND idx = ? AND token = ? AND state IN ('leased', 'pending')`,
      result,
      spilled,
      outcome.ok ? 1 : 0,
      outcome.usage.input,
      outcome.usage.cached,
      outcome.usage.output,
      outcome.usage.reasoning,
      outcome.costUsd,
      outcome.peakCostUsd,
      batchId,
      index,
      token,
    ).rowsWritten;
    // The lease was taken over while the result was being spilled: this run's result is not the line's.
    if (written === 0 && spilled) await this.env.FILES.delete(spilled);
    await this.settleIfIdle(record);
    return written > 0;
  }

  /** Gives a line back unrun (the pipeline was saturated or failing), for a later message to retry. */
  async release(batchId: string, index: number, token: string): Promise<void> {
    this.ctx.storage.sql.exec(
      "UPDATE lines SET state = 'pending', token = NULL, lease_until = NULL, releases = releases + 1, dispatched_at = ? WHERE batch_id = ? AND idx = ? AND token = ?",
      this.clock(),
      batchId,
      index,
      token,
    );
    const record = this.load(batchId);
    if (record && record.status !== "in_progress") await this.dropIfEnding(record, index);
  }

  override async alarm(): Promise<void> {
    const now = this.clock();
    for (const record of this.active()) {
      if (record.status === "validating" && record.start.startAt <= now) await this.start(record, now);
      if ((record.status === "validating" || record.status === "in_progress") && record.expiresAt <= now)
        this.expire(record, now);
      if (record.status === "in_progress") await this.resend(record, now);
      if (record.status === "finalizing" || record.status === "cancelling") {
        this.dropStale(record, now);
        await this.finishIfIdle(record, now);
      }
    }
    await this.armAlarm();
  }

  private async start(record: BatchRecord, now: number): Promise<void> {
    record.status = "in_progress";
    record.inProgressAt = now;
    this.save(record);
    await this.settleIfIdle(record);
    await this.resend(record, now);
  }

  /** Unrun lines expire; lines in flight may still finish and are kept, as OpenAI keeps them. */
  private expire(record: BatchRecord, now: number): void {
    record.status = "finalizing";
    record.ending = "expired";
    record.finalizingAt = now;
    this.ctx.storage.transactionSync(() => {
      this.save(record);
      this.ctx.storage.sql.exec(
        "UPDATE lines SET state = 'expired' WHERE batch_id = ? AND state = 'pending'",
        record.id,
      );
    });
  }

  /** Sends every line that is due: never sent, sent long ago and still pending, or leased past its lease. */
  private async resend(record: BatchRecord, now: number): Promise<void> {
    const due = this.ctx.storage.sql
      .exec<{ idx: number }>(
        `UPDATE lines SET state = 'pending', lease_until = NULL, dispatched_at = ?
         WHERE batch_id = ? AND ((state = 'pending' AND (dispatched_at IS NULL OR dispatched_at <= ?))
           OR (state = 'leased' AND lease_until <= ?)) RETURNING idx`,
        now,
        record.id,
        now - REDISPATCH_MS,
        now,
      )
      .toArray();
    if (due.length === 0) return;
    await this.send(due.map(({ idx }) => ({ tenant: record.tenant, batchId: record.id, index: idx })));
  }

  /** A running batch with no line left to run moves on to writing its files (in the alarm, which retries). */
  private async settleIfIdle(record: BatchRecord): Promise<void> {
    if (record.status === "in_progress" && this.unfinished(record.id) === 0) {
      record.status = "finalizing";
      record.ending = "completed";
      record.finalizingAt = this.clock();
      this.save(record);
    }
    await this.armAlarm();
  }

  /** An ending batch does not wait on a run whose lease is over: that run is presumed dead. */
  private dropStale(record: BatchRecord, now: number): void {
    this.ctx.storage.sql.exec(
      "UPDATE lines SET state = ?, token = NULL WHERE batch_id = ? AND state = 'leased' AND lease_until <= ?",
      endingState(record),
      record.id,
      now,
    );
  }

  /** A line given back to an ending batch will not run again. */
  private async dropIfEnding(record: BatchRecord, index: number): Promise<void> {
    this.ctx.storage.sql.exec(
      "UPDATE lines SET state = ? WHERE batch_id = ? AND idx = ? AND state = 'pending'",
      endingState(record),
      record.id,
      index,
    );
    await this.settleIfIdle(record);
  }

  /** Writes the output and error files once no line is in flight, then the terminal status. */
  private async finishIfIdle(record: BatchRecord, now: number): Promise<void> {
    if (this.unfinished(record.id) > 0) return;
    const ending = record.status === "cancelling" ? "cancelled" : (record.ending ?? "completed");
    const rows = this.ctx.storage.sql
      .exec<ResultRow>(
        "SELECT idx, custom_id, state, result, spilled_key, ok FROM lines WHERE batch_id = ? ORDER BY idx",
        record.id,
      )
      .toArray();
    const [out, err] = await writeResultFiles(this.env.FILES, { record, rows, ending, now });
    record.outputFileId = out?.id ?? null;
    record.errorFileId = err?.id ?? null;
    record.status = ending;
    if (ending === "completed") record.completedAt = now;
    else if (ending === "cancelled") record.cancelledAt = now;
    else record.expiredAt = now;
    this.save(record);
  }

  /** The alarm at the earliest thing due: a start, an expiry, a sweep of a running batch, or finishing. */
  private async armAlarm(): Promise<void> {
    const now = this.clock();
    let next = Number.POSITIVE_INFINITY;
    for (const record of this.active()) {
      if (record.status === "validating") next = Math.min(next, record.start.startAt, record.expiresAt);
      if (record.status === "in_progress") next = Math.min(next, record.expiresAt, now + SWEEP_MS);
      if (record.status === "finalizing" || record.status === "cancelling") {
        next = Math.min(next, this.unfinished(record.id) === 0 ? now : now + SWEEP_MS);
      }
    }
    // The injected clock may be far from real time; the alarm fires after the same delay in real time.
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(Date.now() + Math.max(0, next - now));
  }

  private active(): BatchRecord[] {
    return this.ctx.storage.sql
      .exec<{ record: string }>("SELECT record FROM batches")
      .toArray()
      .map((row) => JSON.parse(row.record) as BatchRecord)
      .filter((r) => ["validating", "in_progress", "finalizing", "cancelling"].includes(r.status));
  }

  private wire(record: BatchRecord): BatchObject {
    return batchObject(record, this.totals(record.id));
  }

  private totals(batchId: string): LineTotals {
    return this.ctx.storage.sql
      .exec<{ [K in keyof LineTotals]: number }>(
        `SELECT count(*) AS total,
          count(CASE WHEN state = 'done' AND ok = 1 THEN 1 END) AS completed,
          count(CASE WHEN (state = 'done' AND ok = 0) OR state IN ('cancelled', 'expired') THEN 1 END) AS failed,
          coalesce(sum(input_tokens), 0) AS inputTokens, coalesce(sum(cached_tokens), 0) AS cachedTokens,
          coalesce(sum(output_tokens), 0) AS outputTokens, coalesce(sum(reasoning_tokens), 0) AS reasoningTokens,
          coalesce(sum(cost_usd), 0) AS costUsd, coalesce(sum(peak_cost_usd), 0) AS peakCostUsd
         FROM lines WHERE batch_id = ?`,
        batchId,
      )
      .one();
  }

  /** Lines still to run or running. */
  private unfinished(batchId: string): number {
    return this.ctx.storage.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM lines WHERE batch_id = ? AND state IN ('pending', 'leased')",
        batchId,
      )
      .one().n;
  }

  private line(batchId: string, index: number): LineRow | undefined {
    return this.ctx.storage.sql
      .exec<LineRow>(
        "SELECT idx, custom_id, state, token, lease_until, attempts FROM lines WHERE batch_id = ? AND idx = ?",
        batchId,
        index,
      )
      .toArray()[0];
  }

  private load(id: string): BatchRecord | undefined {
    const row = this.ctx.storage.sql
      .exec<{ record: string }>("SELECT record FROM batches WHERE id = ?", id)
      .toArray()[0];
    return row ? (JSON.parse(row.record) as BatchRecord) : undefined;
  }

  private save(record: BatchRecord): void {
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO batches (id, record) VALUES (?, ?)",
      record.id,
      JSON.stringify(record),
    );
  }
}

/** What an unrun line of a cancelling or expiring batch becomes. */
function endingState(record: BatchRecord): "cancelled" | "expired" {
  return record.status === "cancelling" ? "cancelled" : "expired";
}

/** Queue retry delays are whole seconds, at least 1 and at most 12 hours. */
function retryIn(ms: number): number {
  return Math.min(43_200, Math.max(1, Math.ceil(ms / 1000)));
}
