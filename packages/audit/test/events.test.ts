import { createHmac } from 'node:crypto'
import { waitFor } from '@acme/test-kit'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type AuditTestApp,
  allEntries,
  bearer,
  createAuditApp,
  createTenant,
  PASSWORD,
  signUp,
} from './support/app.js'

declare module '@acme/core' {
  interface AcmeEvents {
    /** A later plugin's configuration change, with its before and after. */
    'settings.changed': {
      tenantId: string
      flagKey: string
      before: unknown
      after: unknown
      by: string
    }
  }
}

/** Stands in for a plugin added later: it emits a change event, and knows nothing of audit. */
async function settingsRoutes(app: FastifyInstance) {
  app.post(
    '/settings-change',
    { config: { auth: 'required', tenant: 'required', permission: false } },
    async (request, reply) => {
      await app.events.emit('settings.changed', {
        tenantId: request.tenant?.id ?? '',
        flagKey: 'new-checkout',
        before: { enabled: false, rollout: { percent: 10 }, webhook: { secret: 'whsec_old' } },
        after: { enabled: true, rollout: { percent: 50 }, webhook: { secret: 'whsec_new' } },
        by: request.principal?.userId ?? '',
      })
      return reply.code(204).send()
    },
  )
}

let t: AuditTestApp
let owner: { userId: string; token: string; refreshToken: string }
let member: { userId: string; token: string; refreshToken: string }
let tenant: { id: string }
/** Every token the suite saw: none may reach a log line. */
const secrets: string[] = []

type Entry = Awaited<ReturnType<typeof allEntries>>[number]

/** The authenticator's current code (RFC 6238: SHA-1, 30 s, 6 digits) for a base32 secret. */
function totp(secret: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const char of secret.replace(/=+$/, '').toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, '0')
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => Number.parseInt(byte, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)))
  const mac = createHmac('sha1', key).update(counter).digest()
  const offset = (mac.at(-1) ?? 0) & 0x0f
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}

