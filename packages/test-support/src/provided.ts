// What the global setup hands to every test file of the run (vitest's provide/inject).
declare module 'vitest' {
  export interface ProvidedContext {
    /** The migrations folder built from the package's merged schema (`global-setup.ts`). */
    acmeSchemaMigrationsDir: string
    /** Where test apps append their log lines for the run's secret scan (`log-capture.ts`). */
    acmeLogCaptureDir: string
  }
}

export const SCHEMA_MIGRATIONS_KEY = 'acmeSchemaMigrationsDir'

export const LOG_CAPTURE_KEY = 'acmeLogCaptureDir'
