import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { Prisma } from '../generated/prisma/client.js'
import { hashToken, newOpaqueToken } from './refresh-tokens.js'

/**
 * What a row of one_time_tokens is for. `mfa_login` rows are issued by MfaTokens (several may be
 * live at once, one per device logging in); the others by `issue`, one live token per purpose.
 */
export type OneTimePurpose = 'password_reset' | 'email_verify' | 'email_change' | 'mfa_login'

/** A spent token's row, as `consume` hands it to the change it authorises. */
export interface SpentToken {
  /** E.g. the new address of an email change; null for purposes that carry nothing. */
  payload: string | null
}

/** The transaction a consumed token's effect runs in, so spending and applying commit together. */
export type TokenTransaction = Prisma.TransactionClient

/** What newOpaqueToken makes: 32 bytes as base64url. Anything else is refused without a query. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

/** Each purpose answers its own error, so a reset page never talks about verification links. */
const INVALID = {
  password_reset: AuthErrors.InvalidResetToken,
  email_verify: AuthErrors.InvalidVerificationToken,
  email_change: AuthErrors.InvalidEmailChangeToken,
  mfa_login: AuthErrors.InvalidMfaToken,
} as const satisfies Record<OneTimePurpose, unknown>

/**
 * Single-use tokens sent by email (RST-01, RST-02): 256 bits from the CSPRNG, only their SHA-256
 * at rest, an expiry by the injected clock, and one live token per user and purpose.
 */
export class OneTimeTokens {
  readonly #db: AuthDb
  readonly #clock: Clock

  constructor(options: { db: AuthDb; clock: Clock }) {
    this.#db = options.db
    this.#clock = options.clock
  }

  /**
   * Returns the plaintext, which exists only in the email; earlier unused tokens stop working.
   * `payload` is stored with it (at most 320 characters) and handed back by `consume`.
   */
  async issue(
    userId: string,
    purpose: OneTimePurpose,
    ttlSeconds: number,
    payload: string | null = null,
  ): Promise<string> {
    const now = this.#clock()
    const token = newOpaqueToken()
    await this.#db.$transaction(async (tx) => {
      // RST-02 supersede: only the newest link of a purpose works.
      await tx.oneTimeToken.updateMany({
        where: { userId, purpose, usedAt: null },
        data: { usedAt: now },
      })
      // Expired rows serve nothing any more; dropping them keeps the table bounded per user.
      await tx.oneTimeToken.deleteMany({ where: { userId, purpose, expiresAt: { lt: now } } })
      await tx.oneTimeToken.create({
        data: {
          userId,
          purpose,
          payload,
          tokenHash: hashToken(token),
          createdAt: now,
          expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
        },
      })
    })
    return token
  }

  /**
   * The user a live token belongs to, without spending it: lets a caller refuse a bad token
   * before expensive work (hashing a new password) and spend it only together with the change.
   */
  async check(token: string, purpose: OneTimePurpose): Promise<string> {
    if (!TOKEN_SHAPE.test(token)) throw new INVALID[purpose]()
    const row = await this.#db.oneTimeToken.findFirst({
      where: {
        tokenHash: hashToken(token),
        purpose,
        usedAt: null,
        expiresAt: { gt: this.#clock() },
      },
      select: { userId: true },
    })
    if (!row) throw new INVALID[purpose]()
    return row.userId
  }

  /**
   * Spends the token exactly once and returns its user. `apply` runs in the same transaction:
   * if it fails the token stays unspent, and if another request spent the token first it never
   * runs.
   */
  async consume(
    token: string,
    purpose: OneTimePurpose,
    apply?: (userId: string, tx: TokenTransaction, spent: SpentToken) => Promise<unknown>,
  ): Promise<string> {
    if (!TOKEN_SHAPE.test(token)) throw new INVALID[purpose]()
    const now = this.#clock()
    return this.#db.$transaction(async (tx) => {
      // `usedAt: null` in the WHERE is the claim: of concurrent requests exactly one matches
      // (the row lock makes the others wait, then match nothing).
      const [claimed] = await tx.oneTimeToken.updateManyAndReturn({
        where: { tokenHash: hashToken(token), purpose, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
        select: { userId: true, payload: true },
      })
      if (!claimed) throw new INVALID[purpose]()
      await apply?.(claimed.userId, tx, { payload: claimed.payload })
      return claimed.userId
    })
  }

  /**
   * Ends every live token of these purposes, e.g. reset links once the password has changed.
   * `tx` runs it inside a caller's transaction.
   */
  async revokeAll(
    userId: string,
    purposes: OneTimePurpose | OneTimePurpose[],
    tx: Pick<TokenTransaction, 'oneTimeToken'> = this.#db,
  ): Promise<void> {
    await tx.oneTimeToken.updateMany({
      where: { userId, purpose: { in: [purposes].flat() }, usedAt: null },
      data: { usedAt: this.#clock() },
    })
  }
}

/**
 * The emailed link: a configured page of the web app plus the token. Built only from options and
 * the brand, never from Host or X-Forwarded-Host (RST-03), so a forged header cannot send the
 * token to another origin.
 */
export function tokenLink(page: string, token: string): string {
  const url = new URL(page)
  url.searchParams.set('token', token)
  return url.toString()
}
