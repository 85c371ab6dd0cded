import { spawn } from 'node:child_process'

export interface CommandResult {
  command: string
  code: number | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs one command line with bash in `cwd`, as a person types it, and collects its output. */
export function runCommand(
  command: string,
  options: { cwd: string; env: Record<string, string>; timeoutMs: number },
): Promise<CommandResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so a timeout ends npm's children too
    })
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL')
    }, options.timeoutMs)
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ command, code, stdout, stderr, ms: Math.round(performance.now() - started) })
    })
  })
}

/** A failed command as a reader needs it: the line of the page, the command, its output. */
export function describeFailure(result: CommandResult, line: number): string {
  const output = `${result.stdout}${result.stderr}`.trim().split('\n').slice(-40).join('\n')
  return `docs line ${line}: \`${result.command}\` exited with ${result.code} after ${result.ms} ms\n${output}`
}
