import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { manualClock, sleep, waitFor } from '@acme/test-kit'
import type { LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PLANS } from '../src/index.js'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'

const TTL_SECONDS = 7 * 86_400
const ACCEPT_URL = 'https://api.initech.test/accept-invitation'
const starter = DEFAULT_PLANS.starter as (typeof DEFAULT_PLANS)[string]

let t: TenancyTestApp
const clock = manualClock()
type User = { userId: string; token: string; email: string }
let owner: User
let admin: User
let member: User
let outsider: User
let tenant: { id: string }
let otherTenant: { id: string }
/** Every token mailed during the file, to prove none is stored or logged. */
const tokens = new Set<string>()

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')
const uniqueEmail = (label: string) => `${label}-${randomBytes(3).toString('hex')}@invitee.test`

async function user(email: string): Promise<User> {
  return { ...(await signUp(t, email)), email }
}

function invite(
  as: User,
  payload: Record<string, unknown>,
  tenantId = tenant.id,
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: `/tenants/${tenantId}/invitations`,
    headers: bearer(as.token),
    payload,
  })
}

function accept(as: User, token: string) {
  return t.app.inject({
    method: 'POST',
    url: '/invitations/accept',
    headers: bearer(as.token),
    payload: { token },
  })
}

const invitationMails = (to: string) =>
  t.app.mailer.sent.filter((mail) => mail.to === to && mail.subject.includes('invited you'))

/** Sending is a job: waits for the `count`-th invitation mail to `to` and returns its token. */
async function mailedToken(to: string, count = 1): Promise<string> {
  const mails = await waitFor(() => invitationMails(to).length >= count && invitationMails(to))
  const mail = mails[count - 1]
  const token = mail?.text.match(/accept-invitation\?token=([A-Za-z0-9_-]+)/)?.[1]
  if (!token) throw new Error(`no link in ${mail?.text}`)
  tokens.add(token)
  return token
}

/** Invites and returns the stored invitation with its mailed token. */
async function invited(email: string, roles = ['member'], as = owner, tenantId = tenant.id) {
  const before = invitationMails(email).length
  const response = await invite(as, { email, roles }, tenantId)
  expect(response.statusCode, response.body).toBe(201)
  return { id: response.json<{ id: string }>().id, token: await mailedToken(email, before + 1) }
}

async function asOwner<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

const invitationRows = (email: string) =>
  asOwner<{
    id: string
    tenant_id: string
    email: string
    roles: string[]
    token_hash: string
    invited_by_id: string | null
    expires_at: Date
    accepted_at: Date | null
    revoked_at: Date | null
  }>('SELECT * FROM invitations WHERE email = $1 ORDER BY created_at', [email])

const membershipOf = async (tenantId: string, userId: string) =>
  (
    await asOwner<{ roles: string[] }>(
      'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
      [tenantId, userId],
    )
  )[0] ?? null

beforeAll(async () => {
  t = await createTenancyApp(
    {
      clock: clock.now,
      plans: { starter: { ...starter, seats: 100 }, duo: { ...starter, label: 'Duo', seats: 2 } },
      // Frozen time never refills the per-IP budget every injected request shares.
      rateLimit: { enabled: false },
    },
    { label: 'invitations', core: { rateLimit: false } },
  )
  owner = await user('owner@initech.test')
  admin = await user('admin@initech.test')
  member = await user('member@initech.test')
  outsider = await user('outsider@other.test')
  tenant = await createTenant(t, owner.token, 'Initech')
  otherTenant = await createTenant(t, outsider.token, 'Other')
  await t.app.tenancy.tenants.addMember(tenant.id, admin.userId, ['admin'])
  await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
})

afterAll(async () => {
  await t?.close()
})

