package main

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const (
	maxSlowDelay = 5 * time.Second
	maxBytes     = 64 << 20
)

// response is what GET / returns. ChannelBinding is the RFC 9266
// tls-exporter value of this TLS session: a client that computes the same
// value knows no TLS-terminating hop sits between it and this process.
type response struct {
	Task           string `json:"task"`
	RemoteAddr     string `json:"remote_addr"`
	TLSVersion     string `json:"tls_version"`
	CipherSuite    string `json:"cipher_suite"`
	ClientSubject  string `json:"client_subject,omitempty"`
	ChannelBinding string `json:"channel_binding,omitempty"`
}

func newHandler(task string, debug bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		resp := response{Task: task, RemoteAddr: r.RemoteAddr}
		if cs := r.TLS; cs != nil {
			resp.TLSVersion = tls.VersionName(cs.Version)
			resp.CipherSuite = tls.CipherSuiteName(cs.CipherSuite)
			if len(cs.PeerCertificates) > 0 {
				resp.ClientSubject = cs.PeerCertificates[0].Subject.String()
			}
			if ekm, err := cs.ExportKeyingMaterial(channelBindingLabel, nil, 32); err == nil {
				resp.ChannelBinding = hex.EncodeToString(ekm)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	if debug {
		mux.HandleFunc("GET /slow", slowHandler)
		mux.HandleFunc("GET /bytes", bytesHandler)
	}
	return mux
}

const channelBindingLabel = "EXPORTER-Channel-Binding"

// slowHandler holds a request open so tests can prove that shutdown waits
// for it. The status line goes out first, so the client knows the request
// is in flight before it triggers the shutdown.
func slowHandler(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil || d < 0 {
		http.Error(w, "d must be a duration such as 500ms", http.StatusBadRequest)
		return
	}
	d = min(d, maxSlowDelay)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("started\n"))
	http.NewResponseController(w).Flush()
	select {
	case <-time.After(d):
		_, _ = w.Write([]byte("done\n"))
	case <-r.Context().Done():
	}
}

var zeros = make([]byte, 32<<10)

func bytesHandler(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, fmt.Sprintf("n must be a byte count up to %d", maxBytes), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	for n > 0 {
		k, err := w.Write(zeros[:min(n, len(zeros))])
		if err != nil {
			return
		}
		n -= k
	}
}
