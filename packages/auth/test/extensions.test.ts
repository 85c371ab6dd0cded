import { randomUUID } from 'node:crypto'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type AuthExtension, AuthExtensions, type PrincipalSource } from '../src/extensions.js'
import { type AuthTestApp, bearer, createAuthApp, login, register } from './support/app.js'

declare module '../src/types.js' {
  interface UserPrincipal {
    /** Set by the test extension below, as a plugin building on auth would. */
    workspace?: string | null
  }
}

/** What a plugin building on auth would store per session (tenancy: the active tenant). */
const workspaces = new Map<string, string>()
const reasons: string[] = []
const sources: PrincipalSource['type'][] = []

const workspaceExtension: AuthExtension = {
  name: 'workspaces',
  claims: { wsp: z.uuid() },
  tokenClaims: ({ sessionId }, reason) => {
    reasons.push(reason)
    return { wsp: workspaces.get(sessionId) ?? null }
  },
  enrichPrincipal(principal, source) {
    sources.push(source.type)
    if (principal.type === 'user' && source.type === 'token') {
      principal.workspace = typeof source.claims.wsp === 'string' ? source.claims.wsp : null
    }
  },
}

let t: AuthTestApp
let users = 0

beforeAll(async () => {
  t = await createAuthApp(
    {},
    {
      label: 'auth_extensions',
      routes: (app) => {
        app.auth.extend(workspaceExtension)
        app.get(
          '/whoami',
          { config: { auth: 'required', apiKeys: 'allow' } },
          async (request) => request.principal,
        )
      },
    },
  )
})
afterAll(async () => {
  await t?.close()
})

interface Signed {
  accessToken: string
  refreshToken: string
  sessionId: string
}

async function signIn(): Promise<Signed> {
  users += 1
  const email = `extension${users}@initech.test`
  await register(t, email)
  const response = await login(t, email)
  expect(response.statusCode).toBe(200)
  const body = response.json()
  return { ...body, sessionId: String(decodeJwt(body.accessToken).sid) }
}

const refresh = (refreshToken: string) =>
  t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })

const whoami = (token: string) =>
  t.app.inject({ method: 'GET', url: '/whoami', headers: bearer(token) })

