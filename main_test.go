package mio

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's test run if any goroutine outlives the
// tests. The stress tests also check after themselves with
// goleak.VerifyNone, which names the test that leaked.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
