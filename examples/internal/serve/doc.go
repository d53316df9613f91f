// Package serve holds what the example servers would otherwise each write
// for themselves: binding the address of their -addr flag, running a
// mio.Server and stopping it with a bounded grace, the list of connection
// errors not worth logging, and running until SIGINT or SIGTERM. It is
// scaffolding for the examples, not part of the library: what a server
// does with its connections stays in the example, where a reader looks
// for it.
package serve
