import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { type DeviceInfo, userAgentColumn } from './sessions.js'

/** A device counts as known when one of the user's sessions started on it this recently. */
export const KNOWN_DEVICE_DAYS = 90

/**
 * "New sign-in" alerts: a login from a user agent none of the user's sessions of the last 90
 * days had (revoked or not) is news to the owner.
 */
export class SignInAlerts {
  readonly #db: AuthDb
  readonly #clock: Clock

  constructor(options: { db: AuthDb; clock: Clock }) {
    this.#db = options.db
    this.#clock = options.clock
  }

  /** Ask before starting the new session, so it does not count as its own precedent. */
  async isNewDevice(userId: string, userAgent: string | null): Promise<boolean> {
    const since = new Date(this.#clock().getTime() - KNOWN_DEVICE_DAYS * 24 * 3_600_000)
    const earlier = await this.#db.authSession.findFirst({
      where: { userId, userAgent: userAgentColumn(userAgent), createdAt: { gte: since } },
      select: { id: true },
    })
    return earlier === null
  }

  /** What the alert tells: now, the client's IP and a readable device. */
  describe(from: DeviceInfo): { time: string; ip: string; device: string } {
    return {
      time: formatSignInTime(this.#clock()),
      ip: from.ip ?? 'unknown',
      device: describeDevice(from.userAgent),
    }
  }
}

const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
]
// Order matters: iOS user agents say "like Mac OS X", Android ones say "Linux".
const SYSTEMS: Array<[RegExp, string]> = [
  [/\bWindows\b/, 'Windows'],
  [/\biPhone|\biPad|\biPod/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
]

/** "Chrome on macOS" from a user agent; the raw value (shortened) when it names neither. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent?.trim()) return 'an unknown device'
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1]
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1]
  if (browser && system) return `${browser} on ${system}`
  if (browser || system) return (browser ?? system) as string
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const printable = userAgent.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return Array.from(printable).slice(0, 100).join('')
}

/** "2030-01-01 09:30 UTC": unambiguous for a reader in any time zone. */
export function formatSignInTime(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}
