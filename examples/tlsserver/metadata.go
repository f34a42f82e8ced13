package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// taskMetadata is what the server reads from the ECS task metadata endpoint
// (${ECS_CONTAINER_METADATA_URI_V4}/task), once at start: none of it can
// change for the life of the process.
type taskMetadata struct {
	TaskARN string
	// Limits are the task-level limits, absent when the task definition
	// sets none (then only container limits apply, which the cgroup shows).
	Limits struct {
		Memory float64 // MiB
	}
}

// taskID is the last part of the task ARN
// (arn:aws:ecs:region:account:task/cluster/id): what the console and the
// CLI show.
func (m *taskMetadata) taskID() string {
	return m.TaskARN[strings.LastIndex(m.TaskARN, "/")+1:]
}

// loadTaskMetadata fetches the metadata within 2 s, or returns nil (and
// logs why) outside ECS or when the endpoint does not answer.
func loadTaskMetadata(metadataURI string, logger *slog.Logger) *taskMetadata {
	if metadataURI == "" {
		return nil
	}
	meta, err := fetchTaskMetadata(metadataURI, 2*time.Second)
	if err != nil {
		logger.Warn("task metadata unavailable, using hostname", "error", err.Error())
		return nil
	}
	return meta
}

// taskName names this task in responses: the ECS task ID, or the hostname
// without task metadata.
func taskName(meta *taskMetadata) string {
	if meta != nil {
		return meta.taskID()
	}
	host, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return host
}

func fetchTaskMetadata(metadataURI string, timeout time.Duration) (*taskMetadata, error) {
	client := &http.Client{Timeout: timeout}
	resp, err := client.Get(strings.TrimSuffix(metadataURI, "/") + "/task")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("task metadata: %s", resp.Status)
	}
	var meta taskMetadata
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		return nil, fmt.Errorf("task metadata: %w", err)
	}
	if meta.TaskARN == "" {
		return nil, errors.New("task metadata: no TaskARN")
	}
	return &meta, nil
}
