import { createHash, randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { type Clock, systemClock } from '../clock.js'
import { AuthErrors } from '../errors.js'
import { normalizeEmail } from './accounts.js'
import { clientKey } from './client-ip.js'

/** The login limits (option `throttle`); extra fields of that option are ignored. */
export interface ThrottleLimits {
  /** Failures per account within `accountWindowSeconds` before the account is throttled. */
  accountMax: number
  accountWindowSeconds: number
  /** Hard ceiling of failures per account per hour, whatever the pacing (ASVS 2.2.1). */
  accountHourlyCap: number
  /**
   * Failed attempts per client IP (IPv6: per /64) within `ipWindowSeconds`. A success gives its
   * slot back, so an office behind one address is not locked out by its own colleagues.
   */
  ipMax: number
  ipWindowSeconds: number
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  accountMax: 10,
  accountWindowSeconds: 900,
  accountHourlyCap: 100,
  ipMax: 20,
  ipWindowSeconds: 60,
}

export type ThrottleScope = 'account' | 'ip'

/** A login attempt let through: it counts as a failure until `succeeded` says otherwise. */
export interface AdmittedAttempt {
  readonly keys: AttemptKeys
  readonly member: string
}

export type Admission =
  | { allowed: true; attempt: AdmittedAttempt }
  | { allowed: false; scope: ThrottleScope; retryAfterSeconds: number }

export interface LoginThrottleOptions {
  /** Shared across instances; `null` counts in this process only (single instance). */
  redis: Redis | null
  /** E.g. `${app.redisKeyPrefix}auth:throttle:`. */
  keyPrefix: string
  clock?: Clock
  limits?: ThrottleLimits
  /** A Redis command slower than this fails the login closed (503), rather than hanging it. */
  redisTimeoutMs?: number
  logger?: { warn(o: object, m?: string): void }
}

interface AttemptKeys {
  account: string
  accountHour: string
  ip: string
}

/** Windows in ms, in the order the store checks them. */
interface Windows {
  ipMs: number
  ipMax: number
  accountMs: number
  accountMax: number
  hourMs: number
  hourCap: number
}

type StoreVerdict = { scope: ThrottleScope; waitMs: number } | null

interface ThrottleStore {
  /** Atomically: refuse if any window is full, else record the attempt in every window. */
  admit(keys: AttemptKeys, now: number, member: string, windows: Windows): Promise<StoreVerdict>
  /** A success: the account's failures are forgiven; the IP attempt stays counted. */
  succeeded(keys: AttemptKeys, member: string): Promise<void>
}

const HOUR_MS = 3_600_000
/** What a client is told to wait when the throttle itself is unavailable. */
const UNAVAILABLE_RETRY_SECONDS = 5

/**
 * Brute-force and credential-stuffing limits for POST /login (AUTH-01..03), shared across
 * instances through Redis.
 *
 * Windows are sliding logs: a sorted set per key whose scores are timestamps from the injected
 * clock, not Redis time or TTLs. So tests move time by advancing the clock, Retry-After is exact
 * (when the entry that frees a slot leaves the window), and a burst at a window edge cannot
 * double the limit as fixed buckets would. Key TTLs only collect garbage.
 *
 * An attempt is recorded as a failure when admitted, before the password is checked, so
 * concurrent attempts cannot all pass a check made before any of them is counted; a success
 * then clears the account's failures. Throttled attempts are not recorded: a refusal costs
 * nothing and does not extend the wait. Any Redis error refuses the login (CH-01: fail closed).
 */
export class LoginThrottle {
  readonly #store: ThrottleStore
  readonly #prefix: string
  readonly #clock: Clock
  readonly #windows: Windows
  readonly #logger: LoginThrottleOptions['logger']

  constructor(options: LoginThrottleOptions) {
    const limits = options.limits ?? DEFAULT_THROTTLE_LIMITS
    this.#store = options.redis
      ? new RedisStore(options.redis, options.redisTimeoutMs ?? 2_000)
      : new MemoryStore()
    this.#prefix = options.keyPrefix
    this.#clock = options.clock ?? systemClock
    this.#logger = options.logger
    this.#windows = {
      ipMs: limits.ipWindowSeconds * 1_000,
      ipMax: limits.ipMax,
      accountMs: limits.accountWindowSeconds * 1_000,
      accountMax: limits.accountMax,
      hourMs: HOUR_MS,
      hourCap: limits.accountHourlyCap,
    }
  }

  /** Throws ThrottleUnavailable (503) when the shared counters cannot be read. */
  async admit(input: { email: string; ip: string }): Promise<Admission> {
    // Hashed: no email addresses in Redis, and a bounded key length whatever the input.
    const account = createHash('sha256').update(normalizeEmail(input.email)).digest('hex')
    const keys: AttemptKeys = {
      account: `${this.#prefix}account:${account}`,
      accountHour: `${this.#prefix}account-hour:${account}`,
      // An IPv6 client counts by its /64: one attacker holds all of it.
      ip: `${this.#prefix}ip:${clientKey(input.ip)}`,
    }
    const member = randomUUID()
    let verdict: StoreVerdict
    try {
      verdict = await this.#store.admit(keys, this.#clock().getTime(), member, this.#windows)
    } catch (error) {
      this.#logger?.warn({ err: error }, 'login throttle unavailable; refusing logins')
      throw new AuthErrors.ThrottleUnavailable({
        headers: { 'retry-after': String(UNAVAILABLE_RETRY_SECONDS) },
        cause: error,
      })
    }
    if (verdict === null) return { allowed: true, attempt: { keys, member } }
    return {
      allowed: false,
      scope: verdict.scope,
      retryAfterSeconds: Math.max(1, Math.ceil(verdict.waitMs / 1_000)),
    }
  }

  /**
   * Forgives the account's failures after a correct password. Not fatal when Redis fails: the
   * failures then stay counted, which errs on the safe side and expires with the window.
   */
  async succeeded(attempt: AdmittedAttempt): Promise<void> {
    try {
      await this.#store.succeeded(attempt.keys, attempt.member)
    } catch (error) {
      this.#logger?.warn({ err: error }, 'could not clear login failures')
    }
  }
}

