package main

import (
	"fmt"
	"io"
	"strings"
)

// writeTable prints the results as one markdown table.
func writeTable(w io.Writer, results []Result) error {
	var b strings.Builder
	b.WriteString("| figure | measured | goal | min | median | max | baseline (median) | ratio | met |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		u := r.Row.Unit
		min, med, max := "–", "–", "–"
		if r.Measured.N > 0 {
			min, med, max = u.format(r.Measured.Min), u.format(r.Measured.Median), u.format(r.Measured.Max)
		}
		base, ratio := "—", "—"
		if r.Row.Baseline != "" {
			base = r.Row.BaselineWhat
			if r.Baseline.N > 0 {
				base += ": " + u.format(r.Baseline.Median)
			}
			if q := r.Ratio(); q > 0 {
				ratio = fmt.Sprintf("%.2f×", q)
			}
		}
		met := "yes"
		switch {
		case r.Err != nil:
			met = "**no**: " + cell(r.Err.Error())
		case !r.Met():
			met = "**no**"
		case r.Row.Met == nil:
			met = "—"
		}
		fmt.Fprintf(&b, "| %s %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Figure.ID, cell(r.Figure.Name), cell(r.Row.What), cell(r.Row.Goal), min, med, max, cell(base), ratio, met)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps text inside its table cell: one line, pipes escaped, at most
// 200 characters.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
