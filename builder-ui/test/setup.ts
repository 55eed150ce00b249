import { afterEach, vi } from 'vitest';
import { cleanup } from '@testing-library/react';

// jsdom lacks these; @xyflow/react needs them.
class RO { observe() {} unobserve() {} disconnect() {} }
(globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver = RO;

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
  localStorage.clear();
});
