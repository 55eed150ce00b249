//go:build !unix

package main

import "os"

// lockDataDir does not lock on systems without flock; the port bound first still stops a second serve.
func lockDataDir(string) (*os.File, error) { return nil, nil }
