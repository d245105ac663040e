package testproc

import (
	"time"

	"github.com/prometheus/procfs"
)

// RSS returns the resident set size of process pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	st, err := readProc(pid, procfs.Proc.NewStatus)
	return int64(st.VmRSS), err
}

// CPUTime returns the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	st, err := readProc(pid, procfs.Proc.Stat)
	// Clock ticks (USER_HZ, 100 on Linux) turned into float seconds: the
	// rounding gives back the exact tick.
	return time.Duration(st.CPUTime() * float64(time.Second)).Round(time.Millisecond), err
}

// readProc reads one file of /proc/<pid> with procfs.
func readProc[T any](pid int, read func(procfs.Proc) (T, error)) (T, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		var zero T
		return zero, err
	}
	return read(p)
}
