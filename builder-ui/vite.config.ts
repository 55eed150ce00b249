import { defineConfig } from 'vitest/config';

// No @vitejs/plugin-react: esbuild compiles JSX with the automatic runtime.
// The build is deterministic (content hashes only), because the output in dist/ is committed
// and embedded in the Go binary; CI rebuilds it and fails on any difference.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
    rollupOptions: {
      onwarn(warning, warn) {
        // @xyflow/react starts with "use client", meaningless outside React Server Components.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    port: 5173,
    proxy: {
      '/api': process.env.OPSFLOW_API ?? 'http://127.0.0.1:8080',
      '/healthz': process.env.OPSFLOW_API ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./test/setup.ts'],
    include: ['test/**/*.test.{ts,tsx}'],
    css: false,
    // A safety net only: on a loaded CI machine a full page render can take seconds.
    testTimeout: 30_000,
  },
});
