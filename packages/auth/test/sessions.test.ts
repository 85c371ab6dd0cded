import { Broadcast } from '@acme/core'
import { manualClock } from '@acme/test-kit'
import { TEST_REDIS_URL, uniqueName } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { AuthErrors } from '../src/errors.js'
import { hashToken } from '../src/services/refresh-tokens.js'
import { RevocationList } from '../src/services/revocations.js'
import {
  type IssuedRefresh,
  type SessionLifetimes,
  SessionService,
} from '../src/services/sessions.js'
import { type AuthTestDb, createAuthTestDb, createUser } from './support/auth-db.js'

/** Time moves only when a test says so: from here, by whole seconds as the lifetimes are. */
const START = new Date('2030-01-01T00:00:00.000Z')
const SECOND = 1_000

const DAY = 24 * 60 * 60
const LIFETIMES: SessionLifetimes = {
  idleSeconds: 7 * DAY,
  absoluteSeconds: 30 * DAY,
  reuseGraceSeconds: 2,
}
const DEVICE = { userAgent: 'vitest', ip: '203.0.113.7' }

let db: AuthTestDb
let redis: Redis
const lists: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  db = await createAuthTestDb('sessions')
  redis = new Redis(TEST_REDIS_URL)
})

afterAll(async () => {
  await Promise.all(lists.map((list) => list.close()))
  await redis?.quit()
  await db?.close()
})

/** A fresh service (and in-memory state) per test, on the file's database, with its own clock. */
async function setup() {
  const time = manualClock(START)
  const broadcast = new Broadcast({
    redis,
    prefix: `test:${uniqueName('sessions')}:`,
    logger: { warn: () => {} },
  })
  const revocations = new RevocationList({ broadcast, ttlSeconds: 15 * 60, clock: time.now })
  lists.push(revocations, broadcast)
  await broadcast.start()
  await revocations.start()
  const events = { onReuseDetected: vi.fn(), onRevoked: vi.fn() }
  const service = new SessionService({
    db: db.prisma,
    clock: time.now,
    lifetimes: LIFETIMES,
    revocations,
    events,
  })
  const userId = await createUser(db.prisma)
  return { time, revocations, events, service, userId }
}

function tokenRow(token: string) {
  return db.prisma.refreshToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) } })
}

