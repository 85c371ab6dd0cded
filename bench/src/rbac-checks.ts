// What a permission check costs in process: PermissionSet.can on a warm question (parsed once,
// then a few Set lookups), for an exact grant, a wildcard, an own grant with a record, and a
// refusal, against a set the size of an admin's. One core, no I/O. The aim: over a
// million checks per second.

import { PermissionSet } from '../../packages/rbac/src/engine/permission.js'

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
/** Checks per timing sample: enough that reading the clock costs nothing measurable. */
const BATCH = 100_000

// An admin-sized set plus own grants, as a member with a custom role would hold.
const granted = PermissionSet.of([
  'tenants:manage',
  'members:*',
  'roles:*',
  'api-keys:read',
  'api-keys:create',
  'projects:read',
  'projects:write:own',
  'files:*:own',
  'webhooks:manage',
  'flags:read',
  'audit:read',
  'jobs:read',
])

interface Case {
  name: string
  permission: string
  context?: { ownerId?: string | null; userId?: string | null }
  expected: boolean
}

const cases: Case[] = [
  { name: 'exact grant', permission: 'projects:read', expected: true },
  { name: 'wildcard grant (`members:*`)', permission: 'members:invite', expected: true },
  {
    name: 'own grant, my record',
    permission: 'projects:write',
    context: { ownerId: 'user-1', userId: 'user-1' },
    expected: true,
  },
  {
    name: 'own grant, resource wildcard (`files:*:own`)',
    permission: 'files:delete',
    context: { ownerId: 'user-1', userId: 'user-1' },
    expected: true,
  },
  { name: 'miss (refused)', permission: 'billing:manage', expected: false },
]

/** Checks per second for one case: the best of ROUNDS rounds of DURATION_MS each. */
function measure({ permission, context, expected }: Case): {
  perSecond: number
  nsPerCheck: number
} {
  // The answer feeds a counter the loop's result depends on, so nothing is optimised away.
  let agreed = 0
  for (let i = 0; i < BATCH; i++) if (granted.can(permission, context) === expected) agreed++
  if (agreed !== BATCH) throw new Error(`wrong answer for ${permission}`)
  let best = 0
  for (let round = 0; round < ROUNDS; round++) {
    let checks = 0
    agreed = 0
    const started = performance.now()
    let elapsed = 0
    while (elapsed < DURATION_MS) {
      for (let i = 0; i < BATCH; i++) if (granted.can(permission, context) === expected) agreed++
      checks += BATCH
      elapsed = performance.now() - started
    }
    if (agreed !== checks) throw new Error(`wrong answer for ${permission}`)
    best = Math.max(best, (checks / elapsed) * 1000)
  }
  return { perSecond: best, nsPerCheck: 1e9 / best }
}

const format = (n: number) => Math.round(n).toLocaleString('en-US')

console.log(
  `PermissionSet.can, node ${process.version}, best of ${ROUNDS} × ${DURATION_MS} ms, one core\n`,
)
console.log('| check | asked | checks/s | ns/check |')
console.log('| --- | --- | ---: | ---: |')
for (const benchCase of cases) {
  const { perSecond, nsPerCheck } = measure(benchCase)
  const asked = benchCase.context ? `${benchCase.permission} (with owner)` : benchCase.permission
  console.log(
    `| ${benchCase.name} | \`${asked}\` | ${format(perSecond)} | ${nsPerCheck.toFixed(1)} |`,
  )
}
