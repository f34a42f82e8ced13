package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type genCertOptions struct {
	hosts      []string
	days       int
	outDir     string
	secretName string
	client     bool
}

// Demo certificates start five minutes in the past so a client whose clock
// is slightly behind does not reject them as not yet valid.
const clockSkew = 5 * time.Minute

// genCert writes a throwaway CA, a server certificate signed by it and,
// optionally, a client certificate for trying mutual TLS. The CA key is not
// written: nothing here should outlive the demo, and a CA key on disk is
// the one file that would make a leak matter.
func genCert(opts genCertOptions, now time.Time, stdout io.Writer) error {
	if len(opts.hosts) == 0 {
		return errors.New("-hosts must name at least one DNS name or IP address")
	}
	if opts.days < 1 {
		return errors.New("-days must be at least 1")
	}
	notBefore, notAfter := now.Add(-clockSkew), now.AddDate(0, 0, opts.days)

	ca, caKey, err := newCA("Passthrough demo CA", notBefore, notAfter)
	if err != nil {
		return err
	}
	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: opts.hosts[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range opts.hosts {
		if ip := net.ParseIP(h); ip != nil {
			server.IPAddresses = append(server.IPAddresses, ip)
		} else {
			server.DNSNames = append(server.DNSNames, h)
		}
	}
	serverDER, serverKey, err := issue(server, ca, caKey)
	if err != nil {
		return err
	}

	serverKeyPEM, err := pkcs8PEM(serverKey)
	if err != nil {
		return err
	}
	files := []pemFile{
		{"ca.pem", pemCert(ca.Raw), 0o644},
		{"cert.pem", pemCert(serverDER), 0o644},
		{"key.pem", serverKeyPEM, 0o600},
	}
	if opts.client {
		client := &x509.Certificate{
			Subject:     pkix.Name{CommonName: "passthrough-demo-client", Organization: []string{"Passthrough demo"}},
			NotBefore:   notBefore,
			NotAfter:    notAfter,
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		clientDER, clientKey, err := issue(client, ca, caKey)
		if err != nil {
			return err
		}
		clientKeyPEM, err := pkcs8PEM(clientKey)
		if err != nil {
			return err
		}
		files = append(files,
			pemFile{"client.pem", pemCert(clientDER), 0o644},
			pemFile{"client-key.pem", clientKeyPEM, 0o600},
		)
	}

	if err := os.MkdirAll(opts.outDir, 0o755); err != nil {
		return err
	}
	dir, err := filepath.Abs(opts.outDir)
	if err != nil {
		return err
	}
	// secret.json is the Secrets Manager secret the constructs read: one
	// JSON object, so that certificate and key are replaced together.
	secret, err := json.MarshalIndent(map[string]string{
		"certificate": string(pemCert(serverDER)),
		"privateKey":  string(serverKeyPEM),
		"clientCA":    string(pemCert(ca.Raw)),
	}, "", "  ")
	if err != nil {
		return err
	}
	files = append(files, pemFile{"secret.json", append(secret, '\n'), 0o600})

	var names []string
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
		names = append(names, f.name)
	}
	printSecretCommands(stdout, dir, names, opts)
	return nil
}

// printSecretCommands prints a pasteable shell snippet. The AWS CLI reads
// the secret from the file (file://), so no key material is ever printed to
// a terminal or its scrollback.
func printSecretCommands(w io.Writer, dir string, names []string, opts genCertOptions) {
	secretFile := shellQuote("file://" + filepath.Join(dir, "secret.json"))
	name := shellQuote(opts.secretName)
	fmt.Fprintf(w, "# wrote %s to %s (valid %d days, hosts %s)\n", strings.Join(names, ", "), dir, opts.days, strings.Join(opts.hosts, ","))
	fmt.Fprintf(w, "# store certificate, key and client CA as one secret in AWS Secrets Manager\n")
	fmt.Fprintf(w, "# (JSON fields certificate, privateKey, clientCA) and deploy an example with it:\n")
	fmt.Fprintf(w, "arn=$(aws secretsmanager create-secret --name %s --secret-string %s --query ARN --output text)\n", name, secretFile)
	fmt.Fprintf(w, "cdk deploy PassthroughPublicServicesFargate --parameters CertificateSecretArn=\"$arn\"\n")
	fmt.Fprintf(w, "# to rotate: put the new value, then start a new deployment of each service\n")
	fmt.Fprintf(w, "# (ECS reads secrets only when a container starts):\n")
	fmt.Fprintf(w, "#   aws secretsmanager put-secret-value --secret-id %s --secret-string %s\n", name, secretFile)
	fmt.Fprintf(w, "#   aws ecs update-service --cluster CLUSTER --service SERVICE --force-new-deployment\n")
	if opts.client {
		fmt.Fprintf(w, "# client.pem and client-key.pem stay with the client, e.g.\n")
		fmt.Fprintf(w, "# curl --cacert ca.pem --cert client.pem --key client-key.pem https://%s:8443/\n", opts.hosts[0])
	}
}

func newCA(cn string, notBefore, notAfter time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

// issue creates a fresh ECDSA P-256 key and signs tmpl for it with the CA.
// The serial number is left to crypto/x509, which picks a random one.
func issue(tmpl, ca *x509.Certificate, caKey crypto.Signer) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	return der, key, err
}

type pemFile struct {
	name string
	data []byte
	mode os.FileMode
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func pkcs8PEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFile also tightens the mode of a file that already exists, so a key
// regenerated over an old one never stays world-readable.
func writeFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
