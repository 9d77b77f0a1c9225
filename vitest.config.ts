import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash and multi-process tests spawn children of their own; two cores are shared by everything.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    // .ci/run reads the counts from here for its closing `N passed, N failed` line.
    outputFile: { json: '.tmp/test-results.json' },
  },
})
