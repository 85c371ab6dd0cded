import { createHash, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { RedisClient } from '@acme/core'
import { type Clock, systemClock } from '../clock.js'
import { AuthErrors } from '../errors.js'
import { normalizeEmail } from './accounts.js'
import { clientKey } from './client-ip.js'

/** The login limits (option `throttle`); extra fields of that option are ignored. */
export interface ThrottleLimits {
  /**
   * Failures per account *and client address* within `accountWindowSeconds` before that address
   * is throttled on that account. Other addresses are not: a stranger's failures never lock the
   * owner out.
   */
  accountMax: number
  accountWindowSeconds: number
  /**
   * Account-wide ceiling of failures per hour, from all addresses together, against distributed
   * guessing (ASVS 2.2.1). When it is reached, addresses that failed on the account within the
   * hour are refused; an address that has not is still evaluated, after a delay.
   */
  accountHourlyCap: number
  /** Delay before evaluating the first attempt past the ceiling; doubles with each further one. */
  ceilingDelayMs: number
  /** The longest such delay. */
  ceilingMaxDelayMs: number
  /**
   * Failed attempts per client IP (IPv6: per /64) within `ipWindowSeconds`, on any account. A
   * success gives its slot back, so an office behind one address is not locked out by its own
   * colleagues.
   */
  ipMax: number
  ipWindowSeconds: number
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  accountMax: 10,
  accountWindowSeconds: 900,
  accountHourlyCap: 100,
  ceilingDelayMs: 1_000,
  ceilingMaxDelayMs: 10_000,
  ipMax: 20,
  ipWindowSeconds: 60,
}

export type ThrottleScope = 'account' | 'ip'

/**
 * A login attempt let through: it counts as a failure until the caller settles it with
 * `succeeded` (right credentials) or `release` (the attempt ended without a verdict on them).
 */
export interface AdmittedAttempt {
  readonly keys: AttemptKeys
  readonly member: string
}

export type Admission =
  | { allowed: true; attempt: AdmittedAttempt; delayedMs: number }
  | { allowed: false; scope: ThrottleScope; retryAfterSeconds: number }

export interface LoginThrottleOptions {
  /** Shared across instances; `null` counts in this process only (single instance). */
  redis: RedisClient | null
  /** E.g. `${app.redisKeyPrefix}auth:{throttle}:`. */
  keyPrefix: string
  clock?: Clock
  limits?: ThrottleLimits
  /** A Redis command slower than this fails the login closed (503), rather than hanging it. */
  redisTimeoutMs?: number
  /** How the ceiling's delay is waited out; real time by default. */
  sleep?: (ms: number) => Promise<void>
  logger?: { warn(o: object, m?: string): void }
}

interface AttemptKeys {
  /** Failures from this client address, on any account (credential stuffing). */
  ip: string
  /** Failures on this account from this client address: the lockout. */
  accountIp: string
  /** Failures on this account from every address: the hourly ceiling. */
  accountHour: string
}

/** Windows in ms, in the order the store checks them. */
interface Windows {
  ipMs: number
  ipMax: number
  accountMs: number
  accountMax: number
  hourMs: number
  hourCap: number
  delayMs: number
  maxDelayMs: number
}

type StoreVerdict =
  | { admitted: true; delayMs: number }
  | { admitted: false; scope: ThrottleScope; waitMs: number }

interface ThrottleStore {
  /**
   * Atomically: refuse if a limit is reached, else record the attempt as a failure in every log
   * and say how long to wait before evaluating it (past the ceiling).
   */
  admit(keys: AttemptKeys, now: number, member: string, windows: Windows): Promise<StoreVerdict>
  /** A success: this address's failures on the account are forgiven, the attempt uncounted. */
  succeeded(keys: AttemptKeys, member: string): Promise<void>
  /** No verdict on the credentials (a dependency failed): the attempt is uncounted. */
  release(keys: AttemptKeys, member: string): Promise<void>
}

const HOUR_MS = 3_600_000
/** What a client is told to wait when the throttle itself is unavailable. */
const UNAVAILABLE_RETRY_SECONDS = 5
/** 2^30 times the first delay is past any sensible maximum; keeps the arithmetic finite. */
const MAX_DOUBLINGS = 30

/**
 * Brute-force and credential-stuffing limits for POST /login and the other password and code
 * checks (AUTH-01..03), shared across instances through Redis.
 *
 * The policy, so that nobody can lock someone else out (targeted lockout) while guessing stays
 * bounded:
 * - per client address (IPv6: per /64), on any account: `ipMax` failures per `ipWindowSeconds`
 *   (credential stuffing), then 429;
 * - per account and client address: `accountMax` failures per `accountWindowSeconds`, then 429
 *   for that address on that account, even with the right password (temporary, never a lock);
 * - per account, from all addresses: a ceiling of `accountHourlyCap` failures per hour. Once it
 *   is reached, an address that failed on the account within the hour is refused (429); an
 *   address that has not is still evaluated, after a delay that starts at `ceilingDelayMs` and
 *   doubles with each attempt past the ceiling up to `ceilingMaxDelayMs`. Such an address gets
 *   one evaluation at a time and, once it has failed, is refused like the others: past the
 *   ceiling each guess costs a fresh address and the delay, while the owner, from an address
 *   that has not failed, still signs in.
 *
 * Windows are sliding logs: a sorted set per key whose scores are timestamps from the injected
 * clock, not Redis time or TTLs. So tests move time by advancing the clock, Retry-After is exact
 * (when the entry that frees a slot leaves the window), and a burst at a window edge cannot
 * double the limit as fixed buckets would. Key TTLs only collect garbage.
 *
 * An attempt is recorded as a failure when admitted, before the password is checked, so
 * concurrent attempts cannot all pass a check made before any of them is counted. The caller
 * then settles it: `succeeded` after the right credentials (this address's failures on the
 * account are forgiven), `release` when the attempt ended without a verdict on them (the
 * database was down, a bug): only verified-wrong credentials stay counted. Throttled attempts
 * are not recorded: a refusal costs nothing and does not extend the wait. Any Redis error
 * refuses the login (CH-01: fail closed).
 */
export class LoginThrottle {
  readonly #store: ThrottleStore
  readonly #prefix: string
  readonly #clock: Clock
  readonly #windows: Windows
  readonly #sleep: (ms: number) => Promise<void>
  readonly #logger: LoginThrottleOptions['logger']

  constructor(options: LoginThrottleOptions) {
    const limits = options.limits ?? DEFAULT_THROTTLE_LIMITS
    this.#store = options.redis
      ? new RedisStore(options.redis, options.redisTimeoutMs ?? 2_000)
      : new MemoryStore()
    this.#prefix = options.keyPrefix
    this.#clock = options.clock ?? systemClock
    this.#sleep = options.sleep ?? ((ms) => sleep(ms))
    this.#logger = options.logger
    this.#windows = {
      ipMs: limits.ipWindowSeconds * 1_000,
      ipMax: limits.ipMax,
      accountMs: limits.accountWindowSeconds * 1_000,
      accountMax: limits.accountMax,
      hourMs: HOUR_MS,
      hourCap: limits.accountHourlyCap,
      delayMs: limits.ceilingDelayMs,
      maxDelayMs: Math.max(limits.ceilingDelayMs, limits.ceilingMaxDelayMs),
    }
  }

  /**
   * Refuses (429) or admits the attempt; past the account's ceiling, resolves only after the
   * delay. Throws ThrottleUnavailable (503) when the shared counters cannot be read.
   */
  async admit(input: { email: string; ip: string }): Promise<Admission> {
    // Hashed: no email addresses in Redis, and a bounded key length whatever the input.
    const account = createHash('sha256').update(normalizeEmail(input.email)).digest('hex')
    // An IPv6 client counts by its /64: one attacker holds all of it.
    const client = clientKey(input.ip)
    const keys: AttemptKeys = {
      ip: `${this.#prefix}ip:${client}`,
      accountIp: `${this.#prefix}account-ip:${account}:${client}`,
      accountHour: `${this.#prefix}account-hour:${account}`,
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
    if (!verdict.admitted) {
      return {
        allowed: false,
        scope: verdict.scope,
        retryAfterSeconds: Math.max(1, Math.ceil(verdict.waitMs / 1_000)),
      }
    }
    if (verdict.delayMs > 0) {
      // No email or address in the line: the account is under distributed guessing.
      this.#logger?.warn(
        { delayMs: verdict.delayMs, account: account.slice(0, 12) },
        'login failures on one account past its hourly ceiling; delaying attempts',
      )
      await this.#sleep(verdict.delayMs)
    }
    return { allowed: true, attempt: { keys, member }, delayedMs: verdict.delayMs }
  }

  /**
   * The right credentials: forgives this address's failures on the account and uncounts the
   * attempt. Earlier failures stay in the hourly ceiling. Not fatal when Redis fails: the
   * failures then stay counted, which errs on the safe side and expires with the window.
   */
  async succeeded(attempt: AdmittedAttempt): Promise<void> {
    try {
      await this.#store.succeeded(attempt.keys, attempt.member)
    } catch (error) {
      this.#logger?.warn({ err: error }, 'could not clear login failures')
    }
  }

  /**
   * The attempt ended without a verdict on the credentials (the database or another dependency
   * failed): it gives its slot back, so an outage does not lock out the users who tried during
   * it. Not fatal when Redis fails: the attempt then stays counted until its window passes.
   */
  async release(attempt: AdmittedAttempt): Promise<void> {
    try {
      await this.#store.release(attempt.keys, attempt.member)
    } catch (error) {
      this.#logger?.warn({ err: error }, 'could not give a login attempt back')
    }
  }
}

