/**
 * MurmurHash3, x86 32-bit variant, over the UTF-8 bytes of a string: the hash Unleash, Flagsmith
 * and most flag services use for rollouts, so any language's reference implementation gives the
 * same buckets (test vectors in the README). ASCII input (ids, keys) is hashed from its char
 * codes without encoding it; anything else is encoded to UTF-8 first.
 */
export function murmurHash3(input: string, seed = 0): number {
  const length = asciiInto(input)
  const bytes = length < 0 ? Buffer.from(input, 'utf8') : scratch
  return hashBytes(bytes, length < 0 ? bytes.length : length, seed)
}

/** Reused for ASCII input so a hash allocates nothing (the hot path of every rollout). */
let scratch = new Uint8Array(256)

/** Copies ASCII input into the scratch buffer and answers its length; -1 when not ASCII. */
function asciiInto(input: string): number {
  const length = input.length
  if (scratch.length < length) scratch = new Uint8Array(length * 2)
  for (let index = 0; index < length; index++) {
    const code = input.charCodeAt(index)
    if (code > 0x7f) return -1
    scratch[index] = code
  }
  return length
}

function hashBytes(bytes: Uint8Array, length: number, seed: number): number {
  let hash = seed >>> 0
  const blocks = length & ~3
  for (let index = 0; index < blocks; index += 4) {
    let k =
      (bytes[index] as number) |
      ((bytes[index + 1] as number) << 8) |
      ((bytes[index + 2] as number) << 16) |
      ((bytes[index + 3] as number) << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    hash ^= k
    hash = (hash << 13) | (hash >>> 19)
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0
  }
  // The tail (1 to 3 bytes), as the reference algorithm's fall-through switch mixes it.
  const tail = length & 3
  if (tail > 0) {
    let k = 0
    if (tail === 3) k ^= (bytes[blocks + 2] as number) << 16
    if (tail >= 2) k ^= (bytes[blocks + 1] as number) << 8
    k ^= bytes[blocks] as number
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    hash ^= k
  }
  hash ^= length
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return hash >>> 0
}

/** Rollouts are decided in ten thousand buckets: percentages to two decimals (0.01 % steps). */
export const BUCKETS = 10_000

/**
 * The bucket (0..9999) a unit (a tenant or a user id) falls in for a flag: MurmurHash3 (seed 0)
 * of `flagKey:seed:unit`, modulo 10,000. Stable across versions: the README's vectors pin it.
 */
export function bucketOf(flagKey: string, seed: string, unit: string): number {
  return murmurHash3(`${flagKey}:${seed}:${unit}`) % BUCKETS
}
