import { CoreErrors } from '@acme/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { maskEmail } from '../mail-templates-account.js'
import { normalizeEmail, verifyCurrentPassword } from '../services/accounts.js'
import { OneTimeTokens, tokenLink } from '../services/one-time-tokens.js'
import type { LoginThrottle } from '../services/throttle.js'
import { WindowLimiter } from '../services/window-limiter.js'
import type { AuthServices } from '../types.js'
import { email } from './schemas.js'

export interface VerificationMailOptions {
  links: { verifyEmail: string }
  clock: Clock
  oneTimeTokens: { verifyTtlSeconds: number }
}

export interface EmailRoutesOptions extends VerificationMailOptions {
  db: AuthDb
  services: AuthServices
  links: {
    verifyEmail: string
    confirmEmailChange: string
    login: string
    passwordReset: string
  }
  /** Wrong passwords on PATCH /me/email count against the login throttle of the account. */
  throttle: LoginThrottle
  /** Without a password, an email change needs a login at most this old (SES-03). */
  reauthenticationSeconds: number
  /** Requests per user per hour: each mails an address of the user's choosing. */
  emailChangesPerHour: number
}

const message = z.object({ message: z.string() })

const RESENT = {
  message: 'If your email address still needs confirming, we have sent you a new link.',
}
const VERIFIED = { message: 'Your email address is confirmed.' }
const CHANGE_REQUESTED = { status: 'confirmation_sent' as const }
const CHANGED = {
  message: 'Your email address has been changed; your other sessions were ended.',
}

/** The pages that post these tokens have them in their URL: keep them out of any Referer. */
async function noReferrer(_request: FastifyRequest, reply: FastifyReply) {
  reply.header('referrer-policy', 'no-referrer')
}

/**
 * Issues a verification token (superseding earlier ones) and mails its link. Registration calls
 * this for a new account; `POST /email/resend` for one that lost the mail.
 */
export async function sendVerificationEmail(
  app: FastifyInstance,
  db: AuthDb,
  user: { id: string; email: string },
  options: VerificationMailOptions,
): Promise<void> {
  const ttlSeconds = options.oneTimeTokens.verifyTtlSeconds
  const tokens = new OneTimeTokens({ db, clock: options.clock })
  const token = await tokens.issue(user.id, 'email_verify', ttlSeconds)
  await app.mailer.sendTemplate('auth.verify-email', user.email, {
    verifyUrl: tokenLink(options.links.verifyEmail, token),
    expiresInHours: ttlSeconds / 3600,
  })
}

/**
 * Email address verification (confirm with the mailed token, or ask for a new one) and email
 * change (request with re-authentication, confirm from the new mailbox).
 */
