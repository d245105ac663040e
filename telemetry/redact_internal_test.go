package telemetry

import (
	"fmt"
	"testing"
)

// TestKeyVerdictsAgreeAndStayBounded: the remembered verdicts are the
// check's own, and keys made up at run time cannot grow the memory.
func TestKeyVerdictsAgreeAndStayBounded(t *testing.T) {
	for _, key := range []string{"password", "X-Api-Key", "client.address", "url.path", "post_id", "user_password"} {
		for range 3 { // computed, then remembered
			if got, want := IsSensitiveKey(key), isSensitiveKey(key); got != want {
				t.Errorf("IsSensitiveKey(%q) = %v, want %v", key, got, want)
			}
		}
	}
	for i := range 5 * maxKeyVerdicts {
		key := fmt.Sprintf("made_up_%d_token", i)
		if !IsSensitiveKey(key) {
			t.Fatalf("IsSensitiveKey(%q) = false", key)
		}
	}
	if n := len(*keyVerdicts.Load()); n > maxKeyVerdicts {
		t.Errorf("%d verdicts remembered, want at most %d", n, maxKeyVerdicts)
	}
}
