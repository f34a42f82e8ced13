package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The encrypted keys in these tests come from OpenSSL, an implementation
// other than the one under test, so that the tests check the format and
// not this file's reading of it. They skip only when openssl is missing.

const testPassphrase = "correct horse battery staple"

// openssl returns the path of the openssl binary, or skips the test.
func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: the encrypted keys are made with it")
	}
	return p
}

var (
	testKeysOnce sync.Once
	testKeys     map[string]crypto.Signer
	testKeysErr  error
)

// rsaAndECDSAKeys are the two key types ACM issues exportable certificates
// for, generated once per test binary (an RSA key takes a while).
func rsaAndECDSAKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	testKeysOnce.Do(func() {
		var r *rsa.PrivateKey
		var e *ecdsa.PrivateKey
		if r, testKeysErr = rsa.GenerateKey(rand.Reader, 2048); testKeysErr != nil {
			return
		}
		if e, testKeysErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); testKeysErr != nil {
			return
		}
		testKeys = map[string]crypto.Signer{"RSA": r, "ECDSA": e}
	})
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	return testKeys
}

// encryptWithOpenSSL runs `openssl pkcs8 -topk8 -v2 cipher -v2prf prf`
// on key and returns the ENCRYPTED PRIVATE KEY PEM.
func encryptWithOpenSSL(t *testing.T, key crypto.Signer, cipher, prf, passphrase string) []byte {
	t.Helper()
	bin := openssl(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := t.TempDir()
	in, out := filepath.Join(dir, "key.pem"), filepath.Join(dir, "enc.pem")
	if err := os.WriteFile(in, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"pkcs8", "-topk8", "-in", in, "-out", out, "-v2", cipher, "-passout", "pass:" + passphrase}
	if prf != "" {
		args = append(args, "-v2prf", prf)
	}
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	enc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(enc, []byte("BEGIN "+encryptedKeyPEMType)) {
		t.Fatalf("openssl wrote no %s:\n%s", encryptedKeyPEMType, enc)
	}
	return enc
}

func TestEncryptedPKCS8KeysDecryptForEveryAcceptedVariant(t *testing.T) {
	t.Parallel()
	keys := rsaAndECDSAKeys(t)
	for _, cipher := range []string{"aes-128-cbc", "aes-256-cbc"} {
		for _, prf := range []string{"hmacWithSHA1", "hmacWithSHA256", "hmacWithSHA512"} {
			for name, key := range keys {
				t.Run(name+"/"+cipher+"/"+prf, func(t *testing.T) {
					t.Parallel()
					enc := encryptWithOpenSSL(t, key, cipher, prf, testPassphrase)
					got, err := decryptKeyPEM(enc, []byte(testPassphrase))
					if err != nil {
						t.Fatal(err)
					}
					block, _ := pem.Decode(got)
					if block == nil || block.Type != "PRIVATE KEY" {
						t.Fatalf("decrypted PEM %q, want one PRIVATE KEY block", got)
					}
					parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
					if err != nil {
						t.Fatal(err)
					}
					if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(parsed.(crypto.Signer).Public()) {
						t.Error("decrypted key is not the key that was encrypted")
					}
				})
			}
		}
	}
}

// TestEncryptedKeyWithoutPRFIsSHA1: PBKDF2's PRF field is optional and
// means HMAC-SHA-1 when absent (RFC 8018, appendix A.2); OpenSSL writes it
// so when asked for hmacWithSHA1.
func TestEncryptedKeyWithoutPRFIsSHA1(t *testing.T) {
	t.Parallel()
	enc := encryptWithOpenSSL(t, rsaAndECDSAKeys(t)["ECDSA"], "aes-128-cbc", "hmacWithSHA1", testPassphrase)
	var kdf pbkdf2Params
	info := parseEncrypted(t, enc)
	var params pbes2Params
	if err := unmarshalParams(info.Algorithm, &params); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalParams(params.KeyDerivationFunc, &kdf); err != nil {
		t.Fatal(err)
	}
	if len(kdf.PRF.Algorithm) != 0 && !kdf.PRF.Algorithm.Equal(oidHMACWithSHA1) {
		t.Fatalf("openssl wrote PRF %v", kdf.PRF.Algorithm)
	}
	if _, err := decryptKeyPEM(enc, []byte(testPassphrase)); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptedKeyWithWrongPassphraseIsRefused(t *testing.T) {
	t.Parallel()
	keys := rsaAndECDSAKeys(t)
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			enc := encryptWithOpenSSL(t, key, "aes-256-cbc", "hmacWithSHA256", testPassphrase)
			for _, wrong := range []string{"Correct horse battery staple", "correct horse battery stapl", "x"} {
				_, err := decryptKeyPEM(enc, []byte(wrong))
				if err == nil || err.Error() != errWrongPassphrase.Error() {
					t.Errorf("passphrase %q: error %v, want %q", wrong, err, errWrongPassphrase)
				}
			}
		})
	}
}

