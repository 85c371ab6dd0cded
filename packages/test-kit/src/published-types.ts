import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative } from 'node:path'

export interface PublishedTypesOptions {
  /** Largest declaration file allowed, in bytes (default 128 KiB). */
  maxBytes?: number
}

/** A type declaration file under `dist/`: what `types`/`exports` hand a consumer. */
const DECLARATION = /\.d\.(?:ts|cts|mts)$/

/**
 * Signs that a generated Prisma client was inlined: its per-model promise class and payload
 * types. A package's own generated client types its queries inside the package; published, it
 * would carry the package's internal (test) models and Prisma's runtime into every consumer.
 */
const GENERATED_CLIENT = /\b(?:interface|type)\s+(Prisma__\w+Client|\$\w+Payload)\b/

const SPECIFIERS = [
  /\bfrom\s+['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /^\s*import\s+['"]([^'"]+)['"]/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /<reference\s+types\s*=\s*['"]([^'"]+)['"]/g,
]

const BUILTINS = new Set(builtinModules)

/**
 * Checks the declaration files a package publishes (`dist/**\/*.d.{ts,cts,mts}`, run after the
 * build): each small enough, free of an inlined generated Prisma client, and importing only
 * Node's built-ins, its own files, and packages its package.json declares as dependencies or
 * peer dependencies (a consumer installs nothing else, so any other import is `any` at best).
 * Answers one line per problem; none when the types are fit to publish.
 */
export function checkPublishedTypes(
  packageDir: string,
  options: PublishedTypesOptions = {},
): string[] {
  const maxBytes = options.maxBytes ?? 128 * 1024
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    name?: string
    dependencies?: Record<string, string>
    peerDependencies?: Record<string, string>
    optionalDependencies?: Record<string, string>
  }
  const declared = new Set([
    ...(manifest.name ? [manifest.name] : []),
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ])
  const dist = join(packageDir, 'dist')
  const files = existsSync(dist) ? declarationFiles(dist) : []
  if (files.length === 0) return ['dist/ holds no declaration file: build the package first']

  const problems: string[] = []
  for (const file of files) {
    const name = relative(packageDir, file)
    const bytes = statSync(file).size
    if (bytes > maxBytes) {
      problems.push(`${name} is ${kib(bytes)}, over the ${kib(maxBytes)} budget`)
    }
    const code = withoutComments(readFileSync(file, 'utf8'))
    const generated = GENERATED_CLIENT.exec(code)?.[1]
    if (generated) {
      problems.push(`${name} inlines a generated Prisma client (it declares ${generated})`)
    }
    for (const specifier of importSpecifiers(code)) {
      const problem = checkSpecifier(specifier, file, declared)
      if (problem) problems.push(`${name} ${problem}`)
    }
  }
  return problems
}

function checkSpecifier(specifier: string, file: string, declared: Set<string>): string | null {
  if (specifier.startsWith('.')) {
    return resolvesLocally(dirname(file), specifier)
      ? null
      : `imports ${specifier}, which is not among the published files`
  }
  if (specifier.startsWith('node:') || BUILTINS.has(specifier)) return null
  const name = packageName(specifier)
  if (declared.has(name) || declared.has(`@types/${name.replace(/^@/, '').replace('/', '__')}`)) {
    return null
  }
  return `imports ${specifier}, but package.json does not declare ${name} (dependencies or peerDependencies)`
}

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier)
}

function resolvesLocally(dir: string, specifier: string): boolean {
  const base = join(dir, specifier)
  const stem = base.replace(/\.(?:c|m)?js$/, '')
  const candidates = [
    base,
    `${stem}.d.ts`,
    `${stem}.d.cts`,
    `${stem}.d.mts`,
    join(base, 'index.d.ts'),
    join(base, 'index.d.cts'),
  ]
  return candidates.some((candidate) => existsSync(candidate) && statSync(candidate).isFile())
}

function importSpecifiers(code: string): Set<string> {
  const found = new Set<string>()
  for (const pattern of SPECIFIERS) {
    const matcher = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}gm`)
    for (const match of code.matchAll(matcher)) if (match[1]) found.add(match[1])
  }
  return found
}

/**
 * Drops comments, which quote code freely (Prisma's docs show `import { PrismaPg } from ...`).
 * Declaration files emit JSDoc as whole lines, so a line-based pass is enough; a `/*` inside a
 * string literal type would only hide imports, never invent one.
 */
function withoutComments(code: string): string {
  return code
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('//') || line.includes('<reference'))
    .join('\n')
}

function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return declarationFiles(path)
    return DECLARATION.test(entry.name) ? [path] : []
  })
}

function kib(bytes: number): string {
  return `${Math.round(bytes / 1024)} KiB`
}
