//go:build !unix

package mio

func closeFd(int) error { return ErrUnsupported }
