// Command coordinator is the redstage coordinator; see internal/cli
// and docs/cli.md.
package main

import (
	"os"

	"github.com/redstage/redstage/internal/cli"
)

func main() {
	os.Exit(cli.Main("coordinator", os.Args[1:]))
}
