package proc

import (
	"os"
	"slices"
	"testing"
	"time"
)

func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	before := CPUTime(pid)
	// Spin until the kernel has charged at least two ticks to this process.
	for deadline := time.Now().Add(5 * time.Second); CPUTime(pid)-before < 2*time.Second/userHZ; {
		if time.Now().After(deadline) {
			t.Fatalf("CPUTime stayed at %v after 5 s of spinning", CPUTime(pid))
		}
	}
	if rss := RSS(pid); rss < 1<<20 {
		t.Errorf("RSS(self) = %d bytes, want at least 1 MiB", rss)
	}
	g := Group{pid, pid}
	if got, one := g.RSS(), RSS(pid); got < 2*one*9/10 {
		t.Errorf("Group{self, self}.RSS() = %d, want about twice %d", got, one)
	}
}

func TestGoneProcess(t *testing.T) {
	// Above the kernel's pid_max (at most 2^22): no such process.
	const gone = 1 << 23
	if c, r := CPUTime(gone), RSS(gone); c != 0 || r != 0 {
		t.Errorf("a process that does not exist: CPUTime %v, RSS %d, want 0 and 0", c, r)
	}
}

func TestParseGroup(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Group
		err  bool
	}{
		{in: "", want: nil},
		{in: "12", want: Group{12}},
		{in: "12,34", want: Group{12, 34}},
		{in: "12 34  56", want: Group{12, 34, 56}},
		{in: " 12, 34 ", want: Group{12, 34}},
		{in: "12,x", err: true},
		{in: "0", err: true},
		{in: "-3", err: true},
	} {
		got, err := ParseGroup(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseGroup(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseGroup(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