describe('inviting', () => {
  it('stores the invitation, mails a link from the configured base URL, and never returns the token', async () => {
    const email = uniqueEmail('new')
    const response = await invite(owner, { email: email.toUpperCase(), roles: ['admin'] })
    expect(response.statusCode).toBe(201)
    const body = response.json<Record<string, unknown>>()
    expect(Object.keys(body).sort()).toEqual([
      'createdAt',
      'email',
      'expiresAt',
      'id',
      'invitedById',
      'roles',
    ])
    expect(body).toMatchObject({ email, roles: ['admin'], invitedById: owner.userId })
    expect(new Date(body.expiresAt as string).getTime()).toBe(
      clock.now().getTime() + TTL_SECONDS * 1_000,
    )

    const token = await mailedToken(email)
    const [mail] = invitationMails(email)
    expect(mail?.subject).toBe('owner@initech.test invited you to Initech on Initech')
    expect(mail?.text).toContain(`${ACCEPT_URL}?token=${token}`)
    expect(mail?.html).toContain(`href="${ACCEPT_URL}?token=${token}"`)
    expect(mail?.text).toContain('expires in 7 days')
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(response.body).not.toContain(token)

    const [row] = await invitationRows(email)
    expect(row).toMatchObject({
      id: body.id,
      tenant_id: tenant.id,
      roles: ['admin'],
      token_hash: sha256(token),
      invited_by_id: owner.userId,
      accepted_at: null,
      revoked_at: null,
    })
    expect(JSON.stringify(row)).not.toContain(token)
  })

  it('lists pending invitations to owners and admins only', async () => {
    const email = uniqueEmail('pending')
    const { id } = await invited(email, ['viewer'], admin)
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/invitations`,
      headers: bearer(admin.token),
    })
    expect(list.statusCode).toBe(200)
    const items = list.json<{ items: Array<Record<string, unknown>> }>().items
    expect(items.find((item) => item.id === id)).toMatchObject({
      email,
      roles: ['viewer'],
      invitedById: admin.userId,
    })
    expect(JSON.stringify(items)).not.toMatch(/token/i)
    for (const as of [member, outsider]) {
      const denied = await t.app.inject({
        url: `/tenants/${tenant.id}/invitations`,
        headers: bearer(as.token),
      })
      expect(denied.statusCode).toBe(as === member ? 403 : 404)
    }
  })

  it('lets only owners invite owners', async () => {
    const email = uniqueEmail('owner-by-admin')
    const byAdmin = await invite(admin, { email, roles: ['member', 'owner'] })
    expect(byAdmin.statusCode).toBe(403)
    expect(byAdmin.json().code).toBe('ACME_TENANCY_FORBIDDEN')
    expect(await invitationRows(email)).toEqual([])
    const byOwner = await invited(uniqueEmail('owner-by-owner'), ['owner'])
    // 32 random bytes, base64url: a real link was mailed, not an empty one.
    expect(byOwner.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await sleep(200)
    expect(invitationMails(email)).toEqual([])
  })

  it('refuses members and non-members', async () => {
    const email = uniqueEmail('by-member')
    const byMember = await invite(member, { email, roles: ['member'] })
    expect(byMember.statusCode).toBe(403)
    expect(byMember.json().code).toBe('ACME_TENANCY_FORBIDDEN')
    const byOutsider = await invite(outsider, { email, roles: ['member'] })
    expect(byOutsider.statusCode).toBe(404)
    expect(byOutsider.json().code).toBe('ACME_TENANCY_TENANT_NOT_FOUND')
    const anonymous = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/invitations`,
      payload: { email, roles: ['member'] },
    })
    expect(anonymous.statusCode).toBe(401)
    expect(await invitationRows(email)).toEqual([])
    await sleep(200)
    expect(invitationMails(email)).toEqual([])
  })

  it('answers 409 for an address that already belongs to a member, in any case', async () => {
    for (const email of ['member@initech.test', 'ADMIN@Initech.test', 'owner@initech.test']) {
      const response = await invite(owner, { email, roles: ['member'] })
      expect(response.statusCode, email).toBe(409)
      expect(response.json().code).toBe('ACME_TENANCY_ALREADY_MEMBER')
      expect(await invitationRows(email.toLowerCase())).toEqual([])
    }
  })

  it('refuses bad input with 400 and stores or mails nothing', async () => {
    const email = uniqueEmail('bad')
    const before = (await asOwner('SELECT id FROM invitations')).length
    for (const payload of [
      {},
      { email },
      { email: 'not-an-email', roles: ['member'] },
      { email, roles: [] },
      { email, roles: ['superuser'] },
      { email, roles: 'member' },
      { email, roles: Array(11).fill('member') },
      { email, roles: ['member'], tenantId: otherTenant.id },
      { email, roles: ['member'], token: 'chosen-by-the-client' },
      { email: `${'x'.repeat(320)}@a.test`, roles: ['member'] },
    ]) {
      const response = await invite(owner, payload)
      expect(response.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400)
    }
    const badTenant = await t.app.inject({
      method: 'POST',
      url: '/tenants/not-a-uuid/invitations',
      headers: bearer(owner.token),
      payload: { email, roles: ['member'] },
    })
    expect(badTenant.statusCode).toBe(404)
    expect((await asOwner('SELECT id FROM invitations')).length).toBe(before)
    await sleep(200)
    expect(invitationMails(email)).toEqual([])
  })
})

