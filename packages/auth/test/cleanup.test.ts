import { scheduledRunIds } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuthDb } from '../src/db.js'
import { authOptionsSchema } from '../src/options.js'
import { AuthCleanup } from '../src/services/cleanup.js'
import { hashToken, newOpaqueToken } from '../src/services/refresh-tokens.js'
import { recentlyRevokedSessions } from '../src/services/sessions.js'
import { type AuthTestApp, createAuthApp } from './support/app.js'
import { testClock } from './support/clock.js'

/** The background cleanup (`auth.cleanup`): what it deletes, and what it must keep. */

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
const JOB = 'auth.cleanup'
/** Default access-token lifetime (900 s) plus clock tolerance (30 s). */
const ACCESS_MS = 930_000
const DEVICE = { userAgent: 'vitest', ip: '203.0.113.7' }

let users = 0

async function newUser(db: AuthDb): Promise<string> {
  users += 1
  const user = await db.user.create({
    data: { email: `cleanup${users}-${Date.now()}@initech.test`, passwordHash: 'unused' },
    select: { id: true },
  })
  return user.id
}

interface SessionSeed {
  created: number
  idleExpires: number
  absoluteExpires: number
  revoked?: number
  userAgent?: string
  /** Refresh tokens, oldest first: `used` set for rotated ones. */
  tokens?: Array<{ created: number; used?: number }>
}

/** A session (and its rotation chain) with chosen times; answers the tokens' plaintexts. */
async function seedSession(db: AuthDb, userId: string, seed: SessionSeed) {
  const session = await db.authSession.create({
    data: {
      userId,
      userAgent: seed.userAgent ?? 'vitest',
      createdAt: new Date(seed.created),
      lastUsedAt: new Date(seed.created),
      authenticatedAt: new Date(seed.created),
      idleExpiresAt: new Date(seed.idleExpires),
      absoluteExpiresAt: new Date(seed.absoluteExpires),
      ...(seed.revoked === undefined
        ? {}
        : { revokedAt: new Date(seed.revoked), revokedReason: 'test' }),
    },
    select: { id: true },
  })
  const plaintexts: string[] = []
  let parentId: string | null = null
  for (const token of seed.tokens ?? []) {
    const plaintext = newOpaqueToken()
    const row: { id: string } = await db.refreshToken.create({
      data: {
        sessionId: session.id,
        userId,
        tokenHash: hashToken(plaintext),
        parentId,
        createdAt: new Date(token.created),
        ...(token.used === undefined ? {} : { usedAt: new Date(token.used) }),
      },
      select: { id: true },
    })
    if (parentId) {
      await db.refreshToken.update({ where: { id: parentId }, data: { replacedById: row.id } })
    }
    parentId = row.id
    plaintexts.push(plaintext)
  }
  return { id: session.id, tokens: plaintexts }
}

async function seedOneTimeToken(
  db: AuthDb,
  userId: string,
  purpose: string,
  times: { created: number; expires: number; used?: number },
): Promise<string> {
  const row = await db.oneTimeToken.create({
    data: {
      userId,
      purpose,
      tokenHash: hashToken(newOpaqueToken()),
      createdAt: new Date(times.created),
      expiresAt: new Date(times.expires),
      ...(times.used === undefined ? {} : { usedAt: new Date(times.used) }),
    },
    select: { id: true },
  })
  return row.id
}

const ids = async (rows: Promise<Array<{ id: string }>>) => (await rows).map((row) => row.id).sort()

