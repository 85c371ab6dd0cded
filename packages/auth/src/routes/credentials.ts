import { safeString } from '@acme/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { defineRegistration } from '../jobs/registration.js'
import { CSRF_HEADER, type RefreshCookie } from '../refresh-cookie.js'
import { findPublicUser, type PublicUser, verifyLogin } from '../services/accounts.js'
import type { AccessIssuer } from '../services/sessions.js'
import type { SignInAlerts } from '../services/sign-in-alerts.js'
import type { LoginThrottle } from '../services/throttle.js'
import type { AuthServices } from '../types.js'
import type { VerificationMailOptions } from './email.js'
import { type Mfa, mfaChallenge, mfaLoginRoute } from './mfa.js'
import { email, password, type TokenPair, type TokenPairBody, tokenPairSchema } from './schemas.js'

export interface CredentialRoutesOptions {
  db: AuthDb
  services: AuthServices
  issuer: AccessIssuer
  links: { login: string; passwordReset: string }
  /** When set, a login from a device new to the account mails the owner (`mail.newSignInAlert`). */
  signInAlerts?: SignInAlerts | null
  /** Brute-force limits of POST /login. */
  throttle: LoginThrottle
  /** When set, a new account gets a verification email. */
  verification?: VerificationMailOptions
  /**
   * Second factor: /login answers an mfaToken for accounts with MFA on, and POST /login/mfa
   * finishes the login. Without it such accounts cannot log in (fail closed).
   */
  mfa?: Mfa
  /** When set, the refresh token travels in this httpOnly cookie instead of the body. */
  refreshCookie?: RefreshCookie | null
}

const REGISTERED = {
  message: 'If this email can be used, we have sent a message to it with the next steps.',
}

function device(request: FastifyRequest) {
  const userAgent = request.headers['user-agent']
  return { userAgent: typeof userAgent === 'string' ? userAgent : null, ip: request.ip }
}

