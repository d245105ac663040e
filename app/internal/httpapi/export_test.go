package httpapi

// The live feed's timers, for the tests that check them in fake time.
const (
	WSPingInterval = wsPingInterval
	WSWriteTimeout = wsWriteTimeout
)
