/**
 * `holdfast/langgraph`: LangGraph's checkpointer on a Holdfast store. Needs the optional peer dependencies
 * `@langchain/langgraph-checkpoint` and `@langchain/core`.
 * @packageDocumentation
 */
export { HoldfastSaver } from './saver.js'
export type { ThreadEntry, ThreadStore, ThreadWrite, TypedValue } from '../checkpoints/thread-types.js'
