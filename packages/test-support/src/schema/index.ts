export { mergePackageSchema, type PackageSchema } from './package-schema.js'
export {
  type SchemaMigrations,
  type SchemaMigrationsOptions,
  schemaMigrations,
} from './schema-migrations.js'
