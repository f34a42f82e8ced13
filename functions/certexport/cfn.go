package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The initial export runs as a CloudFormation custom resource whose
// service token is this function, so that the services that read the
// secret start only once it holds the certificate. CloudFormation sends
// RequestType (Create, Update, Delete), ResponseURL, StackId, RequestId,
// LogicalResourceId and PhysicalResourceId, and waits for a JSON document
// with Status (SUCCESS or FAILED), Reason, PhysicalResourceId, StackId,
// RequestId and LogicalResourceId PUT to ResponseURL, a presigned S3 URL
// (CloudFormation user guide, "Custom resource request objects" and
// "Custom resource response objects"). The response carries no Data: what
// it holds would be readable with Fn::GetAtt and in the stack's events.

// cfnRequest is the part of a custom resource request the function reads.
type cfnRequest struct {
	RequestType        string
	ResponseURL        string
	StackID            string `json:"StackId"`
	RequestID          string `json:"RequestId"`
	LogicalResourceID  string `json:"LogicalResourceId"`
	PhysicalResourceID string `json:"PhysicalResourceId"`
}

type cfnResponse struct {
	Status             string
	Reason             string `json:",omitempty"`
	PhysicalResourceID string `json:"PhysicalResourceId"`
	StackID            string `json:"StackId"`
	RequestID          string `json:"RequestId"`
	LogicalResourceID  string `json:"LogicalResourceId"`
}

// parseCFNRequest returns the request when event is a CloudFormation
// custom resource request, or nil for any other event.
func parseCFNRequest(event json.RawMessage) *cfnRequest {
	var r cfnRequest
	if json.Unmarshal(event, &r) != nil || r.RequestType == "" || r.ResponseURL == "" {
		return nil
	}
	return &r
}

// physicalID names the resource: the initial export of this secret.
func (r *cfnRequest) physicalID(secret string) string {
	if r.PhysicalResourceID != "" {
		return r.PhysicalResourceID
	}
	return "initial-export:" + secret
}

// respond PUTs the outcome to CloudFormation. The reason is the export's
// error, which names the step, never a value.
func respond(ctx context.Context, client *http.Client, r *cfnRequest, physicalID string, err error) error {
	resp := cfnResponse{Status: "SUCCESS", PhysicalResourceID: physicalID, StackID: r.StackID, RequestID: r.RequestID, LogicalResourceID: r.LogicalResourceID}
	if err != nil {
		resp.Status, resp.Reason = "FAILED", err.Error()
	}
	body, merr := json.Marshal(resp)
	if merr != nil {
		return merr
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, herr := http.NewRequestWithContext(ctx, http.MethodPut, r.ResponseURL, bytes.NewReader(body))
	if herr != nil {
		return herr
	}
	// The presigned URL is signed without a content type.
	req.Header.Set("Content-Type", "")
	req.ContentLength = int64(len(body))
	res, herr := client.Do(req)
	if herr != nil {
		return fmt.Errorf("answering CloudFormation: %w", herr)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("answering CloudFormation: HTTP %d", res.StatusCode)
	}
	return nil
}
