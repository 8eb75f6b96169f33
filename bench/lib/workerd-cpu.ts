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
