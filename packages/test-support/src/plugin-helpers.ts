import type { LightMyRequestResponse } from 'fastify'
import type { TestApp } from './app.js'

export const TEST_PASSWORD = 'correct horse battery'

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/**
 * For plugins built on @acme/auth: registers and logs in a user through auth's routes; returns
 * its id and tokens.
 */
export async function signUp(
  t: TestApp,
  email: string,
): Promise<{ userId: string; token: string; refreshToken: string }> {
  await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: TEST_PASSWORD },
  })
  const login: LightMyRequestResponse = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: TEST_PASSWORD },
  })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`)
  const body = login.json<{ accessToken: string; refreshToken: string; user: { id: string } }>()
  return { userId: body.user.id, token: body.accessToken, refreshToken: body.refreshToken }
}

/** For plugins built on @acme/tenancy: creates a tenant (the user becomes its owner). */
export async function createTenant(
  t: TestApp,
  token: string,
  name: string,
): Promise<{ id: string; slug: string }> {
  const response: LightMyRequestResponse = await t.app.inject({
    method: 'POST',
    url: '/tenants',
    headers: bearer(token),
    payload: { name },
  })
  if (response.statusCode !== 201) throw new Error(`tenant creation failed: ${response.body}`)
  return response.json<{ id: string; slug: string }>()
}
