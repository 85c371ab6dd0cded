import { type PgBouncer, startPgBouncer } from '@acme/test-kit'
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
const SEED = Number(process.env.FC_SEED ?? 20_261_205)

let db: TenancyDatabase
let bouncer: PgBouncer | undefined
let t: TenancyTestApp
let world: ConcurrentWorld

describe('behind PgBouncer in transaction mode', () => {
  beforeAll(async () => {
    db = await createTenancyDatabase('bouncer')
    bouncer = await startPgBouncer({ upstream: db.app.url, poolSize: 3 })
    t = await createTenancyApp(
      { rateLimit: { enabled: false } },
      {
        label: 'bouncer',
        database: { ...db, app: { ...db.app, url: bouncer.url } },
        routes: concurrentRoutes,
        core: { rateLimit: false },
      },
    )
    world = await setUpConcurrentWorld(t, 5, 'bouncer')
  })

  afterAll(async () => {
    await world?.owner.end()
    await t?.close()
    await bouncer?.stop()
    await db?.drop()
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
