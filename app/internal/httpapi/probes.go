package httpapi

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Probes answers the process probes of every process of the service (the
// API and `app worker`): GET /livez, 200 while the process runs, and GET
// /readyz, 200 while its critical dependencies answer and it is not
// draining. The zero value with Ready set is ready to use.
type Probes struct {
	// Ready reports whether every critical check passes
	// ([health.Checker.Ready]).
	Ready    func(ctx context.Context) bool
	draining atomic.Bool
}

// Drain makes /readyz fail from now on, so that load balancers and
// orchestrators stop sending work before the process stops.
func (p *Probes) Drain() { p.draining.Store(true) }

// Livez answers GET /livez.
func (p *Probes) Livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz answers GET /readyz.
func (p *Probes) Readyz(w http.ResponseWriter, r *http.Request) {
	if p.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	if !p.Ready(r.Context()) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
