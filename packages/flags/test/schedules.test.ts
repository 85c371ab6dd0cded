import { randomUUID } from 'node:crypto'
import { manualClock, waitFor } from '@acme/test-kit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  as,
  createFlagsApp,
  expectProblem,
  type FlagsTestApp,
  member,
  ownerQuery,
  tenantOf,
  type User,
} from './support/app.js'

const HOUR = 3_600_000
const clock = manualClock('2027-01-01T00:00:00Z')
const operatorTenantId: string = randomUUID()
let t: FlagsTestApp
let operator: User
const code = { userId: null }

beforeAll(async () => {
  t = await createFlagsApp(
    {
      operatorTenantId,
      clock: clock.now,
      // The queue's ticks are real time; the job reads the injected clock to know what is due.
      schedules: { everySeconds: 1 },
      flags: [
        { key: 'launch', type: 'boolean', defaultValue: true },
        { key: 'ramped', type: 'boolean', defaultValue: false },
      ],
    },
    { label: 'flagssched' },
  )
  await ownerQuery(
    t,
    "INSERT INTO tenants (id, name, slug, plan, updated_at) VALUES ($1, 'Operators', $2, 'starter', now())",
    [operatorTenantId, `operators-${operatorTenantId.slice(0, 8)}`],
  )
  operator = await member(t, operatorTenantId, 'operator', ['admin'])
})
afterAll(async () => {
  await t?.close()
})

const inRollout = (key: 'ramped', count = 2_000) => {
  let inside = 0
  for (let index = 0; index < count; index++) {
    if (
      t.app.flags.isEnabled(key, {
        tenantId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      })
    ) {
      inside++
    }
  }
  return inside / count
}

describe('a change planned for a time', () => {
  it('is applied by the job once due, as the user who planned it, with its history', async () => {
    await t.app.flags.admin.updateFlag(code, 'launch', { enabled: false })
    const planned = await t.app.flags.schedules.plan(
      { userId: operator.userId },
      'launch',
      new Date(clock.now().getTime() + HOUR),
      {
        update: { enabled: true },
      },
    )
    expect(planned).toMatchObject({ status: 'pending', key: 'launch' })
    // Not due: the job's ticks change nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(t.app.flags.isEnabled('launch', {})).toBe(false)

    clock.advance(HOUR)
    // The real queue's next tick applies it.
    await waitFor(() => t.app.flags.isEnabled('launch', {}), { timeoutMs: 20_000 })
    // The schedule is marked applied right after the change it made.
    const row = await waitFor(
      async () => {
        const [first] = await t.app.flags.schedules.list({ key: 'launch', limit: 5 })
        return first?.status === 'applied' && first
      },
      { timeoutMs: 10_000 },
    )
    expect(row).toMatchObject({ status: 'applied', error: null })
    expect(row?.appliedAt?.getTime()).toBe(clock.now().getTime())
    const history = await ownerQuery<{ actor_id: string; after: { enabled: boolean } }>(
      t,
      "SELECT actor_id, after FROM flag_changes WHERE key = 'launch' ORDER BY version DESC LIMIT 1",
    )
    expect(history).toEqual([
      { actor_id: operator.userId, after: expect.objectContaining({ enabled: true }) },
    ])
  })
})

describe('a ramp', () => {
  it('takes the rollout 10 → 50 → 100 % on its schedule, each tenant keeping what it had', async () => {
    await t.app.flags.admin.updateFlag(code, 'ramped', { rollout: { percentage: 0, value: true } })
    const start = clock.now().getTime()
    const steps = [10, 50, 100].map((percentage, index) => ({
      at: new Date(start + (index + 1) * 24 * HOUR),
      percentage,
    }))
    expect(await t.app.flags.schedules.ramp(code, 'ramped', steps)).toHaveLength(3)
    expect(inRollout('ramped')).toBe(0)
    const seen: boolean[][] = []
    for (const [index, expected] of [0.1, 0.5, 1].entries()) {
      clock.advance(24 * HOUR)
      await waitFor(() => t.app.flags.get('ramped')?.rollout?.percentage === [10, 50, 100][index], {
        timeoutMs: 20_000,
      })
      const share = inRollout('ramped')
      expect(share).toBeGreaterThan(expected - 0.03)
      expect(share).toBeLessThanOrEqual(expected + 0.03)
      seen.push(
        Array.from({ length: 200 }, (_, unit) =>
          t.app.flags.isEnabled('ramped', { tenantId: `t-${unit}` }),
        ),
      )
    }
    for (let unit = 0; unit < 200; unit++) {
      if (seen[0]?.[unit]) expect(seen[1]?.[unit]).toBe(true)
      if (seen[1]?.[unit]) expect(seen[2]?.[unit]).toBe(true)
    }
  })

  it('refuses a ramp going down, one in the past, and one for a flag without a rollout', async () => {
    const soon = (hours: number) => new Date(clock.now().getTime() + hours * HOUR)
    await expect(
      t.app.flags.schedules.ramp(code, 'ramped', [
        { at: soon(1), percentage: 50 },
        { at: soon(2), percentage: 10 },
      ]),
    ).rejects.toMatchObject({ code: 'ACME_FLAGS_INVALID_DEFINITION' })
    await expect(
      t.app.flags.schedules.ramp(code, 'ramped', [{ at: soon(-1), percentage: 50 }]),
    ).rejects.toMatchObject({
      code: 'ACME_FLAGS_INVALID_DEFINITION',
    })
    await expect(
      t.app.flags.schedules.ramp(code, 'launch', [{ at: soon(1), percentage: 50 }]),
    ).rejects.toMatchObject({
      code: 'ACME_FLAGS_INVALID_DEFINITION',
    })
  })
})

