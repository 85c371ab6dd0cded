import { randomUUID } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { AccessIssueReason, SessionSubject } from '../extensions.js'
import { hashToken, newOpaqueToken } from './refresh-tokens.js'
import type { RevocationList } from './revocations.js'

export interface SessionLifetimes {
  /** A session unused this long ends (default 7 d). */
  idleSeconds: number
  /** A session ends this long after login, however often it is used (default 30 d). */
  absoluteSeconds: number
  /** How long a used refresh token still yields the successor it produced (default 2 s). */
  reuseGraceSeconds: number
}

export interface DeviceInfo {
  userAgent: string | null
  ip: string | null
}

export interface IssuedRefresh {
  sessionId: string
  userId: string
  refreshToken: string
  /** When the session ends however often it refreshes (e.g. a refresh cookie's lifetime). */
  absoluteExpiresAt: Date
}

/** What `reissue` answers: a fresh access token for the session. */
export interface ReissuedAccess {
  accessToken: string
  expiresIn: number
}

/** Issues access tokens with the extensions' claims; what sessions need of it. */
export interface AccessIssuer {
  issue(
    subject: SessionSubject,
    reason: AccessIssueReason,
  ): Promise<{ token: string; expiresIn: number }>
}

export interface SessionServiceEvents {
  onReuseDetected?(info: { sessionId: string; userId: string }): void | Promise<void>
  onRevoked?(info: { sessionIds: string[]; userId: string; reason: string }): void | Promise<void>
}

export interface SessionServiceOptions {
  db: AuthDb
  clock: Clock
  lifetimes: SessionLifetimes
  revocations: RevocationList
  events?: SessionServiceEvents
  /** Needed by `reissue` only. */
  issuer?: AccessIssuer
}

export interface ActiveSession {
  id: string
  userAgent: string | null
  ip: string | null
  createdAt: Date
  lastUsedAt: Date
}

/** Column sizes of auth_sessions: longer input is cut rather than failing the login. */
const USER_AGENT_MAX = 512
const IP_MAX = 64
const REASON_MAX = 40

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

interface SessionState {
  revokedAt: Date | null
  idleExpiresAt: Date
  absoluteExpiresAt: Date
  user: { status: string }
}

/** A successor minted on this instance, kept (in memory only) for the reuse grace window. */
interface Successor {
  issued: Promise<IssuedRefresh>
  /** By the injected clock, so tests move past the window without sleeping. */
  expiresAt: number
}

/**
 * Sessions as refresh-token families: rotation on every refresh, reuse detection that ends the
 * family, a grace window for parallel refreshes, and idle/absolute expiry.
 */
export class SessionService {
  readonly #db: AuthDb
  readonly #clock: Clock
  readonly #lifetimes: SessionLifetimes
  readonly #revocations: RevocationList
  readonly #events: SessionServiceEvents
  readonly #issuer: AccessIssuer | undefined
  /**
   * Presented token hash → its successor. Only hashes are stored in the database, so this is the
   * one place a successor's plaintext lives, and only for the grace window on the instance that
   * minted it; a request landing on another instance gets a 401, which RT-03 allows.
   */
  readonly #successors = new Map<string, Successor>()

  constructor(options: SessionServiceOptions) {
    this.#db = options.db
    this.#clock = options.clock
    this.#lifetimes = options.lifetimes
    this.#revocations = options.revocations
    this.#events = options.events ?? {}
    this.#issuer = options.issuer
  }

