package engine

// SetAfterReplayBatch makes every replay call fn after each batch it stores (nil: stop).
func SetAfterReplayBatch(fn func(replayID string, done int)) { afterReplayBatch = fn }
