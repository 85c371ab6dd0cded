import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import {
  findPublicUser,
  type PublicUser,
  registerAccount,
  verifyLogin,
} from '../services/accounts.js'
import type { LoginThrottle } from '../services/throttle.js'
import type { AuthServices } from '../types.js'
import { sendVerificationEmail, type VerificationMailOptions } from './email.js'
import { type Mfa, mfaChallenge, mfaLoginRoute } from './mfa.js'
import { email, password, tokenPair } from './schemas.js'

export interface CredentialRoutesOptions {
  db: AuthDb
  services: AuthServices
  links: { login: string; passwordReset: string }
  /** Brute-force limits of POST /login. */
  throttle: LoginThrottle
  /** When set, a new account gets a verification email. */
  verification?: VerificationMailOptions
  /**
   * Second factor: /login answers an mfaToken for accounts with MFA on, and POST /login/mfa
   * finishes the login. Without it such accounts cannot log in (fail closed).
   */
  mfa?: Mfa
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
  const routes = app.withTypeProvider<ZodTypeProvider>()

  async function issue(user: PublicUser, request: FastifyRequest) {
    const session = await services.sessions.start(user.id, device(request))
    const access = await services.tokens.signAccess({ sub: user.id, sid: session.sessionId })
    await app.events.emit('user.logged_in', { userId: user.id, sessionId: session.sessionId })
    return {
      accessToken: access.token,
      refreshToken: session.refreshToken,
      tokenType: 'Bearer' as const,
      expiresIn: access.expiresIn,
      user,
    }
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
          .object({ email, password, name: z.string().trim().min(1).max(200).optional() })
          .strict(),
        response: { 202: z.object({ message: z.string() }) },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      const outcome = await registerAccount(db, services.passwords, {
        email: request.body.email,
        password: request.body.password,
        name: request.body.name ?? null,
      })
      if (outcome.kind === 'created') {
        await app.events.emit('user.registered', { userId: outcome.user.id })
        await app.mailer.sendTemplate('auth.welcome', outcome.user.email, {
          name: outcome.user.name,
          loginUrl: links.login,
        })
        if (options.verification) {
          await sendVerificationEmail(app, db, outcome.user, options.verification)
        }
      } else {
        await app.mailer.sendTemplate(
          'auth.account-exists',
          request.body.email.trim().toLowerCase(),
          {
            loginUrl: links.login,
            resetUrl: links.passwordReset,
          },
        )
      }
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
          'the account, or attempts from the client, answer 429 with Retry-After (even with ' +
          'the right password); 503 with Retry-After when the limiter is unavailable. For an ' +
          'account with MFA on it answers { mfaRequired: true, mfaToken } and no tokens: ' +
          'finish with POST /login/mfa.',
        body: z.object({ email, password }).strict(),
        response: { 200: z.union([tokenPair, mfaChallenge]) },
      },
      config: { auth: 'public' },
    },
    async (request) => {
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
        return await issue(user, request)
      } catch (error) {
        if (error instanceof AuthErrors.InvalidCredentials) {
          await app.events.emit('user.login_failed', { reason: 'invalid_credentials' })
        }
        throw error
      }
    },
  )

  if (options.mfa) mfaLoginRoute(app, { db, mfa: options.mfa, throttle, issue })

  routes.post(
    '/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Rotate the refresh token',
        description:
          'Answers a new access token and a new refresh token; the presented one is spent. ' +
          'Presenting a spent refresh token ends the whole session (theft detection).',
        body: z.object({ refreshToken: z.string().min(1).max(512) }).strict(),
        response: { 200: tokenPair },
      },
      config: { auth: 'public' },
    },
    async (request) => {
      const rotated = await services.sessions.rotate(request.body.refreshToken, device(request))
      const user = await findPublicUser(db, rotated.userId)
      if (!user) throw new AuthErrors.InvalidRefreshToken()
      const access = await services.tokens.signAccess({ sub: user.id, sid: rotated.sessionId })
      return {
        accessToken: access.token,
        refreshToken: rotated.refreshToken,
        tokenType: 'Bearer' as const,
        expiresIn: access.expiresIn,
        user,
      }
    },
  )

  routes.post(
    '/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'End this session',
        description: 'Revokes the session of the access token; its tokens stop working at once.',
        response: { 204: z.null() },
      },
      config: { auth: 'required' },
    },
    async (request, reply) => {
      if (request.session) await services.sessions.revoke(request.session.id, 'logout')
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
      config: { auth: 'required' },
    },
    async (request, reply) => {
      if (request.user) await services.sessions.revokeAllForUser(request.user.id, 'logout_all')
      return reply.code(204).send(null)
    },
  )
}