describe('revoking', () => {
  it('stops the link from working and frees nothing else', async () => {
    const email = uniqueEmail('revoked')
    const invitee = await user(email)
    const { id, token } = await invited(email)
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/invitations/${id}`,
      headers: bearer(admin.token),
    })
    expect(response.statusCode).toBe(204)
    const [row] = await invitationRows(email)
    expect(row?.revoked_at).toBeInstanceOf(Date)
    const refused = await accept(invitee, token)
    expect(refused.statusCode).toBe(400)
    expect(refused.json().code).toBe('ACME_TENANCY_INVITATION_INVALID')
    expect(await membershipOf(tenant.id, invitee.userId)).toBeNull()
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/invitations`,
      headers: bearer(owner.token),
    })
    expect(list.json().items.map((item: { id: string }) => item.id)).not.toContain(id)
    // Revoking twice: nothing pending under that id any more.
    const again = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/invitations/${id}`,
      headers: bearer(admin.token),
    })
    expect(again.statusCode).toBe(404)
  })

  it('answers 404 alike for an unknown invitation and another tenant’s, which stays usable', async () => {
    const email = uniqueEmail('theirs')
    const theirs = await invited(email, ['member'], { ...outsider }, otherTenant.id)
    const revoke = (invitationId: string) =>
      t.app.inject({
        method: 'DELETE',
        url: `/tenants/${tenant.id}/invitations/${invitationId}`,
        headers: bearer(owner.token),
      })
    const foreign = await revoke(theirs.id)
    const unknown = await revoke(randomUUID())
    expect(foreign.statusCode).toBe(404)
    expect(unknown.statusCode).toBe(404)
    const { requestId: _a, ...foreignBody } = foreign.json()
    const { requestId: _b, instance: _c, ...unknownBody } = unknown.json()
    const { instance: _d, ...foreignRest } = foreignBody
    expect(foreignRest).toEqual(unknownBody)
    const [row] = await invitationRows(email)
    expect(row?.revoked_at).toBeNull()
    const invitee = await user(email)
    expect((await accept(invitee, theirs.token)).statusCode).toBe(200)
  })

  it('refuses members', async () => {
    const { id } = await invited(uniqueEmail('kept'))
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/invitations/${id}`,
      headers: bearer(member.token),
    })
    expect(response.statusCode).toBe(403)
    expect((await asOwner('SELECT revoked_at FROM invitations WHERE id = $1', [id]))[0]).toEqual({
      revoked_at: null,
    })
  })
})