describe('rotation (RT-01)', () => {
  it('returns a new token, marks the presented one used and stores only hashes', async () => {
    const { service, userId } = await setup()
    const first = await service.start(userId, DEVICE)
    const second = await service.rotate(first.refreshToken, DEVICE)

    expect(second.refreshToken).not.toBe(first.refreshToken)
    expect(second).toMatchObject({ sessionId: first.sessionId, userId })
    for (const token of [first.refreshToken, second.refreshToken]) {
      // 32 bytes, base64url without padding.
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }

    // Every column of every row, as text: neither plaintext appears anywhere.
    const rows = await db.prisma.$queryRaw<Array<{ row: string }>>`
      SELECT t::text AS row FROM refresh_tokens t
      UNION ALL SELECT s::text FROM auth_sessions s`
    const dump = rows.map((r) => r.row).join('\n')
    expect(dump).not.toContain(first.refreshToken)
    expect(dump).not.toContain(second.refreshToken)

    const used = await tokenRow(first.refreshToken)
    const successor = await tokenRow(second.refreshToken)
    expect(used.usedAt).not.toBeNull()
    expect(used.replacedById).toBe(successor.id)
    expect(successor.parentId).toBe(used.id)
    expect(successor.usedAt).toBeNull()
  })

  it('rejects an unknown token', async () => {
    const { service } = await setup()
    await expect(service.rotate('not-a-token', DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
  })

  it('stores device details cut to the column sizes', async () => {
    const { service, userId } = await setup()
    const issued = await service.start(userId, { userAgent: 'a'.repeat(600), ip: '1'.repeat(100) })
    const session = await db.prisma.authSession.findUniqueOrThrow({
      where: { id: issued.sessionId },
    })
    expect(session.userAgent).toHaveLength(512)
    expect(session.ip).toHaveLength(64)
  })
})

describe('reuse detection (RT-02)', () => {
  it('ends the whole family when a used token comes back after the grace window', async () => {
    const { service, userId, time, events, revocations } = await setup()
    const r1 = await service.start(userId, DEVICE)
    const r2 = await service.rotate(r1.refreshToken, DEVICE)

    time.advance((LIFETIMES.reuseGraceSeconds + 1) * SECOND)
    await expect(service.rotate(r1.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.RefreshTokenReuse,
    )
    await expect(service.rotate(r2.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )

    const session = await db.prisma.authSession.findUniqueOrThrow({ where: { id: r1.sessionId } })
    expect(session.revokedReason).toBe('reuse')
    expect(session.revokedAt).not.toBeNull()
    expect(events.onReuseDetected).toHaveBeenCalledOnce()
    expect(events.onReuseDetected).toHaveBeenCalledWith({ sessionId: r1.sessionId, userId })
    expect(revocations.isRevoked(r1.sessionId)).toBe(true)
    expect(await service.isActive(r1.sessionId)).toBe(false)
  })
})

describe('concurrent refresh (RT-03)', () => {
  function expectOneSuccessor(results: PromiseSettledResult<IssuedRefresh>[]): IssuedRefresh {
    const fulfilled = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
    expect(fulfilled.length).toBeGreaterThan(0)
    expect(new Set(fulfilled.map((r) => r.refreshToken)).size).toBe(1)
    for (const reason of rejected) expect(reason).toBeInstanceOf(AuthErrors.InvalidRefreshToken)
    const [winner] = fulfilled
    if (!winner) throw new Error('unreachable: checked above')
    return winner
  }

  it('gives ten parallel refreshes one and the same successor', async () => {
    const { service, userId } = await setup()
    const r1 = await service.start(userId, DEVICE)
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => service.rotate(r1.refreshToken, DEVICE)),
    )
    const successor = expectOneSuccessor(results)
    // On one instance none needs the 401 fallback: they all wait for the one mint.
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true)

    const parent = await tokenRow(r1.refreshToken)
    expect(await db.prisma.refreshToken.count({ where: { parentId: parent.id } })).toBe(1)
    await expect(service.rotate(successor.refreshToken, DEVICE)).resolves.toMatchObject({
      sessionId: r1.sessionId,
    })
  })

  it('mints at most one successor across instances; the other instance answers 401', async () => {
    const { service: a, userId, time, revocations } = await setup()
    const b = new SessionService({
      db: db.prisma,
      clock: time.now,
      lifetimes: LIFETIMES,
      revocations,
    })
    const r1 = await a.start(userId, DEVICE)
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).rotate(r1.refreshToken, DEVICE)),
    )
    const successor = expectOneSuccessor(results)

    const parent = await tokenRow(r1.refreshToken)
    expect(await db.prisma.refreshToken.count({ where: { parentId: parent.id } })).toBe(1)
    expect(await db.prisma.refreshToken.count({ where: { sessionId: r1.sessionId } })).toBe(2)
    await expect(a.rotate(successor.refreshToken, DEVICE)).resolves.toBeDefined()
  })

  it('hands the same successor to a retry within the window, but not once it was used', async () => {
    const { service, userId, time } = await setup()
    const r1 = await service.start(userId, DEVICE)
    const r2 = await service.rotate(r1.refreshToken, DEVICE)

    time.advance((LIFETIMES.reuseGraceSeconds - 1) * SECOND)
    await expect(service.rotate(r1.refreshToken, DEVICE)).resolves.toEqual(r2)

    await service.rotate(r2.refreshToken, DEVICE)
    await expect(service.rotate(r1.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
  })
})

