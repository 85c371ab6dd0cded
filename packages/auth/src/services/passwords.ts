import { randomBytes } from 'node:crypto'
import { hash as argon2Hash, verify as argon2Verify, parseOptions } from '@node-rs/argon2'
import { AuthErrors } from '../errors.js'
import { isCommonPassword } from './common-passwords.js'
import { createLimiter } from './limiter.js'

export interface PasswordHashing {
  /** KiB of memory per hash. */
  memoryCost: number
  /** Passes over memory. */
  timeCost: number
  /** Lanes. */
  parallelism: number
}

export interface PasswordPolicyOptions {
  /** Minimum length in Unicode code points, after NFKC normalisation. */
  minLength: number
  /** Maximum length in UTF-8 bytes, after NFKC normalisation: bounds the hashing work per request. */
  maxBytes: number
  /** Rejects known-compromised passwords. Defaults to the built-in common-password list. */
  isBreached?: (password: string) => boolean | Promise<boolean>
}

/** The argon2 verification primitive; injectable so tests can count calls (ENUM-01). */
export type PasswordVerifier = (hash: string, password: string) => Promise<boolean>

export interface PasswordServiceOptions {
  hashing: PasswordHashing
  policy: PasswordPolicyOptions
  verifier?: PasswordVerifier
}

/** OWASP Password Storage Cheat Sheet's argon2id floor. */
export const OWASP_MINIMUM: PasswordHashing = Object.freeze({
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
})

export const DEFAULT_PASSWORD_POLICY: PasswordPolicyOptions = Object.freeze({
  minLength: 12,
  maxBytes: 1024,
})

// @node-rs/argon2 declares its Algorithm enum as an ambient const enum, which isolatedModules
// cannot read; these are its values.
const ARGON2ID = 2
const VERSION_0X13 = 1

const defaultVerifier: PasswordVerifier = (hash, password) => argon2Verify(hash, password)

export class PasswordService {
  readonly #hashing: PasswordHashing
  readonly #policy: PasswordPolicyOptions
  readonly #verifier: PasswordVerifier
  readonly #isBreached: (password: string) => boolean | Promise<boolean>
  // Started at construction so the first unknown-user login costs the same as any other.
  readonly #dummyHash: Promise<string>
  readonly #limit = createLimiter()

  constructor(options: PasswordServiceOptions) {
    this.#hashing = { ...options.hashing }
    this.#policy = { ...options.policy }
    this.#verifier = options.verifier ?? defaultVerifier
    this.#isBreached = options.policy.isBreached ?? isCommonPassword
    this.#dummyHash = this.#argon2id(randomBytes(32).toString('base64url'))
    // A failure surfaces on the first verify; this only keeps it from being an unhandled rejection.
    this.#dummyHash.catch(() => undefined)
  }

  async check(password: string): Promise<void> {
    const normalized = this.#normalizeWithinLimit(password)
    if (normalized === null) {
      throw new AuthErrors.WeakPassword({
        detail: `The password is too long: at most ${this.#policy.maxBytes} bytes.`,
      })
    }
    if (countCodePoints(normalized) < this.#policy.minLength) {
      throw new AuthErrors.WeakPassword({
        detail: `The password is too short: at least ${this.#policy.minLength} characters.`,
      })
    }
    if (await this.#isBreached(normalized)) {
      throw new AuthErrors.WeakPassword({
        detail: 'The password is too common or has appeared in a data breach; choose another.',
      })
    }
  }

  async hash(password: string): Promise<string> {
    const normalized = this.#normalizeWithinLimit(password)
    if (normalized === null) {
      throw new AuthErrors.WeakPassword({
        detail: `The password is too long: at most ${this.#policy.maxBytes} bytes.`,
      })
    }
    return this.#argon2id(normalized)
  }

  async verify(
    hash: string | null,
    password: string,
  ): Promise<{ valid: boolean; needsRehash: boolean }> {
    const normalized = this.#normalizeWithinLimit(password)
    const stored = hash === null ? null : parseArgon2Parameters(hash)
    if (hash === null || stored === null || normalized === null) {
      // Same work as a real attempt, on a bounded input, so neither an unknown account nor an
      // oversized password is distinguishable by timing or usable to burn CPU.
      const dummy = await this.#dummyHash
      await this.#limit(() => this.#verifier(dummy, ''))
      return { valid: false, needsRehash: false }
    }
    const valid = await this.#limit(() => this.#verifier(hash, normalized))
    return { valid, needsRehash: valid && this.#isBelowCurrent(stored) }
  }

  #argon2id(normalized: string): Promise<string> {
    return this.#limit(() =>
      argon2Hash(normalized, {
        algorithm: ARGON2ID,
        version: VERSION_0X13,
        memoryCost: this.#hashing.memoryCost,
        timeCost: this.#hashing.timeCost,
        parallelism: this.#hashing.parallelism,
      }),
    )
  }

  /** NFKC form, or null when it exceeds maxBytes. */
  #normalizeWithinLimit(password: string): string | null {
    // Every UTF-16 unit is at least one UTF-8 byte: reject huge inputs before normalising them.
    if (password.length > this.#policy.maxBytes) return null
    const normalized = password.normalize('NFKC')
    return Buffer.byteLength(normalized, 'utf8') > this.#policy.maxBytes ? null : normalized
  }

  #isBelowCurrent(stored: Argon2Parameters): boolean {
    return (
      stored.algorithm !== ARGON2ID ||
      stored.version !== VERSION_0X13 ||
      stored.memoryCost < this.#hashing.memoryCost ||
      stored.timeCost < this.#hashing.timeCost ||
      stored.parallelism < this.#hashing.parallelism
    )
  }
}

interface Argon2Parameters {
  algorithm: number
  version: number
  memoryCost: number
  timeCost: number
  parallelism: number
}

/** Null for anything that is not an argon2 PHC string (e.g. a corrupted or foreign column). */
function parseArgon2Parameters(hash: string): Argon2Parameters | null {
  try {
    return parseOptions(hash)
  } catch {
    return null
  }
}

function countCodePoints(text: string): number {
  return [...text].length
}
