import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { AuthDb } from '../db.js'
import { sendVerificationEmail, type VerificationMailOptions } from '../routes/email.js'
import { findPublicUser, normalizeEmail } from '../services/accounts.js'
import type { AuthServices } from '../types.js'
import { asRequest } from './context.js'

export const REGISTRATION_JOB = 'auth.registration'

/** What POST /register hands to its job: the outcome, never the password or its hash. */
export interface RegistrationJobPayload {
  /** The address registered, normalised. */
  email: string
  /** The account this registration created, or null when the email already had one. */
  userId: string | null
  /** The request that registered, for the events the job emits. */
  requestId: string | null
}

const payloadSchema = z
  .object({
    email: z.string().min(1).max(320),
    userId: z.uuid().nullable(),
    requestId: z.string().min(1).max(200).nullable(),
  })
  .strict()

declare module '@acme/core' {
  interface AcmeJobs {
    'auth.registration': RegistrationJobPayload
  }
}

export interface RegistrationOptions {
  db: AuthDb
  passwords: AuthServices['passwords']
  links: { login: string; passwordReset: string }
  /** When set, a new account gets a verification email. */
  verification?: VerificationMailOptions | undefined
}

/**
 * POST /register without an enumeration oracle in its timing (ENUM-02). Before it answers, the
 * request does the same work whether or not the email has an account: the policy check, one
 * argon2 hash, one `INSERT ... ON CONFLICT DO NOTHING` and one job. Everything that differs
 * (the welcome and verification mails, or the "account exists" notice, and `user.registered`)
 * happens in that job, after the answer. The account itself exists when the answer leaves, so
 * the new user can sign in at once.
 */
export function defineRegistration(app: FastifyInstance, options: RegistrationOptions) {
  const { db, passwords, links, verification } = options

  app.jobs.define({
    name: REGISTRATION_JOB,
    schema: payloadSchema,
    // The payload names an address: nothing to keep once done.
    keepCompleted: false,
    handler: (payload) =>
      asRequest(payload.requestId, async () => {
        if (payload.userId === null) {
          await app.mailer.sendTemplate('auth.account-exists', payload.email, {
            loginUrl: links.login,
            resetUrl: links.passwordReset,
          })
          return
        }
        const user = await findPublicUser(db, payload.userId)
        // Deleted in the meantime: nobody to welcome.
        if (!user) return
        await app.events.emit('user.registered', { userId: user.id })
        await app.mailer.sendTemplate('auth.welcome', user.email, {
          name: user.name,
          loginUrl: links.login,
        })
        if (verification) await sendVerificationEmail(app, db, user, verification)
      }),
  })

  return {
    /** Throws the policy's 400 for a weak password; otherwise resolves once the job is queued. */
    async register(
      input: { email: string; password: string; name: string | null },
      requestId: string,
    ): Promise<void> {
      await passwords.check(input.password)
      const email = normalizeEmail(input.email)
      // Hashed on both paths: an existing email costs the same argon2 as a new one.
      const passwordHash = await passwords.hash(input.password)
      const id = randomUUID()
      // One statement either way; a concurrent registration of the same email loses quietly.
      const { count } = await db.user.createMany({
        data: [{ id, email, passwordHash, name: input.name }],
        skipDuplicates: true,
      })
      await app.jobs.enqueue(REGISTRATION_JOB, {
        email,
        userId: count === 1 ? id : null,
        requestId,
      })
    },
  }
}
