import { DurableObject } from "cloudflare:workers";
import { activePolicy } from "../config/policy-source";
import { internalRequest } from "../middleware/internal-call";
import { responsesUsage } from "../surfaces/responses";
import { isObject, type Json, parse } from "../surfaces/scan";
import { SseParser } from "../upstream/sse";
import { addUsage, NO_USAGE } from "../usage";
import {
  cancelledEvent,
  encode,
  frameEvent,
  type KeptEvent,
  keepChatEvent,
  keepResponsesEvent,
} from "./events";
import { inputItemsOf, itemIdsOf } from "./input-items";
import { isOutputEvent, lostCallEntry } from "./lost";
import {
  FINAL_STATUSES,
  type OwnedCall,
  type OwnedConversation,
  type OwnedOpening,
  type OwnedReader,
  type OwnedRefusal,
  type OwnedSnapshot,
  type OwnedStatus,
} from "./types";

/** The router's own fetch handler (`app.fetch`): the owner runs its call through it, as the tenant. */
export type AppFetch = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/** A run is watched this long after it starts (a background answer's whole deadline, 15 min, plus margin). */
const RUN_WATCH_MS = 16 * 60_000;

type AnswerRow = {
  call: string;
  status: OwnedStatus;
  created_at: number;
  expires_at: number;
  bytes: number;
  events: number;
  response: string | null;
  output: string;
  error: string | null;
};

const ANSWERING: OwnedOpening = { kind: "answering" };
/** Events a reader is handed per read, at most: a late reader replays in chunks, not all at once. */
const FOLLOW_BATCH = 64;

/** The run in this instance: only it can stop the upstream call. */
interface LiveRun {
  abort: AbortController;
  /** Settles once the pipeline has answered the call (with events, or a refusal), or the run ended. */
  opened: Promise<OwnedOpening>;
  open(opening: OwnedOpening): void;
  /** Settles when the run has ended and its accounting is done. */
  done?: Promise<void>;
}

/**
 * The owner of one answer that must outlive its client (issue 24): a background or stored Response, or
 * an opted-in resumable chat stream. One object per answer, named `<tenant>/<id>`, so another tenant's
 * id names an empty object. It runs the call while its alarm handler waits for it (a handler may run
 * 15 minutes, unlike a Worker invocation after its client left) through the app's own fetch handler, marked in-process as
 * the tenant's: admission, limits, budgets, the cache, the ledger and metrics apply as to any request,
 * and the pipeline's lease heartbeat is the only thing that holds a slot, so a dead owner's slot frees
 * when its lease expires. Every SSE event is written to SQLite as it arrives, and every reader reads
 * from there, past its own cursor, as fast as it takes them: nothing is queued for a slow reader, and
 * a reader that joins late replays and then follows without a gap.
 */
