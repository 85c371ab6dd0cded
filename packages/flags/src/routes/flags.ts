import type {} from '@acme/auth'
import { MAX_PAGE_SIZE, safeString } from '@acme/core'
import type {} from '@acme/tenancy'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import {
  flagDefinitionSchema,
  flagKey,
  flagPatchSchema as flagUpdate,
  segmentDefinitionSchema,
} from '../engine/definition.js'
import { FlagsErrors } from '../errors.js'
import type { Evaluator } from '../evaluator.js'
import type { FlagAdmin } from '../services/flag-admin.js'
import type { FlagHistory } from '../services/history.js'
import type { FlagSchedules } from '../services/schedules.js'
import type { LiveFlags } from '../store/live-flags.js'
import type { ChangeActor } from '../types.js'
import {
  changeView,
  evaluationView,
  flagView,
  keyParams,
  overrideParams,
  overrideView,
  scheduleView,
  segmentPatchSchema,
  segmentView,
  statusView,
  valueBody,
} from './schemas.js'

export interface FlagsRoutesOptions {
  admin: FlagAdmin
  live: LiveFlags
  evaluator: Evaluator
  history: FlagHistory
  schedules: FlagSchedules
  /** Members of this tenant with the permission manage every flag; null: nobody through HTTP. */
  operatorTenantId: string | null
}

const actorOf = (request: FastifyRequest): ChangeActor => ({
  userId: request.principal?.userId ?? null,
})

const tenantIdOf = (request: FastifyRequest): string => {
  const tenantId = request.tenant?.id
  // The route requires a tenant: tenancy has refused the request before this without one.
  if (!tenantId) throw new FlagsErrors.OperatorsOnly()
  return tenantId
}

/**
 * Operators' routes (every flag, every tenant's override) answer only in the operators' tenant;
 * tenant admins' routes act on their own tenant and on tenant-editable flags only.
 */
