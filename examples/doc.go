// Package examples holds example flows and sample events; every one is run by this package's tests.
package examples
