import { useCallback, useEffect, useState } from 'react';
import { api } from '../api/client';
import type { FlowDoc, Problem, ValidateResult } from '../api/types';

/** Validates the document on the server (debounced) for problems and expression scopes. */
export function useValidation(doc: FlowDoc, docJson: string, enabled: boolean, onError: (msg: string) => void) {
  const [validation, setValidation] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  useEffect(() => {
    if (!enabled) return;
    setValidating(true);
    let cancelled = false;
    const h = setTimeout(() => {
      api.validate(doc)
        .then((v) => { if (!cancelled) setValidation({ valid: v.valid, problems: v.problems ?? [], scopes: v.scopes ?? {} }); },
          (e: Error) => { if (!cancelled) onError(e.message); })
        .finally(() => { if (!cancelled) setValidating(false); });
    }, 350);
    return () => { cancelled = true; clearTimeout(h); };
    // The JSON stands for the document.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [docJson, enabled]);
  /** Shows problems the server answered to a save or publish. */
  const reportProblems = useCallback((problems: Problem[]) => {
    if (problems.length) setValidation((v) => ({ valid: false, problems, scopes: v?.scopes ?? {} }));
  }, []);
  return { validation, validating, reportProblems };
}
