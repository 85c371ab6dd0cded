import { TEST_REDIS_URL } from '@acme/test-support'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import {
  call,
  createDocsApp,
  member,
  ownerQuery,
  type Team,
  team,
  type User,
  waitUntil,
} from './support/fixtures.js'

// Both instances sign with the same key, as a real deployment configures it.
const sharedKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-1',
  alg: 'EdDSA',
  x: 'j3s0Pb6I5Rp6UXSvOTZY7GYp2L9q52kShCZcpzva2Hk',
  d: 'HsowerHb7hnZNvtT4eGREpiOXvvx6YqMhWUbkZnov1I',
}
const auth = {
  jwt: { issuer: 'https://api.initech.test', privateKeys: [sharedKey] },
  throttle: { ipMax: 10_000 },
}

let first: RbacTestApp
let second: RbacTestApp
let a: Team
let redis: Redis

beforeAll(async () => {
  first = await createDocsApp('rbacmulti', {}, { auth })
  if (!first.redisPrefix) throw new Error('the harness gave no Redis prefix')
  second = await createDocsApp(
    'rbacmulti',
    {},
    { auth, database: first.db, redisPrefix: first.redisPrefix },
  )
  a = await team(first, 'multi')
  redis = new Redis(TEST_REDIS_URL)
})
afterAll(async () => {
  await redis?.quit()
  await second?.close()
  await first?.close()
})

async function doc(ownerId: string): Promise<string> {
  const [row] = await ownerQuery<{ id: string }>(
    first,
    "INSERT INTO docs (id, tenant_id, owner_id, title) VALUES (gen_random_uuid(), $1, $2, 'draft') RETURNING id",
    [a.tenantId, ownerId],
  )
  return row?.id ?? ''
}

const editStatus = async (instance: RbacTestApp, who: User, id: string) =>
  (
    await call(instance, who, a.tenantId, {
      method: 'PATCH',
      url: `/docs/${id}`,
      payload: { title: 'edit' },
    })
  ).statusCode

/** Polls the other instance until the call is refused; the time it took, under a second. */
async function refusedWithinASecond(probe: () => Promise<number>): Promise<void> {
  const elapsed = await waitUntil(async () => (await probe()) === 403, 2_000)
  expect(elapsed).toBeLessThan(1_000)
}

describe('a change on one instance is enforced by the other within 1 s', () => {
  it('a role change (PUT /rbac/members/:userId/roles)', async () => {
    const writer = await member(first, a.tenantId, 'multi-writer', ['admin'])
    const target = await doc(a.owner.userId)
    // Both instances have the admin's permissions in memory.
    expect(await editStatus(first, writer, target)).toBe(200)
    expect(await editStatus(second, writer, target)).toBe(200)

    const demoted = await call(first, a.owner, a.tenantId, {
      method: 'PUT',
      url: `/rbac/members/${writer.userId}/roles`,
      payload: { roles: ['viewer'] },
    })
    expect(demoted.statusCode, demoted.body).toBe(200)
    expect(await editStatus(first, writer, target)).toBe(403)
    await refusedWithinASecond(() => editStatus(second, writer, target))
  })

  it("a change to a custom role's permissions", async () => {
    const created = await call(first, a.owner, a.tenantId, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'multi-editor', permissions: ['docs:read', 'docs:write'] },
    })
    expect(created.statusCode, created.body).toBe(201)
    const editor = await member(first, a.tenantId, 'multi-editor', ['multi-editor'])
    const target = await doc(a.owner.userId)
    expect(await editStatus(second, editor, target)).toBe(200)

    const narrowed = await call(first, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${created.json().id}`,
      payload: { permissions: ['docs:read'] },
    })
    expect(narrowed.statusCode).toBe(200)
    await refusedWithinASecond(() => editStatus(second, editor, target))
  })

  it("a demotion through tenancy's PATCH /tenants/:id/members/:userId", async () => {
    const writer = await member(first, a.tenantId, 'multi-writer-t', ['admin'])
    const target = await doc(a.owner.userId)
    expect(await editStatus(second, writer, target)).toBe(200)
    const demoted = await call(first, a.owner, undefined, {
      method: 'PATCH',
      url: `/tenants/${a.tenantId}/members/${writer.userId}`,
      payload: { roles: ['member'] },
    })
    expect(demoted.statusCode, demoted.body).toBe(200)
    await refusedWithinASecond(() => editStatus(second, writer, target))
  })

  it('holds whichever of the two broadcasts (memberships, permissions) arrives first', async () => {
    // A change made on the first instance announces itself twice: tenancy's membership message,
    // then rbac's permission message, on two channels. Either may arrive first (they are published
    // by two services, one after the other, and a publish may fail and be retried).
    const writer = await member(first, a.tenantId, 'multi-race', ['admin'])
    const target = await doc(a.owner.userId)
    expect(await editStatus(second, writer, target)).toBe(200)
    const prefix = first.redisPrefix ?? ''
    await ownerQuery(
      first,
      "UPDATE memberships SET roles = '{viewer}' WHERE tenant_id = $1 AND user_id = $2",
      [a.tenantId, writer.userId],
    )
    // rbac's message first...
    await redis.publish(
      `${prefix}rbac:permissions`,
      JSON.stringify({
        origin: 'another-instance',
        message: { tenantId: a.tenantId, principalId: writer.userId },
      }),
    )
    await refusedWithinASecond(() => editStatus(second, writer, target))
    // ...then tenancy's: once both have arrived, the change still holds.
    await redis.publish(
      `${prefix}tenancy:memberships`,
      // Tenancy's membership cache names one member's entry `m:<tenant>:<user>`.
      JSON.stringify({
        origin: 'another-instance',
        message: { keys: [`m:${a.tenantId}:${writer.userId}`] },
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(await editStatus(second, writer, target)).toBe(403)
  })
})
