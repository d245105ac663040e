package testproc

import (
	"time"

	"github.com/prometheus/procfs"
)

// RSS returns the resident set size of process pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, err
	}
	return int64(st.VmRSS), nil
}

// CPUTime returns the user plus system CPU time process pid has used.
func CPUTime(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	// In clock ticks (USER_HZ, 100 on Linux) converted to seconds: exact
	// to the tick as a float64, so the rounding restores it.
	return time.Duration(st.CPUTime() * float64(time.Second)).Round(time.Millisecond), nil
}
