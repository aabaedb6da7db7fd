package harness

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// KeyPair is a fresh SSH key made for one VM.
type KeyPair struct {
	// Signer signs with the private key.
	Signer ssh.Signer
	// PEM is the private key in OpenSSH PEM form.
	PEM []byte
}

// Public returns the public key in authorized_keys form.
func (k *KeyPair) Public() string {
	return string(ssh.MarshalAuthorizedKey(k.Signer.PublicKey()))
}

// NewKeyPair makes a fresh ed25519 key.
func NewKeyPair() (*KeyPair, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ssh key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, fmt.Errorf("marshal ssh key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ssh signer: %w", err)
	}
	return &KeyPair{Signer: signer, PEM: pem.EncodeToMemory(block)}, nil
}

// ClientConfig is the SSH client configuration for a VM: public-key
// authentication with client, and the host key pinned to hostKey: a guest
// presenting any other key is refused.
func ClientConfig(client *KeyPair, hostKey ssh.PublicKey, timeout time.Duration) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(client.Signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         timeout,
	}
}
