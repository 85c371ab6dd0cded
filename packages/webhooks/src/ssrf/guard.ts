import { lookup as dnsLookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { type AddressClass, classifyAddress, sameAddress } from './address.js'

/** Resolves a host name to every address it has (the system resolver by default). */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>

export const systemResolver: Resolver = (hostname) =>
  dnsLookup(hostname, { all: true, verbatim: true })

/** A URL or an address the guard refuses; `reason` is safe to show to the tenant. */
export class SsrfRefusal extends Error {
  constructor(readonly reason: string) {
    super(reason)
    this.name = 'SsrfRefusal'
  }
}

export interface GuardSettings {
  /** Test only (refused in production by the options): addresses allowed though not public. */
  allowAddresses: readonly string[]
  resolve: Resolver
}

// Names that only ever mean something inside a network: refused before any lookup.
const INTERNAL_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.lan', '.intranet']

const DESCRIPTIONS: Record<Exclude<AddressClass, 'public'>, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private network address',
  'carrier-grade-nat': 'a carrier-grade NAT address',
  'link-local': 'a link-local address',
  metadata: 'a cloud metadata address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  documentation: 'a documentation address',
  invalid: 'not an IP address',
}

/** The URL's host without IPv6 brackets. */
const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1')

/**
 * Parses and checks what can be checked without the network: http(s) only, no credentials in
 * the URL, no internal names, and an IP literal (which the URL parser has already normalised
 * from decimal, hex or octal forms such as `http://2130706433/` or `http://0x7f.1/`) must be
 * public.
 */
export function parseEndpointUrl(
  raw: string,
  settings: Pick<GuardSettings, 'allowAddresses'>,
): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new SsrfRefusal('it is not an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SsrfRefusal(`the scheme ${url.protocol.slice(0, -1)} is not http or https`)
  }
  if (url.username || url.password) throw new SsrfRefusal('it carries credentials')
  const host = hostOf(url).toLowerCase()
  if (isIP(host)) {
    checkAddress(host, settings.allowAddresses)
    return url
  }
  const name = host.endsWith('.') ? host.slice(0, -1) : host
  if (name === 'localhost' || INTERNAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
    throw new SsrfRefusal(`the host ${name} is an internal name`)
  }
  if (!name.includes('.')) throw new SsrfRefusal(`the host ${name} is not a fully qualified name`)
  return url
}

/** Throws unless `address` is public (or on the test allowlist). */
export function checkAddress(address: string, allowAddresses: readonly string[]): void {
  if (allowAddresses.some((allowed) => sameAddress(allowed, address))) return
  const kind = classifyAddress(address)
  if (kind !== 'public') throw new SsrfRefusal(`${address} is ${DESCRIPTIONS[kind]}`)
}

/**
 * Resolves the URL's host and checks every address it has (a name with one private address
 * among public ones is refused: the resolver may hand out either). Returns the address to
 * connect to, so the connection uses exactly what was checked and no second lookup can be
 * answered differently (DNS rebinding).
 */
export async function resolvePinned(
  url: URL,
  settings: GuardSettings,
): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url)
  const family = isIP(host)
  if (family === 4 || family === 6) {
    checkAddress(host, settings.allowAddresses)
    return { address: host, family }
  }
  let addresses: Array<{ address: string; family: number }>
  try {
    addresses = await settings.resolve(host)
  } catch {
    throw new SsrfRefusal(`the host ${host} does not resolve`)
  }
  if (addresses.length === 0) throw new SsrfRefusal(`the host ${host} does not resolve`)
  for (const entry of addresses) checkAddress(entry.address, settings.allowAddresses)
  const first = addresses[0] as { address: string; family: number }
  return { address: first.address, family: first.family === 6 ? 6 : 4 }
}

/**
 * The check at registration: everything `parseEndpointUrl` checks, then the addresses the name
 * has now. A name that does not resolve yet is accepted (it is checked again at every delivery).
 */
export async function checkEndpointUrl(raw: string, settings: GuardSettings): Promise<URL> {
  const url = parseEndpointUrl(raw, settings)
  try {
    await resolvePinned(url, settings)
  } catch (error) {
    if (error instanceof SsrfRefusal && error.reason.endsWith('does not resolve')) return url
    throw error
  }
  return url
}
