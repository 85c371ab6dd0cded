import { safeString } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { AuthDb } from '../db.js'
import { AuthErrors } from '../errors.js'
import { findPublicUser, updateProfile } from '../services/accounts.js'
import { userView } from './schemas.js'

/** The signed-in user's own profile. */
export async function meRoutes(app: FastifyInstance, options: { db: AuthDb }) {
  const { db } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()

  routes.get(
    '/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'The signed-in user',
        description: 'The profile of the user the access token belongs to.',
        response: { 200: userView },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      const user = request.user ? await findPublicUser(db, request.user.id) : null
      if (!user) throw new AuthErrors.InvalidToken()
      return user
    },
  )

  routes.patch(
    '/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Update the signed-in user',
        description:
          'Changes the display name. Email, password and verification have their own routes; ' +
          'any other field is refused.',
        body: z.object({ name: safeString().trim().min(1).max(200).nullable() }).strict(),
        response: { 200: userView },
      },
      config: { auth: 'required', permission: false },
    },
    async (request) => {
      if (!request.user) throw new AuthErrors.InvalidToken()
      return updateProfile(db, request.user.id, { name: request.body.name })
    },
  )
}
