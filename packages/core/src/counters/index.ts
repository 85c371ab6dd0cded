import { MemoryCounterStore } from './memory-store.js'
import { RedisCounterStore } from './redis-store.js'
import type { CounterStore, CounterStoreOptions } from './types.js'

/**
 * A counter store on Redis when a client is given, in memory otherwise: for services outside
 * Fastify. In an app, `app.counters` is one on `app.redis`.
 */
export function createCounterStore(options: CounterStoreOptions): CounterStore {
  const { redis, ...rest } = options
  return redis ? new RedisCounterStore({ ...rest, redis }) : new MemoryCounterStore(rest)
}

export { MemoryCounterStore } from './memory-store.js'
export { RedisCounterStore } from './redis-store.js'
export { CounterTimeoutError } from './scripts.js'
export type {
  CounterRedis,
  CounterStore,
  CounterStoreOptions,
  GcraDecision,
  GcraLimit,
  LeaseDecision,
  LeaseLimit,
  WindowHit,
} from './types.js'