/**
 * KEYS: ip, account-ip, account-hour. ARGV: now, member, ip window ms, ip max, account window
 * ms, account max, hour ms, hourly cap, first delay ms, max delay ms.
 * Returns {} when admitted at once, {'delay', ms} when admitted past the ceiling, else
 * {scope, ms until a slot frees}.
 */
const ADMIT_SCRIPT = `
local now = tonumber(ARGV[1])
local ipMs, ipMax = tonumber(ARGV[3]), tonumber(ARGV[4])
local accountMs, accountMax = tonumber(ARGV[5]), tonumber(ARGV[6])
local hourMs, hourCap = tonumber(ARGV[7]), tonumber(ARGV[8])
local keepMs = math.max(accountMs, hourMs)
local function since(windowMs) return '(' .. string.format('%d', now - windowMs) end
local function wait(key, windowMs, max)
  local count = redis.call('ZCOUNT', key, since(windowMs), '+inf')
  if count < max then return 0 end
  local entry = redis.call('ZRANGEBYSCORE', key, since(windowMs), '+inf', 'WITHSCORES', 'LIMIT', count - max, 1)
  return math.ceil(tonumber(entry[2]) + windowMs - now)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ipMs)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - keepMs)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - hourMs)
local ipWait = wait(KEYS[1], ipMs, ipMax)
if ipWait > 0 then return {'ip', ipWait} end
local accountWait = wait(KEYS[2], accountMs, accountMax)
local delay = 0
local hourCount = redis.call('ZCARD', KEYS[3])
if hourCount >= hourCap then
  if redis.call('ZCOUNT', KEYS[2], since(hourMs), '+inf') > 0 then
    accountWait = math.max(accountWait, wait(KEYS[3], hourMs, hourCap))
  else
    local doublings = math.min(hourCount - hourCap, ${MAX_DOUBLINGS})
    delay = math.min(tonumber(ARGV[10]), tonumber(ARGV[9]) * 2 ^ doublings)
  end
end
if accountWait > 0 then return {'account', accountWait} end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], ipMs)
redis.call('ZADD', KEYS[2], now, ARGV[2])
redis.call('PEXPIRE', KEYS[2], keepMs)
redis.call('ZADD', KEYS[3], now, ARGV[2])
redis.call('PEXPIRE', KEYS[3], hourMs)
if delay > 0 then return {'delay', math.ceil(delay)} end
return {}
`

