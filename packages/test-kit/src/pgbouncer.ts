import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './port.js'
import { acceptsConnections } from './processes.js'
import { waitFor } from './wait.js'

export interface PgBouncer {
  readonly port: number
  /** `upstream` with its host and port pointed at PgBouncer: what the app connects to. */
  readonly url: string
  /** Stops PgBouncer and removes its files. */
  stop(): Promise<void>
}

export interface PgBouncerOptions {
  /** The PostgreSQL URL PgBouncer connects to: its user, password and database are used. */
  upstream: string
  /** Server connections PgBouncer opens to PostgreSQL for the database. */
  poolSize: number
  /** Client connections it accepts. Default 200. */
  maxClientConn?: number
}

const BINARIES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer']

/**
 * Debian's PgBouncer (1.18) in transaction mode on a free loopback port, in front of
 * `upstream`'s database. Fails, naming the package, where it is not installed.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<PgBouncer> {
  const binary = BINARIES.find((path) => existsSync(path))
  if (!binary) throw new Error('pgbouncer is not installed: apt-get install pgbouncer')
  const upstream = new URL(options.upstream)
  const database = upstream.pathname.slice(1)
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'acme-pgbouncer-'))
  const config = join(dir, 'pgbouncer.ini')
  const target = [
    `host=${upstream.hostname}`,
    `port=${upstream.port || 5432}`,
    `dbname=${database}`,
    `user=${decodeURIComponent(upstream.username)}`,
    ...(upstream.password ? [`password=${decodeURIComponent(upstream.password)}`] : []),
    `pool_size=${options.poolSize}`,
  ].join(' ')
  writeFileSync(
    config,
    [
      '[databases]',
      `${database} = ${target}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = any',
      'pool_mode = transaction',
      `max_client_conn = ${options.maxClientConn ?? 200}`,
      'server_reset_query =',
      'ignore_startup_parameters = extra_float_digits,options,application_name',
      'log_connections = 0',
      'log_disconnections = 0',
      'log_stats = 0',
    ].join('\n'),
    { mode: 0o644 },
  )
  // PgBouncer refuses to run as root.
  const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : []
  const child: ChildProcess = spawn(binary, [...asUser, config], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(() => acceptsConnections(port), { timeoutMs: 10_000, intervalMs: 50 })
  } catch (error) {
    await stop()
    throw error
  }
  const url = new URL(upstream)
  url.host = `127.0.0.1:${port}`
  return { port, url: url.toString(), stop }
}
