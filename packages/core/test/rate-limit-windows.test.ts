import { describe, expect, it } from 'vitest'
import { clientKey } from '../src/rate-limit/client-key.js'
import { MemoryWindows } from '../src/rate-limit/memory-windows.js'

const MINUTE = 60_000
const START = Date.UTC(2030, 0, 1)

describe('a client window counted in memory', () => {
  it('counts hits within the window and starts again once it closes', () => {
    const windows = new MemoryWindows()
    expect(windows.hit('203.0.113.1', MINUTE, START).count).toBe(1)
    expect(windows.hit('203.0.113.1', MINUTE, START + 1_000).count).toBe(2)
    const last = windows.hit('203.0.113.1', MINUTE, START + MINUTE - 1)
    expect(last).toMatchObject({ count: 3, endsAt: START + MINUTE })
    expect(windows.hit('203.0.113.1', MINUTE, START + MINUTE)).toMatchObject({
      count: 1,
      endsAt: START + 2 * MINUTE,
    })
  })

  it('keeps one window per client, reused rather than replaced', () => {
    const windows = new MemoryWindows()
    const first = windows.hit('203.0.113.1', MINUTE, START)
    windows.hit('203.0.113.2', MINUTE, START)
    expect(windows.hit('203.0.113.1', MINUTE, START + 2 * MINUTE)).toBe(first)
    expect(windows.hit('203.0.113.2', MINUTE, START).count).toBe(2)
  })

  it('forgets closed windows and, past its bound, the oldest clients first', () => {
    const windows = new MemoryWindows(15_000)
    for (let i = 0; i < 9_999; i++) windows.hit(`closed-${i}`, 1, START)
    // The 10,000th client triggers a sweep: every window above has closed by now.
    windows.hit('open-0', MINUTE, START + 10)
    expect(windows.size).toBe(1)
    for (let i = 1; i < 20_000; i++) windows.hit(`open-${i}`, MINUTE, START + 10)
    expect(windows.size).toBeLessThanOrEqual(15_000)
    // The first clients went first: a fresh window for them, the newest keep their counts.
    expect(windows.hit('open-0', MINUTE, START + 10).count).toBe(1)
    expect(windows.hit('open-19999', MINUTE, START + 10).count).toBe(2)
  })
})

describe('the key a client is counted under', () => {
  it('is an IPv4 address as it came', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7')
  })

  it('is the /64 network of an IPv6 address, in canonical form', () => {
    expect(clientKey('2001:DB8:0:0:1:2:3:4')).toBe('2001:db8::')
    expect(clientKey('2001:db8:aaaa:bbbb:1::9')).toBe('2001:db8:aaaa:bbbb::')
    expect(clientKey('2001:db8:aaaa:bbbb:ffff::1%eth0')).toBe('2001:db8:aaaa:bbbb::')
    expect(clientKey('::1')).toBe('::')
  })

  it('counts two addresses of one /64 together, and another /64 apart', () => {
    expect(clientKey('2001:db8:1:2::a')).toBe(clientKey('2001:db8:1:2:ffff:ffff:ffff:ffff'))
    expect(clientKey('2001:db8:1:3::a')).not.toBe(clientKey('2001:db8:1:2::a'))
  })

  it('is the IPv4 address of an IPv4-mapped IPv6 address', () => {
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(clientKey('::ffff:cb00:7107')).toBe('203.0.113.7')
  })

  it('is the lower-cased text of something that is not an address', () => {
    expect(clientKey('Unix:Socket')).toBe('unix:socket')
  })
})
