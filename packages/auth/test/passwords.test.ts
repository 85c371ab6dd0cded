import { verify as argon2Verify } from '@node-rs/argon2'
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { AuthErrors } from '../src/errors.js'
import { isCommonPassword } from '../src/services/common-passwords.js'
import {
  DEFAULT_PASSWORD_POLICY,
  OWASP_MINIMUM,
  PasswordService,
  type PasswordVerifier,
} from '../src/services/passwords.js'

const KNOWN_PASSWORD = 'correct horse battery staple'
const verifier = vi.fn<PasswordVerifier>((hash, password) => argon2Verify(hash, password))
const passwords = new PasswordService({
  hashing: OWASP_MINIMUM,
  policy: DEFAULT_PASSWORD_POLICY,
  verifier,
})
let knownHash: string

beforeAll(async () => {
  knownHash = await passwords.hash(KNOWN_PASSWORD)
})

beforeEach(() => {
  verifier.mockClear()
})

function parsePhc(hash: string) {
  const match =
    /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(hash)
  if (!match) throw new Error(`not an argon2id PHC string: ${hash}`)
  const [, m, t, p, salt] = match
  return {
    memoryCost: Number(m),
    timeCost: Number(t),
    parallelism: Number(p),
    saltBytes: Buffer.from(salt ?? '', 'base64').byteLength,
  }
}

async function expectWeak(password: string, reason: RegExp) {
  const failure = await passwords.check(password).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(failure).toBeInstanceOf(AuthErrors.WeakPassword)
  expect((failure as Error).message).toMatch(reason)
}

describe('PWD-01 hash parameters', () => {
  it('stores argon2id v19 with at least the OWASP parameters and a 16-byte salt', () => {
    expect(knownHash.startsWith('$argon2id$v=19$')).toBe(true)
    const parsed = parsePhc(knownHash)
    expect(parsed.memoryCost).toBeGreaterThanOrEqual(19456)
    expect(parsed.timeCost).toBeGreaterThanOrEqual(2)
    expect(parsed.parallelism).toBeGreaterThanOrEqual(1)
    expect(parsed.saltBytes).toBeGreaterThanOrEqual(16)
    expect(knownHash).not.toContain(KNOWN_PASSWORD)
  })

  it('verifies the right password without asking for a rehash', async () => {
    expect(await passwords.verify(knownHash, KNOWN_PASSWORD)).toEqual({
      valid: true,
      needsRehash: false,
    })
  })
})

describe('PWD-03 password policy', () => {
  it('rejects 11 characters and accepts 12', async () => {
    await expectWeak('tq8#Lm2vXr9', /too short/)
    await expect(passwords.check('tq8#Lm2vXr9w')).resolves.toBeUndefined()
  })

  it('counts code points, not UTF-16 units', async () => {
    const elevenEmoji = '🦊🐙🦉🐢🦔🐝🦜🐬🦩🐿️🦦'.replace('\uFE0F', '')
    expect([...elevenEmoji]).toHaveLength(11)
    await expectWeak(elevenEmoji, /too short/)
    await expect(passwords.check(`${elevenEmoji}🦚`)).resolves.toBeUndefined()
  })

  it('accepts a 64-character passphrase with spaces and emoji, and needs no composition', async () => {
    const passphrase = 'my cat 🐈 sleeps on the warm laptop while the kettle sings 🎶 okay'
    expect([...passphrase]).toHaveLength(64)
    await expect(passwords.check(passphrase)).resolves.toBeUndefined()
    await expect(passwords.check('all lower case words here')).resolves.toBeUndefined()
  })

  it('rejects more than 1024 UTF-8 bytes even when under 1024 characters', async () => {
    const twoByteCharacters = 'é'.repeat(513)
    expect(Buffer.byteLength(twoByteCharacters)).toBe(1026)
    await expectWeak(twoByteCharacters, /too long/)
    await expectWeak('x'.repeat(100_000), /too long/)
    await expect(passwords.hash('x'.repeat(1025))).rejects.toBeInstanceOf(AuthErrors.WeakPassword)
  })

  it('rejects common passwords whatever their case', async () => {
    await expectWeak('password1234', /too common/)
    await expectWeak('Password1234', /too common/)
    await expectWeak('QWERTYUIOP123', /too common/)
  })

  it('does not truncate: an 80-character hash rejects its first 72 characters and a case change', async () => {
    const long = 'Zq8-vLr2.Wm4:tx7/Kp9;cF3_hN6=bJ1+gD5~sQ0^yT8%eR2@uA7#oI4$lM9&nB3*vC6(zX1)wS5!kH2'
    expect(long).toHaveLength(80)
    const hash = await passwords.hash(long)
    expect((await passwords.verify(hash, long.slice(0, 72))).valid).toBe(false)
    expect((await passwords.verify(hash, long.toLowerCase())).valid).toBe(false)
    expect((await passwords.verify(hash, long)).valid).toBe(true)
  })

  it('hands the NFKC form to a custom breach check', async () => {
    const isBreached = vi.fn(() => true)
    const strict = new PasswordService({
      hashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      policy: { ...DEFAULT_PASSWORD_POLICY, isBreached },
    })
    await expect(strict.check('ﬁne-ﬁsh-ﬁlter')).rejects.toBeInstanceOf(AuthErrors.WeakPassword)
    expect(isBreached).toHaveBeenCalledWith('fine-fish-filter')
  })
})