describe('lifetimes (RT-04)', () => {
  it('ends a session unused for longer than the idle lifetime; use slides it', async () => {
    const { service, userId, time } = await setup()
    const used = await service.start(userId, DEVICE)
    const idle = await service.start(userId, DEVICE)

    time.advance((LIFETIMES.idleSeconds - 1) * SECOND)
    const rotated = await service.rotate(used.refreshToken, DEVICE)
    time.advance(2 * SECOND) // idle + 1 s since login

    await expect(service.rotate(idle.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
    expect(await service.isActive(idle.sessionId)).toBe(false)
    await expect(service.rotate(rotated.refreshToken, DEVICE)).resolves.toBeDefined()
  })

  it('ends a session at the absolute lifetime even with daily use', async () => {
    const { service, userId, time } = await setup()
    let issued = await service.start(userId, DEVICE)
    for (let day = 1; day < 30; day += 1) {
      time.advance(DAY * SECOND)
      issued = await service.rotate(issued.refreshToken, DEVICE)
    }
    // Sliding never goes past the absolute expiry.
    const session = await db.prisma.authSession.findUniqueOrThrow({
      where: { id: issued.sessionId },
    })
    expect(session.idleExpiresAt.getTime()).toBe(session.absoluteExpiresAt.getTime())

    time.advance((DAY + 1) * SECOND) // 30 d + 1 s after login
    await expect(service.rotate(issued.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
    expect(await service.isActive(issued.sessionId)).toBe(false)
  })
})

describe('revocation', () => {
  it('revoke ends one session and puts it on the revocation list', async () => {
    const { service, userId, revocations, events } = await setup()
    const ended = await service.start(userId, DEVICE)
    const kept = await service.start(userId, DEVICE)

    await service.revoke(ended.sessionId, 'logout')

    const session = await db.prisma.authSession.findUniqueOrThrow({
      where: { id: ended.sessionId },
    })
    expect(session.revokedReason).toBe('logout')
    expect(revocations.isRevoked(ended.sessionId)).toBe(true)
    expect(revocations.isRevoked(kept.sessionId)).toBe(false)
    expect(events.onRevoked).toHaveBeenCalledWith({
      sessionIds: [ended.sessionId],
      userId,
      reason: 'logout',
    })
    await expect(service.rotate(ended.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
    expect(await service.isActive(ended.sessionId)).toBe(false)
    expect(await service.isActive(kept.sessionId)).toBe(true)
    expect((await service.listActive(userId)).map((s) => s.id)).toEqual([kept.sessionId])
  })

  it('revokeAllForUser ends every other session of that user only', async () => {
    const { service, userId, revocations, events } = await setup()
    const current = await service.start(userId, DEVICE)
    const others = [await service.start(userId, DEVICE), await service.start(userId, DEVICE)]
    const stranger = await service.start(await createUser(db.prisma), DEVICE)

    const ended = await service.revokeAllForUser(userId, 'password_changed', {
      except: current.sessionId,
    })

    const otherIds = others.map((o) => o.sessionId).sort()
    expect([...ended].sort()).toEqual(otherIds)
    for (const id of otherIds) expect(revocations.isRevoked(id)).toBe(true)
    expect(revocations.isRevoked(current.sessionId)).toBe(false)
    expect(revocations.isRevoked(stranger.sessionId)).toBe(false)
    expect(await service.isActive(current.sessionId)).toBe(true)
    expect(await service.isActive(stranger.sessionId)).toBe(true)
    expect(events.onRevoked).toHaveBeenCalledWith(
      expect.objectContaining({ userId, reason: 'password_changed' }),
    )
    const rows = await db.prisma.authSession.findMany({ where: { id: { in: otherIds } } })
    expect(rows.map((r) => r.revokedReason)).toEqual(['password_changed', 'password_changed'])

    // Without `except` the current one goes too.
    expect(await service.revokeAllForUser(userId, 'logout_all')).toEqual([current.sessionId])
    expect(await service.listActive(userId)).toEqual([])
  })

  it('a suspended user can neither rotate nor keep a session active', async () => {
    const { service, userId } = await setup()
    const issued = await service.start(userId, DEVICE)
    await db.prisma.user.update({ where: { id: userId }, data: { status: 'suspended' } })

    await expect(service.rotate(issued.refreshToken, DEVICE)).rejects.toBeInstanceOf(
      AuthErrors.InvalidRefreshToken,
    )
    expect(await service.isActive(issued.sessionId)).toBe(false)
  })

  it('treats ids that are not UUIDs as unknown sessions', async () => {
    const { service } = await setup()
    expect(await service.isActive('nope')).toBe(false)
    await expect(service.revoke('nope', 'logout')).resolves.toBeUndefined()
  })
})
