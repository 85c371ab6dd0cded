import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Clock } from './clock.js'
import { AuthErrors } from './errors.js'
import type { ResolvedAuthOptions } from './options.js'

/**
 * The header a request must carry when the refresh cookie is its credential. A cross-site form
 * or link cannot add a header, and a cross-site `fetch` that adds one needs a CORS preflight the
 * API does not grant to foreign origins: so a request with it comes from a page the API trusts.
 */
export const CSRF_HEADER = 'x-requested-with'

export interface RefreshCookieSettings {
  name: string
  path: string
  sameSite: 'strict' | 'lax'
  secure: boolean
  domain: string | undefined
}

/**
 * The option with its defaults filled in, or null when the cookie is off. A `__Host-` cookie
 * must have `Path=/` and no `Domain` (browsers drop it otherwise), so the default name is
 * `__Host-acme_refresh` only when neither is set; a cookie scoped to the auth prefix or shared
 * with subdomains is `__Secure-acme_refresh` instead.
 */
export function resolveRefreshCookie(
  option: ResolvedAuthOptions['refreshCookie'],
  prefix: string,
): RefreshCookieSettings | null {
  if (!option.enabled) return null
  const hostOnlyRoot = option.domain === undefined && (option.path ?? '/') === '/'
  const name =
    option.name ??
    (option.secure
      ? hostOnlyRoot
        ? '__Host-acme_refresh'
        : '__Secure-acme_refresh'
      : 'acme_refresh')
  const path = option.path ?? (name.startsWith('__Host-') ? '/' : prefix || '/')
  return {
    name,
    path,
    sameSite: option.sameSite,
    secure: option.secure,
    domain: option.domain,
  }
}

/** Sets, reads and clears the refresh cookie; one per app. */
export class RefreshCookie {
  readonly settings: RefreshCookieSettings
  readonly #clock: Clock

  constructor(settings: RefreshCookieSettings, clock: Clock) {
    this.settings = settings
    this.#clock = clock
  }

  /** Registers @fastify/cookie unless the app already has a cookie parser. */
  static async install(
    app: FastifyInstance,
    settings: RefreshCookieSettings | null,
    clock: Clock,
  ): Promise<RefreshCookie | null> {
    if (!settings) return null
    if (!app.hasRequestDecorator('cookies')) await app.register(fastifyCookie)
    return new RefreshCookie(settings, clock)
  }

  /** The cookie lives as long as the session can: its remaining absolute lifetime. */
  set(reply: FastifyReply, refreshToken: string, sessionEndsAt: Date): void {
    const remaining = Math.floor((sessionEndsAt.getTime() - this.#clock().getTime()) / 1_000)
    reply.setCookie(this.settings.name, refreshToken, {
      ...this.#attributes(),
      maxAge: Math.max(0, remaining),
    })
  }

  clear(reply: FastifyReply): void {
    reply.clearCookie(this.settings.name, this.#attributes())
  }

  /**
   * The refresh token from the cookie, or undefined when there is none. A request that uses it
   * must carry the CSRF header: 403 ACME_AUTH_CSRF_HEADER_REQUIRED otherwise.
   */
  read(request: FastifyRequest): string | undefined {
    const value = request.cookies[this.settings.name]
    if (value === undefined || value === '') return undefined
    const header = request.headers[CSRF_HEADER]
    if (typeof header !== 'string' || header.trim() === '') {
      throw new AuthErrors.CsrfHeaderRequired()
    }
    return value
  }

  #attributes() {
    const { path, sameSite, secure, domain } = this.settings
    return { httpOnly: true, path, sameSite, secure, ...(domain === undefined ? {} : { domain }) }
  }
}
