// What the global setup hands to every test file of the run (vitest's provide/inject).
declare module 'vitest' {
  export interface ProvidedContext {
    /** The migrations folder built from the package's merged schema (`global-setup.ts`). */
    acmeSchemaMigrationsDir: string
  }
}

export const SCHEMA_MIGRATIONS_KEY = 'acmeSchemaMigrationsDir'
