import { CoreErrors } from '@acme/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { ResolvedAuthOptions } from '../options.js'
import { findPublicUser, type PublicUser, verifyCurrentPassword } from '../services/accounts.js'
import { AttemptCounter } from '../services/attempt-counter.js'
import { MfaTokens } from '../services/mfa-tokens.js'
import { RecoveryCodes } from '../services/recovery-codes.js'
import { hashToken } from '../services/refresh-tokens.js'
import { mfaSecretBox } from '../services/secret-box.js'
import type { LoginThrottle } from '../services/throttle.js'
import { otpauthUrl, TotpFactor } from '../services/totp.js'
import type { AuthServices } from '../types.js'
import { password, type TokenPairBody, type tokenPairSchema } from './schemas.js'

/** The MFA services, built once per app so the routes and the login share one key. */
export interface Mfa {
  totp: TotpFactor
  recoveryCodes: RecoveryCodes
  tokens: MfaTokens
  /** Codes tried per MFA login token, shared across instances. */
  attempts: AttemptCounter
  /** Wrong codes one MFA login token survives (option `mfa.maxCodeAttempts`). */
  maxCodeAttempts: number
  /** Shown by authenticator apps next to the account. */
  issuer: string
  /** A 6-digit TOTP or a recovery code; a valid one is spent. */
  verifyCode(userId: string, code: string): Promise<boolean>
}

export function createMfa(
  app: FastifyInstance,
  input: { db: AuthDb; clock: Clock; options: ResolvedAuthOptions['mfa'] },
): Mfa {
  const { db, clock, options } = input
  const box = mfaSecretBox(options.encryptionKey, { warn: (m) => app.log.warn(m) })
  const totp = new TotpFactor({ db, box, clock })
  const recoveryCodes = new RecoveryCodes({ db, clock })
  return {
    totp,
    recoveryCodes,
    tokens: new MfaTokens({ db, clock, ttlSeconds: options.mfaTokenTtlSeconds }),
    attempts: new AttemptCounter({
      redis: app.redis,
      keyPrefix: `${app.redisKeyPrefix}auth:mfa-attempts:`,
      clock,
    }),
    maxCodeAttempts: options.maxCodeAttempts,
    issuer: options.issuer ?? app.brand.name,
    verifyCode: (userId, code) =>
      /^\d{6}$/.test(code) ? totp.verify(userId, code) : recoveryCodes.consume(userId, code),
  }
}

export const mfaChallenge = z.object({
  mfaRequired: z.literal(true),
  mfaToken: z.string().describe('Send it with a code to POST /login/mfa; valid for minutes.'),
})

const totpCode = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'must be the 6 digits shown by the authenticator app')
/** A TOTP, or a recovery code (`xxxx-xxxx-xxxx`; case, spaces and dashes ignored). */
const secondFactorCode = z.string().trim().min(6).max(64)
const recoveryCodesView = z.object({
  recoveryCodes: z.array(z.string()).describe('Shown once: store them somewhere safe.'),
})

/**
 * A person signed in with a session: a leaked API key must not be able to enrol its own
 * authenticator (locking the owner out) or turn two-factor off.
 */
function signedIn(request: FastifyRequest): string {
  const principal = request.principal
  if (!principal) throw new AuthErrors.Unauthenticated()
  if (principal.type !== 'user') throw new CoreErrors.Forbidden()
  return principal.userId
}

export interface MfaRoutesOptions {
  db: AuthDb
  services: AuthServices
  mfa: Mfa
  /** Wrong codes on /mfa/totp/disable count against the login throttle of the account. */
  throttle: LoginThrottle
  /** Linked from the "two-factor turned on/off" notices. */
  links: { passwordReset: string }
}