  async start(userId: string, device: DeviceInfo): Promise<IssuedRefresh> {
    const now = this.#clock()
    const absoluteExpiresAt = addSeconds(now, this.#lifetimes.absoluteSeconds)
    const refreshToken = newOpaqueToken()
    // A nested create is one transaction: no session without its first token.
    const session = await this.#db.authSession.create({
      data: {
        userId,
        ...deviceColumns(device),
        createdAt: now,
        lastUsedAt: now,
        authenticatedAt: now,
        idleExpiresAt: earlier(addSeconds(now, this.#lifetimes.idleSeconds), absoluteExpiresAt),
        absoluteExpiresAt,
        refreshTokens: { create: { userId, tokenHash: hashToken(refreshToken), createdAt: now } },
      },
      select: { id: true },
    })
    return {
      sessionId: session.id,
      userId,
      refreshToken,
      absoluteExpiresAt,
    }
  }

  async rotate(refreshToken: string, device: DeviceInfo): Promise<IssuedRefresh> {
    const now = this.#clock()
    this.#dropExpiredSuccessors(now.getTime())
    const tokenHash = hashToken(refreshToken)
    const token = await this.#db.refreshToken.findUnique({
      where: { tokenHash },
      select: {
        id: true,
        sessionId: true,
        userId: true,
        usedAt: true,
        session: {
          select: {
            revokedAt: true,
            idleExpiresAt: true,
            absoluteExpiresAt: true,
            user: { select: { status: true } },
          },
        },
      },
    })
    if (!token || !isLive(token.session, now)) throw new AuthErrors.InvalidRefreshToken()

    if (token.usedAt && now.getTime() - token.usedAt.getTime() > this.#graceMs()) {
      return this.#reuseDetected(token.sessionId, token.userId, now)
    }
    // Unused, or used within the grace window: a successor minted here is handed out again.
    const known = this.#successors.get(tokenHash)
    if (known) return this.#replay(known)
    // Used, but the successor was minted on another instance (or is gone): no plaintext to give.
    if (token.usedAt) throw new AuthErrors.InvalidRefreshToken()

    // Registered before the first await, so parallel requests on this instance share one mint.
    const successor: Successor = {
      issued: this.#mint(token, token.session, device, now),
      expiresAt: now.getTime() + this.#graceMs(),
    }
    this.#successors.set(tokenHash, successor)
    // The real-time timer bounds how long the plaintext stays in memory when traffic is idle.
    setTimeout(() => this.#forget(tokenHash, successor), this.#graceMs()).unref()
    try {
      return await successor.issued
    } catch (error) {
      this.#forget(tokenHash, successor)
      throw error
    }
  }

