import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  acceptsConnections,
  captureLogStream,
  createTestDatabase,
  freePort,
  isRunning,
  processTree,
  type TestDatabase,
} from '@acme/test-support'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

// The start command as a person runs it (`pnpm start` in this folder: the Prisma client
// generated, then the server), stopped the two ways it is stopped in practice: SIGTERM to the
// command (a service manager, a container runtime, `kill`) and SIGINT to its whole process group
// (Ctrl-C in a terminal). Either way the server shuts down gracefully, once, its port closes and
// nothing the command started is left running.
const starterDir = fileURLToPath(new URL('..', import.meta.url))

interface Started {
  child: ChildProcess
  port: number
  /** The command's processes while it served: the package manager, any shell, the server. */
  tree: number[]
  output: () => string
  exited: Promise<unknown>
}

let database: TestDatabase | undefined
let dataDir = ''
const started: Started[] = []

beforeAll(async () => {
  database = await createTestDatabase({ label: 'starter_start' })
  dataDir = mkdtempSync(join(tmpdir(), 'saas-starter-start-'))
})

afterEach(() => {
  // A failed test must not leave a server behind: the command's group, whatever is left of it.
  for (const { child, tree } of started.splice(0)) {
    for (const pid of [-(child.pid ?? 0), ...tree]) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone already
      }
    }
  }
})

afterAll(async () => {
  await database?.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

async function answers200(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

/** `pnpm start` in its own process group, as a terminal starts a foreground job; until ready. */
async function start(): Promise<Started> {
  const port = await freePort()
  const child = spawn('pnpm', ['start'], {
    cwd: starterDir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: `${port}`,
      DATABASE_URL: database?.url ?? '',
      MAIL_DIR: join(dataDir, 'mail'),
      LOG_FORMAT: 'json',
    },
  })
  let output = ''
  // The child's logs join the run's capture: the secret scan covers the server as started.
  const capture = captureLogStream()
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    capture.write(chunk)
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    capture.write(chunk)
  })
  const exited = once(child, 'exit')
  const entry: Started = { child, port, tree: [], output: () => output, exited }
  started.push(entry)
  const deadline = Date.now() + 150_000
  while (!(await answers200(`http://127.0.0.1:${port}/health/ready`))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pnpm start exited before it was ready:\n${output}`)
    }
    if (Date.now() > deadline) throw new Error(`pnpm start was not ready in 150 s:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  entry.tree = processTree(child.pid as number)
  return entry
}

/** Waits until every process of the command has exited; answers those still running if not. */
async function leftRunning(tree: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  let running = tree.filter(isRunning)
  while (running.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    running = running.filter(isRunning)
  }
  return running
}

function shutdownLines(output: string): { graceful: number; forced: number; errors: string[] } {
  const lines = output.split('\n').flatMap((line) => {
    try {
      return [JSON.parse(line) as { level?: number; msg?: string }]
    } catch {
      return []
    }
  })
  return {
    graceful: lines.filter((line) => line.msg === 'shutting down gracefully').length,
    forced: lines.filter((line) => line.msg === 'second signal during shutdown: exiting now')
      .length,
    errors: lines.filter((line) => (line.level ?? 0) >= 50).map((line) => JSON.stringify(line)),
  }
}

describe('pnpm start, stopped', () => {
  it('by SIGTERM to the command: the server shuts down gracefully and nothing is left', async () => {
    const app = await start()
    // The command and the server it started: at least the package manager and the server.
    expect(app.tree.length).toBeGreaterThan(1)
    process.kill(app.child.pid as number, 'SIGTERM')
    expect(await leftRunning(app.tree, 60_000)).toEqual([])
    expect(await acceptsConnections(app.port)).toBe(false)
    expect(shutdownLines(app.output())).toEqual({ graceful: 1, forced: 0, errors: [] })
  }, 240_000)

  it('by Ctrl-C (SIGINT to the process group): one graceful shutdown, nothing left', async () => {
    const app = await start()
    process.kill(-(app.child.pid as number), 'SIGINT')
    expect(await leftRunning(app.tree, 60_000)).toEqual([])
    expect(await acceptsConnections(app.port)).toBe(false)
    // Every process of the group got the signal, and the package manager passes it on too:
    // the server must take it as one request to stop, not as a second one that forces an exit.
    expect(shutdownLines(app.output())).toEqual({ graceful: 1, forced: 0, errors: [] })
  }, 240_000)
})