/** Register, log in, refresh, log out: the routes that create and end sessions. */
export async function credentialRoutes(app: FastifyInstance, options: CredentialRoutesOptions) {
  const { db, services, links } = options
  const { throttle } = options
  const cookie = options.refreshCookie ?? null
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const registration = defineRegistration(app, {
    db,
    passwords: services.passwords,
    links,
    verification: options.verification,
  })
  const pairSchema = tokenPairSchema(cookie !== null)
  const refreshTokenField = z.string().min(1).max(512)
  const cookieNote = cookie
    ? ` The refresh token is set in the httpOnly cookie "${cookie.settings.name}" and left out ` +
      'of the body.'
    : ''

  /** The token pair as the client gets it: with the cookie on, the refresh token goes there. */
  function deliver(reply: FastifyReply, pair: TokenPair, sessionEndsAt: Date): TokenPairBody {
    if (!cookie) return pair
    cookie.set(reply, pair.refreshToken, sessionEndsAt)
    const { refreshToken: _inCookie, ...body } = pair
    return body
  }

  /** A refresh token from the body, else from the cookie (which needs the CSRF header). */
  function presentedRefreshToken(
    request: FastifyRequest,
    body: { refreshToken?: string | undefined } | null | undefined,
  ): { token: string; fromCookie: boolean } | null {
    if (body?.refreshToken !== undefined) return { token: body.refreshToken, fromCookie: false }
    const fromCookie = cookie?.read(request)
    return fromCookie === undefined ? null : { token: fromCookie, fromCookie: true }
  }

  async function issue(user: PublicUser, request: FastifyRequest, reply: FastifyReply) {
    const from = device(request)
    // Asked before the session starts, so the new session is not its own precedent.
    const alerts = options.signInAlerts
    const newDevice = alerts ? await alerts.isNewDevice(user.id, from.userAgent) : false
    const session = await services.sessions.start(user.id, from)
    const access = await options.issuer.issue(
      { sessionId: session.sessionId, userId: user.id },
      'login',
    )
    await app.events.emit('user.logged_in', { userId: user.id, sessionId: session.sessionId })
    if (alerts && newDevice) {
      await app.mailer.sendTemplate('auth.new-sign-in', user.email, {
        ...alerts.describe(from),
        resetUrl: links.passwordReset,
        supportEmail: app.brand.supportEmail ?? null,
      })
    }
    const pair = {
      accessToken: access.token,
      refreshToken: session.refreshToken,
      tokenType: 'Bearer' as const,
      expiresIn: access.expiresIn,
      user,
    }
    return deliver(reply, pair, session.absoluteExpiresAt)
  }

  routes.post(
    '/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        description:
          'Always answers 202 with the same body, whether or not the email already has an ' +
          'account; the owner of an existing account is told by email instead.',
        body: z
          .object({ email, password, name: safeString().trim().min(1).max(200).optional() })
          .strict(),
        response: { 202: z.object({ message: z.string() }) },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      // The same work for a new and an existing email; the mails follow in a job (ENUM-02).
      await registration.register(
        {
          email: request.body.email,
          password: request.body.password,
          name: request.body.name ?? null,
        },
        request.id,
      )
      return reply.code(202).send(REGISTERED)
    },
  )

  routes.post(
    '/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with email and password',
        description:
          'Starts a session and answers an access token and a refresh token. Unknown email, ' +
          'wrong password and suspended account answer the same 401. Too many failures for ' +
          'the account from this client, or from the client on any account, answer 429 with ' +
          'Retry-After (even with the right password); failures from other clients do not. ' +
          'Past the account-wide hourly ceiling, a client that has not failed is answered ' +
          'after a delay. 503 with Retry-After when the limiter is unavailable. For an ' +
          'account with MFA on it answers { mfaRequired: true, mfaToken } and no tokens: ' +
          `finish with POST /login/mfa.${cookieNote}`,
        body: z.object({ email, password }).strict(),
        response: { 200: z.union([pairSchema, mfaChallenge]) },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      // Before the password check: a throttled attempt costs no argon2 and learns nothing.
      const admission = await throttle.admit({ email: request.body.email, ip: request.ip })
      if (!admission.allowed) {
        await app.events.emit('auth.login_throttled', { scope: admission.scope })
        throw new AuthErrors.TooManyAttempts({
          headers: { 'retry-after': String(admission.retryAfterSeconds) },
        })
      }
      try {
        const user = await verifyLogin(db, services.passwords, request.body)
        const mfaState = await db.user.findUnique({
          where: { id: user.id },
          select: { mfaEnabledAt: true },
        })
        if (mfaState?.mfaEnabledAt) {
          // No throttle.succeeded yet: the attempt stays counted until /login/mfa succeeds, so
          // knowing the password does not reset the budget for guessing codes.
          if (!options.mfa) throw new Error('MFA is on for this account but not configured')
          return { mfaRequired: true as const, mfaToken: await options.mfa.tokens.issue(user.id) }
        }
        await throttle.succeeded(admission.attempt)
        return await issue(user, request, reply)
      } catch (error) {
        if (error instanceof AuthErrors.InvalidCredentials) {
          await app.events.emit('user.login_failed', { reason: 'invalid_credentials' })
        } else {
          // Not a verdict on the password (the database is down, a bug): the attempt gives its
          // slot back, or an outage would lock out everyone who tried during it.
          await throttle.release(admission.attempt)
        }
        throw error
      }
    },
  )

  if (options.mfa) {
    mfaLoginRoute(app, { db, mfa: options.mfa, throttle, issue, response: pairSchema })
  }

  // With the cookie on, the body is optional: a browser sends none and the cookie instead.
  const refreshBody = cookie
    ? z.object({ refreshToken: refreshTokenField.optional() }).strict().nullish()
    : z.object({ refreshToken: refreshTokenField }).strict()

  routes.post(
    '/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Rotate the refresh token',
        description:
          'Answers a new access token and a new refresh token; the presented one is spent. ' +
          'Presenting a spent refresh token ends the whole session (theft detection).' +
          (cookie
            ? ` Without a refreshToken in the body, the one in the cookie "${cookie.settings.name}" ` +
              `is used, and the request must carry the ${CSRF_HEADER} header (403 ` +
              'ACME_AUTH_CSRF_HEADER_REQUIRED otherwise); the new one is set in the cookie.'
            : ''),
        body: refreshBody,
        response: { 200: pairSchema },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      const presented = presentedRefreshToken(request, request.body)
      if (!presented) throw new AuthErrors.InvalidRefreshToken()
      let rotated: Awaited<ReturnType<typeof services.sessions.rotate>>
      try {
        rotated = await services.sessions.rotate(presented.token, device(request))
      } catch (error) {
        // A cookie that cannot refresh any more is dropped, so the browser stops sending it.
        if (presented.fromCookie) cookie?.clear(reply)
        throw error
      }
      const user = await findPublicUser(db, rotated.userId)
      if (!user) throw new AuthErrors.InvalidRefreshToken()
      // Extension claims are read again: what the session carries (e.g. its tenant) carries over.
      const access = await options.issuer.issue(
        { sessionId: rotated.sessionId, userId: user.id },
        'refresh',
      )
      const pair = {
        accessToken: access.token,
        refreshToken: rotated.refreshToken,
        tokenType: 'Bearer' as const,
        expiresIn: access.expiresIn,
        user,
      }
      return deliver(reply, pair, rotated.absoluteExpiresAt)
    },
  )

  routes.post(
    '/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End this session',
        description:
          'Revokes the session of the access token; its tokens stop working at once. Without ' +
          'an access token (e.g. it expired), a refreshToken in the body ends its session' +
          (cookie
            ? `, else the one in the cookie "${cookie.settings.name}" (with the ${CSRF_HEADER} ` +
              'header, 403 ACME_AUTH_CSRF_HEADER_REQUIRED otherwise); the cookie is cleared'
            : '') +
          '. An unknown refresh token still answers 204. No credential at all answers 401.',
        // Fastify hands a request without a body to validation as null.
        body: z.object({ refreshToken: refreshTokenField.optional() }).strict().nullish(),
        response: { 204: z.null() },
      },
      config: { auth: 'optional', permission: false },
    },
    async (request, reply) => {
      if (request.session) {
        await services.sessions.revoke(request.session.id, 'logout')
      } else if (request.principal === null) {
        const presented = presentedRefreshToken(request, request.body)
        if (!presented) {
          throw new AuthErrors.Unauthenticated({ headers: { 'www-authenticate': 'Bearer' } })
        }
        // No oracle: an unknown token answers the same 204.
        await services.sessions.revokeByRefreshToken(presented.token, 'logout')
      }
      cookie?.clear(reply)
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/logout-all',
    {
      schema: {
        tags: ['auth'],
        summary: 'End every session',
        description: "Revokes all of the user's sessions, on every device.",
        response: { 204: z.null() },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      if (request.user) await services.sessions.revokeAllForUser(request.user.id, 'logout_all')
      cookie?.clear(reply)
      return reply.code(204).send(null)
    },
  )
}
