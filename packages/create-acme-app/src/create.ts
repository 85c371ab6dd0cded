import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateSigningKey } from '@acme/cli'
import { CreateAppError } from './errors.js'
import { localTarballs } from './local-packages.js'
import { TIERS, type Tier } from './tiers.js'

export interface CreateOptions {
  /** Where the project goes; must not exist or be empty. */
  directory: string
  /** The package name (npm's rules). */
  name: string
  /** Shown to the product's customers: emails, links, API docs. */
  brand: string
  tier: Tier
  /** A PostgreSQL URL, or null for the embedded database. */
  databaseUrl: string | null
  /** The template folder; the one shipped in this package by default. */
  templateDir?: string
  /**
   * A folder of packed `@acme/*` tarballs to install from instead of the registry (air-gapped
   * installs, unreleased packages): the project's package.json points at them by `file:` path.
   */
  packagesDir?: string
}

export interface CreatedProject {
  directory: string
  /** Plugins the tier promises that are not published yet. */
  planned: readonly string[]
}

const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/
const DEFAULT_TEMPLATE = fileURLToPath(new URL('../template', import.meta.url))
const TENANCY_REGISTRATION = 'await app.register(acmeTenancy, { plans })'

/** Writes a ready project from the template: nothing is written when an input is refused. */
export function createProject(options: CreateOptions): CreatedProject {
  const directory = resolve(options.directory)
  if (!PACKAGE_NAME.test(options.name) || options.name.length > 214) {
    throw new CreateAppError(
      'ACME_CREATE_NAME_INVALID',
      `"${options.name}" is not a valid package name: lower case letters, digits, - . _ ~`,
    )
  }
  if (
    options.brand.trim() === '' ||
    /[\r\n\\]/.test(options.brand) ||
    /'.*"|".*'/.test(options.brand)
  ) {
    throw new CreateAppError(
      'ACME_CREATE_BRAND_INVALID',
      'The brand is one line of text, without a backslash or both kinds of quote.',
    )
  }
  if (existsSync(directory) && readdirSync(directory).length > 0) {
    throw new CreateAppError(
      'ACME_CREATE_TARGET_NOT_EMPTY',
      `${directory} is not empty: choose a new folder.`,
    )
  }
  const template = options.templateDir ?? DEFAULT_TEMPLATE
  const app = readFileSync(join(template, 'src', 'app.ts'), 'utf8')
  if (!app.includes(TENANCY_REGISTRATION)) {
    throw new CreateAppError(
      'ACME_CREATE_TEMPLATE_CHANGED',
      'The template no longer registers tenancy as expected.',
    )
  }

  const pkg = JSON.parse(readFileSync(join(template, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>
  }
  const dependencies = options.packagesDir
    ? { ...pkg.dependencies, ...localTarballs(pkg.dependencies, options.packagesDir) }
    : pkg.dependencies

  cpSync(template, directory, { recursive: true })
  renameSync(join(directory, '_gitignore'), join(directory, '.gitignore'))
  writeFileSync(
    join(directory, 'package.json'),
    `${JSON.stringify({ ...pkg, name: options.name, dependencies }, null, 2)}\n`,
  )
  if (TIERS[options.tier].tenancy === 'single') {
    writeFileSync(
      join(directory, 'src', 'app.ts'),
      app.replace(
        TENANCY_REGISTRATION,
        "await app.register(acmeTenancy, { plans, mode: 'single' })",
      ),
    )
  }
  writeFileSync(
    join(directory, '.env'),
    envFile(readFileSync(join(directory, '.env.example'), 'utf8'), options),
  )
  return { directory, planned: TIERS[options.tier].planned }
}

/** `.env.example` with the answers and fresh secrets filled in, every comment kept. */
function envFile(example: string, options: CreateOptions): string {
  const values: Record<string, string> = {
    BRAND_NAME: quoted(options.brand.trim()),
    DATABASE_URL: options.databaseUrl ?? '',
    // Single quotes: Node's .env loader keeps the JSON's double quotes inside them.
    JWT_PRIVATE_KEYS: `'${JSON.stringify([generateSigningKey()])}'`,
  }
  return example
    .split('\n')
    .map((line) => {
      const name = /^([A-Z][A-Z0-9_]*)=/.exec(line)?.[1]
      return name !== undefined && name in values ? `${name}=${values[name]}` : line
    })
    .join('\n')
}

/** Quoted so `#` and spaces survive Node's .env loader; the other kind of quote when it has one. */
function quoted(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`
}
