// Package guest builds, on the host, what a VM boots from: the initramfs with
// the agent (whose PID 1 is guest/pid1), busybox and the modules the guest
// loads, and each VM's copy with its configuration appended.
package guest
