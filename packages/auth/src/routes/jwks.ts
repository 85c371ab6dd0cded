import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { TokenService } from '../services/tokens.js'

/** Public keys, so any service can verify our access tokens with an ordinary JWT library. */
export async function jwksRoute(app: FastifyInstance, options: { tokens: TokenService }) {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['auth'],
        summary: 'JSON Web Key Set',
        description: 'The public keys that verify access tokens (RFC 7517). Empty with HS256.',
        response: {
          200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }),
        },
      },
      config: { auth: 'public' },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return options.tokens.jwks()
    },
  )
}
