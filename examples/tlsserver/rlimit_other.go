//go:build !unix

package main

// openFileLimit is unknown outside Unix; the connection cap then does not
// consider it.
func openFileLimit() int { return 0 }
