package integ

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/passthrough-cdk/passthrough/internal/rollout"
)

// DeploymentOutcome reads the deployment with ID id from a DescribeServices
// answer: done once ECS reports its rollout state COMPLETED, with how long
// it took from its creation; an error once FAILED (the circuit breaker or a
// deployment alarm rolled it back) or when ECS no longer lists it.
// (Amazon ECS API reference, Deployment: rolloutState IN_PROGRESS,
// COMPLETED or FAILED.)
func DeploymentOutcome(svc ecstypes.Service, id string) (done bool, took time.Duration, err error) {
	for _, d := range svc.Deployments {
		if aws.ToString(d.Id) != id {
			continue
		}
		switch d.RolloutState {
		case ecstypes.DeploymentRolloutStateCompleted:
			if d.CreatedAt == nil || d.UpdatedAt == nil {
				return true, 0, fmt.Errorf("deployment %s completed without timestamps", id)
			}
			return true, d.UpdatedAt.Sub(*d.CreatedAt), nil
		case ecstypes.DeploymentRolloutStateFailed:
			return true, 0, fmt.Errorf("deployment %s failed: %s", id, aws.ToString(d.RolloutStateReason))
		}
		return false, 0, nil
	}
	return true, 0, fmt.Errorf("service %s no longer lists deployment %s", aws.ToString(svc.ServiceName), id)
}

// PrimaryDeployment is the ID of the deployment UpdateService just started.
func PrimaryDeployment(svc ecstypes.Service) (string, error) {
	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) == "PRIMARY" {
			return aws.ToString(d.Id), nil
		}
	}
	return "", fmt.Errorf("service %s has no PRIMARY deployment", aws.ToString(svc.ServiceName))
}

// ModelFor is the rollout model's estimate for one service of the deployed
// template (internal/rollout, the model docs/rollout.md prints), with the
// running count replacing the template's when it is known (> 0): the
// comparison is for the same settings the measurement ran with.
func ModelFor(template map[string]any, logicalID string, running int) (rollout.Service, rollout.Estimate, error) {
	services, err := rollout.FromTemplate(template)
	if err != nil {
		return rollout.Service{}, rollout.Estimate{}, err
	}
	for _, s := range services {
		if s.Name != modelName(logicalID) {
			continue
		}
		if running > 0 {
			s.Settings.DesiredCount = running
		}
		e, err := rollout.Model(s.Settings, rollout.DefaultConstants())
		return s, e, err
	}
	return rollout.Service{}, rollout.Estimate{}, fmt.Errorf("no service %s in the template", logicalID)
}

// ServiceMeasurement is everything the suite took of one service.
type ServiceMeasurement struct {
	Stack    string // example stack, without the run's suffix
	Service  rollout.Service
	Estimate rollout.Estimate
	Tasks    int
	Creation Creation
	Rollout  Rollout
	// Deployment is how long the forced new deployment took.
	Deployment time.Duration
	// Connections and Failed count the client loop's attempts during the
	// deployment, from the test process or from a probe task.
	Connections, Failed int
}

// Record is the measurement as docs/measurements.json holds it, beside the
// model's figure for the same settings.
func (m ServiceMeasurement) Record() rollout.MeasuredService {
	return rollout.MeasuredService{
		Stack:             m.Stack,
		Service:           m.Service.Name,
		Tasks:             m.Tasks,
		TaskStart:         rollout.Seconds(m.Creation.TaskStart),
		Registration:      rollout.Seconds(m.Creation.Registration),
		HealthChecks:      rollout.Seconds(m.Estimate.HealthChecks),
		FirstHealthy:      rollout.Seconds(m.Creation.FirstHealthy),
		Draining:          rollout.Seconds(m.Rollout.Draining),
		DrainWindow:       rollout.Seconds(m.Rollout.DrainWindow),
		Rollout:           rollout.Seconds(m.Deployment),
		ModelRollout:      rollout.Seconds(m.Estimate.Rollout),
		Connections:       m.Connections,
		FailedConnections: m.Failed,
	}
}

// Compare puts the measured rollout beside the model's, for the test log:
// the model counts every wait in full, so a measured rollout well above it
// means a constant is off (docs/rollout.md shows which).
func (m ServiceMeasurement) Compare() string {
	if m.Deployment == 0 || m.Estimate.Rollout == 0 {
		return fmt.Sprintf("%s/%s: no rollout measured", m.Stack, m.Service.Name)
	}
	return fmt.Sprintf("%s/%s: rollout %s measured, %s modelled (%.2f×); draining %s (deregistration delay %s); "+
		"first target registered %s and healthy %s after the service was created (model: start %s, registration %s + checks %s)",
		m.Stack, m.Service.Name, m.Deployment.Round(time.Second), m.Estimate.Rollout, m.Deployment.Seconds()/m.Estimate.Rollout.Seconds(),
		m.Rollout.Draining.Round(time.Second), m.Estimate.Drain, m.Creation.TaskStart.Round(time.Second), m.Creation.FirstHealthy.Round(time.Second),
		m.Estimate.Start, m.Estimate.Registration, m.Estimate.HealthChecks)
}

// WriteMeasurements records the run's measurements in the file at path
// (docs/measurements.json), keeping the runs already there (see
// rollout.Measurements.Record).
func WriteMeasurements(path string, run RunID, region string, measured []ServiceMeasurement) error {
	m, err := rollout.ReadMeasurements(path)
	if err != nil {
		return err
	}
	r := rollout.MeasuredRun{Run: string(run), Date: run.Started(), Region: region}
	for _, s := range measured {
		r.Services = append(r.Services, s.Record())
	}
	if err := m.Record(r); err != nil {
		return err
	}
	return m.Write(path)
}

// modelName is the name internal/rollout gives the service with logical ID
// id: the ID without the 8 hex digits CDK appends.
func modelName(id string) string {
	if n := len(id) - 8; n > 0 && strings.Trim(id[n:], "0123456789ABCDEF") == "" {
		return id[:n]
	}
	return id
}
