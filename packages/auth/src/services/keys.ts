import { AcmeConfigError } from '@acme/core'
import {
  CompactSign,
  type CryptoKey,
  calculateJwkThumbprint,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256' | 'HS256'

type AsymmetricAlgorithm = Exclude<SigningAlgorithm, 'HS256'>

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'HS256']

export interface SigningKeyOptions {
  algorithm: SigningAlgorithm
  /** Private JWKs with `kid`: the first signs, all verify. */
  privateKeys?: JWK[]
  /** Public JWKs (keys being retired) that still verify. */
  verificationKeys?: JWK[]
  /** HS256 only. */
  secret?: string
}

/** An imported key: CryptoKey for asymmetric algorithms, the secret's bytes for HS256. */
export type KeyMaterial = CryptoKey | Uint8Array

export interface SigningKeys {
  readonly algorithm: SigningAlgorithm
  readonly signing: { readonly kid: string; readonly key: KeyMaterial }
  readonly verifying: ReadonlyMap<string, KeyMaterial>
  /** Public members only, ready to publish as a JWKS. Empty for HS256. */
  readonly publicJwks: readonly JWK[]
}

/** RFC 7518 §3.2: an HMAC key at least as long as the SHA-256 output. */
export const MIN_HS256_SECRET_BYTES = 32
/** The one key an HS256 deployment has; a constant, so the `kid` reveals nothing about it. */
export const HS256_KEY_ID = 'hs256'
const MIN_RSA_MODULUS_BYTES = 256

// An allow-list, so a member the code does not know about can never leak a private part.
const PUBLIC_MEMBERS: Record<AsymmetricAlgorithm, readonly (keyof JWK)[]> = {
  EdDSA: ['crv', 'x'],
  ES256: ['crv', 'x', 'y'],
  RS256: ['n', 'e'],
}

const EXPECTED_KEY_TYPE: Record<AsymmetricAlgorithm, { kty: string; crv?: string }> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
  RS256: { kty: 'RSA' },
}

const PLUGIN = '@acme/auth'

/** Validates and imports the configured keys; throws AcmeConfigError naming every problem. */
export async function loadSigningKeys(options: SigningKeyOptions): Promise<SigningKeys> {
  if (!SIGNING_ALGORITHMS.includes(options.algorithm)) {
    throw new AcmeConfigError(PLUGIN, [`tokens.algorithm must be one of ${SIGNING_ALGORITHMS}`])
  }
  return options.algorithm === 'HS256'
    ? loadHmacKey(options)
    : loadAsymmetricKeys({ ...options, algorithm: options.algorithm })
}

function loadHmacKey(options: SigningKeyOptions): SigningKeys {
  const problems: string[] = []
  if (options.privateKeys?.length || options.verificationKeys?.length) {
    problems.push('tokens.privateKeys and tokens.verificationKeys do not apply to HS256')
  }
  const secret = new TextEncoder().encode(options.secret ?? '')
  if (secret.byteLength < MIN_HS256_SECRET_BYTES) {
    problems.push(`tokens.secret must be at least ${MIN_HS256_SECRET_BYTES} bytes for HS256`)
  }
  if (problems.length > 0) throw new AcmeConfigError(PLUGIN, problems)
  return Object.freeze({
    algorithm: 'HS256',
    signing: Object.freeze({ kid: HS256_KEY_ID, key: secret }),
    verifying: new Map([[HS256_KEY_ID, secret]]),
    publicJwks: Object.freeze([]),
  })
}

async function loadAsymmetricKeys(
  options: SigningKeyOptions & { algorithm: AsymmetricAlgorithm },
): Promise<SigningKeys> {
  const { algorithm } = options
  const privateKeys = options.privateKeys ?? []
  const verificationKeys = options.verificationKeys ?? []
  const problems = [
    ...(options.secret === undefined ? [] : [`tokens.secret applies to HS256 only`]),
    ...privateKeys.flatMap((jwk, index) =>
      describeKeyProblems(jwk, `tokens.privateKeys[${index}]`, algorithm, true),
    ),
    ...verificationKeys.flatMap((jwk, index) =>
      describeKeyProblems(jwk, `tokens.verificationKeys[${index}]`, algorithm, false),
    ),
    ...describeDuplicateKids([...privateKeys, ...verificationKeys]),
  ]
  if (problems.length > 0) throw new AcmeConfigError(PLUGIN, problems)

  const [configured] = privateKeys
  const signing = configured
    ? await importSigningKey(configured, algorithm)
    : await generateSigningKey(algorithm)
  const ownPublic = configured ? privateKeys : [signing.publicJwk]
  const publicJwks = [...ownPublic, ...verificationKeys].map((jwk) => toPublicJwk(jwk, algorithm))
  const verifying = new Map<string, KeyMaterial>()
  for (const publicJwk of publicJwks) {
    const label = `tokens key "${publicJwk.kid}"`
    verifying.set(publicJwk.kid, await importOrExplain(publicJwk, algorithm, label))
  }
  await assertSigningKeyMatchesItsPublicKey(signing, verifying, algorithm)
  return Object.freeze({
    algorithm,
    signing: Object.freeze({ kid: signing.kid, key: signing.key }),
    verifying,
    publicJwks: Object.freeze(publicJwks),
  })
}

