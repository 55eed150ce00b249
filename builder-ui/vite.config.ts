import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/**
 * Writes a .gz and a .br next to every text file of the build, for the Go server to send by
 * Accept-Encoding. Both are deterministic (node's gzip header carries no time or name), so the
 * committed dist/ still matches a fresh build byte for byte.
 */
function precompress(): Plugin {
  return {
    name: 'opsflow-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      const dir = options.dir ?? 'dist';
      for (const name of Object.keys(bundle)) {
        if (!/\.(js|css|html|svg|json)$/.test(name)) continue;
        const data = readFileSync(join(dir, name));
        if (data.length < 1024) continue; // not worth a request header's worth of savings
        writeFileSync(join(dir, name + '.gz'), gzipSync(data, { level: 9 }));
        writeFileSync(join(dir, name + '.br'), brotliCompressSync(data, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
        }));
      }
    },
  };
}

// No @vitejs/plugin-react: esbuild compiles JSX with the automatic runtime.
// The build is deterministic (content hashes only), because the output in dist/ is committed
// and embedded in the Go binary; CI rebuilds it and fails on any difference.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic' },
  plugins: [precompress()],
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
