import { createHash, randomBytes } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { base32Encode, type MfaTransaction } from './totp.js'

export const RECOVERY_CODE_COUNT = 10
/** 12 base32 characters: 60 bits each, far beyond guessing within the login throttle. */
const CODE_CHARS = 12
const GROUP = 4

/** Case, spaces and dashes do not matter when a code is typed back. */
export function normalizeRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase()
}

/** What is stored: the SHA-256 of the normalised code (60 random bits need no slow KDF). */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normalizeRecoveryCode(code), 'utf8').digest('hex')
}

function newRecoveryCode(): string {
  // 8 bytes = 64 bits, base32 gives 13 characters; the first 12 carry 60 random bits.
  const text = base32Encode(randomBytes(8)).slice(0, CODE_CHARS).toLowerCase()
  const groups: string[] = []
  for (let i = 0; i < text.length; i += GROUP) groups.push(text.slice(i, i + GROUP))
  return groups.join('-')
}

/** Single-use fallback codes for a lost authenticator; only their hashes are stored. */
export class RecoveryCodes {
  readonly #db: AuthDb
  readonly #clock: Clock

  constructor(options: { db: AuthDb; clock: Clock }) {
    this.#db = options.db
    this.#clock = options.clock
  }

  /** Deletes the user's codes and creates a fresh set; the plaintexts are returned only here. */
  async replace(userId: string, tx: MfaTransaction): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    await tx.recoveryCode.deleteMany({ where: { userId } })
    await tx.recoveryCode.createMany({
      data: codes.map((code) => ({ userId, codeHash: hashRecoveryCode(code) })),
    })
    return codes
  }

  /** Spends the code if it is one of the user's unused ones. */
  async consume(userId: string, code: string): Promise<boolean> {
    const normalized = normalizeRecoveryCode(code)
    if (!/^[a-z2-7]{12}$/.test(normalized)) return false
    // `usedAt: null` in the WHERE makes concurrent uses of one code succeed once.
    const spent = await this.#db.recoveryCode.updateMany({
      where: { userId, codeHash: hashRecoveryCode(normalized), usedAt: null },
      data: { usedAt: this.#clock() },
    })
    return spent.count === 1
  }
}
