import { describe, expect, it } from 'vitest'
import { clientKey, ipv6Groups } from '../src/services/client-ip.js'

describe('clientKey: what the per-IP limits count by', () => {
  it('groups IPv6 addresses by their /64', () => {
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(clientKey('2001:db8:0:0:ffff::2')).toBe(clientKey('2001:db8::1'))
    expect(clientKey('2001:0DB8:0000:0000:1:2:3:4')).toBe('2001:db8:0:0::/64')
    expect(clientKey('2001:db8::1:0:0:1')).toBe('2001:db8:0:0::/64')
    // The next /64 is another client.
    expect(clientKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64')
    expect(clientKey('2001:db8:0:1::1')).not.toBe(clientKey('2001:db8::1'))
    expect(clientKey('::1')).toBe('0:0:0:0::/64')
    expect(clientKey('::')).toBe('0:0:0:0::/64')
  })

  it('drops zone ids', () => {
    expect(clientKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(clientKey('fe80::abcd%25')).toBe(clientKey('fe80::1'))
  })

  it('counts IPv4 and IPv4-mapped IPv6 by the address', () => {
    expect(clientKey('1.2.3.4')).toBe('1.2.3.4')
    expect(clientKey('::ffff:1.2.3.4')).toBe('1.2.3.4')
    expect(clientKey('::FFFF:0102:0304')).toBe('1.2.3.4')
    expect(clientKey('0:0:0:0:0:ffff:c000:0201')).toBe('192.0.2.1')
    expect(clientKey('::ffff:1.2.3.5')).not.toBe(clientKey('::ffff:1.2.3.4'))
    // An IPv4 address embedded any other way is an ordinary IPv6 address.
    expect(clientKey('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64')
  })

  it('returns anything that is not an address as given', () => {
    for (const value of ['', 'unknown', '1.2.3', '2001:db8::1::2', '2001:db8:::1', '12345::']) {
      expect(clientKey(value)).toBe(value)
    }
  })
})

describe('ipv6Groups', () => {
  it('expands :: anywhere and a trailing dotted quad', () => {
    expect(ipv6Groups('2001:db8::1')).toEqual([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
    expect(ipv6Groups('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0])
    expect(ipv6Groups('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(ipv6Groups('1:2:3:4:5:6::8')).toEqual([1, 2, 3, 4, 5, 6, 0, 8])
    expect(ipv6Groups('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304])
    expect(ipv6Groups('1.2.3.4')).toBeNull()
    expect(ipv6Groups('nope')).toBeNull()
  })
})
