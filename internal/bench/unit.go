package main

import (
	"fmt"
	"strconv"
)

// Unit says how a value prints; values are stored in the unit itself
// (milliseconds, not nanoseconds).
type Unit int

const (
	Millis        Unit = iota // milliseconds
	PerSecond                 // operations per second
	MiB                       // mebibytes
	Count                     // a plain number (errors, updates)
	Seconds                   // seconds, for runs that take seconds
	PerSecondRate             // a small rate, with two decimals: 0.98/s
)

func (u Unit) format(x float64) string {
	switch u {
	case Millis:
		switch {
		case x < 1:
			return strconv.FormatFloat(x, 'f', 3, 64) + " ms"
		case x < 100:
			return strconv.FormatFloat(x, 'f', 1, 64) + " ms"
		default:
			return strconv.FormatFloat(x, 'f', 0, 64) + " ms"
		}
	case PerSecond:
		return thousands(x) + "/s"
	case MiB:
		return strconv.FormatFloat(x, 'f', 1, 64) + " MiB"
	case Seconds:
		return strconv.FormatFloat(x, 'f', 2, 64) + " s"
	case PerSecondRate:
		return strconv.FormatFloat(x, 'f', 2, 64) + "/s"
	default:
		if x == float64(int64(x)) {
			return thousands(x)
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// thousands rounds x and groups its digits by three: 12,510.
func thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		return "-" + s
	}
	return s
}
