import fc from 'fast-check'
import murmurhash3js from 'murmurhash3js'
import { describe, expect, it } from 'vitest'
import { BUCKETS, bucketOf, murmurHash3 } from '../../src/engine/murmur.js'

describe('MurmurHash3 x86 32-bit', () => {
  // The reference algorithm's published vectors (SMHasher's verification strings).
  it.each([
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aa', 0x9747b28c, 0x5d211726],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['ab', 0x9747b28c, 0x74875592],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    // UTF-8: each π is two bytes.
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
  ])('hash(%j, %d) = %d', (input, seed, expected) => {
    expect(murmurHash3(input, seed)).toBe(expected)
  })

  it('agrees with murmurhash3js (what Unleash hashes with) on any ASCII string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 300 }), fc.nat(), (input, seed) => {
        expect(murmurHash3(input, seed)).toBe(murmurhash3js.x86.hash32(input, seed))
      }),
      { numRuns: 2_000 },
    )
  })

  it('hashes a long string after a short one without reusing its bytes', () => {
    const long = 'x'.repeat(1_000)
    expect(murmurHash3('ab')).toBe(murmurhash3js.x86.hash32('ab', 0))
    expect(murmurHash3(long)).toBe(murmurhash3js.x86.hash32(long, 0))
    expect(murmurHash3('ab')).toBe(murmurhash3js.x86.hash32('ab', 0))
  })
})

describe('buckets', () => {
  // Published in the README: another service reproducing these gets the same rollouts.
  it.each([
    ['new-billing', '', '7d0c9a1e-4a55-4b69-9a3e-0e2f1b6f3c11', 7556],
    ['new-billing', '', 'tenant-1', 5099],
    ['new-billing', 'v2', 'tenant-1', 9597],
    ['beta-reports', '', 'user-42', 3086],
  ])('bucketOf(%j, %j, %j) = %d', (flag, seed, unit, expected) => {
    expect(bucketOf(flag, seed, unit)).toBe(expected)
    expect(murmurhash3js.x86.hash32(`${flag}:${seed}:${unit}`, 0) % BUCKETS).toBe(expected)
  })

  it('always falls in 0..9999 and never changes for the same inputs', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (flag, seed, unit) => {
        const bucket = bucketOf(flag, seed, unit)
        expect(bucket).toBeGreaterThanOrEqual(0)
        expect(bucket).toBeLessThan(BUCKETS)
        expect(Number.isInteger(bucket)).toBe(true)
        expect(bucketOf(flag, seed, unit)).toBe(bucket)
      }),
    )
  })

  it('spreads ids evenly: each tenth of the buckets holds about a tenth of 20,000 ids', () => {
    const counts = new Array<number>(10).fill(0)
    for (let index = 0; index < 20_000; index++) {
      const bucket = bucketOf('spread', '', `tenant-${index}`)
      counts[Math.floor(bucket / 1_000)] = (counts[Math.floor(bucket / 1_000)] ?? 0) + 1
    }
    for (const count of counts) {
      expect(count).toBeGreaterThan(1_800)
      expect(count).toBeLessThan(2_200)
    }
  })
})
