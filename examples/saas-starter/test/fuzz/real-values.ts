import { type Owner, PASSWORD } from './fixtures.js'
import type { Operation } from './openapi.js'

/** The real row a path parameter names, for the owner. */
export function realIds(operation: Operation, owner: Owner): Record<string, string> {
  const ids: Record<string, string> = {}
  for (const parameter of operation.pathParams) {
    const id = idFor(parameter.name, operation.path, owner)
    if (!id) {
      throw new Error(
        `${operation.key}: no fixture row for path parameter "${parameter.name}" (add one in test/fuzz/fixtures.ts)`,
      )
    }
    ids[parameter.name] = id
  }
  return ids
}

function idFor(name: string, path: string, owner: Owner): string | undefined {
  switch (name) {
    case 'tenantId':
      return owner.tenantId
    case 'userId':
      return owner.memberId
    case 'keyId':
      return path.startsWith('/auth/') ? owner.userKeyId : owner.tenantKeyId
    case 'invitationId':
      return owner.invitationId
    case 'roleId':
      return owner.roleId
    case 'sessionId':
      return owner.otherSessionId
    case 'projectId':
      return owner.projectId
    // Flags: the starter's one declared flag; the operators' routes answer 403 to every tenant
    // here (no OPERATOR_TENANT_ID), which the fuzzer still drives through validation.
    case 'key':
      return path.startsWith('/flags/segments') ? 'beta-testers' : 'beta-reports'
    case 'customerTenantId':
      return owner.tenantId
    case 'scheduleId':
      return owner.projectId
    case 'endpointId':
      return owner.endpointId
    case 'fileId':
      return owner.fileId
    // No delivery exists (the endpoint is disabled): an id of another kind answers 404.
    case 'deliveryId':
      return owner.projectId
    // Nor a replay (one needs an enabled endpoint): likewise 404.
    case 'replayId':
      return owner.projectId
    default:
      return undefined
  }
}

/**
 * A body with real values (the owner's password, a live refresh token...) so that the fuzzer
 * reaches the code behind a credential check: each field mutation starts from it.
 */
export function realBody(operation: Operation, owner: Owner): unknown {
  switch (operation.key) {
    case 'POST /auth/register':
      return { email: `new-${owner.email}`, password: PASSWORD, name: 'Ann' }
    case 'POST /auth/login':
      return { email: owner.email, password: PASSWORD }
    case 'POST /auth/refresh':
    case 'POST /auth/logout':
      return { refreshToken: owner.refresh }
    case 'POST /auth/password/change':
      return { currentPassword: PASSWORD, newPassword: 'another horse battery staple' }
    case 'POST /auth/password/forgot':
      return { email: owner.email }
    case 'POST /auth/mfa/totp/disable':
      return { password: PASSWORD, code: '000000' }
    case 'POST /auth/mfa/recovery-codes':
      return { password: PASSWORD }
    case 'PATCH /auth/me':
      return { name: 'Ann' }
    case 'PATCH /auth/me/email':
      return { email: `changed-${owner.email}`, password: PASSWORD }
    case 'POST /auth/api-keys':
    case 'POST /tenants/{tenantId}/api-keys':
      return { name: 'ci', scopes: [] }
    case 'POST /tenants':
      return { name: 'Initrode' }
    case 'PATCH /tenants/{tenantId}':
      return { name: 'Initech', settings: { theme: 'dark' } }
    case 'PATCH /tenants/{tenantId}/members/{userId}':
      return { roles: ['admin'] }
    case 'PUT /rbac/members/{userId}/roles':
      return { roles: ['member'] }
    case 'POST /tenants/{tenantId}/invitations':
      return { email: 'someone@initech.test', roles: ['member'] }
    case 'POST /rbac/roles':
      return { name: 'editor', permissions: ['projects:read', 'projects:write'] }
    case 'PATCH /rbac/roles/{roleId}':
      return { description: 'Reads projects', permissions: ['projects:read'] }
    case 'POST /projects':
      return { name: 'Rocket' }
    case 'POST /tenants/{tenantId}/webhooks/endpoints':
      return { url: 'https://1.1.1.1/acme-hook', enabled: false }
    case 'PATCH /tenants/{tenantId}/webhooks/endpoints/{endpointId}':
      return { description: 'Billing system', enabled: false }
    case 'POST /tenants/{tenantId}/webhooks/endpoints/{endpointId}/replay':
      return { since: '2026-01-01T00:00:00.000Z' }
    default:
      return undefined
  }
}

/** A query with real values (a real cursor), when the operation takes one. */
export function realQuery(operation: Operation, owner: Owner): Record<string, unknown> | undefined {
  return operation.key === 'GET /projects' ? { limit: 1, cursor: owner.projectId } : undefined
}
