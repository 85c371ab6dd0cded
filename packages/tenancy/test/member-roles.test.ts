import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTenancyApp, createTenant, signUp, type TenancyTestApp } from './support/app.js'

let t: TenancyTestApp
let owner: { userId: string; token: string }
let member: { userId: string; token: string }

beforeAll(async () => {
  t = await createTenancyApp({}, { label: 'memberroles' })
  owner = await signUp(t, 'owner@roles.test')
  member = await signUp(t, 'member@roles.test')
})
afterAll(async () => {
  await t?.close()
})

describe('app.tenancy.memberRoles: what an authorization plugin may do with members', () => {
  it("reads a member's roles as stored, and null for someone who is not a member", async () => {
    const tenant = await createTenant(t, owner.token, 'Roles')
    await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member', 'auditor'])
    const { memberRoles } = t.app.tenancy
    expect(await memberRoles.rolesOf(tenant.id, owner.userId)).toEqual(['owner'])
    expect(await memberRoles.rolesOf(tenant.id, member.userId)).toEqual(['member', 'auditor'])
    const other = await createTenant(t, member.token, 'Elsewhere')
    expect(await memberRoles.rolesOf(other.id, owner.userId)).toBeNull()
  })

  it("takes a role from the tenant's members and pending invitations in the caller's transaction", async () => {
    const tenant = await createTenant(t, owner.token, 'Removal')
    const other = await createTenant(t, owner.token, 'Untouched')
    for (const id of [tenant.id, other.id]) {
      await t.app.tenancy.tenants.addMember(id, member.userId, ['member', 'auditor'])
    }
    const { memberRoles, withTenant } = t.app.tenancy
    // Rolled back with the caller's work: nothing changes.
    await expect(
      withTenant(tenant.id, async (db) => {
        await memberRoles.removeRole(db, tenant.id, 'auditor')
        throw new Error('the caller failed')
      }),
    ).rejects.toThrow('the caller failed')
    expect(await memberRoles.rolesOf(tenant.id, member.userId)).toEqual(['member', 'auditor'])
    // Committed with it: gone here, kept in the other tenant.
    await withTenant(tenant.id, (db) => memberRoles.removeRole(db, tenant.id, 'auditor'))
    expect(await memberRoles.rolesOf(tenant.id, member.userId)).toEqual(['member'])
    expect(await memberRoles.rolesOf(other.id, member.userId)).toEqual(['member', 'auditor'])
  })
})
