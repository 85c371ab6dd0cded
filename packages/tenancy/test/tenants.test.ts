import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { comparable } from './support/compare.js'
import { notesRoutes } from './support/notes-routes.js'

let t: TenancyTestApp
type User = { userId: string; token: string }
let owner: User
let member: User
let outsider: User

beforeAll(async () => {
  t = await createTenancyApp({}, { label: 'tenants', routes: notesRoutes })
  owner = await signUp(t, 'owner@initech.test')
  member = await signUp(t, 'member@initech.test')
  outsider = await signUp(t, 'outsider@other.test')
})

afterAll(async () => {
  await t?.close()
})

const refresh = (refreshToken: string) =>
  t.app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })

/** An access token's payload (the tests' own tokens: no need to verify them here). */
const decodeJwt = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'))

/** The session's active tenant as stored: tenancy's column on auth's session row. */
async function storedTenant(sessionId: string): Promise<string | null> {
  const db = t.app.prisma as unknown as {
    authSession: {
      findUniqueOrThrow(args: object): Promise<{ activeTenantId: string | null }>
    }
  }
  return (await db.authSession.findUniqueOrThrow({ where: { id: sessionId } })).activeTenantId
}

describe('tenants', () => {
  it('creates a tenant whose creator is its owner, on the default plan', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/tenants',
      headers: bearer(owner.token),
      payload: { name: 'Initech', slug: 'initech' },
    })
    expect(response.statusCode).toBe(201)
    expect(response.json()).toMatchObject({
      name: 'Initech',
      slug: 'initech',
      plan: 'starter',
      status: 'active',
      roles: ['owner'],
    })
    const mine = await t.app.inject({ url: '/tenants', headers: bearer(owner.token) })
    expect(mine.json().items.map((item: { slug: string }) => item.slug)).toContain('initech')
  })

  it('refuses a slug in use with 409 and bad input with 400, creating nothing', async () => {
    const taken = await t.app.inject({
      method: 'POST',
      url: '/tenants',
      headers: bearer(outsider.token),
      payload: { name: 'Copy', slug: 'initech' },
    })
    expect(taken.statusCode).toBe(409)
    expect(taken.json().code).toBe('ACME_TENANCY_SLUG_TAKEN')
    for (const payload of [
      {},
      { name: '' },
      { name: 'x', slug: 'Bad Slug' },
      { name: 'x', plan: 'enterprise' },
    ]) {
      const bad = await t.app.inject({
        method: 'POST',
        url: '/tenants',
        headers: bearer(outsider.token),
        payload,
      })
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400)
    }
    const mine = await t.app.inject({ url: '/tenants', headers: bearer(outsider.token) })
    expect(mine.json().items).toEqual([])
  })

  it('requires authentication', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/tenants', payload: { name: 'x' } })
    expect(response.statusCode).toBe(401)
  })

  it('answers a tenant the caller is not in exactly like one that does not exist', async () => {
    const tenant = await createTenant(t, owner.token, 'Private')
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const payload = method === 'PATCH' ? { payload: { name: 'x' } } : {}
      const foreign = await t.app.inject({
        method,
        url: `/tenants/${tenant.id}`,
        headers: bearer(outsider.token),
        ...payload,
      })
      const missing = await t.app.inject({
        method,
        url: `/tenants/${randomUUID()}`,
        headers: bearer(outsider.token),
        ...payload,
      })
      expect(foreign.statusCode, method).toBe(404)
      expect(comparable(foreign)).toEqual(comparable(missing))
    }
    const still = await t.app.inject({ url: `/tenants/${tenant.id}`, headers: bearer(owner.token) })
    expect(still.json().name).toBe('Private')
  })

  it('lets owners rename and delete; members cannot', async () => {
    const tenant = await createTenant(t, owner.token, 'Renamable')
    await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
    const denied = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}`,
      headers: bearer(member.token),
      payload: { name: 'Hijacked' },
    })
    expect(denied.statusCode).toBe(403)
    expect(denied.json().code).toBe('ACME_TENANCY_FORBIDDEN')
    const renamed = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}`,
      headers: bearer(owner.token),
      payload: { name: 'Renamed', settings: { locale: 'de' } },
    })
    expect(renamed.statusCode).toBe(200)
    expect(renamed.json()).toMatchObject({ name: 'Renamed', settings: { locale: 'de' } })
    const extra = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}`,
      headers: bearer(owner.token),
      payload: { plan: 'enterprise' },
    })
    expect(extra.statusCode).toBe(400)
    expect((await t.app.tenancy.tenants.get(tenant.id)).plan).toBe('starter')
    const memberDelete = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}`,
      headers: bearer(member.token),
    })
    expect(memberDelete.statusCode).toBe(403)
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}`,
      headers: bearer(owner.token),
    })
    expect(deleted.statusCode).toBe(204)
    const gone = await t.app.inject({ url: `/tenants/${tenant.id}`, headers: bearer(owner.token) })
    expect(gone.statusCode).toBe(404)
  })
})

describe('members', () => {
  it('lists members, changes roles and refuses to lose the last owner', async () => {
    const tenant = await createTenant(t, owner.token, 'Members')
    await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/members`,
      headers: bearer(member.token),
    })
    expect(list.statusCode).toBe(200)
    const items = list.json().items as Array<Record<string, unknown>>
    expect(items.map((m) => m.email).sort()).toEqual(['member@initech.test', 'owner@initech.test'])
    expect(JSON.stringify(items)).not.toMatch(/passwordHash|password_hash/)

    const selfPromote = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}/members/${member.userId}`,
      headers: bearer(member.token),
      payload: { roles: ['owner'] },
    })
    expect(selfPromote.statusCode).toBe(403)

    const demoteLast = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}/members/${owner.userId}`,
      headers: bearer(owner.token),
      payload: { roles: ['member'] },
    })
    expect(demoteLast.statusCode).toBe(409)
    expect(demoteLast.json().code).toBe('ACME_CORE_LAST_OWNER')

    const leaveLast = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/members/${owner.userId}`,
      headers: bearer(owner.token),
    })
    expect(leaveLast.statusCode).toBe(409)

    const badRole = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}/members/${member.userId}`,
      headers: bearer(owner.token),
      payload: { roles: ['superuser'] },
    })
    expect(badRole.statusCode).toBe(400)

    const promote = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}/members/${member.userId}`,
      headers: bearer(owner.token),
      payload: { roles: ['admin'] },
    })
    expect(promote.statusCode).toBe(200)
    expect(promote.json().roles).toEqual(['admin'])
    // The change is visible on the very next request (cached memberships were dropped).
    const asAdmin = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}`,
      headers: bearer(member.token),
      payload: { name: 'By admin' },
    })
    expect(asAdmin.statusCode).toBe(200)

    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/members/${member.userId}`,
      headers: bearer(owner.token),
    })
    expect(removed.statusCode).toBe(204)
    const after = await t.app.inject({
      url: `/tenants/${tenant.id}`,
      headers: bearer(member.token),
    })
    expect(after.statusCode).toBe(404)
  })

  it('lets a member leave, and keeps the last owner', async () => {
    const tenant = await createTenant(t, owner.token, 'Leaving')
    await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['viewer'])
    const left = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/membership`,
      headers: bearer(member.token),
    })
    expect(left.statusCode).toBe(204)
    const gone = await t.app.inject({ url: `/tenants/${tenant.id}`, headers: bearer(member.token) })
    expect(gone.statusCode).toBe(404)
    const lastOwner = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/membership`,
      headers: bearer(owner.token),
    })
    expect(lastOwner.statusCode).toBe(409)
    expect(lastOwner.json().code).toBe('ACME_CORE_LAST_OWNER')
  })

  it('answers an unknown member with 404', async () => {
    const tenant = await createTenant(t, owner.token, 'Unknown member')
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/members/${outsider.userId}`,
      headers: bearer(owner.token),
    })
    expect(response.statusCode).toBe(404)
  })
})

