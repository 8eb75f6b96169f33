import { readdirSync, readFileSync } from "node:fs";

/** Every workerd process below this one (Miniflare spawns it). */
export function workerdPids(): number[] {
  const parents = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    parents.set(Number(entry), stat.ppid);
    names.set(Number(entry), stat.comm);
  }
  const below = (pid: number): boolean => {
    for (let at = parents.get(pid); at !== undefined && at > 1; at = parents.get(at))
      if (at === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, comm]) => comm.includes("workerd") && below(pid)).map(([pid]) => pid);
}

function readStat(pid: number): { comm: string; ppid: number; cpuTicks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // After the comm: state(0) ppid(1) … utime(11) stime(12), in clock ticks.
  return { comm, ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** User + system CPU milliseconds the processes have used so far (clock ticks are 10 ms on Linux). */
export function workerdCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (readStat(pid)?.cpuTicks ?? 0) * 10, 0);
}

/**
 * One set of workerd processes' CPU per labelled round, with their idle rate (timers, the queue
 * broker's polling) measured once and taken out of every round's window, so a round that waits longer
 * for its background work counts no more of the idle.
 */
export class ProcessCpu {
  pids: readonly number[] = [];
  /** Idle CPU ms per wall ms; 0 until `endIdle`. */
  idlePerMs = 0;
  /** Per label: round CPU ms with and without the idle rate taken out, and per-request figures per round. */
  readonly totals = new Map<string, { ms: number; rawMs: number; requests: number; perRound: number[] }>();

  read(): { cpuMs: number; at: number } {
    return { cpuMs: workerdCpuMs(this.pids), at: performance.now() };
  }

  /** Takes the CPU since `start` (a `read()` with nothing else running) as the idle rate. */
  endIdle(start: { cpuMs: number; at: number }): void {
    const end = this.read();
    this.idlePerMs = (end.cpuMs - start.cpuMs) / (end.at - start.at);
  }

  /** Counts the CPU since `before` as `requests` requests of `label`; returns its ms per request. */
  count(label: string, before: { cpuMs: number; at: number }, requests: number): number {
    const end = this.read();
    const rawMs = end.cpuMs - before.cpuMs;
    const ms = rawMs - this.idlePerMs * (end.at - before.at);
    const total = this.totals.get(label) ?? { ms: 0, rawMs: 0, requests: 0, perRound: [] };
    total.ms += ms;
    total.rawMs += rawMs;
    total.requests += requests;
    total.perRound.push(ms / requests);
    this.totals.set(label, total);
    return ms / requests;
  }

  /** CPU ms per request of `label` over its rounds (`raw`: idle not taken out). */
  perRequest(label: string, raw = false): number {
    const total = this.totals.get(label);
    return total ? (raw ? total.rawMs : total.ms) / total.requests : Number.NaN;
  }
}

/**
 * For `startLocalStack`'s `platform` option, called just before the stack starts: the option, and the
 * workerd processes that host the router's Durable Objects once it has started them.
 */
export function platformApart(): { platform: { started(): void }; pids: number[] } {
  const before = workerdPids();
  const pids: number[] = [];
  return {
    pids,
    platform: { started: () => pids.push(...workerdPids().filter((pid) => !before.includes(pid))) },
  };
}