export abstract class AnswerOwner extends DurableObject<Env> {
  /** Tests move the clock (through `runInDurableObject`) instead of waiting for a TTL. */
  clock: () => number = () => Date.now();
  protected abstract readonly app: AppFetch;
  private live: LiveRun | undefined;
  /** Readers that have read everything kept, waiting for more: woken with a keep-alive, or to read on. */
  private waiting: Array<(keepAlive?: string) => void> = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS answer (
      id TEXT PRIMARY KEY, call TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL, bytes INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0,
      response TEXT, output TEXT NOT NULL DEFAULT '[]', error TEXT)`);
    sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, name TEXT, data TEXT NOT NULL)");
  }

  /** Takes the call and schedules its run at once; a second start of the same id changes nothing. */
  async start(call: OwnedCall): Promise<OwnedSnapshot> {
    if (!this.row()) {
      const now = this.clock();
      this.ctx.storage.sql.exec(
        "INSERT INTO answer (id, call, status, created_at, expires_at) VALUES (?, ?, 'queued', ?, ?)",
        call.id,
        JSON.stringify(call),
        now,
        now + call.bounds.ttlMs,
      );
      // The run starts now; the alarm (due at once) then holds the object for the run's whole length.
      await this.ctx.storage.setAlarm(Date.now());
      this.launch(call);
    }
    return this.snapshotOf(this.requireRow(), call);
  }

  /** The answer's current state, or null when it is not this tenant's (or no longer kept). */
  snapshot(reader: OwnedReader): OwnedSnapshot | null {
    const row = this.ownRow(reader);
    return row ? this.snapshotOf(row, this.callOf(row)) : null;
  }

  /**
   * Every kept event after `after` (-1 for all), then each new one as it is kept, until the answer
   * ends. Null when the answer is not this tenant's. Each read takes what is kept past the reader's
   * cursor (a batch of events, one chunk), or waits for the next event or keep-alive: the stream
   * queues nothing ahead of its reader.
   */
  follow(reader: OwnedReader, after: number): ReadableStream<Uint8Array> | null {
    const row = this.ownRow(reader);
    if (!row) return null;
    const { kind } = this.callOf(row);
    let cursor = after;
    let cancelled = false;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            const next = this.framesAfter(kind, cursor);
            if (next) {
              cursor = next.last;
              return controller.enqueue(encode(next.frames));
            }
            const now = this.row();
            if (!now || FINAL_STATUSES.has(now.status)) return controller.close();
            const keepAlive = await new Promise<string | undefined>((wake) => this.waiting.push(wake));
            if (cancelled) return;
            if (keepAlive !== undefined) return controller.enqueue(encode(`: ${keepAlive}\n\n`));
          }
        },
        cancel: () => {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** The frames of up to {@link FOLLOW_BATCH} events kept after `cursor`, and the last one's number. */
  private framesAfter(kind: OwnedCall["kind"], cursor: number): { frames: string; last: number } | undefined {
    const events = this.ctx.storage.sql
      .exec<{ seq: number; name: string | null; data: string }>(
        "SELECT seq, name, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
        cursor,
        FOLLOW_BATCH,
      )
      .toArray();
    const last = events.at(-1)?.seq;
    if (last === undefined) return undefined;
    const frames = events.map((event) => frameEvent(kind, event.seq, event.data, event.name ?? undefined));
    return { frames: frames.join(""), last };
  }

  /**
   * How the pipeline first answered the call, once it has: a caller that has not yet been sent anything
   * learns of a refusal (a shed, a spent budget) while it can still answer with the refusal's own
   * status. Null when the answer is not this tenant's.
   */
  async opening(reader: OwnedReader): Promise<OwnedOpening | null> {
    if (!this.ownRow(reader)) return null;
    return (await this.live?.opened) ?? ANSWERING;
  }

  /**
   * Stops the upstream call (the pipeline books what was generated) and keeps what was streamed; the
   * readers get the surface's terminal event for a cancel ({@link cancelledEvent}), then the end.
   */
  cancel(reader: OwnedReader): OwnedSnapshot | null {
    const row = this.ownRow(reader);
    if (!row) return null;
    if (!FINAL_STATUSES.has(row.status)) {
      const call = this.callOf(row);
      // Kept before the abort: events the upstream still sends find the answer ended and are dropped.
      this.append(cancelledEvent(call.kind, row.events, this.responseObject(row, call, undefined)));
      this.live?.abort.abort(new Error("cancelled by its owner"));
    }
    return this.snapshot(reader);
  }

  /**
   * A Response's own input items (`GET /v1/responses/{id}/input_items`), JSON text of a list; null when
   * the answer is not this tenant's Response. They are the last `ownItems` of the kept conversation (all
   * of it for an answer kept before that count was), each with the id it was given or one made from the
   * response's.
   */
  inputItems(reader: OwnedReader): string | null {
    const row = this.ownRow(reader);
    if (!row) return null;
    const call = this.callOf(row);
    if (call.kind !== "responses") return null;
    const input = JSON.parse(call.input) as unknown[];
    const own = call.ownItems === undefined ? input : input.slice(input.length - call.ownItems);
    return JSON.stringify(inputItemsOf(own, itemIdsOf(call.id)));
  }

  /** Deletes the answer and everything kept of it; a running call is stopped first. */
  async remove(reader: OwnedReader): Promise<boolean> {
    if (!this.ownRow(reader)) return false;
    this.cancel(reader);
    await this.erase();
    return true;
  }

  /**
   * The conversation a `previous_response_id` continues: what was sent (itself already expanded), then
   * what was answered. An incomplete answer (cut off by `max_output_tokens`) is continued from the
   * output it has, as OpenAI does; a running, failed or cancelled one only tells its status. Null when
   * the answer is not this tenant's and, for an end user (a frontend token), unless it was kept under
   * that end user's own tokens: someone else's answer is not found, whatever its status.
   */
  conversation(reader: OwnedReader): OwnedConversation | null {
    const row = this.ownRow(reader);
    if (!row) return null;
    const call = this.callOf(row);
    if (call.kind !== "responses") return null;
    if (row.status !== "completed" && row.status !== "incomplete") return { ok: false, status: row.status };
    const response = row.response ? parse(row.response) : undefined;
    const output: unknown[] = Array.isArray(response?.output) ? response.output : JSON.parse(row.output);
    return { ok: true, items: JSON.stringify([...(JSON.parse(call.input) as unknown[]), ...output]) };
  }

  /** Runs a queued call; afterwards, expires the answer at its TTL, or fails a run a dead instance left. */
  override async alarm(): Promise<void> {
    const row = this.row();
    if (!row) return;
    if (row.expires_at <= this.clock()) return this.erase();
    if (row.status === "queued" && !this.live) this.launch(this.callOf(row));
    if (this.live?.done) {
      // Should this instance die mid-run, the alarm comes back and fails the answer (failDead).
      await this.ctx.storage.setAlarm(Date.now() + RUN_WATCH_MS);
      await this.live.done;
    } else if (!FINAL_STATUSES.has(row.status)) this.failDead();
    const after = this.row();
    if (after && FINAL_STATUSES.has(after.status))
      await this.ctx.storage.setAlarm(Date.now() + Math.max(0, after.expires_at - this.clock()));
  }

  /** Starts the run in this instance; the alarm handler awaits it, which keeps the object alive. */
  private launch(call: OwnedCall): void {
    let open: (opening: OwnedOpening) => void = () => {};
    const opened = new Promise<OwnedOpening>((resolve) => (open = resolve));
    const live: LiveRun = { abort: new AbortController(), opened, open };
    this.live = live;
    this.ctx.storage.sql.exec("UPDATE answer SET status = 'in_progress'");
    live.done = this.run(call, live);
  }

  private async run(call: OwnedCall, live: LiveRun): Promise<void> {
    const pending: Promise<unknown>[] = [];
    try {
      const request = inProcessRequest(call, live.abort.signal);
      const response = await this.app(request, { ...this.env, ...call.config }, holding(pending));
      if (
        response.ok &&
        response.body &&
        response.headers.get("content-type")?.startsWith("text/event-stream")
      ) {
        live.open(ANSWERING);
        await this.consume(call, response.body, live);
      } else {
        const refusal = await refusalOf(response);
        live.open(refusal);
        this.refused(call, refusal);
      }
    } catch (error) {
      if (!live.abort.signal.aborted) this.failWith(call, { code: "internal_error", message: String(error) });
    } finally {
      // A run that failed before the pipeline answered is told in-band, like one that failed after.
      live.open(ANSWERING);
      this.failWith(call, { code: "upstream_error", message: "The answer ended before it was complete." });
      this.wakeReaders();
      const kept = this.row();
      if (kept)
        await this.env.TENANT_ANSWERS.getByName(call.tenant)
          .record(call.id, kept.bytes)
          .catch(() => {});
      // The pipeline's accounting, lease release and cache writes: a request's waitUntil, held here.
      while (pending.length > 0) await Promise.allSettled(pending.splice(0));
      if (call.kind === "responses") await this.showBookedUsage(call).catch(() => {});
      this.live = undefined;
    }
  }

  private async consume(call: OwnedCall, body: ReadableStream<Uint8Array>, live: LiveRun): Promise<void> {
    const parser = new SseParser({
      data: (payload) => this.keep(call, payload, live),
      // Keep-alives (while queued for a slot, or DeepSeek's own) reach live readers, unstored: their
      // connections stay open, and a reader that left is noticed at the next one.
      comment: (text) => this.wakeReaders(text),
    });
    const reader = body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
        if (live.abort.signal.aborted) break;
      }
      parser.end();
    } catch {
      // A cancel or the size cap aborted the call; the answer's state says which.
    } finally {
      if (live.abort.signal.aborted) await reader.cancel().catch(() => {});
    }
  }

  /** Stores one event, then hands it to live followers; past the size cap, stops the call. */
  private keep(call: OwnedCall, payload: string, live: LiveRun): void {
    const row = this.row();
    if (!row || FINAL_STATUSES.has(row.status)) return;
    const kept =
      call.kind === "responses"
        ? keepResponsesEvent(payload, row.events, call.id, call.echo)
        : keepChatEvent(payload);
    if (row.bytes + kept.data.length > call.bounds.maxBytes) {
      this.failWith(call, {
        code: "answer_too_large",
        message: `The answer passed the router's size cap for kept answers (${call.bounds.maxBytes} bytes) and was stopped; what was generated is billed.`,
      });
      live.abort.abort(new Error("size cap"));
      return;
    }
    this.append(kept);
  }

  private append(kept: KeptEvent): void {
    const sql = this.ctx.storage.sql;
    const { events } = this.requireRow();
    sql.exec("INSERT INTO events (seq, name, data) VALUES (?, ?, ?)", events, kept.name ?? null, kept.data);
    sql.exec("UPDATE answer SET events = events + 1, bytes = bytes + ?", kept.data.length);
    if (kept.response) sql.exec("UPDATE answer SET response = ?", JSON.stringify(kept.response));
    if (kept.doneItem)
      sql.exec(
        "UPDATE answer SET output = json_insert(output, '$[#]', json(?))",
        JSON.stringify(kept.doneItem),
      );
    if (kept.error) sql.exec("UPDATE answer SET error = ?", JSON.stringify(kept.error));
    if (kept.status) this.settle(kept.status);
    // Readers wake after this turn, so the events kept in it reach each of them as one chunk. The final
    // event ends the answer for them, whatever the upstream connection still does.
    this.wakeReaders();
  }

  /** The pipeline answered with an error before any event (refused, shed, over budget): the answer failed with it. */
  private refused(call: OwnedCall, refusal: OwnedRefusal): void {
    const body = parse(refusal.body);
    const error = isObject(body?.error) ? body.error : {};
    this.failWith(
      call,
      {
        code: typeof error.code === "string" ? error.code : `http_${refusal.status}`,
        message: typeof error.message === "string" ? error.message : `The router answered ${refusal.status}.`,
      },
      typeof error.type === "string" ? error.type : undefined,
    );
  }

  /**
   * Fails the answer, telling followers in the surface's own in-band error form. `type`: the chat
   * envelope's, when the failure is a refusal that has its own (a shed is a `rate_limit_error`).
   */
  private failWith(call: OwnedCall, error: { code: string; message: string }, type = "upstream_error"): void {
    const row = this.row();
    if (!row || FINAL_STATUSES.has(row.status)) return;
    const { events } = row;
    const data =
      call.kind === "responses"
        ? JSON.stringify({
            type: "error",
            code: error.code,
            message: error.message,
            param: null,
            sequence_number: events,
          })
        : JSON.stringify({
            error: { message: error.message, type, param: null, code: error.code },
          });
    this.append({
      data,
      name: call.kind === "responses" ? "error" : undefined,
      status: "failed",
      error,
    });
  }

  /**
   * The run belonged to an instance that is gone (evicted, crashed): its upstream call, its lease
   * heartbeat and its accounting died with it. The lease expires at the gate; the usage is booked here,
   * estimated from what was kept.
   */
  private failDead(): void {
    const call = this.callOf(this.requireRow());
    const outputEvents = this.ctx.storage.sql
      .exec<{ name: string | null; data: string }>("SELECT name, data FROM events")
      .toArray()
      .filter((event) => isOutputEvent(call.kind, event.name, event.data)).length;
    this.failWith(call, {
      code: "owner_restarted",
      message: "The router lost this answer mid-call (its owner restarted); what was streamed is kept.",
    });
    this.ctx.waitUntil(this.bookLost(call, outputEvents));
  }

  /**
   * A Response that ended without the upstream's usage (cancelled, cut off) shows what the ledger
   * booked for it, its spent attempts included: what the tenant is billed, where `retrieve` shows it.
   */
  private async showBookedUsage(call: OwnedCall): Promise<void> {
    const row = this.row();
    if (!row || row.status === "completed") return;
    const response = row.response ? parse(row.response) : undefined;
    if (isObject(response?.usage)) return;
    const requestId = call.headers["x-request-id"] ?? call.id;
    const booked = (await this.env.TENANT_LEDGER.getByName(call.tenant).entries(requestId)).filter(
      // The call's own row, and attempts since it was created (a caller may reuse its request id).
      (entry) =>
        entry.entryId === `owned:${call.id}` || (entry.kind === "attempt" && entry.at >= row.created_at),
    );
    if (booked.length === 0) return;
    const usage = booked.reduce((sum, entry) => addUsage(sum, entry.usage), NO_USAGE);
    const shown = { ...(response ?? {}), usage: responsesUsage(usage) };
    this.ctx.storage.sql.exec("UPDATE answer SET response = ?", JSON.stringify(shown));
  }

  private async bookLost(call: OwnedCall, outputEvents: number): Promise<void> {
    const now = this.clock();
    const policy = await activePolicy({ ...this.env, ...call.config }, now);
    if (!policy.ok) return;
    const entry = lostCallEntry({ call, outputEvents, policy: policy.value.policy, now });
    await this.env.TENANT_LEDGER.getByName(call.tenant).recordMany([entry]);
  }

  /** Wakes the readers waiting for events: to read on, or with a keep-alive (one still reading has bytes enough). */
  private wakeReaders(keepAlive?: string): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake(keepAlive);
  }

  private settle(status: OwnedStatus): void {
    this.ctx.storage.sql.exec("UPDATE answer SET status = ?", status);
  }

  private async erase(): Promise<void> {
    this.live?.abort.abort(new Error("deleted"));
    const row = this.row();
    if (row) {
      const { id, tenant } = this.callOf(row);
      await this.env.TENANT_ANSWERS.getByName(tenant).forget(id);
    }
    this.wakeReaders();
    await this.ctx.storage.deleteAlarm();
    // Rows, not deleteAll: the tables stay for a late call, which then finds nothing.
    this.ctx.storage.sql.exec("DELETE FROM events");
    this.ctx.storage.sql.exec("DELETE FROM answer");
  }

  private snapshotOf(row: AnswerRow, call: OwnedCall): OwnedSnapshot {
    const error = row.error ? (JSON.parse(row.error) as OwnedSnapshot["error"]) : undefined;
    const snapshot: OwnedSnapshot = {
      id: call.id,
      kind: call.kind,
      status: row.status,
      events: row.events,
      bytes: row.bytes,
      ...(error ? { error } : {}),
    };
    if (call.kind === "responses") snapshot.response = JSON.stringify(this.responseObject(row, call, error));
    return snapshot;
  }

  /** The Response object now: the last one an event carried, with the router's status and echoes. */
  private responseObject(row: AnswerRow, call: OwnedCall, error: OwnedSnapshot["error"]): Json {
    const last = row.response ? (parse(row.response) ?? {}) : {};
    const final = row.status === "completed" || row.status === "incomplete";
    return {
      object: "response",
      created_at: Math.floor(row.created_at / 1000),
      model: call.model,
      error: null,
      incomplete_details: null,
      usage: null,
      ...last,
      id: call.id,
      status: row.status,
      output: final && Array.isArray(last.output) ? last.output : JSON.parse(row.output),
      ...(row.status === "failed" && error ? { error } : {}),
      ...call.echo,
    };
  }

  private row(): AnswerRow | undefined {
    return this.ctx.storage.sql.exec<AnswerRow>("SELECT * FROM answer LIMIT 1").toArray()[0];
  }

  private requireRow(): AnswerRow {
    const row = this.row();
    if (!row) throw new Error("the owner holds no answer");
    return row;
  }

  /** The row when `reader` may see it ({@link OwnedReader}); a run a dead instance left is failed on the way. */
  private ownRow(reader: OwnedReader): AnswerRow | undefined {
    const row = this.row();
    if (!row || row.expires_at <= this.clock()) return undefined;
    const call = this.callOf(row);
    if (call.tenant !== reader.tenant) return undefined;
    if (reader.endUser !== undefined && call.endUser?.id !== reader.endUser) return undefined;
    if (row.status === "in_progress" && !this.live) {
      this.failDead();
      return this.row();
    }
    return row;
  }

  private callOf(row: AnswerRow): OwnedCall {
    return JSON.parse(row.call) as OwnedCall;
  }
}

/** The call as a request to the app, marked in-process as its tenant's; `signal` is its caller leaving. */
function inProcessRequest(call: OwnedCall, signal: AbortSignal): Request {
  return internalRequest(
    `https://owner.internal${call.path}`,
    {
      method: "POST",
      headers: { ...call.headers, "content-type": "application/json" },
      body: call.body,
      signal,
    },
    { tenantId: call.tenant, keyId: call.keyId, endUser: call.endUser, ledgerKey: `owned:${call.id}` },
  );
}

/** The pipeline's refusal as it would reach a plain caller: status, headers and error body. */
async function refusalOf(response: Response): Promise<OwnedRefusal> {
  return {
    kind: "refused",
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

/** An execution context whose `waitUntil` work is collected, for the owner to await before its alarm ends. */
function holding(pending: Promise<unknown>[]): ExecutionContext {
  return {
    waitUntil: (work: Promise<unknown>) => void pending.push(work),
    passThroughOnException: () => {},
    props: {},
  } as unknown as ExecutionContext;
}
