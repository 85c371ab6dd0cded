/** A parsed semantic version (semver.org 2.0), build metadata dropped as precedence ignores it. */
export interface SemVer {
  readonly core: readonly [number, number, number]
  readonly prerelease: readonly (string | number)[]
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/

export function parseSemVer(text: string): SemVer | null {
  const match = SEMVER.exec(text.trim())
  if (!match) return null
  const prerelease = match[4]
    ? match[4].split('.').map((part) => (/^\d+$/.test(part) ? Number(part) : part))
    : []
  return { core: [Number(match[1]), Number(match[2]), Number(match[3])], prerelease }
}

/** Negative, zero or positive as `a` precedes, equals or follows `b` (semver.org §11). */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (let index = 0; index < 3; index++) {
    const difference = (a.core[index] as number) - (b.core[index] as number)
    if (difference !== 0) return difference
  }
  // A pre-release precedes its release.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return b.prerelease.length - a.prerelease.length
  }
  const length = Math.min(a.prerelease.length, b.prerelease.length)
  for (let index = 0; index < length; index++) {
    const left = a.prerelease[index] as string | number
    const right = b.prerelease[index] as string | number
    if (left === right) continue
    if (typeof left === 'number' && typeof right === 'number') return left - right
    // Numeric identifiers precede alphanumeric ones.
    if (typeof left === 'number') return -1
    if (typeof right === 'number') return 1
    return left < right ? -1 : 1
  }
  return a.prerelease.length - b.prerelease.length
}