describe('accepting', () => {
  it('makes the invitee a member with the invited roles, listed in GET /tenants', async () => {
    const email = uniqueEmail('joiner')
    const { id, token } = await invited(email, ['admin', 'viewer'])
    const invitee = await user(email)
    const joined: unknown[] = []
    const off = t.app.events.on('member.joined', (event) => {
      joined.push(event.payload)
    })
    const response = await accept(invitee, token)
    off()
    expect(response.statusCode).toBe(200)
    expect(joined).toEqual([
      { tenantId: tenant.id, userId: invitee.userId, invitationId: id, roles: ['admin', 'viewer'] },
    ])
    expect(response.json().tenant).toMatchObject({
      id: tenant.id,
      name: 'Initech',
      roles: ['admin', 'viewer'],
    })
    expect(await membershipOf(tenant.id, invitee.userId)).toEqual({ roles: ['admin', 'viewer'] })
    const [row] = await invitationRows(email)
    expect(row?.accepted_at).toBeInstanceOf(Date)
    const mine = await t.app.inject({ url: '/tenants', headers: bearer(invitee.token) })
    expect(mine.json().items).toEqual([
      expect.objectContaining({ id: tenant.id, roles: ['admin', 'viewer'] }),
    ])
    // The membership works at once (the cached "not a member" was dropped).
    const members = await t.app.inject({
      url: `/tenants/${tenant.id}/members`,
      headers: bearer(invitee.token),
    })
    expect(members.statusCode).toBe(200)
  })

  it('works once: a second accept, by anyone, is refused', async () => {
    const email = uniqueEmail('once')
    const { token } = await invited(email)
    const invitee = await user(email)
    expect((await accept(invitee, token)).statusCode).toBe(200)
    for (const as of [invitee, outsider]) {
      const again = await accept(as, token)
      expect(again.statusCode).toBe(400)
      expect(again.json().code).toBe('ACME_TENANCY_INVITATION_INVALID')
    }
    expect(await membershipOf(tenant.id, outsider.userId)).toBeNull()
  })

  it('accepts concurrently at most once', async () => {
    const email = uniqueEmail('race')
    const { token } = await invited(email)
    const invitee = await user(email)
    const results = await Promise.all(Array.from({ length: 5 }, () => accept(invitee, token)))
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400, 400, 400, 400])
  })

  it('expires after the configured time', async () => {
    const lateEmail = uniqueEmail('late')
    const justEmail = uniqueEmail('just')
    const late = await invited(lateEmail)
    const just = await invited(justEmail)
    const lateUser = await user(lateEmail)
    const justUser = await user(justEmail)
    clock.advance(TTL_SECONDS * 1_000 - 1_000)
    expect((await accept(justUser, just.token)).statusCode).toBe(200)
    clock.advance(1_000)
    const expired = await accept(lateUser, late.token)
    expect(expired.statusCode).toBe(400)
    expect(expired.json().code).toBe('ACME_TENANCY_INVITATION_INVALID')
    expect(await membershipOf(tenant.id, lateUser.userId)).toBeNull()
    expect((await invitationRows(lateEmail))[0]?.accepted_at).toBeNull()
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/invitations`,
      headers: bearer(owner.token),
    })
    expect(list.json().items.map((item: { email: string }) => item.email)).not.toContain(lateEmail)
  })

  it('refuses another account with 403 and changes nothing; the right account still can', async () => {
    const email = uniqueEmail('intended')
    const { token } = await invited(email)
    const other = await user(uniqueEmail('other'))
    const before = await invitationRows(email)
    const response = await accept(other, token)
    expect(response.statusCode).toBe(403)
    expect(response.json().code).toBe('ACME_TENANCY_INVITATION_EMAIL_MISMATCH')
    expect(JSON.stringify(response.json())).not.toContain(email)
    expect(await invitationRows(email)).toEqual(before)
    expect(await membershipOf(tenant.id, other.userId)).toBeNull()
    const mine = await t.app.inject({ url: '/tenants', headers: bearer(other.token) })
    expect(mine.json().items).toEqual([])
    const intended = await user(email)
    expect((await accept(intended, token)).statusCode).toBe(200)
  })

  it('refuses unknown and malformed tokens, and anonymous callers', async () => {
    const unknown = await accept(member, randomBytes(32).toString('base64url'))
    expect(unknown.statusCode).toBe(400)
    expect(unknown.json().code).toBe('ACME_TENANCY_INVITATION_INVALID')
    for (const token of ['short', 'x'.repeat(201)]) {
      expect((await accept(member, token)).statusCode).toBe(400)
    }
    const anonymous = await t.app.inject({
      method: 'POST',
      url: '/invitations/accept',
      payload: { token: randomBytes(32).toString('base64url') },
    })
    expect(anonymous.statusCode).toBe(401)
  })
})

describe('re-inviting', () => {
  it('replaces the pending invitation: the old link stops working, the new one works', async () => {
    const email = uniqueEmail('again')
    const first = await invited(email, ['viewer'])
    const second = await invited(email, ['member'])
    expect(second.id).not.toBe(first.id)
    const rows = await invitationRows(email)
    expect(rows.map((row) => row.revoked_at === null)).toEqual([false, true])
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/invitations`,
      headers: bearer(owner.token),
    })
    expect(
      list.json().items.filter((item: { email: string }) => item.email === email),
    ).toHaveLength(1)
    const invitee = await user(email)
    const old = await accept(invitee, first.token)
    expect(old.statusCode).toBe(400)
    expect(old.json().code).toBe('ACME_TENANCY_INVITATION_INVALID')
    const fresh = await accept(invitee, second.token)
    expect(fresh.statusCode).toBe(200)
    expect(fresh.json().tenant.roles).toEqual(['member'])
  })
})