describe('applying', () => {
  it('a change that no longer holds together fails, with why, and changes nothing', async () => {
    await t.app.flags.admin.createFlag(code, {
      key: 'gone-rollout',
      type: 'boolean',
      defaultValue: false,
      rollout: { percentage: 5, value: true },
    })
    const planned = await t.app.flags.schedules.plan(
      code,
      'gone-rollout',
      new Date(clock.now().getTime() + HOUR),
      { rolloutPercentage: 50 },
    )
    await t.app.flags.admin.updateFlag(code, 'gone-rollout', { rollout: null })
    const version = t.app.flags.status().version
    clock.advance(HOUR)
    await waitFor(
      async () =>
        (await t.app.flags.schedules.list({ key: 'gone-rollout', limit: 1 }))[0]?.status ===
        'failed',
      {
        timeoutMs: 20_000,
      },
    )
    const [row] = await t.app.flags.schedules.list({ key: 'gone-rollout', limit: 1 })
    expect(row).toMatchObject({
      id: planned.id,
      error: 'rollout: the flag has no rollout to set a percentage of',
    })
    expect(t.app.flags.status().version).toBe(version)
  })

  it('two runs at once apply a schedule once', async () => {
    await t.app.flags.admin.createFlag(code, { key: 'once', type: 'number', defaultValue: 1 })
    await t.app.flags.schedules.plan(code, 'once', new Date(clock.now().getTime() + HOUR), {
      update: { defaultValue: 2 },
    })
    const version = t.app.flags.status().version
    clock.advance(HOUR)
    const reports = await Promise.all([
      t.app.flags.schedules.runDue(),
      t.app.flags.schedules.runDue(),
      t.app.flags.schedules.runDue(),
    ])
    await waitFor(
      async () =>
        (await t.app.flags.schedules.list({ key: 'once', limit: 1 }))[0]?.status === 'applied',
      { timeoutMs: 20_000 },
    )
    expect(t.app.flags.get('once')?.defaultValue).toBe(2)
    expect(reports.reduce((sum, report) => sum + report.applied, 0)).toBeLessThanOrEqual(1)
    const changes = await ownerQuery(
      t,
      "SELECT 1 FROM flag_changes WHERE key = 'once' AND version > $1",
      [version],
    )
    expect(changes).toHaveLength(1)
  })
})

describe('routes', () => {
  it('plan, list and cancel, operators only', async () => {
    const call = (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      payload?: object,
      who = operator,
      tenant = operatorTenantId,
    ) => t.app.inject({ method, url, headers: as(who, tenant), ...(payload ? { payload } : {}) })
    const runAt = new Date(clock.now().getTime() + 2 * HOUR).toISOString()
    const planned = await call('POST', '/flags/definitions/launch/schedules', {
      runAt,
      update: { enabled: false },
    })
    expect(planned.statusCode, planned.body).toBe(201)
    expect(planned.json()).toMatchObject({
      status: 'pending',
      runAt,
      change: { update: { enabled: false } },
      createdBy: operator.userId,
    })

    expectProblem(
      await call('POST', '/flags/definitions/launch/schedules', {
        runAt,
        update: { enabled: false },
        rolloutPercentage: 5,
      }),
      400,
      'ACME_CORE_VALIDATION_FAILED',
    )
    expectProblem(
      await call('POST', '/flags/definitions/launch/schedules', {
        runAt: new Date(clock.now().getTime() - HOUR).toISOString(),
        update: { enabled: false },
      }),
      400,
      'ACME_FLAGS_INVALID_DEFINITION',
    )
    expectProblem(
      await call('POST', '/flags/definitions/nope/schedules', {
        runAt,
        update: { enabled: false },
      }),
      404,
      'ACME_FLAGS_FLAG_NOT_FOUND',
    )
    const customer = await tenantOf(t, 'sched-customer')
    expectProblem(
      await call(
        'POST',
        '/flags/definitions/launch/schedules',
        { runAt, update: { enabled: false } },
        customer.owner,
        customer.tenantId,
      ),
      403,
      'ACME_FLAGS_OPERATORS_ONLY',
    )

    const listed = await call('GET', '/flags/schedules?key=launch&status=pending')
    expect(listed.json().items.map((item: { id: string }) => item.id)).toEqual([planned.json().id])
    expect((await call('DELETE', `/flags/schedules/${planned.json().id}`)).statusCode).toBe(204)
    expectProblem(
      await call('DELETE', `/flags/schedules/${planned.json().id}`),
      404,
      'ACME_FLAGS_SCHEDULE_NOT_FOUND',
    )
    clock.advance(3 * HOUR)
    await t.app.flags.schedules.runDue()
    expect(t.app.flags.isEnabled('launch', {})).toBe(true)
  })
})
