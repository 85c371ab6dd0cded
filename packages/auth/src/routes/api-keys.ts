import { CoreErrors, safeString } from '@acme/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Clock } from '../clock.js'
import { AuthErrors } from '../errors.js'
import type { AuthServices } from '../types.js'

export interface ApiKeyRoutesOptions {
  apiKeys: AuthServices['apiKeys']
  clock: Clock
}

const apiKeyView = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().describe('The public start of the key, to recognise it; not a secret.'),
  scopes: z.array(z.string()),
  createdAt: z.date(),
  expiresAt: z.date().nullable(),
  lastUsedAt: z.date().nullable().describe('To the minute.'),
})

/**
 * Only a person signed in with a session manages keys: a leaked key must not be able to mint
 * more keys or revoke the owner's others.
 */
function sessionUser(request: FastifyRequest): string {
  const principal = request.principal
  if (!principal) throw new AuthErrors.Unauthenticated()
  if (principal.type !== 'user') throw new CoreErrors.Forbidden()
  return principal.userId
}

/** The signed-in user's API keys: list, create (shown once) and revoke. */
export async function apiKeyRoutes(app: FastifyInstance, options: ApiKeyRoutesOptions) {
  const { apiKeys, clock } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()

  const createBody = z
    .object({
      name: safeString().trim().min(1).max(100),
      scopes: z.array(safeString().min(1).max(100)).max(50).default([]),
      expiresAt: z.iso
        .datetime({ offset: true })
        // Checked against the plugin's clock, so tests and servers agree on "now".
        .refine((value) => new Date(value) > clock(), 'must be in the future')
        .optional(),
    })
    .strict()

  routes.get(
    '/api-keys',
    {
      schema: {
        tags: ['auth'],
        summary: 'List my API keys',
        description:
          'The API keys of the signed-in user that are not revoked, newest first. The key ' +
          'itself is never shown again after creation. Needs a session, not an API key.',
        response: { 200: z.object({ items: z.array(apiKeyView) }) },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => ({ items: await apiKeys.list(sessionUser(request)) }),
  )

  routes.post(
    '/api-keys',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an API key',
        description:
          'Returns the key once: store it now, it cannot be shown again. Send it as ' +
          '`x-api-key: <key>` or `Authorization: Bearer <key>`; it acts as you, with the given ' +
          'scopes, until it expires or is revoked. Needs a session, not an API key.',
        body: createBody,
        response: {
          201: z.object({
            key: z.string().describe('The secret key, shown only in this response.'),
            apiKey: apiKeyView,
          }),
        },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      const ownerId = sessionUser(request)
      const { name, scopes, expiresAt } = request.body
      const { key, record } = await apiKeys.create(ownerId, {
        name,
        scopes,
        expiresAt: expiresAt === undefined ? null : new Date(expiresAt),
      })
      return reply.code(201).send({ key, apiKey: record })
    },
  )

  routes.delete(
    '/api-keys/:keyId',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke an API key',
        description:
          'The key stops working at once on this server and within 30 seconds on every other ' +
          'one (they cache keys briefly). A key that is not one of yours answers 404. Needs a ' +
          'session, not an API key.',
        params: z.object({ keyId: z.uuid() }).strict(),
        response: { 204: z.null() },
      },
      config: { auth: 'required', permission: false },
    },
    async (request, reply) => {
      await apiKeys.revoke(sessionUser(request), request.params.keyId)
      return reply.code(204).send(null)
    },
  )
}
