// The starter's server, started as its README says, several times over on one machine.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const STARTER_DIR = fileURLToPath(
  new URL('../../../examples/saas-starter/', import.meta.url),
)

export interface Instance {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
  /** Resolves when the process has exited, with its signal or code. */
  readonly exited: Promise<string>
}

export async function startInstance(
  name: string,
  port: number,
  env: Record<string, string>,
): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: STARTER_DIR,
    env: { ...process.env, ...env, PORT: String(port), LOG_FORMAT: 'json', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000)
  })
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)),
  )
  const instance: Instance = { name, port, child, exited }
  const deadline = Date.now() + 120_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited at startup: ${stderr}`)
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    )
    if (ready) return instance
    if (Date.now() > deadline) throw new Error(`${name} not ready after 120 s: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

export async function stopInstance(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return
  instance.child.kill('SIGTERM')
  await instance.exited
}

/** `npx acme keys generate`: one signing key every instance shares. */
export async function generateSigningKeys(): Promise<string> {
  const { stdout } = await promisify(execFile)('npx', ['acme', 'keys', 'generate'], {
    cwd: STARTER_DIR,
  })
  return stdout.trim()
}

/** The starter's billing-style task: sets plans from a process of its own. */
export async function setPlan(env: Record<string, string>, plan: string, tenantIds: string[]) {
  await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', 'src/tasks/set-plan.ts', plan, ...tenantIds],
    { cwd: STARTER_DIR, env: { ...process.env, ...env, LOG_LEVEL: 'warn' } },
  )
}
