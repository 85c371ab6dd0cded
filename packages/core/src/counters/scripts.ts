import { createHash } from 'node:crypto'
import { MICROS_PER_MS } from './gcra.js'
import type { CounterRedis } from './types.js'

/**
 * Every Lua script of core's counters, in one place. Each touches exactly the keys it is given
 * (one, today), so it runs on Redis Cluster; a script over several keys needs them to share a
 * hash tag. Sent by EVALSHA, and by EVAL only when the server does not know it (NOSCRIPT: a
 * restart, a failover, SCRIPT FLUSH), so the source travels once per server, not per call.
 */
export interface CounterScript {
  readonly name: string
  readonly source: string
  readonly sha: string
}

function script(name: string, source: string): CounterScript {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Fixed window. KEYS: the counter. ARGV: window ms. Returns {count, ms until the window closes}.
 * INCR and PEXPIRE in one step, so a crash between them cannot leave a counter that never
 * ends; a counter found without expiry (e.g. restored from a dump) gets one. The window is the
 * key's TTL, on Redis's clock: the count stays a plain integer (`GET` reads it).
 */
export const WINDOW_HIT = script(
  'window-hit',
  `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`,
)

/**
 * Gives one hit back. KEYS: the counter. Returns the count after. Only an existing counter
 * above zero goes down: DECR on an expired key would create one without expiry, at -1.
 */
export const WINDOW_GIVE_BACK = script(
  'window-give-back',
  `
local count = tonumber(redis.call('GET', KEYS[1]))
if not count then return 0 end
if count <= 0 then return count end
return redis.call('DECR', KEYS[1])
`,
)

/**
 * GCRA over one key holding the theoretical arrival time (TAT) in integer microseconds, so
 * every sum the script makes is exact in Lua's doubles (up to the year 2255).
 *
 * KEYS: the subject. ARGV: now, emission interval (period / limit), tolerance (burst × interval),
 * all in µs; `now` comes from the caller's clock, not Redis's. A request is allowed when
 * max(TAT, now) + interval − tolerance <= now; only then is the TAT advanced, so refused
 * requests cost nothing and do not extend the wait. The key expires when the TAT is reached,
 * since an absent key and a TAT in the past mean the same: a full bucket.
 * Returns {1 when allowed else 0, TAT − now after the decision}.
 */
export const GCRA = script(
  'gcra',
  `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - tolerance > now then
  return {0, tat - now}
end
local ttl_ms = math.ceil((next_tat - now) / ${MICROS_PER_MS})
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', string.format('%d', ttl_ms))
return {1, next_tat - now}
`,
)

/**
 * Expiring lease on one of `limit` slots, in one sorted set: member = holder, score = when its
 * slot expires (ms on the caller's clock, as GCRA reads it). KEYS: the lease. ARGV: now, ttl ms,
 * limit, holder. Expired holders are dropped first; a holder already in the set is renewed
 * whatever the count, a new one is added only below the limit. The key itself expires `ttl`
 * after its latest lease, so an idle lease leaves nothing behind.
 * Returns {1 when the holder has a slot else 0, holders after the decision}.
 */
export const LEASE = script(
  'lease',
  `
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  local held = redis.call('ZCARD', KEYS[1])
  if held >= tonumber(ARGV[3]) then return {0, held} end
end
redis.call('ZADD', KEYS[1], string.format('%d', now + ttl), ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return {1, redis.call('ZCARD', KEYS[1])}
`,
)

/** Gives a lease's slot back. KEYS: the lease. ARGV: holder. Returns 1 if it was held. */
export const LEASE_RELEASE = script(
  'lease-release',
  `
return redis.call('ZREM', KEYS[1], ARGV[1])
`,
)

/**
 * A Redis call that did not answer within the store's `timeoutMs`, or that was not sent because
 * the client is reconnecting (it could only have timed out).
 */
export class CounterTimeoutError extends Error {
  /** What core's error handler reads as "dependency unavailable" (503), like a socket timeout. */
  readonly code = 'ETIMEDOUT'

  constructor(what: string, timeoutMs: number, reconnecting = false) {
    super(
      reconnecting
        ? `redis is reconnecting: ${what} was not sent`
        : `redis did not answer ${what} within ${timeoutMs} ms`,
    )
    this.name = 'CounterTimeoutError'
  }
}

/** ioredis's `Redis` and `Cluster` say `reconnecting` between losing a connection and regaining it. */
function isReconnecting(redis: CounterRedis): boolean {
  return (redis as { status?: unknown }).status === 'reconnecting'
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}

/** EVALSHA, then EVAL on NOSCRIPT; rejects after `timeoutMs` when one is given. */
export function runScript(
  redis: CounterRedis,
  { name, source, sha }: CounterScript,
  keys: readonly string[],
  args: readonly (string | number)[],
  timeoutMs: number | undefined,
): Promise<unknown> {
  // A caller that bounds the wait gets its answer now rather than after the timeout.
  if (timeoutMs !== undefined && isReconnecting(redis)) {
    return Promise.reject(new CounterTimeoutError(`the ${name} script`, timeoutMs, true))
  }
  const run = (async () => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!isNoScript(error)) throw error
      return await redis.eval(source, keys.length, ...keys, ...args)
    }
  })()
  return withTimeout(run, timeoutMs, `the ${name} script`)
}

/**
 * `work`, or a rejection after `timeoutMs`. ioredis queues commands while it reconnects; a
 * request must not wait for that. The command is not cancelled: it may still run later.
 */
export function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number | undefined,
  what: string,
): Promise<T> {
  if (timeoutMs === undefined) return work
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new CounterTimeoutError(what, timeoutMs)), timeoutMs)
  })
  // Promise.race handles a late rejection of `work`: no unhandled rejection after the timeout.
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
