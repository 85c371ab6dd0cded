import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { defineResetRequests } from '../jobs/password-reset-request.js'
import { verifyCurrentPassword } from '../services/accounts.js'
import { clientKey } from '../services/client-ip.js'
import { OneTimeTokens } from '../services/one-time-tokens.js'
import { WindowLimiter } from '../services/window-limiter.js'
import type { AuthServices } from '../types.js'
import { email, password } from './schemas.js'

export interface PasswordRoutesOptions {
  db: AuthDb
  services: AuthServices
  links: { passwordReset: string }
  clock: Clock
  oneTimeTokens: { resetTtlSeconds: number }
  throttle: { resetTokenGuessMax: number }
}

/** RST-05's window for wrong reset tokens from one IP. */
const GUESS_WINDOW_SECONDS = 15 * 60

const message = z.object({ message: z.string() })

const REQUESTED = {
  message: 'If an account uses this email, we have sent it a link to choose a new password.',
}
const RESET = { message: 'Your password has been changed. Sign in with the new one.' }
const CHANGED = { message: 'Your password has been changed; your other sessions were ended.' }

/** The reset page carries the token in its URL: no Referer may take it elsewhere (RST-04). */
async function noReferrer(_request: FastifyRequest, reply: FastifyReply) {
  reply.header('referrer-policy', 'no-referrer')
}

/** Forgotten password (request a link, reset with it) and change while signed in. */
export async function passwordRoutes(app: FastifyInstance, options: PasswordRoutesOptions) {
  const { db, services, links, clock } = options
  const tokens = new OneTimeTokens({ db, clock })
  const resetRequests = defineResetRequests(app, {
    db,
    clock,
    links,
    resetTtlSeconds: options.oneTimeTokens.resetTtlSeconds,
  })
  // RST-05: wrong reset tokens per client IP (IPv6: per /64, as the login throttle counts).
  const guesses = new WindowLimiter({
    redis: app.redis,
    keyPrefix: `${app.redisKeyPrefix}auth:reset-guess:`,
    max: options.throttle.resetTokenGuessMax,
    windowSeconds: GUESS_WINDOW_SECONDS,
    clock,
    unavailableDetail: 'Password reset is temporarily unavailable; retry shortly.',
  })
  const routes = app.withTypeProvider<ZodTypeProvider>()

  /** After either route: the owner hears of it, other plugins too. */
  async function announceChange(userId: string, to: string, via: 'change' | 'reset') {
    await app.mailer.sendTemplate('auth.password-changed', to, {
      supportEmail: app.brand.supportEmail ?? null,
    })
    await app.events.emit('user.password_changed', { userId, via })
  }

  routes.post(
    '/password/forgot',
    {
      schema: {
        tags: ['auth'],
        summary: 'Request a password reset link',
        description:
          'Always answers 202 with the same body, whether or not the email has an account ' +
          '(ENUM-02). An active account gets a single-use link, valid for 30 minutes by ' +
          'default; earlier links stop working. Nothing about the account changes until the ' +
          'link is used.',
        body: z.object({ email }).strict(),
        response: { 202: message },
      },
      config: { auth: 'public' },
      onRequest: noReferrer,
    },
    async (request, reply) => {
      // One queued job for any address: the lookup, the token and the mail happen in it, so
      // the answer takes as long for a known email as for an unknown one (ENUM-02).
      await resetRequests.request(request.body.email, request.id)
      return reply.code(202).send(REQUESTED)
    },
  )

  routes.post(
    '/password/reset',
    {
      schema: {
        tags: ['auth'],
        summary: 'Choose a new password with a reset link',
        description:
          'Spends the token from the reset email and sets the new password. Every session of ' +
          'the account ends and no new one starts: sign in again. An unknown, used or expired ' +
          'token answers 400 ACME_AUTH_INVALID_RESET_TOKEN; too many of those from one IP ' +
          'answer 429 with Retry-After.',
        body: z.object({ token: z.string().min(1).max(256), password }).strict(),
        response: { 200: message },
      },
      config: { auth: 'public' },
      onRequest: noReferrer,
    },
    async (request) => {
      const { token, password: newPassword } = request.body
      // Policy first: a weak password says nothing about the token and is not a guess.
      await services.passwords.check(newPassword)
      // Only a wrong token keeps its slot: success, or a server error, says nothing of guessing.
      const slot = await guesses.take(clientKey(request.ip))
      let userId: string
      try {
        // A bad token is refused before the costly hash; the token is spent only with the change.
        await tokens.check(token, 'password_reset')
        const passwordHash = await services.passwords.hash(newPassword)
        userId = await tokens.consume(token, 'password_reset', (id, tx) =>
          tx.user.update({ where: { id }, data: { passwordHash } }),
        )
      } catch (error) {
        if (!(error instanceof AuthErrors.InvalidResetToken)) await slot.release()
        throw error
      }
      await slot.release()
      // RST-04 / SES-01: whoever knew the old password is signed out everywhere, and an email
      // change they requested can no longer be confirmed.
      await services.sessions.revokeAllForUser(userId, 'password_reset')
      await tokens.revokeAll(userId, 'email_change')
      const user = await db.user.findUnique({ where: { id: userId }, select: { email: true } })
      if (user) await announceChange(userId, user.email, 'reset')
      return RESET
    },
  )

  routes.post(
    '/password/change',
    {
      schema: {
        tags: ['auth'],
        summary: 'Change the password',
        description:
          'Needs the current password (a missing or wrong one answers 403 ' +
          'ACME_AUTH_CURRENT_PASSWORD_INVALID). Every other session ends; this one continues.',
        body: z
          .object({
            // Optional here so that a missing one is the same 403 as a wrong one (PWD-04).
            currentPassword: z.string().max(4_096).optional(),
            newPassword: password,
          })
          .strict(),
        response: { 200: message },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      if (!request.user || !request.session) throw new AuthErrors.InvalidToken()
      const userId = request.user.id
      const { currentPassword, newPassword } = request.body
      await verifyCurrentPassword(db, services.passwords, userId, currentPassword)
      await services.passwords.check(newPassword)
      const passwordHash = await services.passwords.hash(newPassword)
      const user = await db.user.update({
        where: { id: userId },
        data: { passwordHash },
        select: { email: true },
      })
      await services.sessions.revokeAllForUser(userId, 'password_change', {
        except: request.session.id,
      })
      // A reset link sent earlier would otherwise still undo this change, and a pending email
      // change requested by whoever knew the old password must not complete.
      await tokens.revokeAll(userId, ['password_reset', 'email_change'])
      await announceChange(userId, user.email, 'change')
      return CHANGED
    },
  )
}
