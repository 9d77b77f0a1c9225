/**
 * The runtime: plain functions over an open `Store`, written against the public store contracts only, so they
 * run on every backend that passes `holdfast/testing` (`spec/runtime.md`).
 * @module
 */
export {
  handleCommand,
  loadAggregate,
  type AggregateOptions,
  type CommandEvent,
  type CommandOptions,
  type CommandResult,
  type LoadedAggregate,
  type SnapshotOptions,
} from './aggregates.js'
export { newEventId } from './ulid.js'
export {
  contentHashOf,
  PACKAGE_ROUTE_AGGREGATE,
  PackageRegistry,
  type RouteChangeOptions,
  type DeployOptions,
  type ReloadedRoute,
  type ReloadReport,
  type RouteAction,
  type RouteChange,
  type SkippedPackage,
} from './registry.js'
export { subscribe, type Subscription, type SubscriptionEvents, type SubscriptionState } from './subscriptions/subscription.js'
export type { Handler, HandlerContext, RetryOptions, SubscribeOptions } from './subscriptions/options.js'
export { listParked, resumeParked, rewindSubscription, type ParkedSubscription, type ResumeOptions, type RewindOptions } from './subscriptions/parking.js'
export { ProcedureRunner } from './procedures/procedure-runner.js'
export { ProcedurePoisoned } from './procedures/procedure-poisoned.js'
export type {
  ProcedureDefinition,
  ProcedureInfo,
  ProcedureListOptions,
  ProcedureResumeReport,
  ProcedureRetryOptions,
  ProcedureRunnerOptions,
  ProcedureRunOptions,
  ProcedureStatus,
  ProcedureStep,
  ProcedureStepContext,
  ProcedureStepResult,
} from './procedures/types.js'