  async revoke(sessionId: string, reason: string): Promise<void> {
    if (!UUID.test(sessionId)) return
    const revoked = await this.#db.authSession.updateManyAndReturn({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: this.#clock(), revokedReason: truncate(reason, REASON_MAX) },
      select: { userId: true },
    })
    // Published even when already revoked, so a retry after a failed publish still spreads it.
    await this.#revocations.revoke([sessionId])
    const [session] = revoked
    if (session)
      await this.#events.onRevoked?.({ sessionIds: [sessionId], userId: session.userId, reason })
  }

  /**
   * Logout with a refresh token (e.g. from the refresh cookie, when the access token has
   * expired): ends the session the token belongs to. Any token of the family will do, as reuse
   * of a spent one would end the session too. False when the token is unknown.
   */
  async revokeByRefreshToken(refreshToken: string, reason: string): Promise<boolean> {
    if (refreshToken.length === 0 || refreshToken.length > 512) return false
    const token = await this.#db.refreshToken.findUnique({
      where: { tokenHash: hashToken(refreshToken) },
      select: { sessionId: true },
    })
    if (!token) return false
    await this.revoke(token.sessionId, reason)
    return true
  }

  /** Ends every live session of the user (e.g. password change keeps the current one: `except`). */
  async revokeAllForUser(
    userId: string,
    reason: string,
    options: { except?: string } = {},
  ): Promise<string[]> {
    if (!UUID.test(userId)) return []
    // One UPDATE … RETURNING: a session created meanwhile is either returned or untouched.
    const revoked = await this.#db.authSession.updateManyAndReturn({
      where: {
        userId,
        revokedAt: null,
        ...(options.except ? { id: { not: options.except } } : {}),
      },
      data: { revokedAt: this.#clock(), revokedReason: truncate(reason, REASON_MAX) },
      select: { id: true },
    })
    const sessionIds = revoked.map((session) => session.id)
    if (sessionIds.length === 0) return []
    await this.#revocations.revoke(sessionIds)
    await this.#events.onRevoked?.({ sessionIds, userId, reason })
    return sessionIds
  }

  async listActive(userId: string): Promise<ActiveSession[]> {
    if (!UUID.test(userId)) return []
    const now = this.#clock()
    return this.#db.authSession.findMany({
      where: {
        userId,
        revokedAt: null,
        idleExpiresAt: { gt: now },
        absoluteExpiresAt: { gt: now },
      },
      select: { id: true, userAgent: true, ip: true, createdAt: true, lastUsedAt: true },
      orderBy: { lastUsedAt: 'desc' },
    })
  }

  /** SES-01 at the edge: one read, for refresh and sensitive operations rather than every request. */
  async isActive(sessionId: string): Promise<boolean> {
    if (!UUID.test(sessionId)) return false
    const session = await this.#db.authSession.findUnique({
      where: { id: sessionId },
      select: {
        revokedAt: true,
        idleExpiresAt: true,
        absoluteExpiresAt: true,
        user: { select: { status: true } },
      },
    })
    return session !== null && isLive(session, this.#clock())
  }

  /**
   * SES-02/03: sensitive changes need a recent password proof. Throws 403
   * ACME_AUTH_REAUTHENTICATION_REQUIRED when the session's login is older than `withinSeconds`,
   * and 401 ACME_AUTH_INVALID_TOKEN when the session does not exist.
   */
  async requireRecentAuthentication(sessionId: string, withinSeconds: number): Promise<void> {
    const session = UUID.test(sessionId)
      ? await this.#db.authSession.findUnique({
          where: { id: sessionId },
          select: { authenticatedAt: true },
        })
      : null
    if (!session) throw new AuthErrors.InvalidToken()
    const ageMs = this.#clock().getTime() - session.authenticatedAt.getTime()
    if (ageMs > withinSeconds * 1_000) throw new AuthErrors.ReauthenticationRequired()
  }

  /**
   * A new access token for a live session, with claims the extensions read now (after, e.g.,
   * @acme/tenancy stored the session's new tenant). A revoked, expired or unknown session, or one
   * whose user is not active, is refused (401 ACME_AUTH_INVALID_TOKEN). Access tokens issued
   * before keep their claims until they expire.
   */
  async reissue(sessionId: string): Promise<ReissuedAccess> {
    if (!this.#issuer) throw new Error('SessionService.reissue needs the access issuer')
    if (!UUID.test(sessionId)) throw new AuthErrors.InvalidToken()
    const session = await this.#db.authSession.findUnique({
      where: { id: sessionId },
      select: {
        userId: true,
        revokedAt: true,
        idleExpiresAt: true,
        absoluteExpiresAt: true,
        user: { select: { status: true } },
      },
    })
    if (!session || !isLive(session, this.#clock())) throw new AuthErrors.InvalidToken()
    const access = await this.#issuer.issue({ sessionId, userId: session.userId }, 'reissue')
    return { accessToken: access.token, expiresIn: access.expiresIn }
  }

  async #mint(
    presented: { id: string; sessionId: string; userId: string },
    session: { absoluteExpiresAt: Date },
    device: DeviceInfo,
    now: Date,
  ): Promise<IssuedRefresh> {
    const { absoluteExpiresAt } = session
    const refreshToken = newOpaqueToken()
    const successorId = randomUUID()
    await this.#db.$transaction(async (tx) => {
      await tx.refreshToken.create({
        data: {
          id: successorId,
          sessionId: presented.sessionId,
          userId: presented.userId,
          tokenHash: hashToken(refreshToken),
          parentId: presented.id,
          createdAt: now,
        },
      })
      // The claim: `usedAt: null` in the WHERE makes exactly one rotation win, across instances
      // too (the row lock makes a concurrent one wait, then match nothing). The loser rolls back
      // its successor, so there are never two live branches.
      const claimed = await tx.refreshToken.updateMany({
        where: { id: presented.id, usedAt: null },
        data: { usedAt: now, replacedById: successorId },
      })
      if (claimed.count !== 1) throw new AuthErrors.InvalidRefreshToken()
      // Sliding idle expiry, never past the absolute one; fails if revoked since we read it.
      const touched = await tx.authSession.updateMany({
        where: { id: presented.sessionId, revokedAt: null },
        data: {
          lastUsedAt: now,
          idleExpiresAt: earlier(addSeconds(now, this.#lifetimes.idleSeconds), absoluteExpiresAt),
          ...deviceColumns(device, { keepUnknown: true }),
        },
      })
      if (touched.count !== 1) throw new AuthErrors.InvalidRefreshToken()
    })
    return {
      sessionId: presented.sessionId,
      userId: presented.userId,
      refreshToken,
      absoluteExpiresAt,
    }
  }

  async #replay(successor: Successor): Promise<IssuedRefresh> {
    const issued = await successor.issued
    // Once the client has moved on and used the successor, handing it out again would only set
    // up a false reuse alarm later.
    const next = await this.#db.refreshToken.findUnique({
      where: { tokenHash: hashToken(issued.refreshToken) },
      select: { usedAt: true },
    })
    if (!next || next.usedAt) throw new AuthErrors.InvalidRefreshToken()
    return issued
  }

  /** RT-02: a used token presented after the grace window means a copy exists: end the family. */
  async #reuseDetected(sessionId: string, userId: string, now: Date): Promise<never> {
    const revoked = await this.#db.authSession.updateMany({
      where: { id: sessionId, revokedAt: null },
      data: { revokedAt: now, revokedReason: 'reuse' },
    })
    await this.#revocations.revoke([sessionId])
    // Concurrent replays of the stolen token all fail, but only the one that revoked reports.
    if (revoked.count > 0) await this.#events.onReuseDetected?.({ sessionId, userId })
    throw new AuthErrors.RefreshTokenReuse()
  }

  #dropExpiredSuccessors(now: number): void {
    for (const [tokenHash, successor] of this.#successors) {
      if (successor.expiresAt < now) this.#successors.delete(tokenHash)
    }
  }

  /** Only the entry it was set for: a newer one for the same hash is not ours to drop. */
  #forget(tokenHash: string, successor: Successor): void {
    if (this.#successors.get(tokenHash) === successor) this.#successors.delete(tokenHash)
  }

  #graceMs(): number {
    return this.#lifetimes.reuseGraceSeconds * 1000
  }
}

