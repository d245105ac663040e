package testenv

import (
	"context"
	"net"
	"sync"
	"time"
)

// PipeListener is an in-memory [net.Listener] whose every connection is a
// [net.Pipe]. A server and its clients on it can run in a testing/synctest
// bubble: a goroutine waiting on a pipe is durably blocked, one waiting on
// a real socket is not, and fake time would stand still.
type PipeListener struct {
	conns    chan net.Conn
	done     chan struct{}
	once     sync.Once
	mu       sync.Mutex
	closedAt time.Time
}

// NewPipeListener returns an open PipeListener.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// Accept waits for the next [PipeListener.Dial].
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops Accept and Dial; it records when it was first called.
func (l *PipeListener) Close() error {
	l.once.Do(func() {
		l.mu.Lock()
		l.closedAt = time.Now()
		l.mu.Unlock()
		close(l.done)
	})
	return nil
}

// Addr is a placeholder: a pipe has no address.
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

// ClosedAt is when Close was first called (in a bubble, the fake time);
// zero while the listener is open.
func (l *PipeListener) ClosedAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closedAt
}

// Dial connects to l and returns the client's end, once the server has
// accepted it. Its signature is an [net/http.Transport]'s DialContext.
func (l *PipeListener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
