package harness

import (
	"fmt"
	"strconv"
	"strings"

	"faultline/guest/pid1"
)

// QEMUConfig is everything that goes on a QEMU command line. Args composes
// it from small parts so each can be tested on its own.
type QEMUConfig struct {
	// Kernel and Initrd are the -kernel and -initrd files.
	Kernel, Initrd string
	// Cmdline is the kernel command line.
	Cmdline []string
	// Accel is "tcg" or "kvm".
	Accel string
	// CPUModel is the -cpu argument under TCG ("max" if empty); KVM always
	// uses "host".
	CPUModel string
	// CPUs and MemoryMB size the guest.
	CPUs, MemoryMB int
	// NUMANodes splits CPUs and memory over this many nodes when > 1.
	NUMANodes int
	// Disks are raw images attached as virtio-blk, in order (vda, vdb...).
	Disks []string
	// AgentSocket is the unix socket QEMU serves the agent's virtio-serial
	// port on (the SSH connection's host end).
	AgentSocket string
	// Net gives the guest a user-mode network (no port forwarded).
	Net bool
	// QMPSocket is the unix socket QEMU serves QMP on.
	QMPSocket string
}

// Args returns QEMU's arguments (without the binary).
func (c *QEMUConfig) Args() []string {
	var a []string
	a = append(a, c.baseArgs()...)
	a = append(a, c.machineArgs()...)
	a = append(a, c.bootArgs()...)
	a = append(a, c.consoleArgs()...)
	// The agent's port first: PCI slots go in command-line order, and the
	// guest's virtio_pci probes the devices in slot order, so the port
	// comes up before the disk and network devices are probed. No entropy
	// device: random.trust_cpu=on (BaseCmdline) seeds the kernel's RNG
	// from the CPU at boot, and a virtio-rng device cost a module load and
	// a probe on the way to the agent's port.
	a = append(a, c.portArgs()...)
	a = append(a, c.diskArgs()...)
	a = append(a, c.netArgs()...)
	return a
}

func (c *QEMUConfig) baseArgs() []string {
	// -no-reboot: a guest reboot (the kernel's panic=-1) ends QEMU.
	return []string{"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"}
}

func (c *QEMUConfig) machineArgs() []string {
	a := []string{"-machine", "q35"}
	switch c.Accel {
	case "kvm":
		a = append(a, "-accel", "kvm", "-cpu", "host")
	default:
		model := c.CPUModel
		if model == "" {
			model = "max"
		}
		a = append(a, "-accel", "tcg,thread=multi", "-cpu", model)
	}
	smp := strconv.Itoa(c.CPUs)
	if c.NUMANodes > 1 && c.CPUs%c.NUMANodes == 0 {
		// One socket per node: cores that share a socket (and its
		// last-level cache) on different nodes make the guest warn at
		// boot (topology_sane), which would read as a crash.
		smp += fmt.Sprintf(",sockets=%d,cores=%d,threads=1", c.NUMANodes, c.CPUs/c.NUMANodes)
	}
	a = append(a, "-smp", smp, "-m", strconv.Itoa(c.MemoryMB)+"M")
	if c.NUMANodes > 1 {
		mem := c.MemoryMB / c.NUMANodes
		cpus := c.CPUs / c.NUMANodes
		for n := 0; n < c.NUMANodes; n++ {
			id := "mem" + strconv.Itoa(n)
			a = append(a, "-object", fmt.Sprintf("memory-backend-ram,id=%s,size=%dM", id, mem))
			numa := fmt.Sprintf("node,nodeid=%d,memdev=%s", n, id)
			if cpus > 0 {
				numa += fmt.Sprintf(",cpus=%d-%d", n*cpus, (n+1)*cpus-1)
			}
			a = append(a, "-numa", numa)
		}
	}
	return a
}

func (c *QEMUConfig) bootArgs() []string {
	return []string{"-kernel", c.Kernel, "-initrd", c.Initrd, "-append", strings.Join(c.Cmdline, " ")}
}

func (c *QEMUConfig) consoleArgs() []string {
	// The serial console goes to QEMU's stdout, which the harness reads from
	// the first byte; QMP on a unix socket.
	a := []string{"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con"}
	if c.QMPSocket != "" {
		a = append(a, "-chardev", "socket,id=qmp,path="+c.QMPSocket+",server=on,wait=off",
			"-mon", "chardev=qmp,mode=control")
	}
	return a
}

func (c *QEMUConfig) diskArgs() []string {
	var a []string
	for i, d := range c.Disks {
		id := "disk" + strconv.Itoa(i)
		a = append(a, "-drive", "file="+escapeComma(d)+",if=none,id="+id+",format=raw,cache=unsafe,aio=threads",
			"-device", "virtio-blk-pci,drive="+id)
	}
	return a
}

// netArgs gives the guest a network only when asked: user-mode, with
// nothing forwarded from the host (no listener on the host).
func (c *QEMUConfig) netArgs() []string {
	if !c.Net {
		return nil
	}
	return []string{"-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0"}
}

// portArgs is the agent's port: a virtio-serial port whose host end is a
// unix socket QEMU listens on in the VM's private directory.
func (c *QEMUConfig) portArgs() []string {
	if c.AgentSocket == "" {
		return nil
	}
	return []string{"-device", "virtio-serial-pci,id=vser0",
		"-chardev", "socket,id=agent,path=" + escapeComma(c.AgentSocket) + ",server=on,wait=off",
		"-device", "virtserialport,bus=vser0.0,chardev=agent,name=" + pid1.PortName}
}

// escapeComma doubles commas, QEMU's escape inside option values.
func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }
