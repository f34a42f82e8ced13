package integ

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The PrivateLink provider requires acceptance of every connection, so once
// the consumer is deployed its endpoint waits, pending, until the provider
// accepts it: the step docs/architectures.md asks of a user, and the one EC2 call the
// suite makes. It is a signed EC2 Query API request rather than a call
// through the SDK's EC2 module, the largest of the SDK, which every
// `make test` would otherwise compile for this one action.
//
// Amazon EC2 API reference, AcceptVpcEndpointConnections: parameters
// ServiceId and VpcEndpointId.N; the response lists in "unsuccessful" the
// endpoints it did not accept, each with an error code and message.

// ec2APIVersion is the EC2 Query API version.
const ec2APIVersion = "2016-11-15"

// EC2Endpoint is the Regional EC2 endpoint of the aws partition.
func EC2Endpoint(region string) string { return "https://ec2." + region + ".amazonaws.com/" }

// AcceptEndpointConnections accepts the interface endpoints' connections to
// the endpoint service, signing the request with creds (Signature Version
// 4) for region.
func AcceptEndpointConnections(ctx context.Context, creds aws.CredentialsProvider, client *http.Client, endpoint, region, serviceID string, endpointIDs []string, now time.Time) error {
	form := url.Values{"Action": {"AcceptVpcEndpointConnections"}, "Version": {ec2APIVersion}, "ServiceId": {serviceID}}
	for i, id := range endpointIDs {
		form.Set("VpcEndpointId."+strconv.Itoa(i+1), id)
	}
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "ec2", region, now); err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return parseAcceptResponse(resp.StatusCode, raw)
}

// parseAcceptResponse reads AcceptVpcEndpointConnections' answer: nil when
// every endpoint was accepted.
func parseAcceptResponse(status int, body []byte) error {
	if status != http.StatusOK {
		var e struct {
			Errors []struct {
				Code    string `xml:"Code"`
				Message string `xml:"Message"`
			} `xml:"Errors>Error"`
		}
		if xml.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
			return fmt.Errorf("AcceptVpcEndpointConnections: %d %s: %s", status, e.Errors[0].Code, e.Errors[0].Message)
		}
		return fmt.Errorf("AcceptVpcEndpointConnections: %d: %s", status, bytes.TrimSpace(body))
	}
	var r struct {
		XMLName      xml.Name `xml:"AcceptVpcEndpointConnectionsResponse"`
		Unsuccessful []struct {
			Code       string `xml:"error>code"`
			Message    string `xml:"error>message"`
			ResourceID string `xml:"resourceId"`
		} `xml:"unsuccessful>item"`
	}
	if err := xml.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("AcceptVpcEndpointConnections: %w", err)
	}
	var errs []error
	for _, u := range r.Unsuccessful {
		errs = append(errs, fmt.Errorf("endpoint %s not accepted: %s: %s", u.ResourceID, u.Code, u.Message))
	}
	return errors.Join(errs...)
}
