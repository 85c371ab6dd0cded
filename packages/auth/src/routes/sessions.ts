import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import type { AuthServices } from '../types.js'

export interface SessionRoutesOptions {
  db: AuthDb
  services: AuthServices
  clock: Clock
  /** How recent the current session's login must be to end another session (SES-02). */
  reauthenticationSeconds: number
}

const sessionView = z.object({
  id: z.uuid(),
  userAgent: z.string().nullable(),
  ip: z.string().nullable(),
  createdAt: z.date(),
  lastUsedAt: z.date(),
  current: z.boolean().describe('Whether this is the session of the access token used.'),
})

/** Set by the authenticate hook on `auth: 'required'` routes; absent only if it was bypassed. */
function signedIn(request: FastifyRequest) {
  if (!request.user || !request.session) throw new AuthErrors.Unauthenticated()
  return { userId: request.user.id, sessionId: request.session.id }
}

/** The signed-in user's devices: list them and end one. */
export async function sessionRoutes(app: FastifyInstance, options: SessionRoutesOptions) {
  const { db, services, clock } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()

  routes.get(
    '/sessions',
    {
      schema: {
        tags: ['auth'],
        summary: 'List my sessions',
        description:
          'The live sessions (devices) of the signed-in user, most recently used first; ' +
          '`current` marks the one this access token belongs to.',
        response: { 200: z.object({ items: z.array(sessionView) }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const { userId, sessionId } = signedIn(request)
      const sessions = await services.sessions.listActive(userId)
      return {
        items: sessions.map((session) => ({ ...session, current: session.id === sessionId })),
      }
    },
  )

  routes.delete(
    '/sessions/:sessionId',
    {
      schema: {
        tags: ['auth'],
        summary: 'End one of my sessions',
        description:
          'Revokes the session; its tokens stop working at once. Ending the current session is ' +
          'always allowed; ending another needs a login within the re-authentication window ' +
          '(403 otherwise). A session that is not one of your live sessions answers 404.',
        params: z.object({ sessionId: z.uuid() }).strict(),
        response: { 204: z.null() },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      const { userId, sessionId: currentId } = signedIn(request)
      const targetId = request.params.sessionId
      if (targetId !== currentId) {
        // Ownership first, so another user's session and an unknown id answer the same 404
        // (no oracle), and only then ask the owner to re-authenticate.
        const now = clock()
        const target = await db.authSession.findFirst({
          where: {
            id: targetId,
            userId,
            revokedAt: null,
            idleExpiresAt: { gt: now },
            absoluteExpiresAt: { gt: now },
          },
          select: { id: true },
        })
        if (!target) throw new AuthErrors.SessionNotFound()
        await services.sessions.requireRecentAuthentication(
          currentId,
          options.reauthenticationSeconds,
        )
      }
      await services.sessions.revoke(targetId, 'user_ended')
      return reply.code(204).send(null)
    },
  )
}
