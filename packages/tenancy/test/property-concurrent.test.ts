import { afterAll, beforeAll, expect, it } from 'vitest'
import { createTenancyApp, type TenancyTestApp } from './support/app.js'
import {
  type ConcurrentWorld,
  checkConcurrentProperty,
  concurrentRoutes,
  setUpConcurrentWorld,
} from './support/concurrent-notes.js'

/**
 * Isolation as a property, concurrently (support/concurrent-notes.ts): random batches of requests
 * from six tenants, each batch sent at once against a pool of two connections shared by
 * app.prisma and request.db, so statements of different tenants interleave on the same
 * connections all the time.
 *
 * Reproduce a failure with its seed: FC_SEED=<seed> pnpm --filter @acme/tenancy exec vitest run
 * test/property-concurrent.test.ts
 */
const SEED = Number(process.env.FC_SEED ?? 20_261_204)
const NUM_RUNS = 20
const TENANTS = 6
const POOL = 2

let t: TenancyTestApp
let world: ConcurrentWorld

beforeAll(async () => {
  t = await createTenancyApp(
    { rateLimit: { enabled: false } },
    { label: 'propconc', routes: concurrentRoutes, sharedPool: POOL, core: { rateLimit: false } },
  )
  world = await setUpConcurrentWorld(t, TENANTS, 'concurrent')
})

afterAll(async () => {
  await world?.owner.end()
  await t?.close()
})

it('keeps many tenants apart when their requests interleave on fewer connections', async () => {
  console.info(`fast-check seed ${SEED}: ${NUM_RUNS} runs, ${TENANTS} tenants, pool of ${POOL}`)
  const requests = await checkConcurrentProperty(world, { seed: SEED, numRuns: NUM_RUNS })
  const seen = Object.fromEntries([...world.outcomes].sort())
  console.info(`fast-check: ${requests} requests; outcomes ${JSON.stringify(seen)}`)
  expect(Object.keys(seen)).toEqual(
    expect.arrayContaining([
      'create 201',
      'list 200',
      'raw 200',
      'setting 200',
      'unscoped 200',
      'get 200',
      'get 404',
      'patch 200',
      'patch 404',
      'delete 204',
      'delete 404',
      'batch 201',
      'batch 500',
      'foreign 404',
    ]),
  )
}, 180_000)