/** Waits for exactly one new entry of `action` (events not awaited by their emitter land later). */
async function oneEntry(
  action: string,
  seen: number,
  where: (entry: Entry) => boolean = () => true,
) {
  let matching: Entry[] = []
  await waitFor(
    async () => {
      matching = (await allEntries(t)).filter((entry) => entry.action === action && where(entry))
      return matching.length > seen
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  )
  expect(matching).toHaveLength(seen + 1)
  return matching.at(-1) as Entry
}

const count = async (action: string) =>
  (await allEntries(t)).filter((entry) => entry.action === action).length

/** LOG-01: who, tenant, what, on what, when (UTC), from where, which request. */
function expectComplete(entry: Entry, expected: Partial<Entry>) {
  expect(entry).toMatchObject(expected)
  expect(entry.ip).toBe('127.0.0.1')
  expect(entry.request_id).toEqual(expect.any(String))
  expect(Math.abs(Date.now() - entry.occurred_at.getTime())).toBeLessThan(120_000)
}

beforeAll(async () => {
  t = await createAuditApp(
    {},
    // No grace for a refresh token presented twice: the second use is reuse at once.
    {
      label: 'audit_events',
      auth: { sessions: { reuseGraceSeconds: 0 } },
      routes: settingsRoutes,
    },
  )
  owner = await signUp(t, 'owner@events.test')
  member = await signUp(t, 'member@events.test')
  secrets.push(owner.token, owner.refreshToken, member.token, member.refreshToken)
  tenant = await createTenant(t, owner.token, 'Events Inc')
  await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
})

afterAll(async () => {
  await t?.close()
})

describe('every plugin event becomes one audit entry (LOG-01)', () => {
  it('a login, in the app’s chain, with the user as actor and target', async () => {
    const seen = await count('user.logged_in')
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'owner@events.test', password: PASSWORD },
    })
    expect(login.statusCode).toBe(200)
    secrets.push(login.json<{ accessToken: string }>().accessToken)
    secrets.push(login.json<{ refreshToken: string }>().refreshToken)
    const entry = await oneEntry('user.logged_in', seen)
    expectComplete(entry, {
      tenant_id: null,
      actor: { type: 'user', id: owner.userId },
    })
    expect(entry.targets).toContainEqual({ type: 'user', id: owner.userId })
  })

  it('a failed login, anonymous, without the email or the password tried', async () => {
    const seen = await count('user.login_failed')
    const failed = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'owner@events.test', password: 'wrong horse battery' },
    })
    expect(failed.statusCode).toBe(401)
    const entry = await oneEntry('user.login_failed', seen)
    expectComplete(entry, { tenant_id: null, actor: { type: 'anonymous', id: null } })
    expect(JSON.stringify(entry)).not.toContain('wrong horse battery')
  })

  it('a refresh token reused, for the user it belongs to', async () => {
    const login = await t.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { email: 'member@events.test', password: PASSWORD },
    })
    const { refreshToken } = login.json<{ refreshToken: string }>()
    secrets.push(refreshToken, login.json<{ accessToken: string }>().accessToken)
    const first = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    })
    expect(first.statusCode).toBe(200)
    secrets.push(first.json<{ refreshToken: string }>().refreshToken)
    const seen = await count('auth.refresh_reuse_detected')
    const reused = await t.app.inject({
      method: 'POST',
      url: '/auth/refresh',
      payload: { refreshToken },
    })
    expect(reused.statusCode).toBe(401)
    const entry = await oneEntry('auth.refresh_reuse_detected', seen)
    expectComplete(entry, { tenant_id: null })
    expect(entry.targets).toContainEqual({ type: 'user', id: member.userId })
  })

  it('a password change, by the signed-in user', async () => {
    const seen = await count('user.password_changed')
    const changed = await t.app.inject({
      method: 'POST',
      url: '/auth/password/change',
      headers: bearer(owner.token),
      payload: { currentPassword: PASSWORD, newPassword: 'a new correct horse' },
    })
    expect(changed.statusCode).toBe(200)
    const entry = await oneEntry('user.password_changed', seen)
    expectComplete(entry, { tenant_id: null, actor: { type: 'user', id: owner.userId } })
    expect(entry.metadata).toEqual({ userId: owner.userId, via: 'change' })
  })

  it('MFA turned on, by the signed-in user', async () => {
    const setup = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/setup',
      headers: bearer(owner.token),
    })
    expect(setup.statusCode).toBe(200)
    const seen = await count('user.mfa_enabled')
    const enabled = await t.app.inject({
      method: 'POST',
      url: '/auth/mfa/totp/enable',
      headers: bearer(owner.token),
      payload: { code: totp(setup.json<{ secret: string }>().secret) },
    })
    expect(enabled.statusCode).toBe(200)
    const entry = await oneEntry('user.mfa_enabled', seen)
    expectComplete(entry, { tenant_id: null, actor: { type: 'user', id: owner.userId } })
    expect(entry.targets).toContainEqual({ type: 'user', id: owner.userId })
  })

  it('a password reset, asked for and done, without the link’s token', async () => {
    const email = 'reset@events.test'
    const user = await signUp(t, email)
    secrets.push(user.token, user.refreshToken)
    const askedSeen = await count('user.password_reset_requested')
    const forgot = await t.app.inject({
      method: 'POST',
      url: '/auth/password/forgot',
      payload: { email },
    })
    expect(forgot.statusCode).toBe(202)
    // Asked for anonymously and handled by a job: the app acts, the user is the target.
    const asked = await oneEntry('user.password_reset_requested', askedSeen)
    expect(asked).toMatchObject({ tenant_id: null, actor: { type: 'system', id: 'app' } })
    expect(asked.targets).toContainEqual({ type: 'user', id: user.userId })

    let token = ''
    await waitFor(() => {
      // The reset mail, not the address verification mail sent at sign-up (its link has a token too).
      const mail = t.app.mailer.sent.find(
        (sent) => sent.to === email && /reset/i.test(sent.subject) && /token=/.test(sent.text),
      )
      const link = /https?:\/\/\S*token=\S+/.exec(mail?.text ?? '')?.[0]
      token = link ? (new URL(link).searchParams.get('token') ?? '') : ''
      return token !== ''
    })
    secrets.push(token)
    const doneSeen = (await allEntries(t)).filter(
      (entry) => entry.action === 'user.password_changed' && entry.metadata.via === 'reset',
    ).length
    const reset = await t.app.inject({
      method: 'POST',
      url: '/auth/password/reset',
      payload: { token, password: 'a brand new horse' },
    })
    expect(reset.statusCode, reset.body).toBe(200)
    const done = await oneEntry(
      'user.password_changed',
      doneSeen,
      (entry) => entry.metadata.via === 'reset',
    )
    expectComplete(done, { tenant_id: null, actor: { type: 'user', id: user.userId } })
    expect(JSON.stringify(await allEntries(t))).not.toContain(token)
  })

  it('a tenant created, in the new tenant’s chain', async () => {
    const created = await createTenant(t, member.token, 'Fresh Co')
    // Counted in the new tenant's chain: the first tenant's entry may still be on its way.
    const entry = await oneEntry('tenant.created', 0, (row) => row.tenant_id === created.id)
    expectComplete(entry, {
      tenant_id: created.id,
      actor: { type: 'user', id: member.userId },
    })
    expect(entry.targets).toContainEqual({ type: 'tenant', id: created.id })
  })

  it('a role created and changed, and a member’s roles changed, in the tenant’s chain', async () => {
    const headers = { ...bearer(owner.token), 'x-tenant-id': tenant.id }
    const createdSeen = await count('role.created')
    const role = await t.app.inject({
      method: 'POST',
      url: '/rbac/roles',
      headers,
      payload: { name: 'auditor', permissions: ['audit:read'] },
    })
    expect(role.statusCode).toBe(201)
    const roleId = role.json<{ id: string }>().id
    const created = await oneEntry('role.created', createdSeen)
    expectComplete(created, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(created.targets).toContainEqual({ type: 'role', id: roleId })

    const updatedSeen = await count('role.updated')
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/rbac/roles/${roleId}`,
      headers,
      payload: { permissions: ['audit:read', 'audit:export'] },
    })
    expect(patch.statusCode).toBe(200)
    expectComplete(await oneEntry('role.updated', updatedSeen), { tenant_id: tenant.id })

    const rolesSeen = await count('member.roles_changed')
    const assign = await t.app.inject({
      method: 'PUT',
      url: `/rbac/members/${member.userId}/roles`,
      headers,
      payload: { roles: ['auditor'] },
    })
    expect(assign.statusCode).toBe(200)
    const changed = await oneEntry('member.roles_changed', rolesSeen)
    expectComplete(changed, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(changed.targets).toContainEqual({ type: 'user', id: member.userId })
    expect(changed.metadata).toMatchObject({ roles: ['auditor'] })
  })

  it('an API key created and revoked, for its owner, never the key', async () => {
    const createdSeen = await count('api_key.created')
    const created = await t.app.inject({
      method: 'POST',
      url: '/auth/api-keys',
      headers: bearer(owner.token),
      payload: { name: 'ci deploys', scopes: ['projects:read'] },
    })
    expect(created.statusCode).toBe(201)
    const { key, apiKey } = created.json<{ key: string; apiKey: { id: string } }>()
    secrets.push(key)
    const entry = await oneEntry('api_key.created', createdSeen)
    expectComplete(entry, { tenant_id: null, actor: { type: 'user', id: owner.userId } })
    expect(entry.targets).toEqual(
      expect.arrayContaining([
        { type: 'api_key', id: apiKey.id },
        { type: 'user', id: owner.userId },
      ]),
    )
    expect(entry.metadata).toMatchObject({ name: 'ci deploys', scopes: ['projects:read'] })

    const revokedSeen = await count('api_key.revoked')
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/auth/api-keys/${apiKey.id}`,
      headers: bearer(owner.token),
    })
    expect(revoked.statusCode).toBe(204)
    const gone = await oneEntry('api_key.revoked', revokedSeen)
    expectComplete(gone, { actor: { type: 'user', id: owner.userId } })
    expect(gone.targets).toContainEqual({ type: 'api_key', id: apiKey.id })
    expect(JSON.stringify(await allEntries(t))).not.toContain(key.slice(16))
  })

  it('a tenant’s API key created and revoked, in the tenant’s chain', async () => {
    const createdSeen = await count('api_key.created')
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: bearer(owner.token),
      payload: { name: 'billing sync', scopes: ['projects:read'] },
    })
    expect(created.statusCode).toBe(201)
    const { key, id } = created.json<{ key: string; id: string }>()
    secrets.push(key)
    const entry = await oneEntry('api_key.created', createdSeen)
    expectComplete(entry, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(entry.targets).toContainEqual({ type: 'api_key', id })

    const revokedSeen = await count('api_key.revoked')
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/api-keys/${id}`,
      headers: bearer(owner.token),
    })
    expect(revoked.statusCode).toBe(204)
    const gone = await oneEntry('api_key.revoked', revokedSeen)
    expectComplete(gone, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(gone.targets).toContainEqual({ type: 'api_key', id })
  })

  it('a member invited and an invitation revoked, in the tenant’s chain, never the link', async () => {
    const invitedSeen = await count('member.invited')
    const invite = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/invitations`,
      headers: bearer(owner.token),
      payload: { email: 'Newcomer@Events.test', roles: ['member'] },
    })
    expect(invite.statusCode).toBe(201)
    const invitationId = invite.json<{ id: string }>().id
    const entry = await oneEntry('member.invited', invitedSeen)
    expectComplete(entry, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(entry.targets).toContainEqual({ type: 'invitation', id: invitationId })
    expect(entry.metadata).toMatchObject({ email: 'newcomer@events.test', roles: ['member'] })
    const mail = await waitFor(() =>
      t.app.mailer.sent.find((sent) => sent.to === 'newcomer@events.test'),
    )
    const link = mail?.text.match(/token=([A-Za-z0-9_-]+)/)?.[1] ?? ''
    expect(link).not.toBe('')
    secrets.push(link)

    const revokedSeen = await count('invitation.revoked')
    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/invitations/${invitationId}`,
      headers: bearer(owner.token),
    })
    expect(revoked.statusCode).toBe(204)
    const gone = await oneEntry('invitation.revoked', revokedSeen)
    expectComplete(gone, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(gone.targets).toContainEqual({ type: 'invitation', id: invitationId })
    expect(JSON.stringify(await allEntries(t))).not.toContain(link)
  })

  it('a member removed, in the tenant’s chain', async () => {
    const seen = await count('member.removed')
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/members/${member.userId}`,
      headers: bearer(owner.token),
    })
    expect(removed.statusCode).toBe(204)
    const entry = await oneEntry('member.removed', seen)
    expectComplete(entry, { tenant_id: tenant.id, actor: { type: 'user', id: owner.userId } })
    expect(entry.targets).toContainEqual({ type: 'user', id: member.userId })
  })

  it('a user suspended by the app: a system actor, the user as target', async () => {
    const seen = await count('user.suspended')
    expect(await t.app.auth.accounts.suspend(member.userId)).toBe(true)
    const entry = await oneEntry('user.suspended', seen)
    expect(entry).toMatchObject({ tenant_id: null, actor: { type: 'system', id: 'app' } })
    expect(entry.targets).toContainEqual({ type: 'user', id: member.userId })
  })

  it('an event of a plugin added later, its before and after diffed, credentials dropped', async () => {
    const seen = await count('settings.changed')
    const response = await t.app.inject({
      method: 'POST',
      url: '/settings-change',
      headers: { ...bearer(owner.token), 'x-tenant-id': tenant.id },
    })
    expect(response.statusCode).toBe(204)
    const entry = await oneEntry('settings.changed', seen)
    expectComplete(entry, {
      tenant_id: tenant.id,
      actor: { type: 'user', id: owner.userId },
      metadata: { tenantId: tenant.id, flagKey: 'new-checkout', by: owner.userId },
      before: { enabled: false, rollout: { percent: 10 }, webhook: {} },
      after: { enabled: true, rollout: { percent: 50 }, webhook: {} },
      changes: [
        { path: '/enabled', before: false, after: true },
        { path: '/rollout/percent', before: 10, after: 50 },
      ],
    })
    expect(entry.targets).toContainEqual({ type: 'flag', id: 'new-checkout' })
    expect(JSON.stringify(await allEntries(t))).not.toContain('whsec_')
  })

  it('keeps every chain intact', async () => {
    for (const chain of new Set((await allEntries(t)).map((entry) => entry.tenant_id))) {
      expect(await t.app.audit.verify(chain)).toMatchObject({ valid: true, problem: null })
    }
  })

  it('never writes a password, a token or a JWT to the logs', () => {
    const logs = t.rawLogs()
    expect(logs.length).toBeGreaterThan(0)
    for (const secret of [
      PASSWORD,
      'a new correct horse',
      'wrong horse battery',
      'a brand new horse',
      ...secrets,
    ]) {
      expect(logs).not.toContain(secret)
    }
    // No JWT at all: three base64url parts starting with an encoded JSON header.
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/)
  })
})