// parseEncrypted returns the EncryptedPrivateKeyInfo of an encrypted PEM.
func parseEncrypted(t *testing.T, encPEM []byte) encryptedPrivateKeyInfo {
	t.Helper()
	block, _ := pem.Decode(encPEM)
	var info encryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(block.Bytes, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// rewrite decodes an OpenSSL-encrypted key, lets edit change its
// parameters, and encodes it again.
func rewrite(t *testing.T, encPEM []byte, edit func(info *encryptedPrivateKeyInfo, p *pbes2Params, kdf *pbkdf2Params, iv *[]byte)) []byte {
	t.Helper()
	info := parseEncrypted(t, encPEM)
	var p pbes2Params
	var kdf pbkdf2Params
	var iv []byte
	if err := unmarshalParams(info.Algorithm, &p); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalParams(p.KeyDerivationFunc, &kdf); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalParams(p.EncryptionScheme, &iv); err != nil {
		t.Fatal(err)
	}
	edit(&info, &p, &kdf, &iv)
	raw := func(v any) asn1.RawValue {
		b, err := asn1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: b}
	}
	p.KeyDerivationFunc.Parameters = raw(kdf)
	p.EncryptionScheme.Parameters = raw(iv)
	if info.Algorithm.Algorithm.Equal(oidPBES2) {
		info.Algorithm.Parameters = raw(p)
	}
	der, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: encryptedKeyPEMType, Bytes: der})
}

