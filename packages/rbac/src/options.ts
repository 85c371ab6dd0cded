import { z } from 'zod'
import type { RoleDefinition } from './engine/roles.js'

const permissionEntry = z
  .object({ name: z.string(), description: z.string().min(1).max(300) })
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
    /** The app's own permissions, declared in core's catalog (plugins declare theirs). */
    permissions: z.array(permissionEntry).default([]),
    /** System roles (code, immutable); default owner, admin, member, viewer. `owner` must exist. */
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
