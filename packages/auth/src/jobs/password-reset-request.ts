import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { normalizeEmail } from '../services/accounts.js'
import { OneTimeTokens, tokenLink } from '../services/one-time-tokens.js'
import { asRequest } from './context.js'

export const RESET_REQUEST_JOB = 'auth.password-reset-request'

/** What POST /password/forgot hands to its job. */
export interface ResetRequestJobPayload {
  /** The address given, normalised; it may have no account. */
  email: string
  /** The request that asked, for the event the job emits. */
  requestId: string | null
}

const payloadSchema = z
  .object({
    email: z.string().min(1).max(320),
    requestId: z.string().min(1).max(200).nullable(),
  })
  .strict()

declare module '@acme/core' {
  interface AcmeJobs {
    'auth.password-reset-request': ResetRequestJobPayload
  }
}

export interface ResetRequestOptions {
  db: AuthDb
  clock: Clock
  links: { passwordReset: string }
  resetTtlSeconds: number
}

/**
 * POST /password/forgot without an enumeration oracle in its timing (ENUM-02): the request only
 * queues one job, the same for any address. The job looks the address up and, for an active
 * account, issues the single-use token, emits `user.password_reset_requested` and mails the link.
 */
export function defineResetRequests(app: FastifyInstance, options: ResetRequestOptions) {
  const { db, links, resetTtlSeconds } = options
  const tokens = new OneTimeTokens({ db, clock: options.clock })

  app.jobs.define({
    name: RESET_REQUEST_JOB,
    schema: payloadSchema,
    // A reset is asked for by address: nothing to keep once done.
    keepCompleted: false,
    handler: (payload) =>
      asRequest(payload.requestId, async () => {
        const user = await db.user.findUnique({
          where: { email: payload.email },
          select: { id: true, email: true, status: true },
        })
        if (user?.status !== 'active') return
        const token = await tokens.issue(user.id, 'password_reset', resetTtlSeconds)
        await app.events.emit('user.password_reset_requested', { userId: user.id })
        await app.mailer.sendTemplate('auth.password-reset', user.email, {
          resetUrl: tokenLink(links.passwordReset, token),
          expiresInMinutes: Math.round(resetTtlSeconds / 60),
        })
      }),
  })

  return {
    /** Resolves once the job is queued; says nothing about the address. */
    async request(email: string, requestId: string): Promise<void> {
      await app.jobs.enqueue(RESET_REQUEST_JOB, { email: normalizeEmail(email), requestId })
    },
  }
}
