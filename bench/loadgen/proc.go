//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cpuSample is a process's CPU time as the kernel accounts it.
type cpuSample struct {
	sched   int64 // ns on a CPU, summed over /proc/PID/task/*/schedstat
	ticks   int64 // utime+stime from /proc/PID/stat, in clock ticks
	threads int
}

// clockTick is USER_HZ, the unit of /proc/PID/stat; 100 on every Linux
// architecture Go supports.
const clockTick = 100

// readCPU samples pid's CPU time. schedstat is kept in nanoseconds, so it
// resolves short windows; stat's ticks also count threads that have
// exited and serve as the cross-check.
func readCPU(pid int) (cpuSample, error) {
	var s cpuSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces; fields resume after its ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	s.ticks = utime + stime

	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return s, err
	}
	for _, e := range ents {
		b, err := os.ReadFile(dir + "/" + e.Name() + "/schedstat")
		if err != nil {
			continue // the thread exited meanwhile
		}
		if i := bytes.IndexByte(b, ' '); i > 0 {
			ns, _ := strconv.ParseInt(string(b[:i]), 10, 64)
			s.sched += ns
			s.threads++
		}
	}
	return s, nil
}

// readStatus returns the named fields of /proc/PID/status, in kB.
func readStatus(pid int, names ...string) (map[string]int64, error) {
	return readKB(fmt.Sprintf("/proc/%d/status", pid), names...)
}

// readKB reads "Name:   123 kB" lines such as those of /proc/meminfo.
func readKB(path string, names ...string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make(map[string]int64, len(names))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range names {
			if name == want {
				num, _, _ := strings.Cut(strings.TrimSpace(val), " ")
				out[name], _ = strconv.ParseInt(num, 10, 64)
			}
		}
	}
	return out, sc.Err()
}

// selfCPU is this process's user+system time in nanoseconds.
func selfCPU() int64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
