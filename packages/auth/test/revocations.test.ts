import { setTimeout as sleep } from 'node:timers/promises'
import { Broadcast } from '@acme/core'
import { TEST_REDIS_URL, uniqueName } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RevocationList, type RevocationListOptions } from '../src/services/revocations.js'
import { recentlyRevokedSessions, SessionService } from '../src/services/sessions.js'
import { type AuthTestDb, createAuthTestDb, createUser, manualClock } from './support/auth-db.js'

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

/** Polls every 10 ms; returns how long it took (or the timeout). */
async function waitFor(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now()
  while (!check() && performance.now() - started < timeoutMs) await sleep(10)
  return performance.now() - started
}

describe('RevocationList', () => {
  it('spreads a revocation to another instance within a second', async () => {
    const { clock } = manualClock()
    const name = channel()
    const a = await instance({ app: name, clock })
    const b = await instance({ app: name, clock })
    const sid = crypto.randomUUID()
    expect(b.isRevoked(sid)).toBe(false)

    await a.revoke([sid])
    expect(a.isRevoked(sid)).toBe(true) // locally at once, before any round trip
    const elapsed = await waitFor(() => b.isRevoked(sid), 2000)

    expect(b.isRevoked(sid)).toBe(true)
    expect(elapsed).toBeLessThan(1000)
  })

  it('does not hear other channels', async () => {
    const { clock } = manualClock()
    const a = await instance({ app: channel(), clock })
    const b = await instance({ app: channel(), clock })
    const sid = crypto.randomUUID()
    await a.revoke([sid])
    await waitFor(() => b.isRevoked(sid), 200)
    expect(b.isRevoked(sid)).toBe(false)
  })

  it('forgets entries once an access token could no longer be alive', async () => {
    const time = manualClock()
    const name = channel()
    const a = await instance({ app: name, clock: time.clock })
    const b = await instance({ app: name, clock: time.clock })
    const sid = crypto.randomUUID()
    await a.revoke([sid])
    await waitFor(() => b.isRevoked(sid), 2000)

    time.advance(TTL - 1)
    expect(a.isRevoked(sid)).toBe(true)
    expect(b.isRevoked(sid)).toBe(true)
    time.advance(2)
    expect(a.isRevoked(sid)).toBe(false)
    expect(b.isRevoked(sid)).toBe(false)
  })

  it('a new instance loads revocations made before it started', async () => {
    const time = manualClock()
    const name = channel()
    const a = await instance({ app: name, clock: time.clock })
    const sessions = new SessionService({
      db: db.prisma,
      clock: time.clock,
      lifetimes: { idleSeconds: 3600, absoluteSeconds: 7200, reuseGraceSeconds: 2 },
      revocations: a,
    })
    const { sessionId } = await sessions.start(await createUser(db.prisma), {
      userAgent: null,
      ip: null,
    })
    await sessions.revoke(sessionId, 'logout')

    const loadRecent = recentlyRevokedSessions(db.prisma)
    const late = await instance({ app: name, clock: time.clock, loadRecent })
    expect(late.isRevoked(sessionId)).toBe(true)
    // The control: without loading, the published message was missed.
    const unaware = await instance({ app: name, clock: time.clock })
    expect(unaware.isRevoked(sessionId)).toBe(false)
    // Only as far back as an access token can live.
    time.advance(TTL + 1)
    const later = await instance({ app: name, clock: time.clock, loadRecent })
    expect(later.isRevoked(sessionId)).toBe(false)
  })

  it('works locally without Redis', async () => {
    const time = manualClock()
    const list = await instance({ app: channel(), redis: null, clock: time.clock })
    const sid = crypto.randomUUID()
    await list.revoke([sid])
    expect(list.isRevoked(sid)).toBe(true)
    expect(list.isRevoked(crypto.randomUUID())).toBe(false)
    time.advance(TTL + 1)
    expect(list.isRevoked(sid)).toBe(false)
  })

  it('ignores and reports malformed messages', async () => {
    const { clock } = manualClock()
    const name = channel()
    const warn = vi.fn()
    const list = await instance({ app: name, clock, logger: { warn } })
    const full = `${name}auth:revoked-sessions`
    await connect().publish(full, 'not json')
    await connect().publish(full, JSON.stringify({ origin: 'elsewhere', message: [42] }))
    await waitFor(() => warn.mock.calls.length === 2, 2000)
    expect(warn).toHaveBeenCalledTimes(2)
    const sid = crypto.randomUUID()
    await list.revoke([sid])
    expect(list.isRevoked(sid)).toBe(true)
  })
})
