import { BlockList, isIPv4, isIPv6 } from 'node:net'

/** Why an address is not one webhooks may be delivered to. */
export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'carrier-grade-nat'
  | 'link-local'
  | 'metadata'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'invalid'

const V4: ReadonlyArray<[string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade-nat'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.169.254', 32, 'metadata'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
]

// IPv6 ranges that embed an IPv4 address (mapped, NAT64, 6to4) are unpacked and judged by the
// IPv4 table instead; these are the rest.
const V6: ReadonlyArray<[string, number, AddressClass]> = [
  ['fd00:ec2::254', 128, 'metadata'],
  ['100::', 64, 'reserved'],
  ['2001::', 32, 'reserved'],
  ['2001:2::', 48, 'reserved'],
  ['2001:10::', 28, 'reserved'],
  ['2001:20::', 28, 'reserved'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'private'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'],
  ['ff00::', 8, 'multicast'],
]

function blockList(
  entries: ReadonlyArray<[string, number, AddressClass]>,
  type: 'ipv4' | 'ipv6',
): Array<[BlockList, AddressClass]> {
  return entries.map(([network, prefix, kind]) => {
    const list = new BlockList()
    list.addSubnet(network, prefix, type)
    return [list, kind]
  })
}

const V4_LISTS = blockList(V4, 'ipv4')
const V6_LISTS = blockList(V6, 'ipv6')

function classifyV4(address: string): AddressClass {
  if (address === '255.255.255.255') return 'reserved'
  for (const [list, kind] of V4_LISTS) if (list.check(address, 'ipv4')) return kind
  return 'public'
}

/** The 16 bytes of an IPv6 address (zone id dropped), or null when it is not one. */
export function ipv6Bytes(input: string): Uint8Array | null {
  const address = input.split('%')[0] ?? ''
  if (!isIPv6(address)) return null
  let text = address
  const bytes = new Uint8Array(16)
  // A trailing dotted quad (`::ffff:127.0.0.1`) fills the last four bytes.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  let tailBytes: number[] = []
  if (dotted?.[1]) {
    tailBytes = dotted[1].split('.').map(Number)
    text = `${text.slice(0, -dotted[1].length)}0:0`
  }
  const [head = '', tail] = text.split('::')
  const headGroups = head ? head.split(':') : []
  const tailGroups = tail ? tail.split(':') : []
  const groups =
    tail === undefined
      ? headGroups
      : [
          ...headGroups,
          ...Array(8 - headGroups.length - tailGroups.length).fill('0'),
          ...tailGroups,
        ]
  groups.forEach((group, index) => {
    const value = Number.parseInt(group, 16)
    bytes[index * 2] = value >> 8
    bytes[index * 2 + 1] = value & 0xff
  })
  if (tailBytes.length === 4) bytes.set(tailBytes, 12)
  return bytes
}

const v4Of = (bytes: Uint8Array, offset: number): string =>
  Array.from(bytes.subarray(offset, offset + 4)).join('.')

function classifyV6(address: string): AddressClass {
  const bytes = ipv6Bytes(address)
  if (!bytes) return 'invalid'
  const zeros = (from: number, to: number) => bytes.subarray(from, to).every((b) => b === 0)
  // ::ffff:a.b.c.d (IPv4-mapped): the socket reaches the IPv4 address.
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return classifyV4(v4Of(bytes, 12))
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d: nothing public lives there.
  if (zeros(0, 12)) {
    if (zeros(12, 15) && bytes[15] === 1) return 'loopback'
    return zeros(12, 16) ? 'unspecified' : 'reserved'
  }
  // 64:ff9b::/96 (NAT64) and 2002::/16 (6to4) carry an IPv4 address a gateway may reach.
  if (
    bytes[0] === 0x00 &&
    bytes[1] === 0x64 &&
    bytes[2] === 0xff &&
    bytes[3] === 0x9b &&
    zeros(4, 12)
  ) {
    return classifyV4(v4Of(bytes, 12))
  }
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return classifyV4(v4Of(bytes, 2))
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b) {
    return 'reserved'
  }
  for (const [list, kind] of V6_LISTS)
    if (list.check(address.split('%')[0] ?? '', 'ipv6')) return kind
  return 'public'
}

/** What kind of address an IP literal is; only `public` may receive deliveries. */
export function classifyAddress(address: string): AddressClass {
  if (isIPv4(address)) return classifyV4(address)
  if (isIPv6(address.split('%')[0] ?? '')) return classifyV6(address)
  return 'invalid'
}

/** The test-only allowlist compares canonical forms (`::1` and `0:0::1` are one address). */
export function sameAddress(a: string, b: string): boolean {
  if (isIPv4(a) && isIPv4(b)) return a === b
  const left = ipv6Bytes(a)
  const right = ipv6Bytes(b)
  return left !== null && right !== null && left.every((byte, index) => byte === right[index])
}
