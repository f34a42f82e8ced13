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

// The metric is written in CloudWatch Embedded Metric Format so that the
// awslogs log driver alone turns it into a metric: no agent, no SDK, no IAM
// permission for PutMetricData.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
const (
	metricNamespace = "Passthrough"
	metricName      = "CertificateDaysToExpiry"
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
