// The infrastructure of the topology, each piece a real process on loopback: PostgreSQL's
// database and app role, and haproxy in front of the app instances (PgBouncer and Redis Cluster
// come from the test kit).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureAppRole, migrateApply } from '@acme/cli'
import { acceptsConnections, waitFor } from '@acme/test-kit'
import pg from 'pg'

export const POSTGRES = 'postgres://postgres@127.0.0.1:5432'

export interface Stoppable {
  stop(): Promise<void>
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** A fresh database with the starter's migrations, and a login role row-level security applies to. */
export async function createDatabase(
  name: string,
  role: string,
  migrationsDir: string,
): Promise<void> {
  await admin(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await client.query(`CREATE DATABASE ${name}`)
  })
  const url = `${POSTGRES}/${name}`
  await migrateApply({ migrationsDir, target: { url }, log: () => {} })
  await ensureAppRole({ url, role })
  await admin((client) => client.query(`ALTER ROLE ${role} LOGIN`))
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

export interface Frontend {
  port: number
  /** The app instances' ports this frontend balances over. */
  servers: number[]
}

/**
 * haproxy 2.6, round robin, each server checked on /health/ready every 500 ms. A request whose
 * connection failed or got no response at all is retried once on another server (`redispatch`):
 * what keeps a killed instance from failing requests that had not reached it yet.
 */
export async function startHaproxy(dir: string, frontends: Frontend[]): Promise<Stoppable> {
  const config = join(dir, 'haproxy.cfg')
  const lines = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  option forwardfor',
    '  option redispatch 1',
    '  retries 2',
    '  retry-on conn-failure empty-response response-timeout',
    '  option httpchk GET /health/ready',
    '  default-server inter 500ms fall 2 rise 2',
  ]
  for (const frontend of frontends) {
    lines.push(
      `frontend f${frontend.port}`,
      `  bind 127.0.0.1:${frontend.port}`,
      `  default_backend b${frontend.port}`,
      `backend b${frontend.port}`,
      '  balance roundrobin',
      ...frontend.servers.map((port) => `  server app${port} 127.0.0.1:${port} check`),
    )
  }
  writeFileSync(config, `${lines.join('\n')}\n`)
  execFileSync('haproxy', ['-c', '-q', '-f', config])
  const child = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  for (const frontend of frontends) {
    await waitFor(() => acceptsConnections(frontend.port), { timeoutMs: 15_000, intervalMs: 100 })
  }
  return { stop: () => stopProcess(child) }
}

export function versionOf(command: string, args: string[]): string {
  const output = execFileSync(command, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return output.split('\n')[0]?.trim() ?? ''
}
