import { once } from 'node:events'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

/** A single Redis (or Sentinel-managed primary) or a Redis Cluster: core works on either. */
export type RedisClient = Redis | Cluster

/** Where core's own client connects: one URL, or the seed nodes of a Redis Cluster. */
export type RedisTarget = string | { cluster: readonly string[] }

const REQUEST_PATH_OPTIONS: RedisOptions = {
  maxRetriesPerRequest: 2,
  enableOfflineQueue: true,
  connectTimeout: 5_000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
}

/** A client for request-path work: fails fast while disconnected instead of queueing forever. */
export function createRedisClient(target: RedisTarget): RedisClient {
  if (typeof target === 'string')
    return new Redis(target, { lazyConnect: false, ...REQUEST_PATH_OPTIONS })
  const nodes = target.cluster.map(clusterNode)
  const first = new URL(target.cluster[0] ?? 'redis://127.0.0.1:6379')
  return new Cluster(nodes, {
    redisOptions: {
      ...REQUEST_PATH_OPTIONS,
      ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
      ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
      ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    enableOfflineQueue: true,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  })
}

function clusterNode(url: string): { host: string; port: number } {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port || 6379) }
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return (redis as Cluster).isCluster === true
}

/**
 * Another connection to the same Redis or Cluster with some options changed (a subscriber, a
 * blocking worker). A Cluster takes per-node options under `redisOptions`.
 */
export function duplicateRedis(redis: RedisClient, overrides: RedisOptions = {}): RedisClient {
  if (!isCluster(redis)) return redis.duplicate(overrides)
  return redis.duplicate(undefined, {
    redisOptions: { ...redis.options.redisOptions, ...overrides },
  })
}

export async function pingRedis(redis: RedisClient): Promise<void> {
  // A command sent while disconnected would wait for the reconnect; readiness wants the truth now.
  if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`)
  await redis.ping()
}

export async function closeRedis(redis: RedisClient): Promise<void> {
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
