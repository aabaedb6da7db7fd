package pid1

// Config is what the controller tells the agent, as JSON at ConfigPath.
type Config struct {
	// HostKey is the SSH host private key (OpenSSH PEM) the controller made
	// for this VM; the controller pins its public half.
	HostKey string `json:"host_key"`
	// AuthorizedKey is the controller's client public key
	// (authorized_keys format); the only key the agent accepts.
	AuthorizedKey string `json:"authorized_key"`
	// FS is the scratch filesystem type ("btrfs", "ext4"), or "" for none.
	FS string `json:"fs,omitempty"`
	// MountOpts are the scratch filesystem's mount options (-o).
	MountOpts string `json:"mount_opts,omitempty"`
	// ScratchDev is the scratch disk's device node in the guest.
	ScratchDev string `json:"scratch_dev,omitempty"`
	// Port is the name of the virtio-serial port the agent serves SSH on
	// (the host end is a unix socket in the VM's private directory).
	Port string `json:"port"`
	// IP is the guest's address with prefix on the user-mode network
	// (10.0.2.15/24), empty when the guest has no network.
	IP string `json:"ip,omitempty"`
}
