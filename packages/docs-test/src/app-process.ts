import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'

export interface RunningApp {
  /** The origin the app answered on. */
  baseUrl: string
  /** The start command's process (bash `exec`s the command, so it is the command itself). */
  pid: number
  /** Everything the app has printed so far, stdout and stderr interleaved. */
  output(): string
  /** Sends SIGTERM to the command's process, as an orchestrator does, and waits for the exit. */
  stop(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Ends the whole process group: for a test that failed before `stop`. */
  kill(): void
}

/**
 * Starts the page's start command (bash `exec`s it, so the signal reaches it directly) and
 * resolves once `readyUrl` answers 200, or rejects with the output when the process exits first
 * or the time runs out.
 */
export async function startApp(options: {
  command: string
  cwd: string
  env: Record<string, string>
  readyUrl: string
  timeoutMs: number
}): Promise<RunningApp> {
  const child = spawn('bash', ['-c', `exec ${options.command}`], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  const collect = (chunk: string) => {
    output += chunk
  }
  child.stdout?.setEncoding('utf8').on('data', collect)
  child.stderr?.setEncoding('utf8').on('data', collect)
  const exited = once(child, 'exit')
  const app: RunningApp = {
    baseUrl: new URL(options.readyUrl).origin,
    pid: child.pid ?? 0,
    output: () => output,
    stop: (timeoutMs) => stop(child, exited, timeoutMs),
    kill: () => killGroup(child),
  }
  const deadline = Date.now() + options.timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the app exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`,
      )
    }
    if (await answers200(options.readyUrl)) return app
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  app.kill()
  throw new Error(
    `the app was not ready at ${options.readyUrl} within ${options.timeoutMs} ms:\n${output}`,
  )
}

async function answers200(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

async function stop(child: ChildProcess, exited: Promise<unknown[]>, timeoutMs: number) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  const timer = setTimeout(() => killGroup(child), timeoutMs)
  try {
    await exited
  } finally {
    clearTimeout(timer)
  }
  return { code: child.exitCode, signal: child.signalCode }
}

/** SIGKILL to the command's process group: whatever it started, even if it has exited itself. */
function killGroup(child: ChildProcess): void {
  if (!child.pid) return
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    // the group is gone already
  }
}

/** The lines of a pino log at error level or above (non-JSON lines are not log lines). */
export function errorLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    try {
      return ((JSON.parse(line) as { level?: unknown }).level as number) >= 50
    } catch {
      return false
    }
  })
}
