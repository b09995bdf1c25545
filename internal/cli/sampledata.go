package cli

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/redstage/redstage/internal/sampledata"
)

// SampleDataOptions are the options of redstage sample-data.
type SampleDataOptions struct {
	Global *GlobalOptions
	Config sampledata.Config
	Scale  float64
}

func (a *App) sampleDataCommand(g *GlobalOptions) *cobra.Command {
	o := &SampleDataOptions{Global: g}
	var seed uint64
	cmd := &cobra.Command{
		Use:   "sample-data DIR",
		Short: "Write the demo's sample files (customers, orders, products, messy users, events) into DIR",
		Long: `Sample-data writes the files of a small staging workflow into DIR (created if
missing): customers.csv, orders.parquet, products.ndjson, users_messy.csv (with
missing and duplicate emails and unparsable ages and dates) and events.parquet.
The data is deterministic for a given --seed; --scale multiplies every size.`,
		Example: `  redstage sample-data ./demo-data
  redstage sample-data ./big --scale 100`,
		Args: exactArgs(1, "a DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Scale <= 0 {
				return usageErrorf("e.g. --scale 10", "--scale %g must be positive", o.Scale)
			}
			o.Config = scaleConfig(sampledata.DefaultConfig(args[0]), o.Scale)
			o.Config.Seed = seed
			if err := o.Config.Validate(); err != nil {
				return exitErr(ExitUsage, "see: redstage sample-data --help", err)
			}
			if a.record(cmd, o) {
				return nil
			}
			return a.runSampleData(o)
		},
	}
	cmd.Flags().Uint64Var(&seed, "seed", sampledata.DefaultConfig("").Seed, "random seed (same seed, same files)")
	cmd.Flags().Float64Var(&o.Scale, "scale", 1, "multiply every file's row count")
	return cmd
}

func scaleConfig(c sampledata.Config, f float64) sampledata.Config {
	s := func(n int) int { return max(1, int(float64(n)*f)) }
	c.Customers, c.Orders, c.Products, c.Users, c.Events = s(c.Customers), s(c.Orders), s(c.Products), s(c.Users), s(c.Events)
	return c
}

func (a *App) runSampleData(o *SampleDataOptions) error {
	if err := os.MkdirAll(o.Config.Dir, 0o755); err != nil {
		return exitErr(ExitInput, "choose a directory you can write to", fmt.Errorf("creating %s: %w", o.Config.Dir, err))
	}
	files, err := sampledata.Generate(o.Config)
	if err != nil {
		return exitErr(ExitInput, "choose a directory you can write to", err)
	}
	if o.Global.JSON {
		a.writeJSONDoc(a.Stdout, files)
		return nil
	}
	if o.Global.Quiet {
		return nil
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tFILE\tROWS\tKEY COLUMN")
	for _, f := range files {
		key := f.KeyColumn
		if key == "" {
			key = "(none: keys are prefix + row index)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Path, groupDigits(int64(f.Rows)), key)
	}
	return tw.Flush()
}
