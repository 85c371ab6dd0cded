import { matchesAnyV1a, publicKeyOf } from './asymmetric.js'
import { matchesAnyV1, secretKey } from './signature.js'

export type WebhookVerificationReason =
  | 'missing_headers'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature'
  | 'invalid_payload'

/** Thrown by `verifyWebhook`; `reason` says why, without echoing anything secret. */
export class WebhookVerificationError extends Error {
  readonly reason: WebhookVerificationReason

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message)
    this.name = 'WebhookVerificationError'
    this.reason = reason
  }
}

/** Request headers as Node (`IncomingHttpHeaders`), Fetch (`Headers`) or a plain record give them. */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>

export interface VerifyWebhookInput {
  /** The raw body exactly as received: a re-serialised JSON object does not verify. */
  body: string | Uint8Array
  headers: WebhookHeaders
  /** The endpoint's secret (`whsec_…`); several while you rotate it on your side. */
  secret?: string | readonly string[]
  /**
   * The sender's Ed25519 public key (`whpk_…`) to check `v1a` signatures with; several while the
   * sender rotates it. Give `secret`, `publicKey` or both: any valid entry verifies.
   */
  publicKey?: string | readonly string[]
  /** Largest distance between the message's timestamp and now, in seconds. Default 300. */
  toleranceSeconds?: number
  /** Time source (tests). */
  now?: () => Date
}

export interface VerifiedWebhook<T = unknown> {
  /** `webhook-id`: the same on every retry of one message; deduplicate on it. */
  id: string
  /** `webhook-timestamp` as a Date. */
  timestamp: Date
  /** The parsed JSON body. */
  payload: T
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined
  }
  const value = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(value) ? value.join(' ') : value
}

const list = (value: string | readonly string[] | undefined): readonly string[] =>
  value === undefined ? [] : typeof value === 'string' ? [value] : value

/**
 * Verifies a Standard Webhooks 1.0 delivery: its `webhook-signature` (any `v1` entry made with
 * any of the secrets, compared in constant time, or any `v1a` entry made by the private key of
 * any of the public keys) over `webhook-id`, `webhook-timestamp` and the
 * raw body, and a timestamp within the tolerance (replays of old captures fail). Returns the
 * parsed payload; throws `WebhookVerificationError` otherwise.
 */
export function verifyWebhook<T = unknown>(input: VerifyWebhookInput): VerifiedWebhook<T> {
  const secrets = list(input.secret)
  const publicKeys = list(input.publicKey).map(publicKeyOf)
  if (secrets.length === 0 && publicKeys.length === 0) {
    // A caller's configuration mistake, not a bad delivery: never "verified by nothing".
    throw new TypeError('verifyWebhook needs a secret or a publicKey')
  }
  const id = header(input.headers, 'webhook-id')
  const timestampHeader = header(input.headers, 'webhook-timestamp')
  const signature = header(input.headers, 'webhook-signature')
  if (!id || !timestampHeader || !signature) {
    throw new WebhookVerificationError(
      'missing_headers',
      'webhook-id, webhook-timestamp and webhook-signature are required',
    )
  }
  if (!/^\d{1,12}$/.test(timestampHeader)) {
    throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not a number')
  }
  const timestamp = Number(timestampHeader)
  const tolerance = input.toleranceSeconds ?? 300
  const now = Math.floor((input.now?.() ?? new Date()).getTime() / 1000)
  if (now - timestamp > tolerance) {
    throw new WebhookVerificationError('timestamp_too_old', 'the message timestamp is too old')
  }
  if (timestamp - now > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_too_new',
      'the message timestamp is in the future',
    )
  }
  const body =
    typeof input.body === 'string' ? input.body : Buffer.from(input.body).toString('utf8')
  let valid = false
  for (const secret of secrets) {
    if (matchesAnyV1(signature, secretKey(secret), id, timestamp, body)) valid = true
  }
  for (const publicKey of publicKeys) {
    if (matchesAnyV1a(signature, publicKey, id, timestamp, body)) valid = true
  }
  if (!valid) {
    throw new WebhookVerificationError('invalid_signature', 'no signature matches')
  }
  try {
    return { id, timestamp: new Date(timestamp * 1000), payload: JSON.parse(body) as T }
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'the body is not JSON')
  }
}