interface LoadedSigningKey {
  kid: string
  key: CryptoKey
  publicJwk: PublicJwk
}

async function importSigningKey(
  jwk: JWK,
  algorithm: AsymmetricAlgorithm,
): Promise<LoadedSigningKey> {
  const key = await importOrExplain(jwk, algorithm, 'tokens.privateKeys[0]')
  const publicJwk = toPublicJwk(jwk, algorithm)
  return { kid: publicJwk.kid, key, publicJwk }
}

/**
 * Without configured keys, one key pair lives in this process only: tokens stop verifying on
 * restart and on other instances, so configure `privateKeys` for anything but one dev instance.
 */
async function generateSigningKey(algorithm: AsymmetricAlgorithm): Promise<LoadedSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: false })
  const publicJwk = await exportJWK(publicKey)
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, key: privateKey, publicJwk: { ...publicJwk, kid } }
}

function describeDuplicateKids(jwks: JWK[]): string[] {
  const seen = new Set<string>()
  const problems: string[] = []
  for (const { kid } of jwks) {
    if (typeof kid !== 'string') continue
    if (seen.has(kid)) problems.push(`tokens: kid "${kid}" is used by more than one key`)
    seen.add(kid)
  }
  return problems
}

function describeKeyProblems(
  jwk: JWK,
  label: string,
  algorithm: AsymmetricAlgorithm,
  mustBePrivate: boolean,
): string[] {
  const problems: string[] = []
  const expected = EXPECTED_KEY_TYPE[algorithm]
  if (typeof jwk.kid !== 'string' || jwk.kid.length === 0) problems.push(`${label}: needs a kid`)
  if (jwk.kty !== expected.kty || (expected.crv !== undefined && jwk.crv !== expected.crv)) {
    const wanted = expected.crv ? `${expected.kty}/${expected.crv}` : expected.kty
    problems.push(`${label}: ${algorithm} needs a ${wanted} key`)
  }
  if (jwk.alg !== undefined && jwk.alg !== algorithm) {
    problems.push(`${label}: its alg "${jwk.alg}" is not the configured ${algorithm}`)
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') problems.push(`${label}: its use is not "sig"`)
  if (mustBePrivate && typeof jwk.d !== 'string') problems.push(`${label}: has no private part`)
  if (algorithm === 'RS256' && typeof jwk.n === 'string') {
    if (Buffer.from(jwk.n, 'base64url').byteLength < MIN_RSA_MODULUS_BYTES) {
      problems.push(`${label}: RSA keys need a modulus of at least 2048 bits`)
    }
  }
  return problems
}

type PublicJwk = JWK & { kid: string }

/** Call only on a key whose kid was validated. */
function toPublicJwk(jwk: JWK, algorithm: AsymmetricAlgorithm): PublicJwk {
  const publicJwk: PublicJwk = { kty: jwk.kty, kid: String(jwk.kid), alg: algorithm, use: 'sig' }
  for (const member of PUBLIC_MEMBERS[algorithm]) {
    const value = jwk[member]
    if (typeof value === 'string') Object.assign(publicJwk, { [member]: value })
  }
  return publicJwk
}

/** A private JWK whose public members belong to another key would sign tokens nobody accepts. */
async function assertSigningKeyMatchesItsPublicKey(
  signing: LoadedSigningKey,
  verifying: ReadonlyMap<string, KeyMaterial>,
  algorithm: AsymmetricAlgorithm,
): Promise<void> {
  const probe = new TextEncoder().encode('key check')
  const signed = await new CompactSign(probe)
    .setProtectedHeader({ alg: algorithm })
    .sign(signing.key)
  const publicKey = verifying.get(signing.kid)
  const matches =
    publicKey !== undefined &&
    (await compactVerify(signed, publicKey).then(
      () => true,
      () => false,
    ))
  if (!matches) {
    throw new AcmeConfigError(PLUGIN, [
      `tokens.privateKeys[0]: its private and public parts do not belong together`,
    ])
  }
}

async function importOrExplain(
  jwk: JWK,
  algorithm: AsymmetricAlgorithm,
  label: string,
): Promise<CryptoKey> {
  try {
    const key = await importJWK(jwk, algorithm, { extractable: false })
    if (key instanceof Uint8Array) throw new TypeError('not an asymmetric key')
    return key
  } catch {
    // The import error can quote key material; name the key instead.
    throw new AcmeConfigError(PLUGIN, [`${label}: not a valid ${algorithm} key`])
  }
}
