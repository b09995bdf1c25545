package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// unknownCommand matches cobra's error for an unknown subcommand.
var unknownCommand = regexp.MustCompile(`^unknown command "([^"]*)" for "([^"]*)"`)

// commandError turns cobra's unknown-command error into a usage error whose
// hint suggests the commands meant (cobra's SuggestionsFor: prefixes and
// small edit distances, e.g. "scna" -> scan).
func commandError(root *cobra.Command, err error) error {
	var ee *ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	m := unknownCommand.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	hint := fmt.Sprintf("see: %s --help", m[2])
	if s := root.SuggestionsFor(m[1]); len(s) > 0 {
		hint = fmt.Sprintf("did you mean: %s %s? (see: %s --help)", m[2], strings.Join(s, " or "), m[2])
	}
	return usageErrorf(hint, "unknown command %q for %q", m[1], m[2])
}

// unknownFlag matches pflag's errors for an unknown long or short flag.
var unknownFlag = regexp.MustCompile(`unknown (?:flag: --([^\s=]+)|shorthand flag: '(.)')`)

// suggestFlag returns the flag of c (its own and inherited) closest to the
// unknown flag of err, e.g. "--key-column" for --key-colum, or "".
func suggestFlag(c *cobra.Command, err error) string {
	m := unknownFlag.FindStringSubmatch(err.Error())
	if m == nil || m[1] == "" {
		return "" // a one-letter typo has too many neighbours to guess
	}
	typed := m[1]
	best, bestD := "", 3 // at most two edits away, or a prefix
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(typed, f.Name)
		if strings.HasPrefix(f.Name, typed) || strings.HasPrefix(typed, f.Name) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = "--"+f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