/**
 * KEYS: ip, account, account-hour. ARGV: now, member, then (window ms, max) for each key.
 * Returns {} when admitted, else {scope, ms until a slot frees}.
 */
const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
local function wait(key, windowMs, max)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windowMs)
  local count = redis.call('ZCARD', key)
  if count < max then return 0 end
  local entry = redis.call('ZRANGE', key, count - max, count - max, 'WITHSCORES')
  return math.ceil(tonumber(entry[2]) + windowMs - now)
end
local ipWait = wait(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]))
if ipWait > 0 then return {'ip', ipWait} end
local accountWait = math.max(
  wait(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6])),
  wait(KEYS[3], tonumber(ARGV[7]), tonumber(ARGV[8])))
if accountWait > 0 then return {'account', accountWait} end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[1 + i * 2])
end
return {}
`

class RedisStore implements ThrottleStore {
  readonly #redis: Redis
  readonly #timeoutMs: number

  constructor(redis: Redis, timeoutMs: number) {
    this.#redis = redis
    this.#timeoutMs = timeoutMs
  }

  async admit(keys: AttemptKeys, now: number, member: string, w: Windows): Promise<StoreVerdict> {
    const reply = await this.#deadline(
      this.#redis.eval(
        ADMIT_SCRIPT,
        3,
        keys.ip,
        keys.account,
        keys.accountHour,
        now,
        member,
        w.ipMs,
        w.ipMax,
        w.accountMs,
        w.accountMax,
        w.hourMs,
        w.hourCap,
      ),
    )
    if (!Array.isArray(reply) || reply.length === 0) return null
    const [scope, waitMs] = reply as [unknown, unknown]
    if ((scope !== 'ip' && scope !== 'account') || typeof waitMs !== 'number') {
      throw new Error('unexpected reply from the login throttle script')
    }
    return { scope, waitMs }
  }

  async succeeded(keys: AttemptKeys, member: string): Promise<void> {
    // The hourly ledger only loses this attempt: earlier failures still count against the cap,
    // or a user logging in between an attacker's bursts would reopen the account to them.
    await this.#deadline(
      this.#redis
        .multi()
        .del(keys.account)
        .zrem(keys.accountHour, member)
        .zrem(keys.ip, member)
        .exec(),
    )
  }

  /** ioredis queues commands while reconnecting; a login must not wait for that. */
  async #deadline<T>(command: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('redis did not answer in time')), this.#timeoutMs)
    })
    try {
      return await Promise.race([command, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

interface Entry {
  at: number
  member: string
}

/** Past this many keys, sweep (at most once a minute) so sprayed emails and IPs do not pile up. */
const MEMORY_SWEEP_AT = 10_000
const MEMORY_SWEEP_EVERY_MS = 60_000

/** The same sliding logs in one process, for deployments without Redis (one instance). */
class MemoryStore implements ThrottleStore {
  readonly #logs = new Map<string, Entry[]>()
  readonly #windowOf = new Map<string, number>()
  #sweptAt = 0

  async admit(keys: AttemptKeys, now: number, member: string, w: Windows): Promise<StoreVerdict> {
    if (this.#logs.size > MEMORY_SWEEP_AT && now - this.#sweptAt >= MEMORY_SWEEP_EVERY_MS) {
      this.#sweptAt = now
      this.#sweep(now)
    }
    const ipWait = this.#wait(keys.ip, now, w.ipMs, w.ipMax)
    if (ipWait > 0) return { scope: 'ip', waitMs: ipWait }
    const accountWait = Math.max(
      this.#wait(keys.account, now, w.accountMs, w.accountMax),
      this.#wait(keys.accountHour, now, w.hourMs, w.hourCap),
    )
    if (accountWait > 0) return { scope: 'account', waitMs: accountWait }
    const windows: Array<[string, number]> = [
      [keys.ip, w.ipMs],
      [keys.account, w.accountMs],
      [keys.accountHour, w.hourMs],
    ]
    for (const [key, windowMs] of windows) {
      this.#logs.set(key, [...(this.#logs.get(key) ?? []), { at: now, member }])
      this.#windowOf.set(key, windowMs)
    }
    return null
  }

  async succeeded(keys: AttemptKeys, member: string): Promise<void> {
    this.#logs.delete(keys.account)
    for (const key of [keys.accountHour, keys.ip]) {
      const kept = this.#logs.get(key)?.filter((entry) => entry.member !== member)
      if (kept) this.#logs.set(key, kept)
    }
  }

  #wait(key: string, now: number, windowMs: number, max: number): number {
    const live = (this.#logs.get(key) ?? []).filter((entry) => entry.at > now - windowMs)
    if (live.length === 0) this.#logs.delete(key)
    else this.#logs.set(key, live)
    if (live.length < max) return 0
    const frees = [...live].sort((a, b) => a.at - b.at)[live.length - max]
    return frees ? Math.ceil(frees.at + windowMs - now) : 0
  }

  #sweep(now: number): void {
    for (const [key, entries] of this.#logs) {
      const windowMs = this.#windowOf.get(key) ?? HOUR_MS
      if (entries.every((entry) => entry.at <= now - windowMs)) {
        this.#logs.delete(key)
        this.#windowOf.delete(key)
      }
    }
  }
}
