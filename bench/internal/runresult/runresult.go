// Package runresult is the record of one benchmark run: the line of JSON
// the load generator prints and the report reads, kept in one place so the
// two cannot drift apart.
package runresult

// Result is one run of one server under one workload.
type Result struct {
	Server   string `json:"server"`
	Workload string `json:"workload"`
	Round    int    `json:"round"`
	// Pair, in a paired run (bench/run --paired), names the server that
	// is not the reference in the pair this run belongs to: the reference
	// and that server ran at the same time, so the ratio of the two
	// cancels what the machine's other load did in those seconds.
	Pair   string `json:"pair,omitempty"`
	Conns  int    `json:"conns"`
	Active int    `json:"active"`
	Size   int    `json:"size"`
	Depth  int    `json:"depth"`
	// RPC marks W5's framed requests: Size is then the payload, and each
	// message on the wire is 4 bytes longer.
	RPC bool `json:"rpc,omitempty"`

	WindowS   float64 `json:"window_s"`
	Msgs      int64   `json:"msgs"`
	MsgsPerS  float64 `json:"msgs_per_s"`
	ServerCPU float64 `json:"server_cpu_s"`
	// ServerCPUTicks is the same window from /proc/PID/stat, in seconds
	// at a resolution of 10 ms.
	ServerCPUTicks float64 `json:"server_cpu_ticks_s"`
	ServerThreads  int     `json:"server_threads"`
	ServerNsPerMsg float64 `json:"server_ns_per_msg"`
	ServerUtil     float64 `json:"server_util"`
	ClientCPU      float64 `json:"client_cpu_s"`
	ClientNsPerMsg float64 `json:"client_ns_per_msg"`
	ClientUtil     float64 `json:"client_util"`
	P50us          float64 `json:"p50_us,omitempty"`
	P99us          float64 `json:"p99_us,omitempty"`
	PeakRSSKB      int64   `json:"peak_rss_kb"`
	RSSKB          int64   `json:"rss_kb"`

	// Set with -memory: the server's VmRSS before the connections were
	// opened and once they all were, idle; and the system's slab memory,
	// the kernel's own cost of both ends of every connection.
	RSSBeforeKB     int64   `json:"rss_before_kb,omitempty"`
	RSSIdleKB       int64   `json:"rss_idle_kb,omitempty"`
	RSSPerConnB     float64 `json:"rss_per_conn_b,omitempty"`
	KernelPerConnB  float64 `json:"kernel_per_conn_b,omitempty"`
	ConnectSeconds  float64 `json:"connect_s,omitempty"`
	LoadAvg1        float64 `json:"loadavg1"`
	ClientSaturated bool    `json:"client_saturated"`

	// Error is set by bench/run, not the load generator, for a run that
	// failed; the report counts such runs.
	Error string `json:"error,omitempty"`
}