describe('auth.cleanup with the in-process runner, driven by the clock', () => {
  const clock = testClock(new Date('2030-01-01T00:00:00.000Z'))
  let t: AuthTestApp
  let db: AuthDb
  /** Kept by the first run only because it was revoked within an access token's lifetime. */
  let revokedJustNow = ''

  beforeAll(async () => {
    t = await createAuthApp(
      // Small batches, so every table takes several DELETE statements.
      { cleanup: { batchSize: 2 } },
      {
        label: 'auth_cleanup',
        redis: false,
        // One clock for auth's "now" and for the runner's schedules.
        clock,
        core: { jobs: { clock: () => clock.now } },
      },
    )
    db = t.app.prisma as unknown as AuthDb
  })
  afterAll(async () => {
    await t?.close()
  })

  it('is scheduled at startup, every hour by default', async () => {
    expect(t.app.jobs.mode).toBe('in-process')
    const schedules = await t.app.jobs.schedules(JOB)
    expect(schedules).toEqual([
      {
        name: JOB,
        key: JOB,
        schedule: { every: HOUR_MS },
        payload: {},
        next: new Date(clock.now.getTime() + HOUR_MS),
      },
    ])
    // Nothing is due before the hour.
    expect(await t.app.jobs.runDue()).toEqual([])
  })

  it('deletes exactly what ended beyond the retention, and keeps what the product reads', async () => {
    // The run happens one hour from now: seed relative to that moment.
    const N = clock.now.getTime() + HOUR_MS
    const user = await newUser(db)

    // Sessions and their refresh tokens.
    const expiredLongAgo = await seedSession(db, user, {
      created: N - 60 * DAY_MS,
      idleExpires: N - 35 * DAY_MS,
      absoluteExpires: N - 30 * DAY_MS,
      tokens: [
        { created: N - 60 * DAY_MS, used: N - 50 * DAY_MS },
        { created: N - 50 * DAY_MS, used: N - 42 * DAY_MS },
        { created: N - 42 * DAY_MS },
      ],
    })
    await seedSession(db, user, {
      created: N - 40 * DAY_MS,
      idleExpires: N - 28 * DAY_MS,
      absoluteExpires: N - 10 * DAY_MS,
      revoked: N - 31 * DAY_MS,
      tokens: [{ created: N - 40 * DAY_MS, used: N - 35 * DAY_MS }, { created: N - 35 * DAY_MS }],
    })
    const expiredRecently = await seedSession(db, user, {
      created: N - 20 * DAY_MS,
      idleExpires: N - 10 * DAY_MS,
      absoluteExpires: N + 10 * DAY_MS,
      tokens: [{ created: N - 20 * DAY_MS }],
    })
    const revokedRecently = await seedSession(db, user, {
      created: N - 2 * DAY_MS,
      idleExpires: N + 5 * DAY_MS,
      absoluteExpires: N + 28 * DAY_MS,
      revoked: N - 10 * 60_000,
      tokens: [{ created: N - 2 * DAY_MS }],
    })
    // Expired long ago, but revoked within an access token's lifetime (e.g. by a suspension,
    // which revokes every session of the user): the revocation list loads it, so it stays.
    const revokedWithinAccessLifetime = await seedSession(db, user, {
      created: N - 60 * DAY_MS,
      idleExpires: N - 40 * DAY_MS,
      absoluteExpires: N - 30 * DAY_MS,
      revoked: N - ACCESS_MS + 60_000,
      tokens: [{ created: N - 60 * DAY_MS }],
    })
    // A live session 25 days into its 30: its rotated tokens are what reuse detection reads.
    const live = await seedSession(db, user, {
      created: N - 25 * DAY_MS,
      idleExpires: N + 5 * DAY_MS,
      absoluteExpires: N + 5 * DAY_MS,
      tokens: [
        { created: N - 25 * DAY_MS, used: N - 24 * DAY_MS },
        { created: N - 24 * DAY_MS, used: N - DAY_MS },
        { created: N - DAY_MS },
      ],
    })

    // Single-use tokens.
    const ott = {
      expiredLongAgo: await seedOneTimeToken(db, user, 'password_reset', {
        created: N - 32 * DAY_MS,
        expires: N - 31 * DAY_MS,
      }),
      usedLongAgo: await seedOneTimeToken(db, user, 'email_verify', {
        created: N - 40 * DAY_MS,
        expires: N + 2 * DAY_MS,
        used: N - 31 * DAY_MS,
      }),
      mfaStepLongAgo: await seedOneTimeToken(db, user, 'mfa_login', {
        created: N - 31 * DAY_MS,
        expires: N - 31 * DAY_MS + 300_000,
      }),
      expiredRecently: await seedOneTimeToken(db, user, 'password_reset', {
        created: N - 10 * DAY_MS,
        expires: N - 10 * DAY_MS + 1_800_000,
      }),
      usedRecently: await seedOneTimeToken(db, user, 'email_change', {
        created: N - 2 * DAY_MS,
        expires: N - DAY_MS,
        used: N - 2 * DAY_MS,
      }),
      live: await seedOneTimeToken(db, user, 'email_verify', {
        created: N - HOUR_MS,
        expires: N + DAY_MS,
      }),
    }

    // MFA: enrolments never confirmed, a confirmed secret, recovery codes.
    const staleEnrolment = await newUser(db)
    const freshEnrolment = await newUser(db)
    const enabled = await newUser(db)
    const secret = (userId: string, created: number, confirmed: boolean) =>
      db.totpSecret.create({
        data: {
          userId,
          encryptedSecret: 'unused',
          createdAt: new Date(created),
          ...(confirmed ? { confirmedAt: new Date(created) } : {}),
        },
      })
    await secret(staleEnrolment, N - 31 * DAY_MS, false)
    await secret(freshEnrolment, N - DAY_MS, false)
    await secret(enabled, N - 100 * DAY_MS, true)
    const code = async (usedAt?: number) =>
      (
        await db.recoveryCode.create({
          data: {
            userId: enabled,
            codeHash: hashToken(newOpaqueToken()),
            ...(usedAt === undefined ? {} : { usedAt: new Date(usedAt) }),
          },
          select: { id: true },
        })
      ).id
    await code(N - 31 * DAY_MS) // used long ago: goes
    const codeUsedRecently = await code(N - DAY_MS)
    const codeUnused = await code()

    clock.advance(3_600)
    const runs = await t.app.jobs.runDue()
    expect(runs).toEqual([{ name: JOB, key: JOB, id: expect.any(String), status: 'completed' }])

    expect(await ids(db.authSession.findMany({ select: { id: true } }))).toEqual(
      [expiredRecently.id, revokedRecently.id, revokedWithinAccessLifetime.id, live.id].sort(),
    )
    const tokensLeft = await db.refreshToken.findMany({ select: { sessionId: true } })
    expect(tokensLeft.filter((row) => row.sessionId === live.id)).toHaveLength(3)
    expect(tokensLeft).toHaveLength(6)
    expect(await ids(db.oneTimeToken.findMany({ select: { id: true } }))).toEqual(
      [ott.expiredRecently, ott.usedRecently, ott.live].sort(),
    )
    expect(
      (await db.totpSecret.findMany({ select: { userId: true } })).map((row) => row.userId).sort(),
    ).toEqual([freshEnrolment, enabled].sort())
    expect(await ids(db.recoveryCode.findMany({ select: { id: true } }))).toEqual(
      [codeUsedRecently, codeUnused].sort(),
    )

    const done = t.logs.filter((line) => line.msg === 'auth cleanup done')
    expect(done).toHaveLength(1)
    expect(done[0]).toMatchObject({
      job: JOB,
      jobId: runs[0]?.id,
      deleted: {
        refreshTokens: 5,
        sessions: 2,
        oneTimeTokens: 3,
        totpEnrolments: 1,
        recoveryCodes: 1,
      },
    })

    revokedJustNow = revokedWithinAccessLifetime.id
    // What kept rows are for still works. An instance starting now loads the session revoked
    // within the access-token lifetime...
    expect(await recentlyRevokedSessions(db)(new Date(N - ACCESS_MS))).toContain(
      revokedWithinAccessLifetime.id,
    )
    // ...and presenting the live session's oldest rotated token is still detected as reuse.
    await expect(
      t.app.auth.sessions.rotate(live.tokens[0] as string, DEVICE),
    ).rejects.toMatchObject({ code: 'ACME_AUTH_TOKEN_REUSE' })
    // A deleted session's token is simply unknown.
    await expect(
      t.app.auth.sessions.rotate(expiredLongAgo.tokens[2] as string, DEVICE),
    ).rejects.toMatchObject({ code: 'ACME_AUTH_INVALID_REFRESH_TOKEN' })
  })

  it('runs once per tick however late; a revocation is kept only for the access-token lifetime', async () => {
    expect(await t.app.jobs.runDue()).toEqual([])
    clock.advance(5 * 3_600)
    const runs = await t.app.jobs.runDue()
    expect(runs).toMatchObject([{ name: JOB, status: 'completed' }])
    const done = t.logs.filter((line) => line.msg === 'auth cleanup done')
    expect(done).toHaveLength(2)
    // Five hours on, no access token of the session revoked 14.5 minutes before the first run
    // can still be presented: nothing reads it any more, so it goes (it expired 40 days ago).
    expect(done.at(-1)).toMatchObject({
      jobId: runs[0]?.id,
      deleted: {
        refreshTokens: 1,
        sessions: 1,
        oneTimeTokens: 0,
        totpEnrolments: 0,
        recoveryCodes: 0,
      },
    })
    expect(await db.authSession.findUnique({ where: { id: revokedJustNow } })).toBeNull()

    // The next hour there is nothing left to delete.
    clock.advance(3_600)
    expect(await t.app.jobs.runDue()).toMatchObject([{ name: JOB, status: 'completed' }])
    expect(t.logs.filter((line) => line.msg === 'auth cleanup done').at(-1)).toMatchObject({
      deleted: {
        refreshTokens: 0,
        sessions: 0,
        oneTimeTokens: 0,
        totpEnrolments: 0,
        recoveryCodes: 0,
      },
    })
  })

  it('fails startup on a cron expression core cannot read', async () => {
    await expect(
      createAuthApp(
        { cleanup: { cron: '61 * * * *' } },
        // On this file's database, which the first app drops.
        {
          label: 'auth_cleanup_bad',
          redis: false,
          ...(t.database ? { database: t.database } : {}),
        },
      ),
    ).rejects.toThrow(/@acme\/auth.*cron "61 \* \* \* \*" is not valid/s)
  })
})

