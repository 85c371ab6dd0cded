/**
 * Who a request counts against: its IPv4 address as is, an IPv4-mapped IPv6 address as its IPv4
 * address, any other IPv6 address as its /64 network written in canonical form (a host
 * typically owns a whole /64, so per-address counting would let it rotate addresses).
 */
export function clientKey(ip: string): string {
  // The IPv4 path is the common one: no allocation, no lookup.
  if (ip.indexOf(':') === -1) return ip
  let key = ipv6Keys.get(ip)
  if (key === undefined) {
    key = ipv6Key(ip)
    // Bounded: a client spraying addresses empties the memo, it does not grow it.
    if (ipv6Keys.size >= MEMO_LIMIT) ipv6Keys.clear()
    ipv6Keys.set(ip, key)
  }
  return key
}

const MEMO_LIMIT = 10_000
const ipv6Keys = new Map<string, string>()

function ipv6Key(ip: string): string {
  const groups = hextets(ip.toLowerCase())
  if (groups === null) return ip.toLowerCase()
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6)
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.')
  }
  const network = groups.slice(0, 4)
  // The host half is zero, so the canonical form ends with the longest zero run: "::".
  let last = network.length - 1
  while (last >= 0 && network[last] === 0) last--
  return `${network
    .slice(0, last + 1)
    .map((group) => group.toString(16))
    .join(':')}::`
}

/** The eight 16-bit groups of an IPv6 address (a zone and an embedded IPv4 tail allowed). */
function hextets(ip: string): number[] | null {
  const address = ip.split('%')[0] ?? ''
  const halves = address.split('::')
  if (halves.length > 2) return null
  const parse = (part: string | undefined): number[] | null => {
    if (!part) return []
    const groups: number[] = []
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const octets = piece.split('.').map(Number)
        if (octets.length !== 4 || octets.some((octet) => !(octet >= 0 && octet <= 255))) {
          return null
        }
        const [a = 0, b = 0, c = 0, d = 0] = octets
        groups.push((a << 8) | b, (c << 8) | d)
      } else if (/^[0-9a-f]{1,4}$/.test(piece)) {
        groups.push(Number.parseInt(piece, 16))
      } else {
        return null
      }
    }
    return groups
  }
  const head = parse(halves[0])
  const tail = parse(halves[1])
  if (head === null || tail === null) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}
