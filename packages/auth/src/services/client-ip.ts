import { isIPv4, isIPv6 } from 'node:net'

/**
 * The eight 16-bit groups of an IPv6 address, or null when it is not one. `::` is expanded, a
 * zone id (`%eth0`) is dropped, and a trailing dotted IPv4 part (`::ffff:1.2.3.4`) becomes the
 * last two groups.
 */
export function ipv6Groups(address: string): number[] | null {
  const bare = address.split('%', 1)[0] ?? ''
  if (!isIPv6(bare)) return null
  let text = bare.toLowerCase()
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = (dotted[2] ?? '').split('.').map(Number)
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const missing = 8 - left.length - right.length
  if (tail === undefined ? missing !== 0 : missing < 1) return null
  return [...left, ...Array<number>(missing).fill(0), ...right]
}

/**
 * The key a client's attempts are counted under by the per-IP limits. One subscriber (or one
 * attacker) gets a whole IPv6 /64, and can rotate through its 2^64 addresses at will, so IPv6
 * addresses count by their /64 (`2001:db8:0:0::/64`). IPv4, and IPv4 mapped into IPv6
 * (`::ffff:1.2.3.4`, which dual-stack servers report), count by the address. Anything else
 * (no address known) is returned as given.
 */
export function clientKey(ip: string): string {
  if (isIPv4(ip)) return ip
  const groups = ipv6Groups(ip)
  if (!groups) return ip
  const isMapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff
  if (isMapped) {
    const [high = 0, low = 0] = groups.slice(6)
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`
}
