// The evaluation engine: pure, no I/O. The Fastify plugin builds on it.
export type { AttributeValue, EvaluationContext } from './engine/conditions.js'
export {
  CONDITION_OPERATORS,
  type Condition,
  type ConditionOperator,
  FLAG_TYPES,
  type FlagDefinition,
  type FlagDefinitionInput,
  type FlagType,
  type FlagValue,
  type Prerequisite,
  type Rollout,
  type SegmentDefinition,
  type TargetingRule,
} from './engine/definition.js'
export { BUCKETS, bucketOf, murmurHash3 } from './engine/murmur.js'
export {
  type Decision,
  type EntitlementsOf,
  type Evaluation,
  type EvaluationReason,
  type ExplainStep,
  FlagSnapshot,
  type SnapshotInput,
  type TenantOverride,
} from './engine/snapshot.js'
export {
  prerequisiteCycle,
  problemsOfFlag,
  problemsOfSet,
  valueSchemaOf,
} from './engine/validate.js'
