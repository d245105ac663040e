// Package depcheck holds the tests that keep renovate.json, the kit's
// dependency-update configuration, in step with the pins it updates: every
// version variable is annotated and matched, and the pins that the tests
// require to agree are updated in one group. It needs no built program and
// no service.
package depcheck