/** Enrol, enable and disable the authenticator; regenerate recovery codes. */
export async function mfaRoutes(app: FastifyInstance, options: MfaRoutesOptions) {
  const { db, services, mfa, throttle } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()

  /**
   * After MFA is turned on or off: other devices sign in again under the new rule (a thief's
   * session must not outlive the owner turning MFA on), and the owner hears of it.
   */
  async function announce(
    request: FastifyRequest,
    userId: string,
    to: string,
    change: 'enabled' | 'disabled',
  ) {
    await services.sessions.revokeAllForUser(
      userId,
      `mfa_${change}`,
      request.session ? { except: request.session.id } : {},
    )
    await app.mailer.sendTemplate(`auth.mfa-${change}`, to, {
      resetUrl: options.links.passwordReset,
      supportEmail: app.brand.supportEmail ?? null,
    })
    await app.events.emit(`user.mfa_${change}`, { userId })
  }

  async function account(userId: string) {
    const user = await db.user.findUnique({
      where: { id: userId },
      select: { email: true, mfaEnabledAt: true },
    })
    if (!user) throw new AuthErrors.InvalidToken()
    return user
  }

  routes.post(
    '/mfa/totp/setup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start authenticator setup',
        description:
          'Creates a new TOTP secret (replacing an unconfirmed one) and answers it once, as ' +
          'base32 and as an otpauth:// URI for a QR code. MFA is on only after POST ' +
          '/mfa/totp/enable with a code. 409 ACME_AUTH_MFA_ALREADY_ENABLED if it is on.',
        response: { 200: z.object({ secret: z.string(), otpauthUrl: z.string() }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const userId = signedIn(request)
      const user = await account(userId)
      if (user.mfaEnabledAt) throw new AuthErrors.MfaAlreadyEnabled()
      const secret = await mfa.totp.enrol(userId)
      return { secret, otpauthUrl: otpauthUrl({ issuer: mfa.issuer, account: user.email, secret }) }
    },
  )

  routes.post(
    '/mfa/totp/enable',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the authenticator and turn MFA on',
        description:
          'Checks a code from the app against the secret of the setup step; then every login ' +
          'needs a code. Answers 10 single-use recovery codes, once. Every other session of ' +
          'the user ends and a notice is mailed. A wrong code answers 401 ' +
          'ACME_AUTH_INVALID_MFA_CODE; no setup, 409 ACME_AUTH_MFA_SETUP_REQUIRED.',
        body: z.object({ code: totpCode }).strict(),
        response: { 200: recoveryCodesView },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const userId = signedIn(request)
      const user = await account(userId)
      if (user.mfaEnabledAt) throw new AuthErrors.MfaAlreadyEnabled()
      let recoveryCodes: string[] = []
      await mfa.totp.confirm(userId, request.body.code, async (tx, now) => {
        await tx.user.update({ where: { id: userId }, data: { mfaEnabledAt: now } })
        recoveryCodes = await mfa.recoveryCodes.replace(userId, tx)
      })
      await announce(request, userId, user.email, 'enabled')
      return { recoveryCodes }
    },
  )

  routes.post(
    '/mfa/totp/disable',
    {
      schema: {
        tags: ['auth'],
        summary: 'Turn MFA off',
        description:
          'Needs the current password (403 ACME_AUTH_CURRENT_PASSWORD_INVALID) and a valid ' +
          'code from the app or a recovery code (401 ACME_AUTH_INVALID_MFA_CODE); wrong codes ' +
          'count against the login throttle (429). Deletes the secret and the recovery codes; ' +
          'every other session of the user ends and a notice is mailed.',
        body: z.object({ password, code: secondFactorCode }).strict(),
        response: { 204: z.null() },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      const userId = signedIn(request)
      await verifyCurrentPassword(db, services.passwords, userId, request.body.password)
      const user = await account(userId)
      if (!user.mfaEnabledAt) throw new AuthErrors.MfaNotEnabled()
      // A stolen session plus the password must not be able to guess codes without limit.
      const admission = await throttle.admit({ email: user.email, ip: request.ip })
      if (!admission.allowed) {
        throw new AuthErrors.TooManyAttempts({
          headers: { 'retry-after': String(admission.retryAfterSeconds) },
        })
      }
      let valid: boolean
      try {
        valid = await mfa.verifyCode(userId, request.body.code)
      } catch (error) {
        // No verdict on the code (the database is down): the attempt is not a failure.
        await throttle.release(admission.attempt)
        throw error
      }
      if (!valid) throw new AuthErrors.InvalidMfaCode()
      await throttle.succeeded(admission.attempt)
      await db.$transaction(async (tx) => {
        await tx.totpSecret.deleteMany({ where: { userId } })
        await tx.recoveryCode.deleteMany({ where: { userId } })
        await tx.user.update({ where: { id: userId }, data: { mfaEnabledAt: null } })
      })
      await announce(request, userId, user.email, 'disabled')
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/mfa/recovery-codes',
    {
      schema: {
        tags: ['auth'],
        summary: 'Regenerate recovery codes',
        description:
          'Needs the current password (403 ACME_AUTH_CURRENT_PASSWORD_INVALID). Answers 10 new ' +
          'single-use codes, once; the earlier ones stop working. 409 ' +
          'ACME_AUTH_MFA_NOT_ENABLED without MFA.',
        body: z.object({ password }).strict(),
        response: { 200: recoveryCodesView },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const userId = signedIn(request)
      await verifyCurrentPassword(db, services.passwords, userId, request.body.password)
      if (!(await account(userId)).mfaEnabledAt) throw new AuthErrors.MfaNotEnabled()
      const recoveryCodes = await db.$transaction((tx) => mfa.recoveryCodes.replace(userId, tx))
      return { recoveryCodes }
    },
  )
}

export interface MfaLoginOptions {
  db: AuthDb
  mfa: Mfa
  throttle: LoginThrottle
  /** credentials.ts's session start, so both login steps end the same way (cookie included). */
  issue(user: PublicUser, request: FastifyRequest, reply: FastifyReply): Promise<TokenPairBody>
  /** The token-pair schema of /login, with or without the refresh token in the body. */
  response: ReturnType<typeof tokenPairSchema>
}

/** The second step of a login with MFA; registered by credentialRoutes next to /login. */
export function mfaLoginRoute(app: FastifyInstance, options: MfaLoginOptions): void {
  const { db, mfa, throttle, issue, response } = options
  app.withTypeProvider<ZodTypeProvider>().post(
    '/login/mfa',
    {
      schema: {
        tags: ['auth'],
        summary: 'Finish a login with a second factor',
        description:
          'Takes the mfaToken from POST /login and a 6-digit code from the authenticator app ' +
          '(each code works once) or a recovery code (single use), and answers the token pair. ' +
          'A wrong code answers 401 ACME_AUTH_INVALID_MFA_CODE and counts against the ' +
          "account's login throttle (429 when exhausted); the last wrong code an mfaToken " +
          'allows (5 by default) ends it: 401 ACME_AUTH_MFA_ATTEMPTS_EXCEEDED, log in again. ' +
          'An unknown, used or expired mfaToken answers 401 ACME_AUTH_INVALID_MFA_TOKEN.',
        body: z.object({ mfaToken: z.string().min(1).max(256), code: secondFactorCode }).strict(),
        response: { 200: response },
      },
      config: { auth: 'public' },
    },
    async (request, reply) => {
      const { mfaToken, code } = request.body
      const userId = await mfa.tokens.check(mfaToken)
      const user = await db.user.findUnique({
        where: { id: userId },
        select: { email: true, status: true, mfaEnabledAt: true },
      })
      if (user?.status !== 'active' || !user.mfaEnabledAt) {
        throw new AuthErrors.InvalidMfaToken()
      }
      const admission = await throttle.admit({ email: user.email, ip: request.ip })
      if (!admission.allowed) {
        await app.events.emit('auth.login_throttled', { scope: admission.scope })
        throw new AuthErrors.TooManyAttempts({
          headers: { 'retry-after': String(admission.retryAfterSeconds) },
        })
      }
      try {
        // Counted before the check, so parallel guesses on one token cannot exceed the cap.
        const attempts = await mfa.attempts.take(hashToken(mfaToken), mfa.tokens.ttlSeconds)
        if (attempts > mfa.maxCodeAttempts) {
          await mfa.tokens.invalidate(mfaToken)
          throw new AuthErrors.MfaAttemptsExceeded()
        }
        // A wrong code leaves the attempt counted as a failure, and the mfaToken usable until
        // its last allowed attempt.
        if (!(await mfa.verifyCode(userId, code))) {
          if (attempts < mfa.maxCodeAttempts) throw new AuthErrors.InvalidMfaCode()
          await mfa.tokens.invalidate(mfaToken)
          throw new AuthErrors.MfaAttemptsExceeded()
        }
        await mfa.tokens.consume(mfaToken)
        // Clears this address's failures on the account, including the password step that
        // issued the mfaToken.
        await throttle.succeeded(admission.attempt)
        const profile = await findPublicUser(db, userId)
        if (!profile) throw new AuthErrors.InvalidMfaToken()
        return await issue(profile, request, reply)
      } catch (error) {
        // Only a wrong code counts; anything else (the database or Redis is down) gives the
        // attempt back, so an outage does not lock anyone out.
        const wrongCode =
          error instanceof AuthErrors.InvalidMfaCode ||
          error instanceof AuthErrors.MfaAttemptsExceeded
        if (!wrongCode) await throttle.release(admission.attempt)
        throw error
      }
    },
  )
}
