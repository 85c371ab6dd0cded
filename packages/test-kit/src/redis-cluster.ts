import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './port.js'
import { waitFor } from './wait.js'

const run = promisify(execFile)

export interface RedisCluster {
  /** `redis://127.0.0.1:<port>` of each master, the seed list a Cluster client takes. */
  readonly urls: string[]
  readonly ports: number[]
  /** Stops every node and removes their files. */
  stop(): Promise<void>
}

export interface RedisClusterOptions {
  /** Masters, each owning a third (or so) of the slots; no replicas. Default 3. */
  nodes?: number
  /** Each node's maxmemory-policy. Default `noeviction`, what the job queue needs. */
  maxmemoryPolicy?: string
}

/**
 * A real Redis Cluster of Debian's `redis-server` on loopback, one process per master, slots
 * assigned by `redis-cli --cluster create`. Each node also needs its bus port (port + 10000).
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const count = options.nodes ?? 3
  const dir = mkdtempSync(join(tmpdir(), 'acme-redis-cluster-'))
  const ports: number[] = []
  while (ports.length < count) {
    const port = await clusterPort()
    if (!ports.includes(port)) ports.push(port)
  }
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        options.maxmemoryPolicy ?? 'noeviction',
      ],
      { stdio: 'ignore' },
    ),
  )
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGKILL')
        await exited
      }),
    )
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) await untilAnswers(port)
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    for (const port of ports) await untilClusterOk(port)
  } catch (error) {
    await stop()
    throw error
  }
  return { urls: ports.map((port) => `redis://127.0.0.1:${port}`), ports, stop }
}

/** A free port whose cluster bus port (+10000) is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port < 55_000 && (await isFree(port + 10_000))) return port
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

async function untilAnswers(port: number): Promise<void> {
  await until(port, async () => (await cli(port, 'ping')) === 'PONG', 'does not answer PING')
}

async function untilClusterOk(port: number): Promise<void> {
  await until(
    port,
    async () => (await cli(port, 'cluster', 'info')).includes('cluster_state:ok'),
    'never reached cluster_state:ok',
  )
}

async function until(port: number, check: () => Promise<boolean>, failure: string): Promise<void> {
  try {
    await waitFor(check, { timeoutMs: 20_000, intervalMs: 100 })
  } catch {
    throw new Error(`redis-server on ${port} ${failure}`)
  }
}

async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args])
  return stdout.trim()
}
