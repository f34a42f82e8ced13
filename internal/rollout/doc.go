// Package rollout models how long one rolling deployment of an Amazon ECS
// service behind a Network Load Balancer takes, and how long a task that the
// deployment stops keeps serving, from the settings a synthesized
// CloudFormation template holds plus a few named constants it cannot hold.
//
// It exists to put one number on a trade-off that is otherwise argued in
// prose: shorter health checks and a shorter deregistration delay make a
// rollout faster, but a Network Load Balancer keeps sending new connections
// to a deregistered target for a while, so a delay shorter than that window
// lets ECS stop a task that still receives connections, and they are reset.
// [Markdown] writes that number for every service of a set of templates,
// beside aws-cdk-lib's NLB pattern: docs/rollout.md for the example stacks,
// and cmd/rollout for any template.
//
// # The model
//
// For a service with N tasks, minimum healthy m % and maximum M %, and the
// constants of [Constants]:
//
//	minHealthy = ceil(N·m/100)     tasks that must stay healthy (ECS rounds up)
//	maxRunning = floor(N·M/100)    tasks that may be running or pending (ECS rounds down)
//	batch      = min(N, maxRunning − minHealthy)
//	batches    = ceil(N / batch)
//
//	start      = TaskStart                                image pull and task start (assumed)
//	register   = RegistrationDelay                        NLB: registration until the first health check
//	checks     = HealthyThreshold × HealthCheckInterval   passed checks until the target is healthy
//	drain      = DeregistrationDelay                      ECS sends SIGTERM only after it
//	stop       = StopTimeout                              SIGTERM until exit, at most (then SIGKILL)
//	cycle      = start + register + checks + drain + stop
//	rollout    = batches × cycle
//
//	serving    = DeregistrationDelay + StopTimeout        how long a stopped task keeps serving
//	margin     = DeregistrationDelay − DrainWindow
//	safe       = margin ≥ 0
//
// N is the service's DesiredCount. A service whose count Application Auto
// Scaling owns has no DesiredCount in the template (one would reset the
// count on every deployment); N is then the MinCapacity of its
// ScalableTarget, and a deployment may find any count up to MaxCapacity
// running ([Service.Range]). Only a service with neither is modelled at
// ECS's creation default of 1, and [Service.Count] says so.
//
// How ECS's scheduler is modelled: during a rolling update ECS keeps at
// least minHealthy tasks healthy and at most maxRunning tasks running or
// pending. Every task in flux, a new one not yet healthy or an old one still
// draining, counts against the same gap between the two, so at most
// maxRunning − minHealthy tasks can be replaced at once. The model replaces
// them in batches of that size, one batch after another, each paying one
// full cycle; the rollout ends when the last old task has exited. With
// m = 100 % and M = 200 % (Passthrough) the batch is the whole service: new
// tasks start beside the old ones and old ones drain once the new ones are
// healthy. With m = 50 % and M = 200 % (aws-cdk-lib's pattern) the batch is
// the whole service too: ECS may stop half of the old tasks at once, but the
// other half still waits for the new tasks to be healthy and then drains, so
// the longest path is the same cycle. A lower M, or an m closer to M,
// shrinks the batch and multiplies the cycles.
//
// The time to healthy is HealthyThreshold × HealthCheckInterval, the
// arithmetic of the Amazon ECS guide ("30 seconds * 5 = 150 seconds") and of
// AWS Support's statement quoted in
// kubernetes-sigs/aws-load-balancer-controller#1834 ("require 3 health checks
// to become healthy ... another 90 (3*30) seconds"). The Amazon ECS guide
// also says that a newly registered target needs only one passed check; if
// that holds, the checks term is one interval and both sides of a comparison
// get faster, the baseline more (the report prints that case as well).
//
// The stop term is StopTimeout, the most ECS waits after SIGTERM before it
// kills the container, not how long a given server really takes: the model
// counts every wait the configuration allows in full. It is the same choice
// for both sides of a comparison; Passthrough's default (30 s) is ECS's
// default, which aws-cdk-lib's pattern gets, so the term is equal on both
// sides unless a service sets a longer one.
//
// The model is monotonic: the rollout never shrinks when a duration grows,
// when m grows or when M shrinks. It is not monotonic in N, because ECS rounds
// minHealthy up and maxRunning down (N = 2 with m = 100 % and M = 150 % takes
// two batches, N = 3 three and N = 4 two again).
//
// Left out, on purpose: cluster capacity (on EC2 the new tasks may first wait
// for instances), the deployment circuit breaker, tasks that fail their
// checks, ECS's polling and API latency, and the health check grace period,
// which only makes ECS ignore unhealthy results for a while and is no wait of
// a healthy rollout (it is read and printed, not counted). The unhealthy
// threshold is read for the same reason: a healthy rollout fails no check.
//
// Durations are [time.Duration], not float64 seconds: a template holds whole
// seconds, so nothing is lost, sums stay exact integer arithmetic (a test can
// compare a change with ==), and a value carries its unit.
package rollout