describe('switching tenant', () => {
  it('issues a token for the tenant, which later requests resolve without a header', async () => {
    const tenant = await createTenant(t, owner.token, 'Switch')
    const switched = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/switch`,
      headers: bearer(owner.token),
    })
    expect(switched.statusCode).toBe(200)
    const { accessToken } = switched.json<{ accessToken: string }>()
    const created = await t.app.inject({
      method: 'POST',
      url: '/notes',
      headers: bearer(accessToken),
      payload: { title: 'via token' },
    })
    expect(created.statusCode).toBe(201)
    expect(created.json().tenantId).toBe(tenant.id)

    const refused = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/switch`,
      headers: bearer(outsider.token),
    })
    expect(refused.statusCode).toBe(404)
  })

  it('keeps the tenant on the session: every refresh carries it, a new switch replaces it', async () => {
    const user = await signUp(t, `keeper-${randomUUID()}@initech.test`)
    const sessionId = String(decodeJwt(user.token).sid)
    expect(decodeJwt(user.token)).not.toHaveProperty('tid')
    const first = await createTenant(t, user.token, 'Keep one')
    const second = await createTenant(t, user.token, 'Keep two')
    const switchTo = (tenantId: string) =>
      t.app.inject({
        method: 'POST',
        url: `/tenants/${tenantId}/switch`,
        headers: bearer(user.token),
      })

    expect(decodeJwt((await switchTo(first.id)).json().accessToken).tid).toBe(first.id)
    expect(await storedTenant(sessionId)).toBe(first.id)
    const refreshed = await refresh(user.refreshToken)
    expect(decodeJwt(refreshed.json().accessToken).tid).toBe(first.id)
    const whoami = await t.app.inject({
      url: '/auth/me',
      headers: bearer(refreshed.json().accessToken),
    })
    expect(whoami.statusCode).toBe(200)

    expect(decodeJwt((await switchTo(second.id)).json().accessToken).tid).toBe(second.id)
    const again = await refresh(refreshed.json().refreshToken)
    expect(decodeJwt(again.json().accessToken).tid).toBe(second.id)
  })

  it('refuses to switch a revoked session, and leaves its tenant as it was', async () => {
    const user = await signUp(t, `revoked-${randomUUID()}@initech.test`)
    const sessionId = String(decodeJwt(user.token).sid)
    const tenant = await createTenant(t, user.token, 'Revoked switch')
    await t.app.auth.sessions.revoke(sessionId, 'logout')
    const switched = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/switch`,
      headers: bearer(user.token),
    })
    expect(switched.statusCode).toBe(401)
    expect(switched.json().code).toBe('ACME_AUTH_INVALID_TOKEN')
    expect(await storedTenant(sessionId)).toBeNull()
  })

  it('never lets a token for tenant A read tenant B through the header', async () => {
    const a = await createTenant(t, owner.token, 'Token A')
    const b = await createTenant(t, outsider.token, 'Token B')
    const switched = await t.app.inject({
      method: 'POST',
      url: `/tenants/${a.id}/switch`,
      headers: bearer(owner.token),
    })
    const { accessToken } = switched.json<{ accessToken: string }>()
    const response = await t.app.inject({
      url: '/notes',
      headers: { ...bearer(accessToken), 'x-tenant-id': b.id },
    })
    expect(response.statusCode).toBe(404)
  })
})