describe('Unicode normalisation', () => {
  it('verifies the ligature and the plain spelling the same (NFKC)', async () => {
    const hash = await passwords.hash('ﬁnancial ﬁrewall 42')
    expect((await passwords.verify(hash, 'financial firewall 42')).valid).toBe(true)
  })
})

describe('PWD-02 needsRehash', () => {
  it('is true for a hash below the current parameters, and only after a valid password', async () => {
    const legacy = new PasswordService({
      hashing: { memoryCost: 4096, timeCost: 1, parallelism: 1 },
      policy: DEFAULT_PASSWORD_POLICY,
    })
    const legacyHash = await legacy.hash(KNOWN_PASSWORD)
    expect(parsePhc(legacyHash)).toMatchObject({ memoryCost: 4096, timeCost: 1 })
    expect(await passwords.verify(legacyHash, KNOWN_PASSWORD)).toEqual({
      valid: true,
      needsRehash: true,
    })
    expect(await passwords.verify(legacyHash, 'not the password')).toEqual({
      valid: false,
      needsRehash: false,
    })
  })
})

describe('ENUM-01 one argon2 verify on every path', () => {
  it('runs exactly one verify for a known user, right or wrong password', async () => {
    await passwords.verify(knownHash, 'wrong password here')
    expect(verifier).toHaveBeenCalledTimes(1)
    await passwords.verify(knownHash, KNOWN_PASSWORD)
    expect(verifier).toHaveBeenCalledTimes(2)
  })

  it('runs exactly one verify against a dummy hash at the current parameters for an unknown user', async () => {
    expect(await passwords.verify(null, KNOWN_PASSWORD)).toEqual({
      valid: false,
      needsRehash: false,
    })
    expect(verifier).toHaveBeenCalledTimes(1)
    const [dummyHash] = verifier.mock.calls[0] ?? []
    expect(dummyHash).not.toBe(knownHash)
    expect(parsePhc(dummyHash ?? '')).toMatchObject({
      memoryCost: OWASP_MINIMUM.memoryCost,
      timeCost: OWASP_MINIMUM.timeCost,
      parallelism: OWASP_MINIMUM.parallelism,
    })
  })

  it('runs one bounded verify for an oversized password, known user or not', async () => {
    const huge = 'a'.repeat(50_000)
    expect((await passwords.verify(knownHash, huge)).valid).toBe(false)
    expect((await passwords.verify(null, huge)).valid).toBe(false)
    expect(verifier).toHaveBeenCalledTimes(2)
    for (const [hash, password] of verifier.mock.calls) {
      expect(hash).not.toBe(knownHash)
      expect(password.length).toBeLessThanOrEqual(DEFAULT_PASSWORD_POLICY.maxBytes)
    }
  })

  it('treats a stored value that is not an argon2 hash as a failed attempt, still one verify', async () => {
    expect((await passwords.verify('plaintext-oops', 'plaintext-oops')).valid).toBe(false)
    expect(verifier).toHaveBeenCalledTimes(1)
  })
})

describe('isCommonPassword', () => {
  it('knows listed, padded, repeated and sequential passwords', () => {
    for (const common of [
      '123456789012',
      'Qwertyuiop123',
      'iloveyou2024!',
      'footballfootball',
      'zzzzzzzzzzzzzzz',
      '345678901234',
      'lkjhgfdsapoiuy',
    ]) {
      expect(isCommonPassword(common), common).toBe(true)
    }
  })

  it('lets an ordinary long passphrase through', () => {
    expect(isCommonPassword('purple tractor eats 9 clouds')).toBe(false)
    expect(isCommonPassword('tq8#Lm2vXr9w')).toBe(false)
  })
})
