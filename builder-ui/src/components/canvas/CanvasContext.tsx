import { createContext, useContext } from 'react';
import type { Problem } from '../../api/types';
import type { ChangeKind } from '../../flow/compare';

/** What the canvas nodes need besides their own data; kept out of node data so undo/redo stays clean. */
export interface CanvasInfo {
  problemsByNode: Map<string, Problem[]>;
  /** The steps of the run shown on the canvas, by node id (the last attempt). */
  stepByNode: Map<string, { status: string; port?: string }> | null;
  readOnly: boolean;
  /** A team's name by id, for node summaries. */
  teamName?: (id: string) => string | undefined;
  /** While two versions are compared: how each node changed (unchanged nodes are absent). */
  changeByNode?: Map<string, ChangeKind>;
}

export const CanvasContext = createContext<CanvasInfo>({ problemsByNode: new Map(), stepByNode: null, readOnly: false });
export const useCanvasInfo = () => useContext(CanvasContext);
