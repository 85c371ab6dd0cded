import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'

export const OWNER_PASSWORD = 'correct horse battery'

export interface OwnerHeaders {
  authorization: string
  'x-tenant-id': string
  [name: string]: string
}

/**
 * A new account, signed in, owning a new tenant, through the starter's own routes: the headers
 * its requests send.
 */
export async function ownerOfNewTenant(
  app: FastifyInstance,
  email: string,
  tenantName: string,
): Promise<OwnerHeaders> {
  const credentials = { email, password: OWNER_PASSWORD }
  await app.inject({ method: 'POST', url: '/auth/register', payload: credentials })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
  const authorization = `Bearer ${login.json().accessToken}`
  const tenant = await app.inject({
    method: 'POST',
    url: '/tenants',
    headers: { authorization },
    payload: { name: tenantName },
  })
  expect(tenant.statusCode).toBe(201)
  return { authorization, 'x-tenant-id': tenant.json().id as string }
}
