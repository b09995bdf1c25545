package cli

import (
	"fmt"
	goruntime "runtime"

	"github.com/spf13/cobra"

	"github.com/redstage/redstage/internal/version"
)

// VersionInfo is what redstage version --json prints.
type VersionInfo struct {
	Program string `json:"program"`
	Version string `json:"version"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

func (a *App) versionCommand(g *GlobalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of redstage (the same as coordinator and worker of this build)",
		Long: `Version prints the version of this build. The three programs of one build
(redstage, coordinator, worker) report the same version; so do the worker
records of redstage workers. --version prints the same line.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.record(cmd, g) {
				return nil
			}
			info := VersionInfo{Program: "redstage", Version: version.String(), Go: goruntime.Version(), OS: goruntime.GOOS, Arch: goruntime.GOARCH}
			if g.JSON {
				a.writeJSONDoc(a.Stdout, info)
				return nil
			}
			_, err := fmt.Fprintf(a.Stdout, "redstage %s\n", info.Version)
			return err
		},
	}
}
