import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one Azurite and one Cosmos server; files run in parallel on 2 cores.
    server: { deps: { inline: ['@azure/functions'] } },
  },
});
