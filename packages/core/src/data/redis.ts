import { once } from 'node:events'
import { Redis } from 'ioredis'

/** A client for request-path work: fails fast while disconnected instead of queueing forever. */
export function createRedisClient(url: string): Redis {
  return new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  })
}

export async function pingRedis(redis: Redis): Promise<void> {
  // A command sent while disconnected would wait for the reconnect; readiness wants the truth now.
  if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`)
  await redis.ping()
}

export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return
  // Without a live socket (reconnecting) ioredis never emits 'end' (ioredis#1830): stop its
  // retries instead of waiting, so shutdown finishes while Redis is down.
  if (redis.status !== 'ready') {
    redis.disconnect()
    return
  }
  const ended = once(redis, 'end')
  try {
    await redis.quit()
  } catch {
    redis.disconnect()
  }
  await ended
}
