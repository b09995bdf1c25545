// Command worker is the redstage worker; see internal/cli
// and docs/cli.md.
package main

import (
	"os"

	"github.com/redstage/redstage/internal/cli"
)

func main() {
	os.Exit(cli.Main("worker", os.Args[1:]))
}
