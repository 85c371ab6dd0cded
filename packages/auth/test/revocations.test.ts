import { Broadcast } from '@acme/core'
import { manualClock, timeUntil } from '@acme/test-kit'
import { TEST_REDIS_URL, uniqueName } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RevocationList, type RevocationListOptions } from '../src/services/revocations.js'
import { recentlyRevokedSessions, SessionService } from '../src/services/sessions.js'
import { type AuthTestDb, createAuthTestDb, createUser } from './support/auth-db.js'

/** Time moves only when a test says so: from here, by whole seconds as the lifetimes are. */
const START = new Date('2030-01-01T00:00:00.000Z')
const SECOND = 1_000

const TTL = 15 * 60

let db: AuthTestDb
const connections: Redis[] = []
let lists: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  db = await createAuthTestDb('revocations')
})

afterEach(async () => {
  await Promise.all(lists.map((list) => list.close()))
  lists = []
})

afterAll(async () => {
  await Promise.all(connections.map((redis) => redis.quit()))
  await db?.close()
})

function connect(): Redis {
  const redis = new Redis(TEST_REDIS_URL)
  connections.push(redis)
  return redis
}

type InstanceOptions = Partial<Omit<RevocationListOptions, 'broadcast'>> &
  Pick<RevocationListOptions, 'clock'> & { app: string; redis?: Redis | null }

/**
 * Each instance gets its own connection and broadcast, as separate processes would; instances of
 * one app share its name (the broadcast prefix). Started as core does: broadcast first.
 */
async function instance({ app, redis = connect(), logger, ...options }: InstanceOptions) {
  const broadcast = new Broadcast({ redis, prefix: app, logger: logger ?? { warn: () => {} } })
  const list = new RevocationList({ broadcast, ttlSeconds: TTL, ...options })
  lists.push(list, broadcast)
  await broadcast.start()
  await list.start()
  return list
}

function channel(): string {
  return `test:${uniqueName('revocations')}:`
}

describe('RevocationList', () => {
  it('spreads a revocation to another instance within a second', async () => {
    const clock = manualClock(START).now
    const name = channel()
    const a = await instance({ app: name, clock })
    const b = await instance({ app: name, clock })
    const sid = crypto.randomUUID()
    expect(b.isRevoked(sid)).toBe(false)

    await a.revoke([sid])
    expect(a.isRevoked(sid)).toBe(true) // locally at once, before any round trip
    const elapsed = await timeUntil(() => b.isRevoked(sid), { timeoutMs: 2000 })

    expect(b.isRevoked(sid)).toBe(true)
    expect(elapsed).toBeLessThan(1000)
  })

  it('does not hear other channels', async () => {
    const clock = manualClock(START).now
    const a = await instance({ app: channel(), clock })
    const b = await instance({ app: channel(), clock })
    const sid = crypto.randomUUID()
    await a.revoke([sid])
    await timeUntil(() => b.isRevoked(sid), { timeoutMs: 200 })
    expect(b.isRevoked(sid)).toBe(false)
  })

  it('forgets entries once an access token could no longer be alive', async () => {
    const time = manualClock(START)
    const name = channel()
    const a = await instance({ app: name, clock: time.now })
    const b = await instance({ app: name, clock: time.now })
    const sid = crypto.randomUUID()
    await a.revoke([sid])
    await timeUntil(() => b.isRevoked(sid), { timeoutMs: 2000 })

    time.advance((TTL - 1) * SECOND)
    expect(a.isRevoked(sid)).toBe(true)
    expect(b.isRevoked(sid)).toBe(true)
    time.advance(2 * SECOND)
    expect(a.isRevoked(sid)).toBe(false)
    expect(b.isRevoked(sid)).toBe(false)
  })

  it('a new instance loads revocations made before it started', async () => {
    const time = manualClock(START)
    const name = channel()
    const a = await instance({ app: name, clock: time.now })
    const sessions = new SessionService({
      db: db.prisma,
      clock: time.now,
      lifetimes: { idleSeconds: 3600, absoluteSeconds: 7200, reuseGraceSeconds: 2 },
      revocations: a,
    })
    const { sessionId } = await sessions.start(await createUser(db.prisma), {
      userAgent: null,
      ip: null,
    })
    await sessions.revoke(sessionId, 'logout')

    const loadRecent = recentlyRevokedSessions(db.prisma)
    const late = await instance({ app: name, clock: time.now, loadRecent })
    expect(late.isRevoked(sessionId)).toBe(true)
    // The control: without loading, the published message was missed.
    const unaware = await instance({ app: name, clock: time.now })
    expect(unaware.isRevoked(sessionId)).toBe(false)
    // Only as far back as an access token can live.
    time.advance((TTL + 1) * SECOND)
    const later = await instance({ app: name, clock: time.now, loadRecent })
    expect(later.isRevoked(sessionId)).toBe(false)
  })

  it('works locally without Redis', async () => {
    const time = manualClock(START)
    const list = await instance({ app: channel(), redis: null, clock: time.now })
    const sid = crypto.randomUUID()
    await list.revoke([sid])
    expect(list.isRevoked(sid)).toBe(true)
    expect(list.isRevoked(crypto.randomUUID())).toBe(false)
    time.advance((TTL + 1) * SECOND)
    expect(list.isRevoked(sid)).toBe(false)
  })

  it('ignores and reports malformed messages', async () => {
    const clock = manualClock(START).now
    const name = channel()
    const warn = vi.fn()
    const list = await instance({ app: name, clock, logger: { warn } })
    const full = `${name}auth:revoked-sessions`
    await connect().publish(full, 'not json')
    await connect().publish(full, JSON.stringify({ origin: 'elsewhere', message: [42] }))
    await timeUntil(() => warn.mock.calls.length === 2, { timeoutMs: 2000 })
    expect(warn).toHaveBeenCalledTimes(2)
    const sid = crypto.randomUUID()
    await list.revoke([sid])
    expect(list.isRevoked(sid)).toBe(true)
  })
})
