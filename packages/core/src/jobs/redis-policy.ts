import type { Redis } from 'ioredis'
import { isCluster, type RedisClient } from '../data/redis.js'

/**
 * What Redis says about its eviction policy. BullMQ keeps queued jobs, schedules and the locks of
 * running jobs in ordinary keys: a Redis that may evict keys (any policy but `noeviction`; the
 * `volatile-*` ones evict the locks, which carry a TTL) loses jobs or runs them twice under memory
 * pressure (https://docs.bullmq.io/guide/going-to-production).
 */
export type EvictionPolicyReading =
  | { policy: string; source: string }
  /** Neither command answered (a managed Redis may disable CONFIG and trim INFO). */
  | { policy: null; refusals: string[] }

export const REQUIRED_POLICY = 'noeviction'

/**
 * On a Cluster every master holds some queues' keys, so each must say `noeviction`: the first
 * that does not is the answer, naming the node.
 */
export async function readEvictionPolicy(redis: RedisClient): Promise<EvictionPolicyReading> {
  if (!isCluster(redis)) return readNodePolicy(redis)
  // Connects and learns the slot map (nodes() is empty before); rejects while the Cluster is down.
  await redis.ping()
  const readings = await Promise.all(
    redis.nodes('master').map(async (node) => ({
      node: `${node.options.host}:${node.options.port}`,
      reading: await readNodePolicy(node),
    })),
  )
  const refusals: string[] = []
  for (const { node, reading } of readings) {
    if (reading.policy === null)
      refusals.push(...reading.refusals.map((line) => `${node}: ${line}`))
    else if (reading.policy !== REQUIRED_POLICY) {
      return { policy: reading.policy, source: `${reading.source} on ${node}` }
    }
  }
  if (refusals.length > 0) return { policy: null, refusals }
  return { policy: REQUIRED_POLICY, source: 'CONFIG GET' }
}

/**
 * Asks `CONFIG GET maxmemory-policy`, then `INFO memory` where CONFIG is disabled or refused (as
 * on several managed offerings). A refused command moves on to the next; a connection error is
 * thrown, since the answer is still to come.
 */
async function readNodePolicy(redis: Redis): Promise<EvictionPolicyReading> {
  const refusals: string[] = []
  try {
    const reply: unknown = await redis.config('GET', 'maxmemory-policy')
    const value = Array.isArray(reply) ? reply[1] : undefined
    if (typeof value === 'string' && value !== '') return { policy: value, source: 'CONFIG GET' }
    refusals.push('CONFIG GET maxmemory-policy: no value')
  } catch (error) {
    if (!isReplyError(error)) throw error
    refusals.push(`CONFIG GET maxmemory-policy: ${error.message}`)
  }
  try {
    const info = await redis.info('memory')
    const value = /^maxmemory_policy:(.+)$/m.exec(info)?.[1]?.trim()
    if (value) return { policy: value, source: 'INFO memory' }
    refusals.push('INFO memory: no maxmemory_policy field')
  } catch (error) {
    if (!isReplyError(error)) throw error
    refusals.push(`INFO memory: ${error.message}`)
  }
  return { policy: null, refusals }
}

/** Names the setting, what it is, why it matters and the fix. */
export function evictionPolicyError(policy: string, source: string): Error {
  const error = new Error(
    `Redis maxmemory-policy is "${policy}" (${source}), but the job queue needs "${REQUIRED_POLICY}": ` +
      'with any other policy Redis evicts keys under memory pressure, and BullMQ then loses ' +
      'queued jobs and schedules or runs jobs twice. Job workers were not started. Fix: ' +
      `"CONFIG SET maxmemory-policy ${REQUIRED_POLICY}" (then "CONFIG REWRITE" to keep it), or ` +
      `"maxmemory-policy ${REQUIRED_POLICY}" in redis.conf or your provider's parameter group.`,
  )
  error.name = 'RedisEvictionPolicyError'
  return error
}

/** Redis refused the command (unknown, renamed, NOPERM); anything else is the connection's. */
function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ReplyError'
}
