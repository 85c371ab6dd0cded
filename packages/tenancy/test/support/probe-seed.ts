import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { bearer, createTenant, PASSWORD, signUp, type TenancyTestApp } from './app.js'
import type { IdsByKind } from './probe-ids.js'
import { claimsOf } from './probe-jwt.js'

export interface SeededUser {
  userId: string
  email: string
  token: string
  /** The session the token belongs to (its `sid`). */
  sessionId: string
}

export interface SeededTenant {
  id: string
  slug: string
  owner: SeededUser
  admin: SeededUser
  member: SeededUser
  /** Seeded ids by kind; the first of each kind is the least disruptive to act on. */
  ids: IdsByKind
  /** Who may rightfully act on an id: its user for sessions and keys, else the tenant's owner. */
  actorOf: Map<string, SeededUser>
  /** Values that must never show in another tenant's responses: ids, emails, titles, slug. */
  secrets: string[]
  /** Rows of the tenant's lists, as the tenant's owner should see them. */
  counts: {
    notes: number
    members: number
    invitations: number
    ownerApiKeys: number
    tenantApiKeys: number
  }
}

const expectStatus = (response: LightMyRequestResponse, status: number, what: string) => {
  if (response.statusCode !== status) {
    throw new Error(`${what}: expected ${status}, got ${response.statusCode} ${response.body}`)
  }
}

async function login(t: TenancyTestApp, email: string): Promise<SeededUser> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD },
  })
  expectStatus(response, 200, `login ${email}`)
  const body = response.json<{ accessToken: string; user: { id: string } }>()
  return {
    userId: body.user.id,
    email,
    token: body.accessToken,
    sessionId: String(claimsOf(body.accessToken).sid),
  }
}

async function user(t: TenancyTestApp, email: string): Promise<SeededUser> {
  const created = await signUp(t, email)
  return {
    userId: created.userId,
    email,
    token: created.token,
    sessionId: String(claimsOf(created.token).sid),
  }
}

/**
 * An API key that belongs to the user alone (no tenant), written as the migration owner: auth's
 * POST /auth/api-keys cannot write it while tenancy's policies are installed (see the report).
 */
async function personalApiKey(t: TenancyTestApp, ownerId: string): Promise<string> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    const id = randomUUID()
    const prefix = `ak_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 12)}`
    await client.query(
      `INSERT INTO api_keys (id, owner_id, tenant_id, name, prefix, key_hash, scopes)
       VALUES ($1, $2, NULL, 'personal', $3, $4, '{}')`,
      [id, ownerId, prefix, createHash('sha256').update(randomUUID()).digest('hex')],
    )
    return id
  } finally {
    await client.end()
  }
}

/**
 * A tenant with an owner, an admin and a member (each signed in: a session each, two for the
 * owner), notes by two of them, a pending invitation, two tenant API keys of the owner and a
 * personal key of the admin. On the enterprise plan, so the probe's requests stay under the
 * per-tenant rate limit (which stays on: its headers are part of what must not differ).
 */
export async function seedTenant(t: TenancyTestApp, label: string): Promise<SeededTenant> {
  const domain = `${label}.probe.test`
  const owner = await user(t, `owner@${domain}`)
  const tenant = await createTenant(t, owner.token, `Probe ${label}`)
  await t.app.tenancy.tenants.setPlan(tenant.id, 'enterprise')
  const admin = await user(t, `admin@${domain}`)
  const member = await user(t, `member@${domain}`)
  await t.app.tenancy.tenants.addMember(tenant.id, admin.userId, ['admin'])
  await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
  const spare = await login(t, owner.email)

  const as = (who: SeededUser) => ({ ...bearer(who.token), 'x-tenant-id': tenant.id })
  const titles = [`${label}-secret-note-1`, `${label}-secret-note-2`, `${label}-secret-note-3`]
  const noteIds: string[] = []
  for (const [index, title] of titles.entries()) {
    const author = index === 0 ? member : owner
    const response = await t.app.inject({
      method: 'POST',
      url: '/notes',
      headers: as(author),
      payload: { title },
    })
    expectStatus(response, 201, `note ${title}`)
    noteIds.push(response.json<{ id: string }>().id)
  }

  const invitee = `invitee@${domain}`
  const invited = await t.app.inject({
    method: 'POST',
    url: `/tenants/${tenant.id}/invitations`,
    headers: as(owner),
    payload: { email: invitee, roles: ['member'] },
  })
  expectStatus(invited, 201, 'invitation')
  const invitationId = invited.json<{ id: string }>().id

  // Two: the control revokes one through auth's route and one through the tenant's.
  const tenantKeys = await Promise.all(
    ['service', 'deploy'].map((purpose) =>
      t.app.tenancy.withTenant(tenant.id, (db) =>
        db.apiKey.create({
          data: {
            ownerId: owner.userId,
            name: `${label} ${purpose} key`,
            prefix: `ak_${randomBytes(9).toString('hex').slice(0, 12)}`,
            keyHash: createHash('sha256').update(randomUUID()).digest('hex'),
            scopes: [],
          },
          select: { id: true },
        }),
      ),
    ),
  )
  const [tenantKey, secondTenantKey] = tenantKeys as [{ id: string }, { id: string }]
  const personalKey = await personalApiKey(t, admin.userId)

  const ids: IdsByKind = {
    tenant: [tenant.id],
    user: [member.userId, admin.userId, owner.userId],
    note: noteIds,
    invitation: [invitationId],
    session: [spare.sessionId, admin.sessionId, member.sessionId, owner.sessionId],
    apiKey: [tenantKey.id, secondTenantKey.id, personalKey],
  }
  const actorOf = new Map<string, SeededUser>([
    // Ended by the owner from their main session: ending another of one's sessions.
    [spare.sessionId, owner],
    [admin.sessionId, admin],
    [member.sessionId, member],
    [owner.sessionId, owner],
    [tenantKey.id, owner],
    [secondTenantKey.id, owner],
    [personalKey, admin],
  ])
  return {
    id: tenant.id,
    slug: tenant.slug,
    owner,
    admin,
    member,
    ids,
    actorOf,
    secrets: [
      ...Object.values(ids).flat(),
      owner.email,
      admin.email,
      member.email,
      invitee,
      tenant.slug,
      ...titles,
    ],
    counts: { notes: titles.length, members: 3, invitations: 1, ownerApiKeys: 2, tenantApiKeys: 2 },
  }
}
