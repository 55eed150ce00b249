import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api } from './api/client';
import type { NodeSpec } from './api/types';

interface NodeTypesState { specs: NodeSpec[]; byType: Map<string, NodeSpec>; error: string | null; loading: boolean }
const Ctx = createContext<NodeTypesState>({ specs: [], byType: new Map(), error: null, loading: true });

/** Loads GET /node-types once: the palette and the property panel are built from it alone. */
export function NodeTypesProvider({ children }: { children: ReactNode }) {
  const [specs, setSpecs] = useState<NodeSpec[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  useEffect(() => {
    api.nodeTypes().then(setSpecs, (e: Error) => setError(e.message)).finally(() => setLoading(false));
  }, []);
  const value = useMemo(() => ({ specs, byType: new Map(specs.map((s) => [s.type, s])), error, loading }), [specs, error, loading]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export const useNodeTypes = () => useContext(Ctx);
