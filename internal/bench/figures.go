package main

import (
	"regexp"
	"slices"
	"strings"
)

// figures lists every figure in table order. Add a figure's constructor
// here (one file per figure).
func figures() []Figure {
	fs := []Figure{p1(), p2(), p3(), p4(), p5(), p6(), p7()}
	slices.SortStableFunc(fs, func(a, b Figure) int { return strings.Compare(a.ID, b.ID) })
	return fs
}

// selectFigures keeps the figures whose "ID name" matches only.
func selectFigures(fs []Figure, only *regexp.Regexp) []Figure {
	return slices.DeleteFunc(slices.Clone(fs), func(f Figure) bool { return !only.MatchString(f.ID + " " + f.Name) })
}
