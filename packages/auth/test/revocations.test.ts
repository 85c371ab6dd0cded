import { setTimeout as sleep } from 'node:timers/promises'
import { TEST_REDIS_URL, uniqueName } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { RevocationList, type RevocationListOptions } from '../src/services/revocations.js'
import { recentlyRevokedSessions, SessionService } from '../src/services/sessions.js'
import { type AuthTestDb, createAuthTestDb, createUser, manualClock } from './support/auth-db.js'

const TTL = 15 * 60

let db: AuthTestDb
const connections: Redis[] = []
let lists: RevocationList[] = []

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

/** Each instance gets its own connection, as separate processes would. */
async function instance(
  options: Partial<RevocationListOptions> & Pick<RevocationListOptions, 'channel' | 'clock'>,
): Promise<RevocationList> {
  const list = new RevocationList({ redis: connect(), ttlSeconds: TTL, ...options })
  lists.push(list)
  await list.start()
  return list
}

function channel(): string {
  return `test:${uniqueName('revocations')}:revoked`
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
    const a = await instance({ channel: name, clock })
    const b = await instance({ channel: name, clock })
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
    const a = await instance({ channel: channel(), clock })
    const b = await instance({ channel: channel(), clock })
    const sid = crypto.randomUUID()
    await a.revoke([sid])
    await waitFor(() => b.isRevoked(sid), 200)
    expect(b.isRevoked(sid)).toBe(false)
  })

  it('forgets entries once an access token could no longer be alive', async () => {
    const time = manualClock()
    const name = channel()
    const a = await instance({ channel: name, clock: time.clock })
    const b = await instance({ channel: name, clock: time.clock })
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
    const a = await instance({ channel: name, clock: time.clock })
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
    const late = await instance({ channel: name, clock: time.clock, loadRecent })
    expect(late.isRevoked(sessionId)).toBe(true)
    // The control: without loading, the published message was missed.
    const unaware = await instance({ channel: name, clock: time.clock })
    expect(unaware.isRevoked(sessionId)).toBe(false)
    // Only as far back as an access token can live.
    time.advance(TTL + 1)
    const later = await instance({ channel: name, clock: time.clock, loadRecent })
    expect(later.isRevoked(sessionId)).toBe(false)
  })

  it('works locally without Redis', async () => {
    const time = manualClock()
    const list = new RevocationList({
      redis: null,
      channel: 'unused',
      ttlSeconds: TTL,
      clock: time.clock,
    })
    lists.push(list)
    await list.start()
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
    const list = await instance({ channel: name, clock, logger: { warn } })
    await connect().publish(name, 'not json')
    await connect().publish(name, JSON.stringify([42]))
    await waitFor(() => warn.mock.calls.length === 2, 2000)
    expect(warn).toHaveBeenCalledTimes(2)
    const sid = crypto.randomUUID()
    await list.revoke([sid])
    expect(list.isRevoked(sid)).toBe(true)
  })
})
