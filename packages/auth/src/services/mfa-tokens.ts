import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { type OneTimePurpose, OneTimeTokens } from './one-time-tokens.js'
import { hashToken, newOpaqueToken } from './refresh-tokens.js'

/** Rows of one_time_tokens with this purpose; the table already gives hash, expiry and use. */
const PURPOSE = 'mfa_login' satisfies OneTimePurpose

/**
 * The proof that a login passed the password step and awaits its second factor: 256 random bits,
 * SHA-256 at rest, bound to one user, expiring by the injected clock and spent by one success.
 * Not a JWT, so it can never pass as an access token.
 */
export class MfaTokens {
  readonly #db: AuthDb
  readonly #clock: Clock
  readonly #ttlSeconds: number
  readonly #tokens: OneTimeTokens

  constructor(options: { db: AuthDb; clock: Clock; ttlSeconds: number }) {
    this.#db = options.db
    this.#clock = options.clock
    this.#ttlSeconds = options.ttlSeconds
    this.#tokens = new OneTimeTokens({ db: options.db, clock: options.clock })
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds
  }

  async issue(userId: string): Promise<string> {
    const now = this.#clock()
    const token = newOpaqueToken()
    // Expired challenges serve nothing; dropping them keeps the table bounded per user. Live
    // ones stay (unlike OneTimeTokens.issue): two devices may be logging in at once.
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
    return this.#tokens.check(token, PURPOSE)
  }

  /** Spends the token; of concurrent successes exactly one gets here without an error. */
  async consume(token: string): Promise<void> {
    await this.#tokens.consume(token, PURPOSE)
  }

  /** Ends the token without a login (too many wrong codes): the user starts over. */
  async invalidate(token: string): Promise<void> {
    await this.#db.oneTimeToken.updateMany({
      where: { tokenHash: hashToken(token), purpose: PURPOSE, usedAt: null },
      data: { usedAt: this.#clock() },
    })
  }
}
