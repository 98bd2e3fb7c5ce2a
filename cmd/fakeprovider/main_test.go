package main

import (
	"strings"
	"testing"
)

func TestRunRejectsBadConfiguration(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-provider", "nope"}, "not in the catalog"},
		{[]string{"-dialect", "nope"}, "not spoken"},
		{[]string{"-limit", "requests/1m"}, "resource/window=value"},
		{[]string{"-scale", "0"}, "-scale"},
		{[]string{"-stream-delay", "soon"}, "-stream-delay"},
		{[]string{"-log-level", "loud"}, "-log-level"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tc := range cases {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}
