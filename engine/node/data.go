package node

import "strings"

// Get reads a dotted path ("metadata.order_id") from decoded JSON. ok is false when a step of the
// path is missing, is not an object, or the value is null.
func Get(v any, path string) (any, bool) { return GetPath(v, strings.Split(path, ".")) }

// GetPath is Get with the path already split, for loops over many rows.
func GetPath(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, v != nil
}