func TestMalformedEncryptedKeysAreRefusedWithTheReason(t *testing.T) {
	t.Parallel()
	key := rsaAndECDSAKeys(t)["ECDSA"]
	base := encryptWithOpenSSL(t, key, "aes-256-cbc", "hmacWithSHA512", testPassphrase)
	tests := []struct {
		name string
		pem  []byte
		want string
	}{
		{"not DER", pem.EncodeToMemory(&pem.Block{Type: encryptedKeyPEMType, Bytes: []byte("hello")}), "not an encrypted PKCS#8 key"},
		{"trailing data", func() []byte {
			b, _ := pem.Decode(base)
			return pem.EncodeToMemory(&pem.Block{Type: encryptedKeyPEMType, Bytes: append(b.Bytes, 0)})
		}(), "not an encrypted PKCS#8 key: trailing data"},
		{"PBES1", rewrite(t, base, func(i *encryptedPrivateKeyInfo, _ *pbes2Params, _ *pbkdf2Params, _ *[]byte) {
			// pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12)
			i.Algorithm = pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}}
		}), "encryption scheme 1.2.840.113549.1.12.1.3 is not supported: only PBES2 (1.2.840.113549.1.5.13) is"},
		{"scrypt", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, p *pbes2Params, _ *pbkdf2Params, _ *[]byte) {
			p.KeyDerivationFunc.Algorithm = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}
		}), "key derivation 1.3.6.1.4.1.11591.4.11 is not supported: only PBKDF2 (1.2.840.113549.1.5.12) is"},
		{"3DES", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, p *pbes2Params, _ *pbkdf2Params, iv *[]byte) {
			p.EncryptionScheme.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
		}), "cipher 1.2.840.113549.3.7 is not supported: use AES-128-CBC or AES-256-CBC"},
		{"SHA-384 PRF", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, k *pbkdf2Params, _ *[]byte) {
			k.PRF.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
		}), "PBKDF2 function 1.2.840.113549.2.10 is not supported: use HMAC with SHA-1, SHA-256 or SHA-512"},
		{"iterations too many", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, k *pbkdf2Params, _ *[]byte) {
			k.IterationCount = maxPBKDF2Iterations + 1
		}), "PBKDF2 iteration count 10000001 is outside 1 to 10000000"},
		{"iterations zero", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, k *pbkdf2Params, _ *[]byte) {
			k.IterationCount = 0
		}), "PBKDF2 iteration count 0 is outside 1 to 10000000"},
		{"key length for another cipher", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, k *pbkdf2Params, _ *[]byte) {
			k.KeyLength = 16
		}), "PBKDF2 key length 16 does not fit the cipher's 32"},
		{"empty salt", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, k *pbkdf2Params, _ *[]byte) {
			k.Salt = []byte{}
		}), "PBKDF2 salt is empty"},
		{"short IV", rewrite(t, base, func(_ *encryptedPrivateKeyInfo, _ *pbes2Params, _ *pbkdf2Params, iv *[]byte) {
			*iv = (*iv)[:8]
		}), "cipher parameters: IV of 8 bytes, want 16"},
		{"truncated ciphertext", rewrite(t, base, func(i *encryptedPrivateKeyInfo, _ *pbes2Params, _ *pbkdf2Params, _ *[]byte) {
			i.EncryptedData = i.EncryptedData[:len(i.EncryptedData)-1]
		}), "is not a whole number of 16-byte blocks"},
		{"empty ciphertext", rewrite(t, base, func(i *encryptedPrivateKeyInfo, _ *pbes2Params, _ *pbkdf2Params, _ *[]byte) {
			i.EncryptedData = nil
		}), "encrypted data of 0 bytes"},
		{"flipped last block", rewrite(t, base, func(i *encryptedPrivateKeyInfo, _ *pbes2Params, _ *pbkdf2Params, _ *[]byte) {
			i.EncryptedData[len(i.EncryptedData)-1] ^= 0xff
		}), errWrongPassphrase.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decryptKeyPEM(tc.pem, []byte(testPassphrase))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestUnpadChecksEveryPaddingByte(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []byte
		want []byte
		ok   bool
	}{
		{[]byte{1, 2, 3, 1}, []byte{1, 2, 3}, true},
		{[]byte{1, 2, 2, 2}, []byte{1, 2}, true},
		{[]byte{4, 4, 4, 4}, []byte{}, true},
		{[]byte{1, 3, 2, 2, 3}, nil, false}, // one byte of the padding differs
		{[]byte{1, 2, 3, 0}, nil, false},
		{[]byte{1, 2, 3, 5}, nil, false}, // longer than the block
		{nil, nil, false},
	} {
		got, ok := unpad(tc.in, 4)
		if ok != tc.ok || !bytes.Equal(got, tc.want) {
			t.Errorf("unpad(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLoadConfigDecryptsTheKeyWithThePassphrase(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc := encryptWithOpenSSL(t, key.(crypto.Signer), "aes-256-cbc", "hmacWithSHA512", testPassphrase)
	passFile := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(passFile, []byte(testPassphrase+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, encKey, plainKey := string(certPEM), string(enc), string(keyPEM)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // error substring; "" loads
	}{
		{"passphrase in the environment", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey, "TLS_KEY_PASSPHRASE": testPassphrase}, ""},
		{"passphrase file ending in a newline", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey, "TLS_KEY_PASSPHRASE_FILE": passFile}, ""},
		{"plain key still loads", map[string]string{"TLS_CERT": cert, "TLS_KEY": plainKey}, ""},
		{"no passphrase", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey},
			"TLS_KEY: the key is encrypted (ENCRYPTED PRIVATE KEY) but TLS_KEY_PASSPHRASE is not set: provide its passphrase in TLS_KEY_PASSPHRASE, or its path in TLS_KEY_PASSPHRASE_FILE"},
		{"passphrase for a plain key", map[string]string{"TLS_CERT": cert, "TLS_KEY": plainKey, "TLS_KEY_PASSPHRASE": testPassphrase},
			"TLS_KEY: TLS_KEY_PASSPHRASE is set but the key is not an encrypted PKCS#8 key (ENCRYPTED PRIVATE KEY): unset TLS_KEY_PASSPHRASE, or provide the encrypted key"},
		{"wrong passphrase", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey, "TLS_KEY_PASSPHRASE": "nope"},
			"TLS_KEY: wrong passphrase, or the encrypted key is corrupt"},
		{"both passphrase sources", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey, "TLS_KEY_PASSPHRASE": testPassphrase, "TLS_KEY_PASSPHRASE_FILE": passFile},
			"set only one of TLS_KEY_PASSPHRASE and TLS_KEY_PASSPHRASE_FILE"},
		{"empty passphrase file", map[string]string{"TLS_CERT": cert, "TLS_KEY": encKey, "TLS_KEY_PASSPHRASE_FILE": emptyFile},
			"TLS_KEY_PASSPHRASE_FILE: " + emptyFile + " is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(envMap(tc.env))
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "":
				if fp := fingerprint(cfg.cert.Certificate[0]); fp != pemFingerprint(t, certPEM) {
					t.Errorf("loaded certificate %s", fp)
				}
			case err == nil || err.Error() != tc.want:
				t.Errorf("error %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestServerServesWithAnEncryptedKey runs the binary as ECS would with an
// ACM export: the encrypted key in TLS_KEY, its passphrase in
// TLS_KEY_PASSPHRASE, and checks a client completes a TLS handshake.
func TestServerServesWithAnEncryptedKey(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	certPEM, keyPEM := pki.validServerPEM(t)
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc := encryptWithOpenSSL(t, key.(crypto.Signer), "aes-256-cbc", "hmacWithSHA256", testPassphrase)
	srv := startServer(t, "TLS_CERT="+string(certPEM), "TLS_KEY="+string(enc), "TLS_KEY_PASSPHRASE="+testPassphrase)
	conn, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: pki.pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if fp := fingerprint(conn.ConnectionState().PeerCertificates[0].Raw); fp != pemFingerprint(t, certPEM) {
		t.Errorf("server presented %s", fp)
	}
}