describe('AuthCleanup with new sign-in alerts on', () => {
  let t: AuthTestApp
  let db: AuthDb

  beforeAll(async () => {
    t = await createAuthApp(
      { cleanup: { enabled: false } },
      { label: 'auth_cleanup_alerts', redis: false },
    )
    db = t.app.prisma as unknown as AuthDb
  })
  afterAll(async () => {
    await t?.close()
  })

  it('is not scheduled when disabled', async () => {
    expect(await t.app.jobs.schedules(JOB)).toEqual([])
  })

  it('keeps the sessions of the last 90 days (known devices), but not their refresh tokens', async () => {
    const N = Date.parse('2031-06-01T00:00:00.000Z')
    const user = await newUser(db)
    const known = await seedSession(db, user, {
      created: N - 60 * DAY_MS,
      idleExpires: N - 50 * DAY_MS,
      absoluteExpires: N - 30 * DAY_MS,
      userAgent: 'Known/1.0',
      tokens: [{ created: N - 60 * DAY_MS }],
    })
    await seedSession(db, user, {
      created: N - 95 * DAY_MS,
      idleExpires: N - 80 * DAY_MS,
      absoluteExpires: N - 65 * DAY_MS,
      userAgent: 'Old/1.0',
      tokens: [{ created: N - 95 * DAY_MS }],
    })
    const cleanup = (keepKnownDevices: boolean) =>
      new AuthCleanup({
        db,
        clock: () => new Date(N),
        retentionDays: 30,
        batchSize: 1_000,
        accessTokenSeconds: 930,
        keepKnownDevices,
      })

    expect(await cleanup(true).run()).toMatchObject({ sessions: 1, refreshTokens: 2 })
    expect(
      await ids(db.authSession.findMany({ where: { userId: user }, select: { id: true } })),
    ).toEqual([known.id])
    expect(await db.refreshToken.count({ where: { userId: user } })).toBe(0)

    // Without alerts nothing reads it any more.
    expect(await cleanup(false).run()).toMatchObject({ sessions: 1, refreshTokens: 0 })
    expect(await db.authSession.count({ where: { userId: user } })).toBe(0)
  })
})

