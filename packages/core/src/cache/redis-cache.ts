import type { RedisClient } from '../data/redis.js'

/**
 * Every key of the cache shares one hash tag (`{cache}` in the prefix), so the scripts below,
 * which touch a value and its tag sets at once, run on Redis Cluster too.
 */
const SET_WITH_TAGS = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1
`

const DELETE_TAGS = `
local dropped = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for _, key in ipairs(members) do dropped = dropped + redis.call('DEL', key) end
  redis.call('DEL', KEYS[i])
end
return dropped
`

/** JSON strings in Redis under `<prefix>v:<key>`, tag sets under `<prefix>t:<tag>`. */
export class RedisCacheStore {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  get(key: string): Promise<string | null> {
    return this.#redis.get(this.#valueKey(key))
  }

  async set(key: string, json: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    if (ttlMs <= 0) return
    const keys = [this.#valueKey(key), ...tags.map((tag) => this.#tagKey(tag))]
    await this.#redis.eval(SET_WITH_TAGS, keys.length, ...keys, json, String(Math.ceil(ttlMs)))
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#redis.del(...keys.map((key) => this.#valueKey(key)))
  }

  async deleteTags(tags: readonly string[]): Promise<void> {
    if (tags.length === 0) return
    const keys = tags.map((tag) => this.#tagKey(tag))
    await this.#redis.eval(DELETE_TAGS, keys.length, ...keys)
  }

  #valueKey(key: string): string {
    return `${this.#prefix}v:${key}`
  }

  #tagKey(tag: string): string {
    return `${this.#prefix}t:${tag}`
  }
}
