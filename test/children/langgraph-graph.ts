// A small LangGraph graph on a HoldfastSaver, run in two processes: `start` runs it until the review interrupts
// (a sibling node has finished in the same step, so its output is a pending write) and waits to be killed; `resume`
// resumes the thread in a new process and prints the final state.
import { Annotation, Command, END, START, StateGraph, interrupt } from '@langchain/langgraph'
import { openStore } from '../../src/index.js'
import { HoldfastSaver } from '../../src/langgraph/index.js'

const [url, schema, mode, threadId] = process.argv.slice(2) as [string, string, 'start' | 'resume', string]

const State = Annotation.Root({
  topic: Annotation<string>,
  log: Annotation<string[]>({ reducer: (a, b) => [...a, ...b], default: () => [] }),
  verdict: Annotation<string>,
  summary: Annotation<string>,
})

const Summary = Annotation.Root({ topic: Annotation<string>, verdict: Annotation<string>, summary: Annotation<string> })
const summarize = new StateGraph(Summary)
  .addNode('write', (s) => ({ summary: `${s.topic}: ${s.verdict}` }))
  .addEdge(START, 'write')
  .addEdge('write', END)
  .compile()

const store = await openStore(schema === '-' ? url : { url, schema })
const graph = new StateGraph(State)
  .addNode('research', (s) => ({ log: [`research on ${s.topic} by ${process.pid}`] }))
  .addNode('review', () => {
    const verdict = interrupt<{ question: string }, string>({ question: 'approve?' })
    return { verdict, log: [`review by ${process.pid}`] }
  })
  .addNode('finish', summarize)
  .addEdge(START, 'research')
  .addEdge(START, 'review')
  .addEdge(['research', 'review'], 'finish')
  .addEdge('finish', END)
  .compile({ checkpointer: new HoldfastSaver(store) })

const config = { configurable: { thread_id: threadId } }
if (mode === 'start') {
  const out = await graph.invoke({ topic: 'lisbon' }, config)
  console.log(`interrupted ${JSON.stringify((out as { __interrupt__?: unknown }).__interrupt__ ?? null)}`)
  setInterval(() => {}, 1000)
} else {
  const out = await graph.invoke(new Command({ resume: 'approved' }), config)
  console.log(`done ${process.pid} ${JSON.stringify(out)}`)
  await store.close()
}