class RedisStore implements ThrottleStore {
  readonly #redis: RedisClient
  readonly #timeoutMs: number

  constructor(redis: RedisClient, timeoutMs: number) {
    this.#redis = redis
    this.#timeoutMs = timeoutMs
  }

  async admit(keys: AttemptKeys, now: number, member: string, w: Windows): Promise<StoreVerdict> {
    const reply = await this.#deadline(
      this.#redis.eval(
        ADMIT_SCRIPT,
        3,
        keys.ip,
        keys.accountIp,
        keys.accountHour,
        now,
        member,
        w.ipMs,
        w.ipMax,
        w.accountMs,
        w.accountMax,
        w.hourMs,
        w.hourCap,
        w.delayMs,
        w.maxDelayMs,
      ),
    )
    if (!Array.isArray(reply) || reply.length === 0) return { admitted: true, delayMs: 0 }
    const [kind, ms] = reply as [unknown, unknown]
    if (typeof ms !== 'number') throw new Error('unexpected reply from the login throttle script')
    if (kind === 'delay') return { admitted: true, delayMs: ms }
    if (kind === 'ip' || kind === 'account') return { admitted: false, scope: kind, waitMs: ms }
    throw new Error('unexpected reply from the login throttle script')
  }

  async succeeded(keys: AttemptKeys, member: string): Promise<void> {
    // The hourly ledger only loses this attempt: earlier failures still count against the
    // ceiling, or a user logging in between an attacker's bursts would reopen the account.
    await this.#deadline(
      this.#redis
        .multi()
        .del(keys.accountIp)
        .zrem(keys.accountHour, member)
        .zrem(keys.ip, member)
        .exec(),
    )
  }

  async release(keys: AttemptKeys, member: string): Promise<void> {
    await this.#deadline(
      this.#redis
        .multi()
        .zrem(keys.ip, member)
        .zrem(keys.accountIp, member)
        .zrem(keys.accountHour, member)
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
  readonly #keepFor = new Map<string, number>()
  #sweptAt = 0

  async admit(keys: AttemptKeys, now: number, member: string, w: Windows): Promise<StoreVerdict> {
    if (this.#logs.size > MEMORY_SWEEP_AT && now - this.#sweptAt >= MEMORY_SWEEP_EVERY_MS) {
      this.#sweptAt = now
      this.#sweep(now)
    }
    const keepMs = Math.max(w.accountMs, w.hourMs)
    const ip = this.#live(keys.ip, now, w.ipMs)
    const accountIp = this.#live(keys.accountIp, now, keepMs)
    const hour = this.#live(keys.accountHour, now, w.hourMs)
    const ipWait = wait(ip, now, w.ipMs, w.ipMax)
    if (ipWait > 0) return { admitted: false, scope: 'ip', waitMs: ipWait }
    let accountWait = wait(accountIp, now, w.accountMs, w.accountMax)
    let delayMs = 0
    if (hour.length >= w.hourCap) {
      if (accountIp.some((entry) => entry.at > now - w.hourMs)) {
        accountWait = Math.max(accountWait, wait(hour, now, w.hourMs, w.hourCap))
      } else {
        const doublings = Math.min(hour.length - w.hourCap, MAX_DOUBLINGS)
        delayMs = Math.ceil(Math.min(w.maxDelayMs, w.delayMs * 2 ** doublings))
      }
    }
    if (accountWait > 0) return { admitted: false, scope: 'account', waitMs: accountWait }
    const logs: Array<[string, Entry[], number]> = [
      [keys.ip, ip, w.ipMs],
      [keys.accountIp, accountIp, keepMs],
      [keys.accountHour, hour, w.hourMs],
    ]
    for (const [key, entries, windowMs] of logs) {
      this.#logs.set(key, [...entries, { at: now, member }])
      this.#keepFor.set(key, windowMs)
    }
    return { admitted: true, delayMs }
  }

  async succeeded(keys: AttemptKeys, member: string): Promise<void> {
    this.#logs.delete(keys.accountIp)
    this.#remove([keys.accountHour, keys.ip], member)
  }

  async release(keys: AttemptKeys, member: string): Promise<void> {
    this.#remove([keys.ip, keys.accountIp, keys.accountHour], member)
  }

  #remove(keys: string[], member: string): void {
    for (const key of keys) {
      const kept = this.#logs.get(key)?.filter((entry) => entry.member !== member)
      if (kept) this.#logs.set(key, kept)
    }
  }

  /** The entries of `key` still inside `keepMs`; older ones are dropped. */
  #live(key: string, now: number, keepMs: number): Entry[] {
    const live = (this.#logs.get(key) ?? []).filter((entry) => entry.at > now - keepMs)
    if (live.length === 0) this.#logs.delete(key)
    else this.#logs.set(key, live)
    return live
  }

  #sweep(now: number): void {
    for (const [key, entries] of this.#logs) {
      const keepMs = this.#keepFor.get(key) ?? HOUR_MS
      if (entries.every((entry) => entry.at <= now - keepMs)) {
        this.#logs.delete(key)
        this.#keepFor.delete(key)
      }
    }
  }
}

/** Ms until fewer than `max` of `entries` are inside the window; 0 when they already are. */
function wait(entries: Entry[], now: number, windowMs: number, max: number): number {
  const inside = entries.filter((entry) => entry.at > now - windowMs).sort((a, b) => a.at - b.at)
  if (inside.length < max) return 0
  const frees = inside[inside.length - max]
  return frees ? Math.ceil(frees.at + windowMs - now) : 0
}
