import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** A child process running one of the scripts in this folder under tsx, with its stdout read line by line. */
export interface Child {
  proc: ChildProcessWithoutNullStreams
  /** Resolves with the next stdout line (rejects if the child exits first). */
  nextLine(): Promise<string>
  /** Every stdout line seen so far. */
  lines: string[]
  /** Sends a line to the child's stdin. */
  send(line: string): void
  /** Resolves with the exit code or signal once the child has exited. */
  exited: Promise<number | string | null>
}

/** Starts `script` (a file name in test/children) with `args`. */
export function spawnChild(script: string, args: string[]): Child {
  const file = fileURLToPath(new URL(script, import.meta.url))
  const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  const waiting: { resolve: (l: string) => void; reject: (e: Error) => void }[] = []
  let buffered = 0
  let stderr = ''
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  createInterface({ input: proc.stdout }).on('line', (line) => {
    lines.push(line)
    const w = waiting.shift()
    if (w) {
      buffered++
      w.resolve(line)
    }
  })
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)))
  void exited.then(() => {
    for (const w of waiting.splice(0)) w.reject(new Error(`child ${script} exited; stderr:\n${stderr}`))
  })
  return {
    proc,
    lines,
    exited,
    nextLine: () => {
      if (buffered < lines.length) return Promise.resolve(lines[buffered++]!)
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }))
    },
    send: (line) => proc.stdin.write(`${line}\n`),
  }
}