/** For RevocationList's `loadRecent`: sessions revoked since a moment, e.g. at startup. */
export function recentlyRevokedSessions(db: AuthDb): (since: Date) => Promise<string[]> {
  return async (since) => {
    const sessions = await db.authSession.findMany({
      where: { revokedAt: { gte: since } },
      select: { id: true },
    })
    return sessions.map((session) => session.id)
  }
}

function isLive(session: SessionState, now: Date): boolean {
  return (
    session.revokedAt === null &&
    session.user.status === 'active' &&
    now < session.idleExpiresAt &&
    now < session.absoluteExpiresAt
  )
}

/** The user agent as a session row stores it (cut to the column's size). */
export function userAgentColumn(userAgent: string | null): string | null {
  return userAgent === null ? null : truncate(userAgent, USER_AGENT_MAX)
}

/** On rotation an unknown (null) value keeps what the session has rather than erasing it. */
function deviceColumns(
  device: DeviceInfo,
  options: { keepUnknown?: boolean } = {},
): { userAgent?: string | null; ip?: string | null } {
  const columns: { userAgent?: string | null; ip?: string | null } = {}
  if (device.userAgent !== null || !options.keepUnknown) {
    columns.userAgent = userAgentColumn(device.userAgent)
  }
  if (device.ip !== null || !options.keepUnknown) {
    columns.ip = device.ip === null ? null : truncate(device.ip, IP_MAX)
  }
  return columns
}

/** By code points, as VARCHAR(n) counts, so a surrogate pair is never split. */
function truncate(value: string, max: number): string {
  if (value.length <= max) return value
  return Array.from(value).slice(0, max).join('')
}

function addSeconds(date: Date, seconds: number): Date {
  return new Date(date.getTime() + seconds * 1000)
}

function earlier(a: Date, b: Date): Date {
  return a < b ? a : b
}
