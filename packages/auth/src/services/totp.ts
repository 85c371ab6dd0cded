import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { Prisma } from '../generated/prisma/client.js'
import type { SecretBox } from './secret-box.js'

/** RFC 6238 as every authenticator app implements it by default: SHA-1, 30 s, 6 digits. */
export const TOTP_PERIOD_SECONDS = 30
export const TOTP_DIGITS = 6
/** RFC 4226 recommends at least 128 bits and suggests 160: the size of an SHA-1 block output. */
const SECRET_BYTES = 20
/** Steps either side of now that are accepted: clock drift and typing time (RFC 6238 §5.2). */
const DRIFT_STEPS = 1

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding: what otpauth:// URIs and authenticator apps expect. */
export function base32Encode(bytes: Uint8Array): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/=+$/, '').toUpperCase()
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const char of clean) {
    const index = BASE32.indexOf(char)
    if (index === -1) throw new Error('invalid base32')
    value = (value << 5) | index
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

export function newTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES))
}

/** The time step of an instant (RFC 6238 T). */
export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1_000 / TOTP_PERIOD_SECONDS)
}

/** RFC 4226 HOTP of one step, with dynamic truncation. */
export function totpCode(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', secret).update(counter).digest()
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f
  const binary = mac.readUInt32BE(offset) & 0x7fffffff
  return String(binary % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, '0')
}

/**
 * The newest step within ±1 of `now` whose code matches and that is later than `lastUsedStep`,
 * or null. Refusing steps already used (or older) makes each code single use (RFC 6238 §5.2).
 */
export function matchTotp(
  secret: Buffer,
  code: string,
  now: Date,
  lastUsedStep: number | null,
): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const current = totpStep(now)
  let matched: number | null = null
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step++) {
    if (lastUsedStep !== null && step <= lastUsedStep) continue
    // Every candidate is compared, so timing does not tell which step (if any) matched.
    const equal = timingSafeEqual(Buffer.from(totpCode(secret, step)), Buffer.from(code))
    if (equal) matched = step
  }
  return matched
}

/** The enrolment URI authenticator apps read from a QR code (Key Uri Format). */
export function otpauthUrl(input: { issuer: string; account: string; secret: string }): string {
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`
  const query = new URLSearchParams({
    secret: input.secret,
    issuer: input.issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  })
  return `otpauth://totp/${label}?${query.toString()}`
}

export type MfaTransaction = Prisma.TransactionClient

/** A user's authenticator: enrol, confirm, verify codes once each, remove. */
export class TotpFactor {
  readonly #db: AuthDb
  readonly #box: SecretBox
  readonly #clock: Clock

  constructor(options: { db: AuthDb; box: SecretBox; clock: Clock }) {
    this.#db = options.db
    this.#box = options.box
    this.#clock = options.clock
  }

  /** A new unconfirmed secret, replacing any earlier one; the plaintext is returned only here. */
  async enrol(userId: string): Promise<string> {
    const secret = newTotpSecret()
    const encryptedSecret = this.#box.encrypt(secret, userId)
    const row = { encryptedSecret, confirmedAt: null, lastUsedStep: null, createdAt: this.#clock() }
    await this.#db.totpSecret.upsert({
      where: { userId },
      create: { userId, ...row },
      update: row,
    })
    return secret
  }

  /**
   * Confirms the pending secret with a code from the app. `apply` runs in the same transaction,
   * so MFA is switched on together with the confirmation (and its recovery codes) or not at all.
   */
  async confirm(
    userId: string,
    code: string,
    apply: (tx: MfaTransaction, now: Date) => Promise<void>,
  ): Promise<void> {
    const now = this.#clock()
    const row = await this.#db.totpSecret.findUnique({
      where: { userId },
      select: { encryptedSecret: true, confirmedAt: true },
    })
    if (!row || row.confirmedAt !== null) throw new AuthErrors.MfaSetupRequired()
    const step = matchTotp(this.#secret(row.encryptedSecret, userId), code, now, null)
    if (step === null) throw new AuthErrors.InvalidMfaCode()
    await this.#db.$transaction(async (tx) => {
      // The WHERE is the claim: a concurrent confirm or a new setup makes this match nothing.
      const claimed = await tx.totpSecret.updateMany({
        where: { userId, confirmedAt: null, encryptedSecret: row.encryptedSecret },
        // The code that confirmed the app cannot be replayed at the next login.
        data: { confirmedAt: now, lastUsedStep: BigInt(step) },
      })
      if (claimed.count !== 1) throw new AuthErrors.MfaSetupRequired()
      await apply(tx, now)
    })
  }

  /** Whether the code is valid for the confirmed secret; a valid code is spent. */
  async verify(userId: string, code: string): Promise<boolean> {
    const now = this.#clock()
    const row = await this.#db.totpSecret.findUnique({
      where: { userId },
      select: { encryptedSecret: true, confirmedAt: true, lastUsedStep: true },
    })
    if (!row || row.confirmedAt === null) return false
    const lastUsed = row.lastUsedStep === null ? null : Number(row.lastUsedStep)
    const step = matchTotp(this.#secret(row.encryptedSecret, userId), code, now, lastUsed)
    if (step === null) return false
    // Two requests with the same code at once: only one moves lastUsedStep forward.
    const claimed = await this.#db.totpSecret.updateMany({
      where: {
        userId,
        confirmedAt: { not: null },
        OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }],
      },
      data: { lastUsedStep: BigInt(step) },
    })
    return claimed.count === 1
  }

  #secret(encryptedSecret: string, userId: string): Buffer {
    return base32Decode(this.#box.decrypt(encryptedSecret, userId))
  }
}
