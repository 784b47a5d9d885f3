package ledger_test

import (
	"os"
	"testing"

	"github.com/segloop/segloop/internal/testserver"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path) // does not return
	}
	testserver.Main(m)
}
