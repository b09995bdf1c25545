// Command redstage is the redstage command-line client; see internal/cli
// and docs/cli.md.
package main

import (
	"os"

	"github.com/redstage/redstage/internal/cli"
)

func main() {
	os.Exit(cli.Main("redstage", os.Args[1:]))
}