describe('seats', () => {
  it('counts pending invitations as seats, and revoking frees one', async () => {
    const duoOwner = await user(uniqueEmail('duo-owner'))
    const duo = await createTenant(t, duoOwner.token, 'Duo')
    await t.app.tenancy.tenants.setPlan(duo.id, 'duo')
    const pendingEmail = uniqueEmail('seat-1')
    const pending = await invited(pendingEmail, ['member'], duoOwner, duo.id)

    const thirdEmail = uniqueEmail('seat-2')
    const full = await invite(duoOwner, { email: thirdEmail, roles: ['member'] }, duo.id)
    expect(full.statusCode).toBe(409)
    expect(full.json().code).toBe('ACME_TENANCY_SEAT_LIMIT')
    expect(await invitationRows(thirdEmail)).toEqual([])
    // Member adds are held to the same seats.
    const extra = await user(uniqueEmail('seat-added'))
    await expect(
      t.app.tenancy.tenants.addMember(duo.id, extra.userId, ['member']),
    ).rejects.toMatchObject({ code: 'ACME_TENANCY_SEAT_LIMIT' })
    expect(await membershipOf(duo.id, extra.userId)).toBeNull()

    // Re-inviting the pending address reuses its seat.
    const again = await invited(pendingEmail, ['admin'], duoOwner, duo.id)

    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${duo.id}/invitations/${again.id}`,
      headers: bearer(duoOwner.token),
    })
    expect(revoked.statusCode).toBe(204)
    const third = await invited(thirdEmail, ['member'], duoOwner, duo.id)
    const thirdUser = await user(thirdEmail)
    expect((await accept(thirdUser, third.token)).statusCode).toBe(200)
    // Owner + one member: full again, for invitations and member adds.
    const after = await invite(
      duoOwner,
      { email: uniqueEmail('seat-3'), roles: ['member'] },
      duo.id,
    )
    expect(after.statusCode).toBe(409)
    expect(pending.token).not.toBe(again.token)
    await sleep(200)
    expect(invitationMails(thirdEmail)).toHaveLength(1)
  })

  it('lets expired invitations free their seat', async () => {
    const duoOwner = await user(uniqueEmail('duo-owner-2'))
    const duo = await createTenant(t, duoOwner.token, 'Duo 2')
    await t.app.tenancy.tenants.setPlan(duo.id, 'duo')
    await invited(uniqueEmail('stale'), ['member'], duoOwner, duo.id)
    expect(
      (await invite(duoOwner, { email: uniqueEmail('blocked'), roles: ['member'] }, duo.id))
        .statusCode,
    ).toBe(409)
    clock.advance(TTL_SECONDS * 1_000)
    await invited(uniqueEmail('fresh'), ['member'], duoOwner, duo.id)
    // Member adds count seats by the same clock: the fresh invitation holds the last one...
    const extra = await user(uniqueEmail('added'))
    await expect(
      t.app.tenancy.tenants.addMember(duo.id, extra.userId, ['member']),
    ).rejects.toMatchObject({ code: 'ACME_TENANCY_SEAT_LIMIT' })
    // ...until it expires too.
    clock.advance(TTL_SECONDS * 1_000)
    await t.app.tenancy.tenants.addMember(duo.id, extra.userId, ['member'])
    expect(await membershipOf(duo.id, extra.userId)).toEqual({ roles: ['member'] })
  })
})

describe('secrecy', () => {
  it('never writes a token into the logs or the database', async () => {
    expect(tokens.size).toBeGreaterThan(10)
    const logs = t.rawLogs()
    const dump = JSON.stringify(await asOwner('SELECT * FROM invitations'))
    for (const token of tokens) {
      expect(logs).not.toContain(token)
      expect(dump).not.toContain(token)
      expect(dump).toContain(sha256(token))
    }
  })
})
