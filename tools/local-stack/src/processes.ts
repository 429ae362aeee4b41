import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync, rmSync, type WriteStream } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** A child process whose output is kept (last lines in memory, everything in a log file if given). */
export type RunningProcess = {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines it printed, for error messages when it dies or never becomes ready. */
  recentOutput(): string;
  /** Settles when the process has exited (code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
};

export type StartProcessOptions = {
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Everything the process prints also goes to this file. */
  logFile?: string;
  /** Called with each line it prints (stdout and stderr). */
  onLine?: (line: string) => void;
  uid?: number;
  gid?: number;
  /**
   * In its own process group, so that Ctrl-C in a terminal (which signals the whole foreground
   * group) does not reach it: the caller stops it, in order, after what depends on it.
   */
  detached?: boolean;
};

const RECENT_LINES = 60;

/** Starts a process with its output piped and split into lines. */
export function startProcess(options: StartProcessOptions): RunningProcess {
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached === true,
  };
  if (options.uid !== undefined) spawnOptions.uid = options.uid;
  if (options.gid !== undefined) spawnOptions.gid = options.gid;
  const child = spawn(options.command, [...options.args], spawnOptions);
  const recent: string[] = [];
  let log: WriteStream | undefined;
  if (options.logFile !== undefined) log = createWriteStream(options.logFile, { flags: 'a' });

  const onChunk = (pending: { text: string }) => (chunk: Buffer) => {
    log?.write(chunk);
    pending.text += chunk.toString('utf8');
    const lines = pending.text.split('\n');
    pending.text = lines.pop() ?? '';
    for (const line of lines) emit(line);
  };
  const emit = (line: string) => {
    recent.push(line);
    if (recent.length > RECENT_LINES) recent.shift();
    options.onLine?.(line);
  };
  const stdoutPending = { text: '' };
  const stderrPending = { text: '' };
  child.stdout?.on('data', onChunk(stdoutPending));
  child.stderr?.on('data', onChunk(stderrPending));

  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      // Spawning failed (binary missing, permission denied): report it like an exit.
      emit(`[${options.name}] could not start: ${error.message}`);
      done = true;
      log?.end();
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => {
      for (const rest of [stdoutPending.text, stderrPending.text]) if (rest !== '') emit(rest);
      done = true;
      log?.end();
      resolve({ code, signal });
    });
  });

  return {
    name: options.name,
    child,
    exited,
    hasExited: () => done,
    recentOutput: () => recent.join('\n'),
  };
}

/**
 * Stops a process: `signal` first (each server's own clean shutdown), then SIGKILL if it has not
 * exited within `timeoutMs`. Resolves once it is gone.
 */
export async function stopProcess(running: RunningProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (running.hasExited()) return;
  running.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  // The timer is cleared as soon as the process is gone, so it never holds the caller open.
  const first = await Promise.race([running.exited, timedOut]);
  clearTimeout(timer);
  if (first === 'timeout' && !running.hasExited()) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
}

export type PollOptions = {
  timeoutMs: number;
  intervalMs?: number;
  description: string;
  /** Checked between attempts: a reason to give up at once (the process died, say). */
  abortReason?: () => string | undefined;
};

/** Polls `attempt` until it returns a value (not undefined) or throws after the deadline. */
export async function pollUntil<T>(attempt: () => Promise<T | undefined>, options: PollOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const abort = options.abortReason?.();
    if (abort !== undefined) throw new Error(`${options.description}: ${abort}`);
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${options.description}: not ready after ${options.timeoutMs} ms${cause}`);
    }
    await delay(options.intervalMs ?? 250);
  }
}

/** Whether a process with this id exists (and we may signal it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, pid: number): void {
  writeFileSync(file, `${pid}\n`);
}

/**
 * A crashed or killed run can leave its broker or database behind, holding the data directory.
 * If `pidFile` names a live process whose command line contains `marker` (so it is really ours,
 * not a recycled pid), it is stopped. Returns whether something was stopped.
 */
export async function stopLeftover(pidFile: string, marker: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return false;
  }
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
  const commandLine = commandLineOf(pid);
  if (commandLine === undefined || !commandLine.includes(marker)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 30_000;
  while (isAlive(pid) && Date.now() < deadline) await delay(200);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return true;
}
