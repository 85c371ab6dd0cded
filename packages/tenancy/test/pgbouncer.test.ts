import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, sleep } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTenancyApp,
  createTenancyDatabase,
  type TenancyDatabase,
  type TenancyTestApp,
} from './support/app.js'
import {
  type ConcurrentWorld,
  checkConcurrentProperty,
  concurrentRoutes,
  setUpConcurrentWorld,
} from './support/concurrent-notes.js'

/**
 * The statement scope behind PgBouncer in transaction mode (Debian's `pgbouncer`, 1.18: it does
 * not follow named prepared statements from one server connection to another). Every statement
 * and its settings are one transaction, so they stay on one server connection; the settings'
 * named statement meets server connections that lack it or already have it, and is sent again.
 * The app (app.prisma and request.db, 4 connections each) reaches PostgreSQL through 3 server
 * connections. It needs Debian's `pgbouncer` (`apt-get install pgbouncer`; .ci/run installs it)
 * and fails, naming the package, where it is missing.
 */
const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path))
const SEED = Number(process.env.FC_SEED ?? 20_261_205)

let db: TenancyDatabase
let bouncer: ChildProcess | undefined
let folder: string
let t: TenancyTestApp
let world: ConcurrentWorld

async function listening(port: number): Promise<void> {
  const until = Date.now() + 10_000
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await sleep(50)
  }
  throw new Error(`pgbouncer is not listening on ${port}`)
}

describe('behind PgBouncer in transaction mode', () => {
  beforeAll(async () => {
    if (!PGBOUNCER) throw new Error('pgbouncer is not installed: apt-get install pgbouncer')
    db = await createTenancyDatabase('bouncer')
    const app = new URL(db.app.url)
    const port = await freePort()
    folder = mkdtempSync(join(tmpdir(), 'acme-pgbouncer-'))
    const config = join(folder, 'pgbouncer.ini')
    writeFileSync(
      config,
      [
        '[databases]',
        `${db.owner.name} = host=${app.hostname} port=${app.port || 5432} dbname=${db.owner.name} user=${decodeURIComponent(app.username)} password=${decodeURIComponent(app.password)} pool_size=3`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = any',
        'pool_mode = transaction',
        'max_client_conn = 200',
        'server_reset_query =',
        'ignore_startup_parameters = extra_float_digits,options,application_name',
      ].join('\n'),
      { mode: 0o644 },
    )
    // PgBouncer refuses to run as root.
    const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : []
    bouncer = spawn(PGBOUNCER as string, [...asUser, config], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    await listening(port)
    app.host = `127.0.0.1:${port}`
    t = await createTenancyApp(
      { rateLimit: { enabled: false } },
      {
        label: 'bouncer',
        database: { ...db, app: { ...db.app, url: app.toString() } },
        routes: concurrentRoutes,
        core: { rateLimit: false },
      },
    )
    world = await setUpConcurrentWorld(t, 5, 'bouncer')
  })

  afterAll(async () => {
    await world?.owner.end()
    await t?.close()
    bouncer?.kill('SIGTERM')
    if (bouncer) await new Promise((resolve) => bouncer?.once('exit', resolve))
    await db?.drop()
    if (folder) rmSync(folder, { recursive: true, force: true })
  })

  it('keeps tenants apart with every statement on whichever server connection is free', async () => {
    const requests = await checkConcurrentProperty(world, { seed: SEED, numRuns: 8 })
    const seen = Object.fromEntries([...world.outcomes].sort())
    console.info(`through PgBouncer: ${requests} requests; outcomes ${JSON.stringify(seen)}`)
    expect(Object.keys(seen)).toEqual(
      expect.arrayContaining(['create 201', 'list 200', 'setting 200', 'unscoped 200']),
    )
  }, 180_000)

  it('leaves no tenant on any server connection', async () => {
    // Through the pooler, app.prisma's statements land on every server connection in turn.
    const seen = await Promise.all(
      Array.from(
        { length: 30 },
        () =>
          t.app.prisma.$queryRaw<Array<{ setting: string; notes: number }>>`
          SELECT coalesce(current_setting('app.tenant_id', true), '') AS setting,
                 (SELECT count(*)::int FROM notes) AS notes`,
      ),
    )
    expect(new Set(seen.map((rows) => JSON.stringify(rows[0])))).toEqual(
      new Set([JSON.stringify({ setting: '', notes: 0 })]),
    )
  })
})