export async function flagsRoutes(app: FastifyInstance, options: FlagsRoutesOptions) {
  const { admin, live, evaluator, history, schedules } = options
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const snapshot = () => {
    const current = live.snapshot
    if (!current) throw new FlagsErrors.NotLoaded()
    return current
  }
  const asOperator = (request: FastifyRequest) => {
    if (options.operatorTenantId === null || tenantIdOf(request) !== options.operatorTenantId) {
      throw new FlagsErrors.OperatorsOnly()
    }
  }
  const operatorRead = { auth: 'required', tenant: 'required', permission: 'flags:read' } as const
  const operatorManage = {
    auth: 'required',
    tenant: 'required',
    permission: 'flags:manage',
  } as const
  const operatorsOnly =
    " Operators only: the caller's tenant must be the operators' tenant (403 `ACME_FLAGS_OPERATORS_ONLY`)."

  routes.get(
    '/flags/evaluated',
    {
      schema: {
        tags: ['flags'],
        summary: "The caller's client-side flags",
        description:
          'Every flag marked client-visible, evaluated for the caller (tenant, plan, user): safe to ' +
          'hand to a browser. Other flags are never listed.',
        response: {
          200: z.object({
            version: z.number().int(),
            stale: z.boolean(),
            flags: z.record(
              z.string(),
              z.object({ value: z.unknown(), variant: z.string(), reason: z.string() }),
            ),
          }),
        },
      },
      config: { auth: 'optional', permission: false, apiKeys: 'allow' },
    },
    async (request) => {
      const current = snapshot()
      const flags: Record<string, { value: unknown; variant: string; reason: string }> = {}
      for (const definition of current.definitions()) {
        if (!definition.clientVisible) continue
        const { value, variant, reason } = evaluator.evaluate(definition.key, request.flags.context)
        flags[definition.key] = { value, variant, reason }
      }
      return { version: current.version, stale: live.stale, flags }
    },
  )

  routes.get(
    '/flags/status',
    {
      schema: {
        tags: ['flags'],
        summary: "This instance's flags: loaded, current or stale",
        description:
          'The version served, the newest version heard of, when they were last known current, and ' +
          'whether changes reach this instance by broadcast right now.',
        response: { 200: statusView },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      return live.status()
    },
  )

  routes.get(
    '/flags/definitions',
    {
      schema: {
        tags: ['flags'],
        summary: 'List flags',
        description: `Every flag of the environment as this instance serves it.${operatorsOnly}`,
        response: { 200: z.object({ version: z.number().int(), items: z.array(flagView) }) },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      const current = snapshot()
      return { version: current.version, items: current.definitions() }
    },
  )

  routes.post(
    '/flags/definitions',
    {
      schema: {
        tags: ['flags'],
        summary: 'Create a flag',
        description:
          'Values must fit the type (and JSON Schema), prerequisites must exist without closing a ' +
          `cycle, segments must exist (400 \`ACME_FLAGS_INVALID_DEFINITION\` with \`problems\`).${operatorsOnly}`,
        body: flagDefinitionSchema,
        response: { 201: flagView },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      return reply.code(201).send(await admin.createFlag(actorOf(request), request.body))
    },
  )

  routes.get(
    '/flags/definitions/:key',
    {
      schema: {
        tags: ['flags'],
        summary: 'Get a flag',
        description: `A flag with its tenants' overrides.${operatorsOnly}`,
        params: keyParams,
        response: { 200: z.object({ flag: flagView, overrides: z.array(overrideView) }) },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      const flag = snapshot().definition(request.params.key)
      if (!flag) throw new FlagsErrors.FlagNotFound()
      return { flag, overrides: snapshot().overrides(request.params.key) }
    },
  )

  routes.patch(
    '/flags/definitions/:key',
    {
      schema: {
        tags: ['flags'],
        summary: 'Change a flag',
        description:
          'The fields given replace the stored ones; the result is checked as a whole. ' +
          `\`enabled: false\` is the kill switch.${operatorsOnly}`,
        params: keyParams,
        body: flagUpdate,
        response: { 200: flagView },
      },
      config: operatorManage,
    },
    async (request) => {
      asOperator(request)
      return admin.updateFlag(actorOf(request), request.params.key, request.body)
    },
  )

  routes.delete(
    '/flags/definitions/:key',
    {
      schema: {
        tags: ['flags'],
        summary: 'Delete a flag',
        description: `Refused (409) while another flag requires it.${operatorsOnly}`,
        params: keyParams,
        response: { 204: z.null() },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      await admin.deleteFlag(actorOf(request), request.params.key)
      return reply.code(204).send(null)
    },
  )

  routes.put(
    '/flags/definitions/:key/overrides/:customerTenantId',
    {
      schema: {
        tags: ['flags'],
        summary: "Set a tenant's value",
        description: `The tenant gets this value unless the kill switch, a prerequisite or its plan decides first.${operatorsOnly}`,
        params: overrideParams,
        body: valueBody,
        response: { 200: overrideView },
      },
      config: operatorManage,
    },
    async (request) => {
      asOperator(request)
      const { key, customerTenantId: tenantId } = request.params
      // An unknown tenant answers 404 here rather than as a foreign key violation.
      await app.tenancy.tenants.get(tenantId)
      await admin.setOverride(actorOf(request), key, tenantId, request.body.value)
      return { tenantId, value: request.body.value }
    },
  )

  routes.delete(
    '/flags/definitions/:key/overrides/:customerTenantId',
    {
      schema: {
        tags: ['flags'],
        summary: "Remove a tenant's value",
        description: `The tenant falls back to rules, rollout and default.${operatorsOnly}`,
        params: overrideParams,
        response: { 204: z.null() },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      await admin.deleteOverride(
        actorOf(request),
        request.params.key,
        request.params.customerTenantId,
      )
      return reply.code(204).send(null)
    },
  )

  routes.get(
    '/flags/definitions/:key/explain',
    {
      schema: {
        tags: ['flags'],
        summary: 'Why does this tenant get this value?',
        description:
          "Every layer in order (kill switch, prerequisites, the tenant's plan, its override, rules, " +
          `rollout with the bucket, default) and what it did.${operatorsOnly}`,
        params: keyParams,
        querystring: z
          .object({
            tenantId: z.uuid().optional(),
            userId: z.uuid().optional(),
            attributes: safeString().max(4_000).optional().describe('A JSON object of attributes.'),
          })
          .strict(),
        response: {
          200: z.object({
            evaluation: evaluationView,
            context: z.object({
              tenantId: z.string().nullable(),
              plan: z.string().nullable(),
              userId: z.string().nullable(),
            }),
            steps: z.array(
              z.object({ layer: z.string(), outcome: z.string(), detail: z.string() }),
            ),
          }),
        },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      const { key, tenantId, userId, attributes } = { ...request.params, ...request.query }
      if (!snapshot().has(key)) throw new FlagsErrors.FlagNotFound()
      const plan = tenantId ? (await app.tenancy.tenants.get(tenantId)).plan : null
      const context = {
        tenantId: tenantId ?? null,
        plan,
        userId: userId ?? null,
        ...(attributes === undefined ? {} : { attributes: parseAttributes(attributes) }),
      }
      const { evaluation, steps } = snapshot().explain(key, context)
      if (live.stale) evaluation.reason = 'STALE'
      return {
        evaluation,
        context: { tenantId: context.tenantId, plan, userId: context.userId },
        steps,
      }
    },
  )

  const instant = z.iso.datetime({ offset: true }).transform((text) => new Date(text))

  routes.post(
    '/flags/definitions/:key/schedules',
    {
      schema: {
        tags: ['flags'],
        summary: 'Plan a change',
        description:
          'At `runAt` (in the future), the `flags.schedules` job applies either `update` (fields of ' +
          'the flag, as PATCH takes them) or `rolloutPercentage`, as a change of the caller, with ' +
          `the same checks: one that no longer holds together then fails, with its problems.${operatorsOnly}`,
        params: keyParams,
        body: z
          .object({
            runAt: instant,
            update: flagUpdate.optional(),
            rolloutPercentage: z.number().min(0).max(100).multipleOf(0.01).optional(),
          })
          .strict()
          .refine(
            (body) => (body.update === undefined) !== (body.rolloutPercentage === undefined),
            'give either update or rolloutPercentage',
          ),
        response: { 201: scheduleView },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      const { runAt, update, rolloutPercentage } = request.body
      const change =
        update !== undefined ? { update } : { rolloutPercentage: rolloutPercentage ?? 0 }
      const planned = await schedules.plan(actorOf(request), request.params.key, runAt, change)
      return reply.code(201).send(planned)
    },
  )

  routes.post(
    '/flags/definitions/:key/ramp',
    {
      schema: {
        tags: ['flags'],
        summary: 'Plan a ramp of the rollout',
        description:
          'One rollout percentage per step, each at its time, going up only (e.g. 10 → 50 → 100 %). ' +
          `The flag needs a rollout.${operatorsOnly}`,
        params: keyParams,
        body: z
          .object({
            steps: z
              .array(
                z
                  .object({
                    at: instant,
                    percentage: z.number().min(0).max(100).multipleOf(0.01),
                  })
                  .strict(),
              )
              .min(1)
              .max(20),
          })
          .strict(),
        response: { 201: z.object({ items: z.array(scheduleView) }) },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      const items = await schedules.ramp(actorOf(request), request.params.key, request.body.steps)
      return reply.code(201).send({ items })
    },
  )

  routes.get(
    '/flags/schedules',
    {
      schema: {
        tags: ['flags'],
        summary: 'Planned changes',
        description: `Schedules, soonest first, with their status and, when one failed, why.${operatorsOnly}`,
        querystring: z
          .object({
            key: flagKey.optional(),
            status: z.enum(['pending', 'running', 'applied', 'failed', 'cancelled']).optional(),
            limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
          })
          .strict(),
        response: { 200: z.object({ items: z.array(scheduleView) }) },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      const { key, status, limit } = request.query
      return {
        items: await schedules.list({
          limit,
          ...(key === undefined ? {} : { key }),
          ...(status === undefined ? {} : { status }),
        }),
      }
    },
  )

  routes.delete(
    '/flags/schedules/:scheduleId',
    {
      schema: {
        tags: ['flags'],
        summary: 'Cancel a planned change',
        description: `Only a pending one (404 otherwise).${operatorsOnly}`,
        params: z.object({ scheduleId: z.uuid() }).strict(),
        response: { 204: z.null() },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      await schedules.cancel(request.params.scheduleId)
      return reply.code(204).send(null)
    },
  )

  routes.get(
    '/flags/segments',
    {
      schema: {
        tags: ['flags'],
        summary: 'List segments',
        description: `Reusable audiences rules name with \`in_segment\`.${operatorsOnly}`,
        response: { 200: z.object({ items: z.array(segmentView) }) },
      },
      config: operatorRead,
    },
    async (request) => {
      asOperator(request)
      return { items: snapshot().segments() }
    },
  )

  routes.post(
    '/flags/segments',
    {
      schema: {
        tags: ['flags'],
        summary: 'Create a segment',
        description: `Conditions that all hold; a segment cannot name another.${operatorsOnly}`,
        body: segmentDefinitionSchema,
        response: { 201: segmentView },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      return reply.code(201).send(await admin.createSegment(actorOf(request), request.body))
    },
  )

  routes.patch(
    '/flags/segments/:key',
    {
      schema: {
        tags: ['flags'],
        summary: 'Change a segment',
        description: `Every rule naming it follows at once.${operatorsOnly}`,
        params: keyParams,
        body: segmentPatchSchema,
        response: { 200: segmentView },
      },
      config: operatorManage,
    },
    async (request) => {
      asOperator(request)
      return admin.updateSegment(actorOf(request), request.params.key, request.body)
    },
  )

  routes.delete(
    '/flags/segments/:key',
    {
      schema: {
        tags: ['flags'],
        summary: 'Delete a segment',
        description: `Refused (409) while a rule names it.${operatorsOnly}`,
        params: keyParams,
        response: { 204: z.null() },
      },
      config: operatorManage,
    },
    async (request, reply) => {
      asOperator(request)
      await admin.deleteSegment(actorOf(request), request.params.key)
      return reply.code(204).send(null)
    },
  )

  routes.get(
    '/flags/history',
    {
      schema: {
        tags: ['flags'],
        summary: 'Change history',
        description:
          'Every change with its before and after and the version it produced, newest first. In ' +
          "the operators' tenant: every change; in another tenant: that tenant's overrides only.",
        querystring: z
          .object({
            key: flagKey.optional(),
            beforeVersion: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(20),
          })
          .strict(),
        response: { 200: z.object({ items: z.array(changeView) }) },
      },
      config: { auth: 'required', tenant: 'required', permission: 'flags:read' },
    },
    async (request) => {
      const tenantId = tenantIdOf(request)
      const operator = options.operatorTenantId !== null && tenantId === options.operatorTenantId
      const { key, beforeVersion, limit } = request.query
      const items = await history.list({
        limit,
        ...(key === undefined ? {} : { key }),
        ...(beforeVersion === undefined ? {} : { beforeVersion }),
        ...(operator ? {} : { tenantId }),
      })
      return { items }
    },
  )

  routes.get(
    '/flags/tenant',
    {
      schema: {
        tags: ['flags'],
        summary: "The tenant's editable flags",
        description:
          "Flags marked tenant-editable, with the tenant's override (null: none) and what the " +
          'caller gets now.',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                key: z.string(),
                type: z.string(),
                description: z.string(),
                override: z.object({ value: z.unknown() }).nullable(),
                evaluation: evaluationView,
              }),
            ),
          }),
        },
      },
      config: { auth: 'required', tenant: 'required', permission: 'flags:read' },
    },
    async (request) => {
      const tenantId = tenantIdOf(request)
      const current = snapshot()
      return {
        items: current
          .definitions()
          .filter((definition) => definition.tenantEditable)
          .map((definition) => {
            const override = current.override(definition.key, tenantId)
            return {
              key: definition.key,
              type: definition.type,
              description: definition.description,
              override: override === undefined ? null : { value: override },
              evaluation: evaluator.evaluate(definition.key, request.flags.context),
            }
          }),
      }
    },
  )

  routes.put(
    '/flags/tenant/:key',
    {
      schema: {
        tags: ['flags'],
        summary: "Set the tenant's own value of a flag",
        description:
          'Tenant admins, on flags marked tenant-editable (403 `ACME_FLAGS_NOT_TENANT_EDITABLE`), ' +
          'for their own tenant: written as that tenant, under row-level security.',
        params: keyParams,
        body: valueBody,
        response: { 200: overrideView },
      },
      config: { auth: 'required', tenant: 'required', permission: 'flags:manage' },
    },
    async (request) => {
      const tenantId = tenantIdOf(request)
      await admin.setOverride(
        actorOf(request),
        request.params.key,
        tenantId,
        request.body.value,
        'tenant',
      )
      return { tenantId, value: request.body.value }
    },
  )

  routes.delete(
    '/flags/tenant/:key',
    {
      schema: {
        tags: ['flags'],
        summary: "Remove the tenant's own value of a flag",
        description: 'Tenant admins, on flags marked tenant-editable, for their own tenant.',
        params: keyParams,
        response: { 204: z.null() },
      },
      config: { auth: 'required', tenant: 'required', permission: 'flags:manage' },
    },
    async (request, reply) => {
      const tenantId = tenantIdOf(request)
      await admin.deleteOverride(actorOf(request), request.params.key, tenantId, 'tenant')
      return reply.code(204).send(null)
    },
  )
}

const attributesSchema = z.record(
  z.string().max(64),
  z.union([
    safeString().max(500),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(safeString().max(500)).max(100),
  ]),
)

function parseAttributes(
  text: string,
): Record<string, string | number | boolean | null | string[]> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new FlagsErrors.InvalidValue({ detail: 'attributes must be a JSON object' })
  }
  const parsed = attributesSchema.safeParse(raw)
  if (!parsed.success)
    throw new FlagsErrors.InvalidValue({
      detail: 'attributes must be a JSON object of simple values',
    })
  return parsed.data
}
