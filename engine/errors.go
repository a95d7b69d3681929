package engine

// ListenError is a failure to listen (port in use, bad address): websocketd
// prints "Can't start server: ..." and exits 3 for it.
type ListenError struct{ Err error }

func (e *ListenError) Error() string { return e.Err.Error() }
func (e *ListenError) Unwrap() error { return e.Err }
