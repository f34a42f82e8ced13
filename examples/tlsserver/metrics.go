package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// The metrics are written in CloudWatch Embedded Metric Format so that the
// awslogs log driver alone turns them into metrics: no agent, no SDK, no
// IAM permission for PutMetricData.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
const (
	metricNamespace = "Passthrough"
	metricName      = "CertificateDaysToExpiry"

	handshakeFailuresMetric  = "HandshakeFailures"
	connectionsRefusedMetric = "ConnectionsRefused"
)

// emfLine fixes the field order of the JSON, which keeps the line
// byte-for-byte testable. The metric and dimension values are top-level
// members, as the specification requires.
type emfLine struct {
	AWS                     emfMetadata `json:"_aws"`
	ServiceName             string      `json:"ServiceName"`
	CertificateDaysToExpiry float64     `json:"CertificateDaysToExpiry"`
}

type emfMetadata struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// certExpiryEMF returns one EMF line (without newline) reporting the
// fractional days from now until leaf expires; negative once it has.
func certExpiryEMF(leaf *x509.Certificate, service string, now time.Time) ([]byte, error) {
	return json.Marshal(emfLine{
		AWS: emfMetadata{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  metricNamespace,
				Dimensions: [][]string{{"ServiceName"}},
				Metrics:    []emfMetric{{Name: metricName, Unit: "None"}},
			}},
		},
		ServiceName:             service,
		CertificateDaysToExpiry: leaf.NotAfter.Sub(now).Hours() / 24,
	})
}

// reportCertExpiry emits the metric at once and then every interval, so an
// alarm on it keeps getting data even though the certificate never changes
// during the life of the process.
func reportCertExpiry(ctx context.Context, w io.Writer, leaf *x509.Certificate, service string, interval time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		line, err := certExpiryEMF(leaf, service, time.Now())
		if err == nil {
			_, err = w.Write(append(line, '\n'))
		}
		if err != nil {
			logger.Error("certificate metric not written", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// failureLine is one interval of connection failures. Reasons (by reason
// name, see failures.go) and SuppressedLogLines are plain members, not
// metrics: they stay in the log line for CloudWatch Logs Insights without
// costing a metric each. encoding/json writes map keys sorted, so the line
// is deterministic.
type failureLine struct {
	AWS                emfMetadata    `json:"_aws"`
	ServiceName        string         `json:"ServiceName"`
	HandshakeFailures  int            `json:"HandshakeFailures"`
	ConnectionsRefused int            `json:"ConnectionsRefused"`
	Reasons            map[string]int `json:"Reasons"`
	SuppressedLogLines int            `json:"SuppressedLogLines"`
}

// failureEMF returns one EMF line (without newline) with the counts of one
// interval.
func failureEMF(c failureCounts, service string, now time.Time) ([]byte, error) {
	reasons := c.byReason
	if reasons == nil {
		reasons = map[string]int{}
	}
	return json.Marshal(failureLine{
		AWS: emfMetadata{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []emfDirective{{
				Namespace:  metricNamespace,
				Dimensions: [][]string{{"ServiceName"}},
				Metrics: []emfMetric{
					{Name: handshakeFailuresMetric, Unit: "Count"},
					{Name: connectionsRefusedMetric, Unit: "Count"},
				},
			}},
		},
		ServiceName:        service,
		HandshakeFailures:  c.handshakeFailures(),
		ConnectionsRefused: c.refusals(),
		Reasons:            reasons,
		SuppressedLogLines: c.suppressed,
	})
}

// reportFailures writes one failure line per interval, zeros included, so
// that an alarm on the metrics has a data point every period rather than
// missing data; and a last one, for the interval cut short, when ctx ends.
func reportFailures(ctx context.Context, w io.Writer, f *failureLog, service string, interval time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		var done bool
		select {
		case <-ctx.Done():
			done = true
		case <-ticker.C:
		}
		line, err := failureEMF(f.flush(), service, time.Now())
		if err == nil {
			_, err = w.Write(append(line, '\n'))
		}
		if err != nil {
			logger.Error("failure metric not written", "error", err.Error())
		}
		if done {
			return
		}
	}
}

// syncWriter serialises whole lines from the JSON logger and the metric
// loop, so that the two never interleave within one line on stdout.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// fingerprint is the SHA-256 of a DER certificate in hex: what the logs
// print and the tests compare to prove the client saw the server's own
// certificate.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