describe('cleanup options', () => {
  const parse = (cleanup: unknown) =>
    authOptionsSchema.safeParse({ jwt: { issuer: 'https://api.initech.test' }, cleanup })

  it('defaults: on, every hour, 30 days, batches of 1000', () => {
    const parsed = parse(undefined)
    expect(parsed.success && parsed.data.cleanup).toEqual({
      enabled: true,
      retentionDays: 30,
      batchSize: 1_000,
      schedule: { every: HOUR_MS },
    })
    const cron = parse({ cron: '30 3 * * *', tz: 'Europe/Paris' })
    expect(cron.success && cron.data.cleanup.schedule).toEqual({
      cron: '30 3 * * *',
      tz: 'Europe/Paris',
    })
  })

  it.each([
    [{ everySeconds: 600, cron: '* * * * *' }, 'cleanup.cron'],
    [{ everySeconds: 10 }, 'cleanup.everySeconds'],
    [{ cron: 'hourly' }, 'cleanup.cron'],
    [{ cron: '0 * * * *', tz: 'Mars/Olympus' }, 'cleanup.tz'],
    [{ retentionDays: 0 }, 'cleanup.retentionDays'],
    [{ batchSize: 0 }, 'cleanup.batchSize'],
    [{ every: '1h' }, 'cleanup'],
  ])('refuses %j', (cleanup, path) => {
    const parsed = parse(cleanup)
    expect(parsed.success).toBe(false)
    expect(
      parsed.error?.issues.map((issue) => ['cleanup', ...issue.path.slice(1)].join('.')),
    ).toContain(path)
  })
})

describe('auth.cleanup with BullMQ: two instances share one schedule', () => {
  let a: AuthTestApp
  let b: AuthTestApp

  beforeAll(async () => {
    // Every second (six cron fields), so ticks happen while the test watches.
    const options = { cleanup: { cron: '* * * * * *' } }
    a = await createAuthApp(options, { label: 'auth_cleanup_bullmq' })
    b = await createAuthApp(options, {
      label: 'auth_cleanup_bullmq',
      ...(a.database ? { database: a.database } : {}),
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
        key: JOB,
        schedule: { cron: '* * * * * *', tz: 'UTC' },
      })
    }
    const jobIds = await scheduledRunIds([a, b], 'auth cleanup done')
    expect(jobIds.length).toBeGreaterThanOrEqual(3)
    // BullMQ's tick jobs are `repeat:<key>:<tick>`: no tick ran twice, on one instance or across both.
    expect(new Set(jobIds).size).toBe(jobIds.length)
    for (const jobId of jobIds) expect(jobId).toMatch(/^repeat:auth\.cleanup:\d+$/)
  })
})