export async function emailRoutes(app: FastifyInstance, options: EmailRoutesOptions) {
  const { db, clock, services } = options
  const tokens = new OneTimeTokens({ db, clock })
  const emailChanges = new WindowLimiter({
    redis: app.redis,
    keyPrefix: `${app.redisKeyPrefix}auth:email-change:`,
    max: options.emailChangesPerHour,
    windowSeconds: 3_600,
    clock,
    unavailableDetail: 'Changing the email address is temporarily unavailable; retry shortly.',
  })
  const routes = app.withTypeProvider<ZodTypeProvider>()

  routes.post(
    '/email/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the email address',
        description:
          'Spends the token from the verification email and marks the address as confirmed. ' +
          'A token works once; an unknown, used or expired one answers 400 ' +
          'ACME_AUTH_INVALID_VERIFICATION_TOKEN.',
        body: z.object({ token: z.string().min(1).max(256) }).strict(),
        response: { 200: message },
      },
      config: { auth: 'public' },
      onRequest: noReferrer,
    },
    async (request) => {
      const userId = await tokens.consume(request.body.token, 'email_verify', (id, tx) =>
        // The first confirmation's date stays: confirming again changes nothing.
        tx.user.updateMany({
          where: { id, emailVerifiedAt: null },
          data: { emailVerifiedAt: clock() },
        }),
      )
      await app.events.emit('user.email_verified', { userId })
      return VERIFIED
    },
  )

  routes.post(
    '/email/resend',
    {
      schema: {
        tags: ['auth'],
        summary: 'Send a new verification email',
        description:
          'Mails a new confirmation link when the address is not confirmed yet; earlier links ' +
          'stop working. Always answers 202 with the same body.',
        response: { 202: message },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      if (!request.user) throw new AuthErrors.InvalidToken()
      const user = await db.user.findUnique({
        where: { id: request.user.id },
        select: { id: true, email: true, emailVerifiedAt: true },
      })
      if (user && user.emailVerifiedAt === null) {
        await sendVerificationEmail(app, db, user, options)
      }
      return reply.code(202).send(RESENT)
    },
  )
  routes.patch(
    '/me/email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change the email address',
        description:
          'Needs the current password, or a login within the re-authentication window (403 ' +
          'ACME_AUTH_REAUTHENTICATION_REQUIRED otherwise; a wrong password is 403 ' +
          'ACME_AUTH_CURRENT_PASSWORD_INVALID and counts against the login throttle). Sessions ' +
          'only: API keys get 403. Always answers 200 { status: "confirmation_sent" }: the new ' +
          'address gets a confirmation link (or, if it already has an account, a notice and no ' +
          'link), and the current address a notice at once. Nothing changes until the link is ' +
          'used (POST /email/change/confirm).',
        body: z.object({ email, password: z.string().min(1).max(4_096).optional() }).strict(),
        response: { 200: z.object({ status: z.literal('confirmation_sent') }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const principal = request.principal
      if (!principal) throw new AuthErrors.Unauthenticated()
      // A leaked API key must not be able to move the account to another mailbox.
      if (principal.type !== 'user') throw new CoreErrors.Forbidden()
      const { userId, sessionId } = principal
      const user = await db.user.findUnique({
        where: { id: userId },
        select: { email: true, status: true },
      })
      if (user?.status !== 'active') throw new AuthErrors.InvalidToken()

      if (request.body.password === undefined) {
        await services.sessions.requireRecentAuthentication(
          sessionId,
          options.reauthenticationSeconds,
        )
      } else {
        // A stolen session must not be a free password oracle: each wrong one counts.
        const admission = await options.throttle.admit({ email: user.email, ip: request.ip })
        if (!admission.allowed) {
          await app.events.emit('auth.login_throttled', { scope: admission.scope })
          throw new AuthErrors.TooManyAttempts({
            headers: { 'retry-after': String(admission.retryAfterSeconds) },
          })
        }
        try {
          await verifyCurrentPassword(db, services.passwords, userId, request.body.password)
        } catch (error) {
          // Only a verified-wrong password counts: an outage must not lock the user out.
          if (!(error instanceof AuthErrors.CurrentPasswordInvalid)) {
            await options.throttle.release(admission.attempt)
          }
          throw error
        }
        await options.throttle.succeeded(admission.attempt)
      }

      const newEmail = normalizeEmail(request.body.email)
      if (newEmail === user.email) throw new AuthErrors.EmailUnchanged()
      // Counted once proven: a signed-in user must not turn this into a mail cannon.
      await emailChanges.take(userId)
      const owner = await db.user.findUnique({ where: { email: newEmail }, select: { id: true } })
      if (owner) {
        // Same answer as a free address (no enumeration); no token, so nothing to confirm, and
        // an earlier pending change is dropped as a new token would drop it.
        await tokens.revokeAll(userId, 'email_change')
        await app.mailer.sendTemplate('auth.email-change-in-use', newEmail, {
          loginUrl: options.links.login,
        })
      } else {
        const ttlSeconds = options.oneTimeTokens.verifyTtlSeconds
        const token = await tokens.issue(userId, 'email_change', ttlSeconds, newEmail)
        await app.mailer.sendTemplate('auth.email-change-confirm', newEmail, {
          confirmUrl: tokenLink(options.links.confirmEmailChange, token),
          expiresInHours: ttlSeconds / 3_600,
        })
      }
      // The owner hears of it at the address they have now, before anything changes.
      await app.mailer.sendTemplate('auth.email-change-requested', user.email, {
        newEmail: maskEmail(newEmail),
        resetUrl: options.links.passwordReset,
        supportEmail: app.brand.supportEmail ?? null,
      })
      await app.events.emit('user.email_change_requested', { userId })
      return CHANGE_REQUESTED
    },
  )

  routes.post(
    '/email/change/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email change',
        description:
          'Spends the token mailed to the new address and makes it the sign-in email (already ' +
          'confirmed). Every session of the user ends except the one of the access token sent ' +
          'with this request, if any; the old address is told. An unknown, used or expired ' +
          'token, or an address that meanwhile belongs to another account, answers 400 ' +
          'ACME_AUTH_INVALID_EMAIL_CHANGE_TOKEN.',
        body: z.object({ token: z.string().min(1).max(256) }).strict(),
        response: { 200: message },
      },
      // The link may be opened signed out (another browser, a mail app): the token is the proof.
      config: { auth: 'optional', permission: false },
      onRequest: noReferrer,
    },
    async (request) => {
      let change: { oldEmail: string; newEmail: string } | undefined
      let userId: string
      try {
        userId = await tokens.consume(request.body.token, 'email_change', async (id, tx, spent) => {
          const newEmail = spent.payload
          const user = await tx.user.findUnique({
            where: { id },
            select: { email: true, status: true },
          })
          if (!newEmail || user?.status !== 'active') {
            throw new AuthErrors.InvalidEmailChangeToken()
          }
          // Taken since the request: refused like a bad link (rolled back, the token unspent).
          const owner = await tx.user.findUnique({
            where: { email: newEmail },
            select: { id: true },
          })
          if (owner) throw new AuthErrors.InvalidEmailChangeToken()
          const now = clock()
          await tx.user.update({
            where: { id },
            data: { email: newEmail, emailVerifiedAt: now },
          })
          // Links mailed to the old address must not act on the account any more.
          await tokens.revokeAll(id, ['email_verify', 'password_reset', 'email_change'], tx)
          change = { oldEmail: user.email, newEmail }
        })
      } catch (error) {
        // A registration of the same address committed between our check and our update.
        if ((error as { code?: unknown }).code === 'P2002') {
          throw new AuthErrors.InvalidEmailChangeToken({ cause: error })
        }
        throw error
      }
      if (!change) throw new AuthErrors.InvalidEmailChangeToken()
      const principal = request.principal
      const keep =
        principal?.type === 'user' && principal.userId === userId ? principal.sessionId : undefined
      await services.sessions.revokeAllForUser(
        userId,
        'email_changed',
        keep ? { except: keep } : {},
      )
      await app.mailer.sendTemplate('auth.email-changed', change.oldEmail, {
        newEmail: maskEmail(change.newEmail),
        supportEmail: app.brand.supportEmail ?? null,
      })
      await app.events.emit('user.email_changed', { userId })
      return CHANGED
    },
  )
}
