package gitlab

import (
	"bufio"
	"bytes"
	"testing"
)

// The performance goal for ParseMigrateStatus: the 3000-row fixture in at
// most 1 ms/op and at most 5x BenchmarkScanLinesLarge, a plain line count
// over the same bytes measured in the same run:
//
//	go test -run XXX -bench 'Large' -benchmem ./gitlab

func BenchmarkParseMigrateStatusLarge(b *testing.B) {
	data := readFixture(b, "migrate-status-large.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ParseMigrateStatus(data)
		if err != nil || len(st.Databases) != 1 || len(st.Databases[0].Migrations) != 3000 {
			b.Fatalf("unexpected parse: %v", err)
		}
	}
}

// BenchmarkScanLinesLarge is the baseline: the least any line-oriented
// parser has to do.
func BenchmarkScanLinesLarge(b *testing.B) {
	data := readFixture(b, "migrate-status-large.txt")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		n := 0
		for sc.Scan() {
			n++
		}
		if sc.Err() != nil || n != 3006 {
			b.Fatalf("counted %d lines: %v", n, sc.Err())
		}
	}
}
