import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { hashToken, newOpaqueToken } from './refresh-tokens.js'

/** Rows of one_time_tokens with this purpose; the table already gives hash, expiry and use. */
const PURPOSE = 'mfa_login'
/** What newOpaqueToken makes. Not a JWT, so it can never pass as an access token. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

/**
 * The proof that a login passed the password step and awaits its second factor: 256 random bits,
 * SHA-256 at rest, bound to one user, expiring by the injected clock and spent by one success.
 */
export class MfaTokens {
  readonly #db: AuthDb
  readonly #clock: Clock
  readonly #ttlSeconds: number

  constructor(options: { db: AuthDb; clock: Clock; ttlSeconds: number }) {
    this.#db = options.db
    this.#clock = options.clock
    this.#ttlSeconds = options.ttlSeconds
  }

  async issue(userId: string): Promise<string> {
    const now = this.#clock()
    const token = newOpaqueToken()
    // Expired challenges serve nothing; dropping them keeps the table bounded per user. Live
    // ones stay: two devices may be logging in at once.
    await this.#db.oneTimeToken.deleteMany({
      where: { userId, purpose: PURPOSE, expiresAt: { lt: now } },
    })
    await this.#db.oneTimeToken.create({
      data: {
        userId,
        purpose: PURPOSE,
        tokenHash: hashToken(token),
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.#ttlSeconds * 1_000),
      },
    })
    return token
  }

  /** The user of a live token, without spending it: a wrong code leaves the login pending. */
  async check(token: string): Promise<string> {
    if (!TOKEN_SHAPE.test(token)) throw new AuthErrors.InvalidMfaToken()
    const row = await this.#db.oneTimeToken.findFirst({
      where: {
        tokenHash: hashToken(token),
        purpose: PURPOSE,
        usedAt: null,
        expiresAt: { gt: this.#clock() },
      },
      select: { userId: true },
    })
    if (!row) throw new AuthErrors.InvalidMfaToken()
    return row.userId
  }

  /** Spends the token; of concurrent successes exactly one gets here without an error. */
  async consume(token: string): Promise<void> {
    const now = this.#clock()
    const spent = await this.#db.oneTimeToken.updateMany({
      where: {
        tokenHash: hashToken(token),
        purpose: PURPOSE,
        usedAt: null,
        expiresAt: { gt: now },
      },
      data: { usedAt: now },
    })
    if (spent.count !== 1) throw new AuthErrors.InvalidMfaToken()
  }
}
