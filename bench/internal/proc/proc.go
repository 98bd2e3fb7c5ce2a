// Package proc reads what the benchmarks measure of another process on
// Linux from /proc: its CPU time and resident memory. A process that is
// gone or a file that cannot be read counts as zero, so a caller that
// measures a difference sees one it can tell is wrong (a drop to zero)
// rather than stopping half-way through a run.
package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, fixed
// at 100 for user space on every architecture Linux runs Go on.
const userHZ = 100

// CPUTime is the user + system CPU time of a process so far, its threads
// included.
func CPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields start after the command name, which may contain spaces
	// and parentheses: from the last ')' on, field 3 onwards.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(string(b[i+1:]))
	if len(fs) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fs[11], 10, 64)
	stime, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / userHZ
}

// RSS is a process's resident set size in bytes (VmRSS).
func RSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) >= 2 && fs[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(fs[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// Group is the processes of one server measured as one: nginx's master
// and workers, or a single process.
type Group []int

// ParseGroup reads a comma- or space-separated list of process ids.
func ParseGroup(s string) (Group, error) {
	var g Group
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("process id %q: not a positive number", f)
		}
		g = append(g, pid)
	}
	return g, nil
}

// CPUTime is the CPU time of the group's processes so far, summed.
func (g Group) CPUTime() time.Duration {
	var t time.Duration
	for _, pid := range g {
		t += CPUTime(pid)
	}
	return t
}

// RSS is the group's resident set sizes summed. Pages the processes share
// (nginx's master and workers share their code) count once per process:
// compare differences of a group's RSS, not its level with another's.
func (g Group) RSS() int64 {
	var n int64
	for _, pid := range g {
		n += RSS(pid)
	}
	return n
}
