import { z } from 'zod'
import type { RoleDefinition } from './engine/roles.js'

/**
 * Which default system roles get a permission: role name → `true` (the permission) or `'own'` (its
 * `:own` variant). Omitted: `resource:read` goes to admin, member and viewer, the rest to admin.
 */
const permissionGrant = z.record(z.string(), z.union([z.literal(true), z.literal('own')]))

const permissionEntry = z
  .object({
    name: z.string(),
    description: z.string().min(1).max(300),
    grant: permissionGrant.optional(),
  })
  .strict()

const roleDefinition = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
    description: z.string().max(200).optional(),
    permissions: z.array(z.string()),
    inherits: z.string().nullable().optional(),
  })
  .strict()

export const rbacOptionsSchema = z
  .object({
    /**
     * The app's own permissions, declared in core's catalog (plugins declare theirs), each with
     * the default system roles that get it (`grant`).
     */
    permissions: z.array(permissionEntry).default([]),
    /**
     * System roles (code, immutable), exactly as listed: the catalog's grants do not apply.
     * Default: owner (`*`), admin, member and viewer with what the catalog's declarations grant.
     * `owner` must exist.
     */
    systemRoles: z.array(roleDefinition).optional(),
    /**
     * Refuse to start when an authenticated route declares no permission (`config.permission`,
     * `config.permissions`, or `permission: false` for routes on the caller's own account).
     */
    denyByDefault: z.boolean().default(false),
    /** Effective permissions are cached per (principal, tenant); changes are broadcast at once. */
    cacheSeconds: z.number().int().min(1).max(3_600).default(300),
    /** Roles a user gets without tenancy when no assignment exists (e.g. ['member']). */
    defaultRoles: z.array(z.string()).default([]),
  })
  .strict()

export type RbacOptions = z.input<typeof rbacOptionsSchema>
export type ResolvedRbacOptions = z.output<typeof rbacOptionsSchema>
export type SystemRoleInput = z.input<typeof roleDefinition>
export type { RoleDefinition }
