package parsers

import (
	"reflect"
	"testing"
	"time"
)

// parseUTC, ParseRFC3339's fast path, agrees with time.Parse on every day of
// every year it reads.
func TestParseRFC3339Calendar(t *testing.T) {
	for _, y := range []int{0, 1, 3, 4, 99, 100, 399, 400, 1582, 1899, 1900, 1969, 1970, 1971, 1999, 2000, 2024, 2026, 2100, 9999} {
		for d := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == y; d = d.AddDate(0, 0, 1) {
			for _, clock := range []string{"T00:00:00Z", "T23:59:59.999999999Z", "T12:34:56.7Z"} {
				s := d.Format("2006-01-02") + clock
				got, ok := parseUTC(s)
				want, err := time.Parse(time.RFC3339Nano, s)
				if !ok || err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("parseUTC(%q) = %v, %v; time.Parse %v, %v", s, got, ok, want, err)
				}
			}
		}
	}
}
