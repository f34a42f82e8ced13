package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 private keys (RFC 5958 EncryptedPrivateKeyInfo with the
// PBES2 scheme of RFC 8018), the form in which AWS Certificate Manager's
// ExportCertificate returns a private key: "the encrypted private key ...
// you must assign a passphrase for the private key when exporting it"
// (ACM API reference, ExportCertificate). AWS does not document the
// parameters, so this accepts what OpenSSL 3 and its PBES2 options produce:
// PBKDF2 with HMAC-SHA-1, -SHA-256 or -SHA-512 as its pseudo-random
// function, and AES-128-CBC or AES-256-CBC. Go's standard library has the
// primitives (crypto/pbkdf2 since Go 1.24) but not the container format.
// The older PBES1 schemes (DES, RC2, MD5) are refused: they are broken, and
// nothing that exports keys today writes them.

// encryptedKeyPEMType is the PEM label of an EncryptedPrivateKeyInfo
// (RFC 7468, section 11).
const encryptedKeyPEMType = "ENCRYPTED PRIVATE KEY"

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}

	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}

	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// maxPBKDF2Iterations bounds the work a key file can ask for. OpenSSL 3
// writes 2048 iterations; OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is
// 600,000. Ten million is far above both and still only seconds of CPU,
// so a corrupt count cannot hold the container in its start-up forever.
const maxPBKDF2Iterations = 10_000_000

// errWrongPassphrase is what a wrong passphrase looks like: CBC has no
// integrity check, so it shows as bad padding, or, once in about 256
// tries, as good padding around bytes that are no private key. Both are
// reported the same way, since they cannot be told apart.
var errWrongPassphrase = errors.New("wrong passphrase, or the encrypted key is corrupt")

type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt           []byte // the "specified" choice; otherSource is not used by anyone
	IterationCount int
	KeyLength      int                      `asn1:"optional"`
	PRF            pkix.AlgorithmIdentifier `asn1:"optional"` // absent: hmacWithSHA1
}

// decryptPKCS8 decrypts the DER of an EncryptedPrivateKeyInfo and returns
// the DER of the PrivateKeyInfo inside it, after checking that it parses
// as a private key.
func decryptPKCS8(der, passphrase []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, fmt.Errorf("not an encrypted PKCS#8 key: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("not an encrypted PKCS#8 key: trailing data")
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("encryption scheme %v is not supported: only PBES2 (%v) is", info.Algorithm.Algorithm, oidPBES2)
	}
	var params pbes2Params
	if err := unmarshalParams(info.Algorithm, &params); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %w", err)
	}

	newCipher, keyLen, iv, err := cbcCipher(params.EncryptionScheme)
	if err != nil {
		return nil, err
	}
	key, err := deriveKey(params.KeyDerivationFunc, passphrase, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}

	data := info.EncryptedData
	if len(data) == 0 || len(data)%block.BlockSize() != 0 {
		return nil, fmt.Errorf("encrypted data of %d bytes is not a whole number of %d-byte blocks", len(data), block.BlockSize())
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, ok := unpad(plain, block.BlockSize())
	if !ok {
		return nil, errWrongPassphrase
	}
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, errWrongPassphrase
	}
	return plain, nil
}

// cbcCipher reads the encryption scheme: AES-128-CBC or AES-256-CBC with
// its IV as the parameter.
func cbcCipher(alg pkix.AlgorithmIdentifier) (func([]byte) (cipher.Block, error), int, []byte, error) {
	var keyLen int
	switch {
	case alg.Algorithm.Equal(oidAES128CBC):
		keyLen = 16
	case alg.Algorithm.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return nil, 0, nil, fmt.Errorf("cipher %v is not supported: use AES-128-CBC or AES-256-CBC", alg.Algorithm)
	}
	var iv []byte
	if err := unmarshalParams(alg, &iv); err != nil {
		return nil, 0, nil, fmt.Errorf("cipher parameters: %w", err)
	}
	if len(iv) != aes.BlockSize {
		return nil, 0, nil, fmt.Errorf("cipher parameters: IV of %d bytes, want %d", len(iv), aes.BlockSize)
	}
	return aes.NewCipher, keyLen, iv, nil
}

// deriveKey runs PBKDF2 as the key derivation parameters say.
func deriveKey(kdf pkix.AlgorithmIdentifier, passphrase []byte, keyLen int) ([]byte, error) {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("key derivation %v is not supported: only PBKDF2 (%v) is", kdf.Algorithm, oidPBKDF2)
	}
	var p pbkdf2Params
	if err := unmarshalParams(kdf, &p); err != nil {
		return nil, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	var h func() hash.Hash
	switch prf := p.PRF.Algorithm; {
	case len(prf) == 0 || prf.Equal(oidHMACWithSHA1):
		h = sha1.New
	case prf.Equal(oidHMACWithSHA256):
		h = sha256.New
	case prf.Equal(oidHMACWithSHA512):
		h = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 function %v is not supported: use HMAC with SHA-1, SHA-256 or SHA-512", prf)
	}
	switch {
	case p.IterationCount < 1 || p.IterationCount > maxPBKDF2Iterations:
		return nil, fmt.Errorf("PBKDF2 iteration count %d is outside 1 to %d", p.IterationCount, maxPBKDF2Iterations)
	case p.KeyLength != 0 && p.KeyLength != keyLen:
		return nil, fmt.Errorf("PBKDF2 key length %d does not fit the cipher's %d", p.KeyLength, keyLen)
	case len(p.Salt) == 0:
		return nil, errors.New("PBKDF2 salt is empty")
	}
	// crypto/pbkdf2 refuses, in FIPS mode, passphrases and salts that
	// FIPS 140-3 considers too short; its error says so.
	return pbkdf2.Key(h, string(passphrase), p.Salt, p.IterationCount, keyLen)
}

// unmarshalParams decodes an algorithm's parameters into v, refusing
// trailing bytes.
func unmarshalParams(alg pkix.AlgorithmIdentifier, v any) error {
	rest, err := asn1.Unmarshal(alg.Parameters.FullBytes, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

// unpad removes PKCS#7 padding, checking every padding byte. It is not
// constant time, and need not be: the key is read once at start from a
// secret, with no one to observe its timing.
func unpad(b []byte, blockSize int) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > blockSize || n > len(b) {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// decryptKeyPEM returns keyPEM unchanged when it holds no encrypted key,
// and otherwise the PEM of the decrypted PKCS#8 key. A passphrase without
// an encrypted key, or the reverse, is an error: either means the secret's
// fields do not belong together.
func decryptKeyPEM(keyPEM, passphrase []byte) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	encrypted := block != nil && block.Type == encryptedKeyPEMType
	switch {
	case encrypted && passphrase == nil:
		return nil, errors.New("the key is encrypted (" + encryptedKeyPEMType + ") but TLS_KEY_PASSPHRASE is not set: provide its passphrase in TLS_KEY_PASSPHRASE, or its path in TLS_KEY_PASSPHRASE_FILE")
	case !encrypted && passphrase != nil:
		return nil, errors.New("TLS_KEY_PASSPHRASE is set but the key is not an encrypted PKCS#8 key (" + encryptedKeyPEMType + "): unset TLS_KEY_PASSPHRASE, or provide the encrypted key")
	case !encrypted:
		return keyPEM, nil
	}
	der, err := decryptPKCS8(block.Bytes, passphrase)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
