// Package pid1 is what runs first in the guest: the init process (PID 1)
// that mounts the filesystems, loads the modules, mounts the scratch disk,
// serves the controller SSH on a virtio-serial port, reaps orphans and
// powers the guest off.
package pid1

// ConfigPath is where the agent finds its configuration: a file in a small
// cpio archive that the controller appends to the cached initramfs for each
// VM. Unlike a QEMU fw_cfg item it is there before any module is loaded, and
// the kernel needs nothing beyond initramfs support.
const ConfigPath = "/etc/faultline/agent.json"

// ScratchDir is where the agent mounts the scratch disk in the guest.
const ScratchDir = "/mnt/scratch"

// ListeningLine is what the agent prints on the console once its SSH server
// has opened its port; the handshake overlaps the rest of the setup.
const ListeningLine = "faultline-agent: listening"

// ReadyLine is what the agent prints on the console once the guest is set up
// (scratch disk mounted): commands may run.
const ReadyLine = "faultline-agent: ready"

// PortName is the name of the virtio-serial port that carries the agent's
// SSH connection.
const PortName = "faultline.agent"
