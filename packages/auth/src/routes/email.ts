import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { OneTimeTokens, tokenLink } from '../services/one-time-tokens.js'

export interface VerificationMailOptions {
  links: { verifyEmail: string }
  clock: Clock
  oneTimeTokens: { verifyTtlSeconds: number }
}

export interface EmailRoutesOptions extends VerificationMailOptions {
  db: AuthDb
}

const message = z.object({ message: z.string() })

const RESENT = {
  message: 'If your email address still needs confirming, we have sent you a new link.',
}
const VERIFIED = { message: 'Your email address is confirmed.' }

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

/** Email address verification: confirm with the mailed token, or ask for a new one. */
export async function emailRoutes(app: FastifyInstance, options: EmailRoutesOptions) {
  const { db, clock } = options
  const tokens = new OneTimeTokens({ db, clock })
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
      // The page that posts this has the token in its URL: keep it out of any Referer.
      onRequest: async (_request, reply) => {
        reply.header('referrer-policy', 'no-referrer')
      },
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
      config: { auth: 'required' },
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
}
