import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { manualClock, waitFor } from '@acme/test-kit'
import { scheduledRunIds } from '@acme/test-support'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tenancyOptionsSchema } from '../src/options.js'
import { InvitationCleanup } from '../src/services/cleanup.js'
import { createTenancyApp, type TenancyTestApp } from './support/app.js'

/** The background cleanup of lapsed invitations (`tenancy.cleanup`), under row-level security. */

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const JOB = 'tenancy.cleanup'

/** Seeds as the migration owner (a superuser: RLS does not apply to it), with chosen times. */
async function asOwner<T>(t: TenancyTestApp, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function seedTenant(t: TenancyTestApp): Promise<string> {
  const id = randomUUID()
  const slug = `cleanup-${randomBytes(4).toString('hex')}`
  await asOwner(t, (client) =>
    client.query(
      `INSERT INTO "tenants" ("id", "name", "slug", "plan", "updated_at") VALUES ($1, $2, $2, 'starter', now())`,
      [id, slug],
    ),
  )
  return id
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

async function seedInvitation(
  t: TenancyTestApp,
  tenantId: string,
  times: { created: number; expires: number; accepted?: number; revoked?: number },
): Promise<string> {
  const id = randomUUID()
  const tokenHash = createHash('sha256').update(randomBytes(32)).digest('hex')
  await asOwner(t, (client) =>
    client.query(
      `INSERT INTO "invitations"
         ("id", "tenant_id", "email", "roles", "token_hash", "expires_at", "accepted_at", "revoked_at", "created_at")
       VALUES ($1, $2, $3, ARRAY['member'], $4, $5, $6, $7, $8)`,
      [
        id,
        tenantId,
        `${id}@initech.test`,
        tokenHash,
        iso(times.expires),
        iso(times.accepted),
        iso(times.revoked),
        iso(times.created),
      ],
    ),
  )
  return id
}

async function invitationIds(t: TenancyTestApp): Promise<string[]> {
  const { rows } = await asOwner(t, (client) =>
    client.query<{ id: string }>('SELECT "id" FROM "invitations" ORDER BY "id"'),
  )
  return rows.map((row) => row.id)
}

describe('tenancy.cleanup with the in-process runner, as the app role', () => {
  const clock = manualClock(new Date('2030-01-01T00:00:00.000Z'))
  let t: TenancyTestApp

  beforeAll(async () => {
    t = await createTenancyApp(
      // Small batches, so a tenant takes several DELETE statements.
      { clock: clock.now, cleanup: { batchSize: 2 } },
      {
        label: 'tenancy_cleanup',
        redis: false,
        core: { jobs: { clock: clock.now } },
        // auth.cleanup (hourly) would be due too: this file is about tenancy's.
        auth: { cleanup: { enabled: false } },
      },
    )
  })
  afterAll(async () => {
    await t?.close()
  })

  it('is scheduled at startup, every day by default', async () => {
    expect(await t.app.jobs.schedules(JOB)).toEqual([
      {
        name: JOB,
        key: JOB,
        schedule: { every: DAY_MS },
        payload: {},
        next: new Date(clock.now().getTime() + DAY_MS),
      },
    ])
  })

  it('deletes, in every tenant, exactly the invitations that lapsed beyond the retention', async () => {
    const N = clock.now().getTime() + DAY_MS
    const a = await seedTenant(t)
    const b = await seedTenant(t)
    await seedTenant(t) // one with no invitation at all
    const week = 7 * DAY_MS
    const gone = [
      // Expired 31 days ago, never answered.
      await seedInvitation(t, a, { created: N - 31 * DAY_MS - week, expires: N - 31 * DAY_MS }),
      // Accepted 31 days ago.
      await seedInvitation(t, a, {
        created: N - 32 * DAY_MS,
        expires: N - 25 * DAY_MS,
        accepted: N - 31 * DAY_MS,
      }),
      // Revoked 40 days ago (replaced by a re-invitation, say).
      await seedInvitation(t, a, {
        created: N - 41 * DAY_MS,
        expires: N - 34 * DAY_MS,
        revoked: N - 40 * DAY_MS,
      }),
      await seedInvitation(t, b, { created: N - 35 * DAY_MS - week, expires: N - 35 * DAY_MS }),
    ]
    const kept = [
      // Expired 10 days ago: within the retention.
      await seedInvitation(t, a, { created: N - 17 * DAY_MS, expires: N - 10 * DAY_MS }),
      // Pending: still takes a seat and can be accepted.
      await seedInvitation(t, a, { created: N - 2 * DAY_MS, expires: N + 5 * DAY_MS }),
      // Accepted yesterday.
      await seedInvitation(t, a, {
        created: N - 3 * DAY_MS,
        expires: N + 4 * DAY_MS,
        accepted: N - DAY_MS,
      }),
      await seedInvitation(t, b, { created: N - DAY_MS, expires: N + 6 * DAY_MS }),
    ]

    // Why the job goes tenant by tenant: as the app role, without a tenant set, the policies
    // show no invitation at all, so a cross-tenant DELETE deletes nothing.
    const unscoped = t.app.prisma as unknown as {
      $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>
    }
    expect(await unscoped.$executeRawUnsafe('DELETE FROM "invitations"')).toBe(0)
    expect(await invitationIds(t)).toHaveLength(8)

    clock.advance(DAY_MS)
    const runs = await t.app.jobs.runDue()
    expect(runs).toEqual([{ name: JOB, key: JOB, id: expect.any(String), status: 'completed' }])
    const remaining = await invitationIds(t)
    expect(remaining).toEqual([...kept].sort())
    for (const id of gone) expect(remaining).not.toContain(id)
    const done = t.logs.filter((line) => line.msg === 'tenancy cleanup done')
    expect(done).toHaveLength(1)
    expect(done[0]).toMatchObject({ job: JOB, jobId: runs[0]?.id, tenants: 3, invitations: 4 })

    // The next day: nothing new lapsed beyond the retention.
    clock.advance(DAY_MS)
    expect(await t.app.jobs.runDue()).toMatchObject([{ name: JOB, status: 'completed' }])
    expect(t.logs.filter((line) => line.msg === 'tenancy cleanup done').at(-1)).toMatchObject({
      tenants: 3,
      invitations: 0,
    })
    expect(await invitationIds(t)).toEqual([...kept].sort())
  })

  it("auth's cleanup runs as the app role too (its tables are not tenant-scoped)", async () => {
    await t.app.jobs.enqueue('auth.cleanup', {})
    const done = await waitFor(
      () => t.logs.find((line) => line.msg === 'auth cleanup done') ?? false,
    )
    expect(done).toMatchObject({ job: 'auth.cleanup', deleted: { sessions: 0 } })
  })

  it('walks the tenants in pages', async () => {
    const N = clock.now().getTime()
    const tenants = [await seedTenant(t), await seedTenant(t), await seedTenant(t)]
    for (const tenantId of tenants) {
      await seedInvitation(t, tenantId, { created: N - 50 * DAY_MS, expires: N - 43 * DAY_MS })
    }
    const cleanup = new InvitationCleanup({
      tenants: t.app.tenancy.tenants,
      now: clock.now,
      retentionDays: 30,
      batchSize: 1,
      tenantPageSize: 2,
    })
    // Three tenants from the test above, three here: three pages of two.
    expect(await cleanup.run()).toEqual({ tenants: 6, invitations: 3 })
    expect(await cleanup.run()).toEqual({ tenants: 6, invitations: 0 })
  })
})

describe('tenancy cleanup options', () => {
  const parse = (cleanup: unknown) => tenancyOptionsSchema.safeParse({ cleanup })

  it('defaults: on, every day, 30 days, batches of 1000; or a cron', () => {
    const parsed = parse(undefined)
    expect(parsed.success && parsed.data.cleanup).toEqual({
      enabled: true,
      retentionDays: 30,
      batchSize: 1_000,
      schedule: { every: DAY_MS },
    })
    const cron = parse({ cron: '0 4 * * *' })
    expect(cron.success && cron.data.cleanup.schedule).toEqual({ cron: '0 4 * * *', tz: 'UTC' })
  })

  it.each([
    [{ everySeconds: 3_600, cron: '0 * * * *' }],
    [{ everySeconds: 1 }],
    [{ cron: 'daily' }],
    [{ tz: 'Nowhere/City', cron: '0 4 * * *' }],
    [{ retentionDays: 0 }],
    [{ batchSize: 100_000 }],
  ])('refuses %j', (cleanup) => {
    expect(parse(cleanup).success).toBe(false)
  })
})

describe('tenancy.cleanup with BullMQ: two instances share one schedule', () => {
  let a: TenancyTestApp
  let b: TenancyTestApp

  beforeAll(async () => {
    // Every second (six cron fields), so ticks happen while the test watches.
    const options = { cleanup: { cron: '* * * * * *' } }
    a = await createTenancyApp(options, { label: 'tenancy_cleanup_bullmq' })
    b = await createTenancyApp(options, {
      label: 'tenancy_cleanup_bullmq',
      database: a.db,
      ...(a.redisPrefix ? { redisPrefix: a.redisPrefix } : {}),
    })
  })
  afterAll(async () => {
    await b?.close()
    await a?.close()
  })

  it('has one schedule between them, and each tick runs on one instance only', async () => {
    expect(a.app.jobs.mode).toBe('bullmq')
    for (const instance of [a, b]) {
      const schedules = await instance.app.jobs.schedules(JOB)
      expect(schedules).toHaveLength(1)
      expect(schedules[0]).toMatchObject({
        name: JOB,
        schedule: { cron: '* * * * * *', tz: 'UTC' },
      })
    }
    const jobIds = await scheduledRunIds([a, b], 'tenancy cleanup done')
    expect(jobIds.length).toBeGreaterThanOrEqual(3)
    expect(new Set(jobIds).size).toBe(jobIds.length)
    for (const jobId of jobIds) expect(jobId).toMatch(/^repeat:tenancy\.cleanup:\d+$/)
  })
})