describe('token claims from extensions', () => {
  it('asks each extension at login, and leaves a null claim out', async () => {
    reasons.length = 0
    const signed = await signIn()
    expect(reasons).toEqual(['login'])
    expect(decodeJwt(signed.accessToken)).not.toHaveProperty('wsp')
    expect((await whoami(signed.accessToken)).json()).toMatchObject({
      type: 'user',
      workspace: null,
    })
  })

  it('reissues with the claim as it is now, and every refresh reads it again', async () => {
    const signed = await signIn()
    const workspace = randomUUID()
    workspaces.set(signed.sessionId, workspace)
    const reissued = await t.app.auth.sessions.reissue(signed.sessionId)
    expect(decodeJwt(reissued.accessToken)).toMatchObject({ wsp: workspace, sid: signed.sessionId })
    expect((await whoami(reissued.accessToken)).json()).toMatchObject({ workspace })

    reasons.length = 0
    const refreshed = await refresh(signed.refreshToken)
    expect(reasons).toEqual(['refresh'])
    expect(decodeJwt(refreshed.json().accessToken).wsp).toBe(workspace)

    workspaces.delete(signed.sessionId)
    const again = await refresh(refreshed.json().refreshToken)
    expect(decodeJwt(again.json().accessToken)).not.toHaveProperty('wsp')
  })

  it('a change inside the refresh grace window is not undone by a replayed refresh', async () => {
    const signed = await signIn()
    const rotated = await refresh(signed.refreshToken)
    const workspace = randomUUID()
    workspaces.set(signed.sessionId, workspace)
    // The same token again within 2 s: the same successor, with the claim as it is now.
    const replay = await refresh(signed.refreshToken)
    expect(replay.statusCode).toBe(200)
    expect(replay.json().refreshToken).toBe(rotated.json().refreshToken)
    expect(decodeJwt(replay.json().accessToken).wsp).toBe(workspace)
  })

  it('refuses to reissue for revoked, unknown, malformed and expired sessions', async () => {
    const signed = await signIn()
    await t.app.auth.sessions.revoke(signed.sessionId, 'logout')
    const refused = { code: 'ACME_AUTH_INVALID_TOKEN', statusCode: 401 }
    await expect(t.app.auth.sessions.reissue(signed.sessionId)).rejects.toMatchObject(refused)
    await expect(t.app.auth.sessions.reissue(randomUUID())).rejects.toMatchObject(refused)
    await expect(t.app.auth.sessions.reissue('not-a-uuid')).rejects.toMatchObject(refused)

    const stale = await signIn()
    t.clock.advance(31 * 24 * 3_600)
    try {
      await expect(t.app.auth.sessions.reissue(stale.sessionId)).rejects.toMatchObject(refused)
    } finally {
      t.clock.advance(-31 * 24 * 3_600)
    }
  })

  it('refuses a token whose declared claim fails its schema, and drops undeclared claims', async () => {
    const signed = await signIn()
    const sub = String(decodeJwt(signed.accessToken).sub)
    const forged = await t.app.auth.tokens.signAccess({
      sub,
      sid: signed.sessionId,
      custom: { wsp: 'not-a-uuid' },
    })
    const response = await whoami(forged.token)
    expect(response.statusCode).toBe(401)
    expect(response.json().code).toBe('ACME_AUTH_INVALID_TOKEN')

    await expect(
      t.app.auth.tokens.signAccess({ sub, sid: signed.sessionId, custom: { role: 'admin' } }),
    ).rejects.toThrow('no extension declares the claim "role"')
  })

  it('hands API keys their stored columns, and refuses columns no extension declared', async () => {
    const signed = await signIn()
    const sub = String(decodeJwt(signed.accessToken).sub)
    await expect(
      t.app.auth.apiKeys.create(sub, {
        name: 'ci',
        scopes: [],
        columns: { keyHash: '0'.repeat(64) } as never,
      }),
    ).rejects.toThrow(TypeError)
    const { key } = await t.app.auth.apiKeys.create(sub, { name: 'ci', scopes: [] })
    sources.length = 0
    const response = await t.app.inject({ method: 'GET', url: '/whoami', headers: bearer(key) })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({
      type: 'apiKey',
      keyId: expect.any(String),
      userId: sub,
      scopes: [],
    })
    expect(sources).toEqual(['apiKey'])
  })
})

describe('registering an extension', () => {
  it('refuses registration after ready: requests already rely on what was declared', () => {
    expect(() => t.app.auth.extend({ name: 'late' })).toThrow('before ready()')
  })

  it('refuses reserved claims and columns, names already taken, and odd identifiers', () => {
    const extensions = new AuthExtensions()
    extensions.add({ name: 'first', claims: { wsp: z.string() }, apiKeyColumns: ['teamId'] })
    const add = (extension: AuthExtension) => () => extensions.add(extension)
    expect(add({ name: 'b', claims: { sub: z.string() } })).toThrow(
      'may not declare the claim "sub"',
    )
    expect(add({ name: 'b', claims: { wsp: z.string() } })).toThrow("already first's")
    expect(add({ name: 'b', apiKeyColumns: ['keyHash'] })).toThrow('"keyHash"')
    expect(add({ name: 'b', apiKeyColumns: ['teamId'] })).toThrow("already first's")
    expect(add({ name: 'b', apiKeyColumns: ['team id'] })).toThrow('may not declare')
  })

  it('refuses an extension that sets a claim it did not declare', async () => {
    const extensions = new AuthExtensions()
    extensions.add({ name: 'sneaky', tokenClaims: () => ({ sub: 'someone-else' }) })
    await expect(
      extensions.claimsFor({ sessionId: randomUUID(), userId: randomUUID() }, 'login'),
    ).rejects.toThrow('sneaky set claim "sub" it did not declare')
  })
})
