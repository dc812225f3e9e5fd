// Package namespaces creates named network namespaces (in /var/run/netns,
// where iproute2 keeps them, so `ip netns exec NAME` enters them) and runs
// code in one. A network namespace belongs to a thread, not a process, so
// both work on a locked OS thread that is moved back afterwards, or thrown
// away with its goroutine if that fails.
package namespaces

import (
	"errors"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Dir is where named network namespaces live.
const Dir = "/var/run/netns"

// Path is the file of the named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Create creates the named network namespace.
func Create(name string) error {
	return onThread(func() error {
		ns, err := netns.NewNamed(name)
		if err == nil {
			ns.Close()
		}
		return err
	})
}

// Delete removes the named network namespace; it ends when the last process
// in it does.
func Delete(name string) error { return netns.DeleteNamed(name) }

// Do runs fn on a thread in the namespace at path: a process fn starts is
// born there, and sockets fn opens are the namespace's.
func Do(path string, fn func() error) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer target.Close()
	return onThread(func() error {
		if err := netns.Set(target); err != nil {
			return err
		}
		return fn()
	})
}

// onThread runs fn on a locked thread and puts the thread back into the
// namespace it started in.
func onThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return // the thread goes with the goroutine
		}
		defer orig.Close()
		err = fn()
		serr := netns.Set(orig)
		errc <- errors.Join(err, serr)
		if serr == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// Netlink opens a netlink handle in the named namespace; the caller
// closes it.
func Netlink(name string) (*netlink.Handle, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return netlink.NewHandleAt(h)
}

// LoopbackUp sets the named namespace's lo up (a new namespace has it down;
// pods get theirs from the CNI loopback plugin).
func LoopbackUp(name string) error {
	nl, err := Netlink(name)
	if err != nil {
		return err
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return err
	}
	return nl.LinkSetUp(lo)
}
