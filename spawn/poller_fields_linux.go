package spawn

// pollerOS is what a poller needs beyond the common fields on Linux: nothing.
type pollerOS struct{}
