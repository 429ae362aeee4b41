// Reading processes' CPU time and the machine's stolen time from /proc (Linux), for the benchmarks.
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** Fields of /proc/<pid>/stat after the command name (index 0 is the state), or null when it is gone. */
export function statOf(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** utime + stime of one process, in ms (0 when it is gone); with `reapedChildren`, also cutime + cstime. */
export function cpuMsOfPid(pid: number, options: { reapedChildren?: boolean } = {}): number {
  const fields = statOf(pid);
  if (!fields) return 0;
  const ticks = Number(fields[11]) + Number(fields[12]) + (options.reapedChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * PostgreSQL's CPU so far: the backends alive now, plus what the postmaster's exited children
 * (backends that closed meanwhile, autovacuum workers) used, which the kernel adds to its
 * cutime/cstime when it reaps them. Without the latter, a backend that exits during a phase takes
 * its CPU with it and the phase's difference can even come out negative.
 */
export function postgresCpuMs(): number {
  const backends = pidsMatching('postgres:');
  const postmasters = new Set(backends.map((pid) => Number(statOf(pid)?.[1] ?? 0)).filter((ppid) => ppid > 1));
  return backends.reduce((total, pid) => total + cpuMsOfPid(pid), 0) + [...postmasters].reduce((total, pid) => total + cpuMsOfPid(pid, { reapedChildren: true }), 0);
}

/** How long a process has been running, in seconds (null when it is gone). */
export function ageSecondsOf(pid: number): number | null {
  const fields = statOf(pid);
  if (!fields) return null;
  // starttime (field 22 of stat; index 19 here) is in clock ticks since boot.
  const bootSeconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ', 1)[0]);
  return bootSeconds - Number(fields[19]) / CLOCK_TICKS_PER_SECOND;
}

/** Processes whose command line contains `needle` (PostgreSQL's backends come and go: summed at each reading). */
export function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The machine's CPU counters (all CPUs), to tell how much of a run's time the hypervisor took. */
export function machineTicks(): { total: number; steal: number; idle: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, steal: fields[7] ?? 0, idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
}

/** Share of the machine's time between two readings that the hypervisor gave to others (steal). */
export function stealShare(before: ReturnType<typeof machineTicks>, after: ReturnType<typeof machineTicks>): number {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}
